"""Output streams: a process's output as it is written, resumed across dropped connections.

``stream_output`` returns an ``OutputStream`` (or ``AsyncOutputStream``): iterate it for
``OutputEvent`` chunks and, last, one ``ExitEvent``. Its connection is opened when the
iteration starts and closed when the iteration ends, when the stream is closed, or when its
``with`` block is left.

The decisions are pure and live in ``OutputStreamPlan``: which request to send (the first,
or a resumption with ``Last-Event-ID``), which events a chunk of bytes completes, where the
stream stands. The senders of ``agentsdk._senders`` only send, read and sleep.

A connection that drops (a reset, a read timeout past the heartbeat, an end of the body
before the exit event) is reopened from the id of the last whole event received, with the
client's retry budget and backoff; the budget is spent only by failures in a row, so a long
stream survives any number of drops that each made progress. An event cut by the drop was
never delivered, and the resumed stream starts right after the last one that was, so no
byte is delivered twice or skipped by the client (bytes the agent no longer kept are
reported as ``skipped``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Mapping
from types import TracebackType
from typing import Self, TypeVar

import httpx
import pydantic

from agentsdk._agent import stream_call
from agentsdk._call import Call
from agentsdk._exceptions import AgentSDKError
from agentsdk._sse import SSEDecoder
from agentsdk.types import ExitEvent, OutputEvent, StreamEvent
from agentsdk.wire import EXIT_EVENT, OUTPUT_EVENT

__all__ = ["AsyncOutputStream", "OutputStream", "OutputStreamPlan"]

M = TypeVar("M", OutputEvent, ExitEvent)


class OutputStreamPlan:
    """Where one output stream stands, and the request that continues it; no I/O.

    Args:
        id: The process id.
        since: The offset to start from.
        extra_headers: The caller's headers for every request of the stream.

    Raises:
        ValueError: An empty id, a ``since`` that is not an offset >= 0, or malformed
            ``extra_headers``.
    """

    def __init__(
        self, id: str, *, since: int, extra_headers: Mapping[str, str] | None = None
    ) -> None:
        self._id = id
        self._since = since
        self._extra_headers = extra_headers
        self._last_event_id: str | None = None
        self._decoder = SSEDecoder()
        self._url = ""
        self.next_offset = since
        """Where the stream resumes: ``since``, then the id of each output event received."""
        self.exit_code: int | None = None
        """The process's exit code, once the exit event has been received."""
        # Describing the first request checks the arguments, so they fail here, before I/O.
        self.connect()

    @property
    def finished(self) -> bool:
        """True once the exit event has been received: nothing follows it."""
        return self.exit_code is not None

    def connect(self) -> Call[None]:
        """The request for a new connection, resuming after the last event received.

        What a previous connection left half-read is dropped with it.
        """
        self._decoder = SSEDecoder()
        return stream_call(
            self._id,
            since=self._since,
            last_event_id=self._last_event_id,
            extra_headers=self._extra_headers,
        )

    def opened(self, request: httpx.Request) -> None:
        """Remember the request of the connection being read, for error messages."""
        self._url = f"{request.method} {request.url}"

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """The events that ``chunk`` of the body completes; none after the exit event.

        Events of kinds this client does not know are skipped, as a newer agent may send
        more kinds.

        Raises:
            AgentSDKError: The body is not a stream of the agent's events.
        """
        try:
            received = self._decoder.feed(chunk)
        except ValueError as exc:
            raise AgentSDKError(f"{self._url}: {exc}") from exc
        events: list[StreamEvent] = []
        for sse in received:
            if self.finished:
                break
            if sse.event == OUTPUT_EVENT:
                output = self._parse(OutputEvent, sse.data)
                self.next_offset = self._offset_of(sse.id)
                self._last_event_id = sse.id
                events.append(output)
            elif sse.event == EXIT_EVENT:
                end = self._parse(ExitEvent, sse.data)
                self.exit_code = end.exit_code
                events.append(end)
        return events

    def ended_early(self, request: httpx.Request) -> httpx.RemoteProtocolError:
        """The error of a body that ended before the exit event, to settle as a drop."""
        return httpx.RemoteProtocolError(
            "the stream ended before the process's exit event", request=request
        )

    def _parse(self, model: type[M], data: str) -> M:
        try:
            return model.model_validate_json(data)
        except pydantic.ValidationError as exc:
            raise AgentSDKError(
                f"{self._url}: decode event data as {model.__name__}: {exc.error_count()} error(s)"
            ) from exc

    def _offset_of(self, event_id: str) -> int:
        # The resumption depends on it: an output event without an offset for an id could
        # only be resumed by repeating or losing bytes, so it is refused, not guessed at.
        if event_id.isascii() and event_id.isdigit():
            return int(event_id)
        raise AgentSDKError(f"{self._url}: output event id {event_id!r} is not an offset")


class OutputStream:
    """A process's output as it is written, from ``AgentConn.stream_output``.

    Iterate it for ``OutputEvent`` chunks (``offset``, ``output``, ``skipped``) and then one
    ``ExitEvent`` (``exit_code``), after which the iteration ends. Use it in a ``with`` block
    or ``close()`` it to stop early; the connection opens at the first ``next()``.

    Raises (while iterating):
        NotFoundError: No such process visible to this client.
        APIConnectionError: The connection dropped and could not be resumed within the
            client's retries.
        AgentSDKError: The agent's answer is not its event stream.
    """

    def __init__(self, events: Generator[StreamEvent, None, None], plan: OutputStreamPlan) -> None:
        self._events = events
        self._plan = plan

    @property
    def next_offset(self) -> int:
        """Where the stream stands: pass it as ``since`` to continue it later."""
        return self._plan.next_offset

    @property
    def exit_code(self) -> int | None:
        """The exit code once the ``ExitEvent`` has been received, else ``None``."""
        return self._plan.exit_code

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> StreamEvent:
        return next(self._events)

    def close(self) -> None:
        """Close the connection; the iteration ends. Safe to call twice."""
        self._events.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncOutputStream:
    """A process's output as it is written, from ``AsyncAgentConn.stream_output``.

    The async twin of ``OutputStream``: ``async for`` it, use it in an ``async with`` block,
    or ``await aclose()`` to stop early.
    """

    def __init__(self, events: AsyncGenerator[StreamEvent, None], plan: OutputStreamPlan) -> None:
        self._events = events
        self._plan = plan

    @property
    def next_offset(self) -> int:
        """Where the stream stands: pass it as ``since`` to continue it later."""
        return self._plan.next_offset

    @property
    def exit_code(self) -> int | None:
        """The exit code once the ``ExitEvent`` has been received, else ``None``."""
        return self._plan.exit_code

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> StreamEvent:
        return await anext(self._events)

    async def aclose(self) -> None:
        """Close the connection; the iteration ends. Safe to call twice."""
        await self._events.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
