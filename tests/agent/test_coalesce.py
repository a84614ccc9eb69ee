"""A response's head and body leave in one socket write (``CoalescingTransport``)."""

from __future__ import annotations

import asyncio

import anyio
import anyio.lowlevel
import pytest

from agentproc.coalesce import CoalescingTransport

pytestmark = pytest.mark.anyio


class Recording(asyncio.Transport):
    """A transport that records what is written to it, and whether it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_write_buffer_size(self) -> int:
        return 0


def coalescing() -> tuple[CoalescingTransport, Recording]:
    """A coalescing transport over a recording one, on the running loop."""
    socket = Recording()
    return CoalescingTransport(socket, asyncio.get_running_loop()), socket


async def test_a_head_and_its_body_go_out_in_one_write() -> None:
    """Writes that follow each other with nothing awaited in between are joined."""
    transport, socket = coalescing()
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b'{"ok":true}')
    assert socket.writes == [b'HTTP/1.1 200 OK\r\n\r\n{"ok":true}']
    await anyio.lowlevel.checkpoint()
    assert len(socket.writes) == 1


async def test_a_lone_write_goes_out_when_the_loop_turns() -> None:
    """A write nothing follows (a stream's head, a heartbeat) waits one turn of the loop."""
    transport, socket = coalescing()
    transport.write(b": keep-alive\n\n")
    assert socket.writes == []
    assert transport.get_write_buffer_size() == len(b": keep-alive\n\n")
    await anyio.lowlevel.checkpoint()
    assert socket.writes == [b": keep-alive\n\n"]


async def test_writes_keep_their_order_across_turns() -> None:
    """Whatever is joined or held, the bytes leave in the order written."""
    transport, socket = coalescing()
    for chunk in (b"a", b"b", b"c"):
        transport.write(chunk)
    await anyio.lowlevel.checkpoint()
    transport.write(b"d")
    await anyio.lowlevel.checkpoint()
    assert b"".join(socket.writes) == b"abcd"


async def test_closing_sends_what_is_held_first_and_aborting_drops_it() -> None:
    """``close`` flushes, then closes; ``abort`` drops what is held with the connection."""
    transport, socket = coalescing()
    transport.write(b"last")
    transport.close()
    assert (socket.writes, socket.closed) == ([b"last"], True)
    transport, socket = coalescing()
    transport.write(b"never")
    transport.abort()
    await anyio.lowlevel.checkpoint()
    assert (socket.writes, socket.aborted) == ([], True)
