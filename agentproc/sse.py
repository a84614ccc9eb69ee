"""Server-sent events: a process's output as a ``text/event-stream`` (spec: live-io.md).

:func:`output_frames` turns what :meth:`ManagedProcess.follow
<agentproc.process.ManagedProcess.follow>` yields into event frames (``output`` events whose
id is the offset to resume from, a comment line for a quiet spell, the ``exit`` event last),
and :class:`EventStreamResponse` sends frames until they end, the client goes away, or the
agent begins to shut down.

Written here, on Starlette's ``StreamingResponse``, rather than taken from ``sse-starlette``
or FastAPI's own ``fastapi.sse``. The first patches uvicorn's ``Server.handle_exit``
process-wide when imported, keeps its shutdown flag in process-global state and polls it from
a task outside any task group. The second passes events through two memory streams, so a
slow reader holds up to three of them rather than one, and has no way to end streams when
the agent shuts down. The agent knows when it shuts down (``ProcessManager.begin_shutdown``),
and the framing is a few lines.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from agentproc.cursor import TextChunk
from agentsdk.types import ExitEvent, OutputEvent
from agentsdk.wire import EXIT_EVENT, OUTPUT_EVENT, STREAM_HEARTBEAT_SECONDS

__all__ = [
    "EVENT_MODELS",
    "HEARTBEAT_FRAME",
    "STREAM_RESPONSE",
    "EventStreamResponse",
    "event_frame",
    "output_frames",
]

HEARTBEAT_FRAME = b": keep-alive\n\n"
"""A comment line: clients ignore it, proxies see traffic."""

CLOSE_SECONDS = 1.0
"""How long the end of a stream may take to go out. A client that stopped reading cannot take
it at all, and must not hold the agent's shutdown."""

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def event_frame(event: str, data: str, event_id: int | None = None) -> bytes:
    """One event, as the ``text/event-stream`` format spells it."""
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if "\n" in data or "\r" in data:
        lines += [f"data: {line}" for line in _LINE_BREAK.split(data)]
    else:
        # JSON data has no line break: searching 64 KiB for one is quick, splitting it by
        # the pattern took longer than encoding the event.
        lines.append(f"data: {data}")
    return ("\n".join(lines) + "\n\n").encode()


async def output_frames(
    items: AsyncGenerator[TextChunk | ExitEvent | None, None],
) -> AsyncGenerator[bytes, None]:
    """The frames of a followed process: output events, heartbeats, then the exit event."""
    async with aclosing(items):
        async for item in items:
            if item is None:
                yield HEARTBEAT_FRAME
            elif isinstance(item, ExitEvent):
                yield event_frame(EXIT_EVENT, item.model_dump_json())
            else:
                event = OutputEvent(
                    offset=item.start, output=item.text, skipped=item.skipped or None
                )
                data = event.model_dump_json(exclude_none=True)
                yield event_frame(OUTPUT_EVENT, data, event_id=item.next_offset)


EVENT_MODELS = (OutputEvent, ExitEvent)
"""The data of the stream's events, whose schemas the OpenAPI document carries."""


def _event_schema(event: str, data: type[OutputEvent | ExitEvent], *, with_id: bool) -> Any:
    # One event as OpenAPI 3.2 describes server-sent events (before 3.2, `schema` describes
    # each event): its fields as strings, the data a JSON document of the model.
    properties: dict[str, Any] = {
        "event": {"const": event},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": f"#/components/schemas/{data.__name__}"},
        },
    }
    if with_id:
        properties["id"] = {"type": "string", "pattern": "^[0-9]+$"}
    return {"type": "object", "properties": properties, "required": sorted(properties)}


STREAM_RESPONSE: dict[str, Any] = {
    "description": f"Server-sent events: `{OUTPUT_EVENT}` events, whose data is an "
    f"`{OutputEvent.__name__}` and whose id is the offset to resume from; a comment line "
    f"after {STREAM_HEARTBEAT_SECONDS:g} s without one; last, an `{EXIT_EVENT}` event, whose "
    f"data is an `{ExitEvent.__name__}`. The stream also ends when the agent shuts down.",
    "content": {
        "text/event-stream": {
            "schema": {
                # "type" also replaces the string FastAPI gives a response class's schema.
                "type": "object",
                "oneOf": [
                    _event_schema(OUTPUT_EVENT, OutputEvent, with_id=True),
                    _event_schema(EXIT_EVENT, ExitEvent, with_id=False),
                ],
            },
            "example": (
                event_frame(OUTPUT_EVENT, '{"offset":0,"output":"hello\\n"}', event_id=6)
                + HEARTBEAT_FRAME
                + event_frame(EXIT_EVENT, '{"exit_code":0}')
            ).decode(),
        }
    },
}
"""The stream's success answer, for the OpenAPI document (FastAPI describes an answer by one
JSON model; a stream carries two kinds of event)."""


class EventStreamResponse(StreamingResponse):
    """Sends ``frames`` as ``text/event-stream`` until they end, the client goes away, or
    ``until`` returns (the agent shuts down).

    One frame at a time: a frame is asked for only once the one before went out, so a client
    that reads slowly holds no more than a frame here, whatever the source produces.

    Args:
        frames: the encoded events; closed when the stream ends, however it ends.
        until: returns when the stream must end (e.g. ``ProcessManager.wait_shutdown``).
    """

    media_type = "text/event-stream"

    def __init__(
        self, frames: AsyncGenerator[bytes, None], *, until: Callable[[], Awaitable[None]]
    ) -> None:
        # Proxies must neither cache the stream nor hold it back to buffer it.
        super().__init__(frames, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self._frames = frames
        self._until = until

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        gone = False
        async with anyio.create_task_group() as tg:

            async def stream() -> None:
                async with aclosing(self._frames) as frames:
                    async for frame in frames:
                        await send({"type": "http.response.body", "body": frame, "more_body": True})
                tg.cancel_scope.cancel()

            async def watch_client() -> None:
                nonlocal gone
                await _disconnected(receive)
                gone = True
                tg.cancel_scope.cancel()

            async def watch_until() -> None:
                await self._until()
                tg.cancel_scope.cancel()

            tg.start_soon(stream)
            tg.start_soon(watch_client)
            tg.start_soon(watch_until)
        if not gone:
            with anyio.move_on_after(CLOSE_SECONDS):
                await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    # A GET has an empty body; after it, the next message is the disconnect.
    while (await receive())["type"] != "http.disconnect":
        pass
