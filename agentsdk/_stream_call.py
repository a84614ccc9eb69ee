"""The call that opens (or reopens) a process's output stream, described before any I/O.

It says what to send and checks that the answer is an event stream; reading the events,
heartbeats and reconnects are ``agentsdk._stream``'s, sending is the senders'.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from agentsdk._call import Call, header_items
from agentsdk._exceptions import AgentSDKError
from agentsdk._process_routes import check_offset, process_route
from agentsdk.wire import (
    LAST_EVENT_ID_HEADER,
    STREAM_HEARTBEAT_SECONDS,
    STREAM_PATH,
)

__all__ = ["EVENT_STREAM", "STREAM_SILENCE_SECONDS", "stream_call"]

EVENT_STREAM = "text/event-stream"
"""The media type of an output stream (server-sent events)."""

STREAM_SILENCE_SECONDS = 2 * STREAM_HEARTBEAT_SECONDS
"""The longest silence a stream's reader waits out (plus the usual margin) before it counts
the connection as dropped: one heartbeat may be late or lost without a reconnect."""


def stream_call(
    id: str,
    *,
    since: int,
    last_event_id: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> Call[None]:
    """Describe the request that opens (or reopens) a process's output stream.

    A reconnect repeats the first request and adds ``Last-Event-ID``, which the agent reads
    over ``since``, as a browser's EventSource does; the caller's own header of that name is
    then replaced, never sent twice. The answer's body is left unread: the parser only
    checks that it is an event stream.

    Raises:
        ValueError: An empty id, a ``since`` that is not an offset >= 0, or malformed
            ``extra_headers``.
    """
    path = process_route(STREAM_PATH, id)
    headers = header_items(extra_headers)
    check_offset("since", since)
    if last_event_id is not None:
        resume = LAST_EVENT_ID_HEADER.lower()
        headers = tuple((name, value) for name, value in headers if name.lower() != resume)
        headers += ((LAST_EVENT_ID_HEADER, last_event_id),)
    return Call(
        method="GET",
        path=path,
        parse=_check_event_stream,
        params=(("since", str(since)),),
        wait_seconds=STREAM_SILENCE_SECONDS,
        extra_headers=headers,
        accept=EVENT_STREAM,
    )


def _check_event_stream(response: httpx.Response) -> None:
    # A proxy's page or an agent without streams can answer 200 too; reading that as an
    # empty stream would end in a reconnect loop instead of saying what came back.
    media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if media_type != EVENT_STREAM:
        request = response.request
        shown = media_type or "no content type"
        raise AgentSDKError(
            f"{request.method} {request.url}: expected an event stream but received {shown!r}"
        )
