"""Server-sent events, decoded incrementally from the bytes of a response.

The output stream speaks the event-stream format of the HTML standard; this is the part of
it a client needs. Lines end with CRLF, LF or a lone CR (also when a CRLF is split between
two reads); a line that starts with ``:`` is a comment, which is how the agent's heartbeat
looks; ``field: value`` sets ``event``, ``data`` (several lines join with LF) or ``id``, and
any other field is ignored; a blank line dispatches the event. An event with no ``data``
line is dropped, as browsers drop it.

An event is dispatched only at its blank line, so a connection cut inside an event yields
nothing of it: a reader that resumes from the id of the last event it got sees every event
once. Decoding is by line, after the split, so a character split between two reads is
never broken (the line terminators are ASCII and never occur inside a UTF-8 sequence).

Written here rather than taken from ``httpx-sse``: that package reads a whole
``httpx.Response`` (its incremental decoders are private) and raises its own error type,
while the stream needs a decoder it can feed, drop at a reconnect and test without I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MAX_EVENT_BYTES", "SSEDecoder", "ServerSentEvent"]

MAX_EVENT_BYTES = 32 * 1024 * 1024
"""The largest event a decoder holds before it gives up. The agent sends at most a megabyte
of output per event, which JSON escaping can grow six times over; anything much larger is
not the agent's, and must not grow the client's memory without bound."""

_LINE_END = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event."""

    event: str
    """The event's type: its ``event`` field, ``message`` when it has none."""

    data: str
    """Its ``data`` lines, joined with LF."""

    id: str
    """The last ``id`` the stream set, at or before this event (ids carry over to later
    events, as the standard says); empty when none was set."""


class SSEDecoder:
    """Turns the bytes of one event stream, in any chunks, into its events.

    One decoder reads one response: a reconnect starts a new decoder, so nothing half-read
    from the old connection leaks into the new one.

    Args:
        max_event_bytes: The largest event (its pending line plus its data so far) the
            decoder holds.
    """

    def __init__(self, *, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._max_event_bytes = max_event_bytes
        self._pending = bytearray()
        self._started = False
        # A CR ended the last chunk: an LF opening the next one belongs to that line end.
        self._skip_lf = False
        self._event = ""
        self._data: list[str] = []
        self._data_bytes = 0
        self._last_id = ""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events that ``chunk`` completes, in order.

        Raises:
            ValueError: An event grew past ``max_event_bytes``.
        """
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        scan_from = len(self._pending)
        self._pending += chunk
        if not self._started:
            if _BOM.startswith(self._pending):
                return []  # maybe the start of a byte order mark, which holds no line end
            self._started = True
            scan_from = 0
            if self._pending.startswith(_BOM):
                del self._pending[: len(_BOM)]
        events: list[ServerSentEvent] = []
        line_start = 0
        # The pending bytes before scan_from hold no line end: only the new ones are searched.
        for match in _LINE_END.finditer(self._pending, scan_from):
            line = bytes(self._pending[line_start : match.start()])
            line_start = match.end()
            if match.group() == b"\r" and line_start == len(self._pending):
                self._skip_lf = True
            event = self._take_line(line.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        del self._pending[:line_start]
        if len(self._pending) + self._data_bytes > self._max_event_bytes:
            raise ValueError(f"an event is larger than {self._max_event_bytes} bytes")
        return events

    def _take_line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
            self._data_bytes += len(value) + 1
            if self._data_bytes > self._max_event_bytes:
                raise ValueError(f"an event is larger than {self._max_event_bytes} bytes")
        elif name == "id" and "\0" not in value:
            self._last_id = value
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        event, data = self._event, self._data
        self._event, self._data, self._data_bytes = "", [], 0
        if not data:
            return None
        return ServerSentEvent(event=event or "message", data="\n".join(data), id=self._last_id)
