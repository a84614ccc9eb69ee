"""One socket write per answer: the head and the body of a response go out together.

uvicorn writes a response's head (status line and headers) when the app starts the
response, and its body when the app sends it: two ``send`` calls on the socket for every JSON
answer. Each one costs the agent a system call and wakes the client, and under load those
writes were a fifth of the agent's time. :class:`CoalescingTransport` sits between uvicorn's
HTTP protocol and the socket: it holds a write until the next one joins it, which for a JSON
answer comes at once (the app sends the body right after the head, with nothing awaited in
between), or until the event loop's next turn, so a write that nothing follows (a stream's
head, a heartbeat) is held no longer than that.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["CoalescingTransport"]


class CoalescingTransport(asyncio.Transport):
    """``transport``, with a write held until the next write joins it or the loop turns.

    Everything but writing goes straight to ``transport``; closing or aborting first sends,
    or drops, what is held.

    Args:
        transport: the connection's own transport.
        loop: the event loop it runs on.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Hold ``data``, or send it with the write held before it."""
        if self._held is None:
            self._held = bytes(data)
            self._loop.call_soon(self._flush)
            return
        held, self._held = self._held, None
        self._transport.write(held + data)

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def writelines(self, list_of_data: Any) -> None:
        """Write each item, as :meth:`write` does."""
        for data in list_of_data:
            self.write(data)

    def close(self) -> None:
        """Send what is held, then close."""
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        """Drop what is held and the connection."""
        self._held = None
        self._transport.abort()

    def is_closing(self) -> bool:
        """Whether the connection is closing or closed."""
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        """Bytes not yet sent, held ones included."""
        held = 0 if self._held is None else len(self._held)
        return held + self._transport.get_write_buffer_size()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The connection's own information (peer, socket name, ...)."""
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        """Stop reading from the socket."""
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        """Read from the socket again."""
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        """Whether the socket is being read."""
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        """Hand the connection to another protocol."""
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        """The connection's protocol."""
        return self._transport.get_protocol()

    def can_write_eof(self) -> bool:
        """Whether the socket can be half-closed."""
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        """Send what is held, then half-close."""
        self._flush()
        self._transport.write_eof()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Flow control's limits, as the connection's own transport applies them."""
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        """Flow control's limits."""
        return self._transport.get_write_buffer_limits()
