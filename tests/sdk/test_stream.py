"""``stream_output``, sync and async, over httpx.MockTransport: the request, the events, and
resuming a dropped connection without repeating or losing a byte.

``ResumingAgent`` plays the agent's side of the spec: it serves a fixed list of events from
the offset the request asks for (``Last-Event-ID`` over ``since``) and, on the connections
the test says, cuts the body after a given number of bytes, in the middle of an event.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from agentsdk import (
    AgentConn,
    AgentSDKError,
    APIConnectionError,
    AsyncAgentConn,
    ExitEvent,
    NotFoundError,
    OutputEvent,
    StreamEvent,
)
from agentsdk._base import BaseClient
from agentsdk.wire import STREAM_HEARTBEAT_SECONDS

from ._data import API, BASE_URL, PROCESS_ID, TOKEN

STREAM_URL = f"{API}/{PROCESS_ID}/stream"
EVENT_STREAM = {"Content-Type": "text/event-stream"}


def output_event(offset: int, text: str, *, skipped: int = 0) -> bytes:
    """An ``output`` event as the agent writes it: id = the offset where the chunk ends."""
    data: dict[str, Any] = {"offset": offset, "output": text}
    if skipped:
        data["skipped"] = skipped
    end = offset + len(text.encode())
    return f"event: output\nid: {end}\ndata: {json.dumps(data)}\n\n".encode()


def exit_event(code: int) -> bytes:
    """The ``exit`` event, without an id, as the agent writes it."""
    return f'event: exit\ndata: {{"exit_code": {code}}}\n\n'.encode()


class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that yields its chunks, then ends or drops like a reset connection."""

    def __init__(self, chunks: list[bytes], *, drop: bool = False) -> None:
        self.chunks = chunks
        self.drop = drop
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.drop:
            raise httpx.RemoteProtocolError("peer closed connection without sending the body")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.drop:
            raise httpx.ReadError("connection reset by peer")

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def stream_of(*chunks: bytes, drop: bool = False) -> httpx.Response:
    """A 200 event-stream answer with ``chunks`` as its body."""
    return httpx.Response(200, headers=EVENT_STREAM, stream=Body(list(chunks), drop=drop))


@dataclass
class Script:
    """Answers in order, one per request; each request is recorded."""

    answers: list[httpx.Response | httpx.RequestError]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, httpx.RequestError):
            raise answer
        return answer


@dataclass
class ResumingAgent:
    """Serves ``chunks`` of output and the exit, from where each request asks to start.

    ``cuts[k]`` is where connection ``k`` drops, in bytes of its body; connections past the
    list run to the exit event.
    """

    chunks: list[str]
    cuts: list[int]
    exit_code: int = 0
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        connection = len(self.requests)
        self.requests.append(request)
        start = int(request.headers.get("last-event-id", request.url.params["since"]))
        body, offset = b"", 0
        for text in self.chunks:
            if offset >= start:
                body += output_event(offset, text)
            offset += len(text.encode())
        body += exit_event(self.exit_code)
        if connection < len(self.cuts):
            return stream_of(body[: self.cuts[connection]], drop=True)
        return stream_of(body)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reconnect at once, so the drop tests do not sleep."""
    monkeypatch.setattr(BaseClient, "_retry_delay", lambda self, taken, retry_after: 0.0)


def connect(handler: Any, **kwargs: Any) -> AgentConn:
    """A sync client with a token, over ``handler``."""
    return AgentConn(BASE_URL, token=TOKEN, transport=httpx.MockTransport(handler), **kwargs)


def aconnect(handler: Any, **kwargs: Any) -> AsyncAgentConn:
    """An async client with a token, over ``handler``."""
    return AsyncAgentConn(BASE_URL, token=TOKEN, transport=httpx.MockTransport(handler), **kwargs)


def text_of(events: list[StreamEvent]) -> str:
    """The output the events carry, joined."""
    return "".join(event.output for event in events if isinstance(event, OutputEvent))


def assert_contiguous(events: list[StreamEvent], chunks: list[str]) -> None:
    """Each chunk exactly once, in order, at the offset the previous one ended at."""
    outputs = [event for event in events if isinstance(event, OutputEvent)]
    assert [event.output for event in outputs] == chunks
    offset = 0
    for event in outputs:
        assert event.offset == offset
        offset += len(event.output.encode())
    assert events[-1] == ExitEvent(exit_code=0)


CHUNKS = ["hello ", "wörld\n", "€ and more\n", "done\n"]
FULL_BODY = b"".join(
    output_event(sum(len(c.encode()) for c in CHUNKS[:i]), chunk) for i, chunk in enumerate(CHUNKS)
)


# -- the request and the events -------------------------------------------------------------


def test_stream_yields_each_chunk_then_the_exit_code() -> None:
    """Output events in order, skipped passed through, then the exit event ends the stream."""
    script = Script(
        [stream_of(output_event(0, "a\n"), output_event(10, "b\n", skipped=8), exit_event(3))]
    )
    with connect(script) as conn, conn.stream_output(PROCESS_ID) as stream:
        events = list(stream)

    assert events == [
        OutputEvent(offset=0, output="a\n"),
        OutputEvent(offset=10, output="b\n", skipped=8),
        ExitEvent(exit_code=3),
    ]
    assert (stream.exit_code, stream.next_offset) == (3, 12)


def test_stream_sends_one_get_for_the_event_stream() -> None:
    """GET /{id}/stream?since=0, asking for an event stream, with the token."""
    script = Script([stream_of(exit_event(0))])
    with connect(script) as conn:
        list(conn.stream_output(PROCESS_ID))

    (request,) = script.requests
    assert request.method == "GET"
    assert request.url == httpx.URL(f"{STREAM_URL}?since=0")
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert "last-event-id" not in request.headers


def test_stream_starts_where_since_says() -> None:
    """since=N asks the agent for the output from byte N on."""
    script = Script([stream_of(output_event(42, "x"), exit_event(0))])
    with connect(script) as conn:
        events = list(conn.stream_output(PROCESS_ID, since=42))

    assert script.requests[0].url.params["since"] == "42"
    assert events[0] == OutputEvent(offset=42, output="x")


def test_heartbeats_and_unknown_events_are_skipped() -> None:
    """Comment lines and kinds of event this client does not know yield nothing."""
    heartbeat, stats = b": ping\n\n", b"event: stats\ndata: {}\n\n"
    script = Script([stream_of(heartbeat, stats, output_event(0, "x"), heartbeat, exit_event(0))])
    with connect(script) as conn:
        assert list(conn.stream_output(PROCESS_ID)) == [
            OutputEvent(offset=0, output="x"),
            ExitEvent(exit_code=0),
        ]


def test_nothing_is_read_after_the_exit_event(caplog: pytest.LogCaptureFixture) -> None:
    """The exit event ends the iteration and the connection: what follows it on the wire,
    even a drop, is neither read nor retried."""
    body = Body([exit_event(1), output_event(0, "late")], drop=True)
    script = Script([httpx.Response(200, headers=EVENT_STREAM, stream=body)])
    with connect(script) as conn:
        assert list(conn.stream_output(PROCESS_ID)) == [ExitEvent(exit_code=1)]
    assert len(script.requests) == 1
    assert body.closed
    assert "Retrying" not in caplog.text


def test_stream_read_timeout_outlasts_a_missed_heartbeat() -> None:
    """A short client timeout is raised for the stream: one heartbeat may go missing."""
    script = Script([stream_of(exit_event(0))])
    with connect(script, timeout=5.0) as conn:
        list(conn.stream_output(PROCESS_ID))

    read_timeout = script.requests[0].extensions["timeout"]["read"]
    assert read_timeout > 2 * STREAM_HEARTBEAT_SECONDS


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": -1}, "since to be an offset >= 0"),
        ({"since": True}, "since to be an offset >= 0"),
        ({"since": "last"}, "since to be an offset >= 0"),
        ({"since": 2.0}, "since to be an offset >= 0"),
        ({"extra_headers": {"X-A": 1}}, "header 'X-A' to be a string"),
    ],
)
def test_bad_stream_arguments_raise_before_any_request(
    kwargs: dict[str, Any], message: str
) -> None:
    """A bad since or header is a ValueError at the call, before anything is sent."""
    script = Script([])
    with connect(script) as conn, pytest.raises(ValueError, match=message):
        conn.stream_output(PROCESS_ID, **kwargs)
    with connect(script) as conn, pytest.raises(ValueError, match="non-empty process id"):
        conn.stream_output("")
    assert script.requests == []


def test_a_closed_client_refuses_to_stream() -> None:
    """As for every call: a closed client cannot be used again."""
    conn = connect(Script([]))
    conn.close()
    with pytest.raises(RuntimeError, match="closed"):
        conn.stream_output(PROCESS_ID)


def test_closing_a_stream_early_closes_its_connection() -> None:
    """Leaving the with block mid-stream closes the body; the iteration is over."""
    body = Body([output_event(0, "a"), output_event(1, "b"), exit_event(0)])
    answer = httpx.Response(200, headers=EVENT_STREAM, stream=body)
    with connect(Script([answer])) as conn:
        with conn.stream_output(PROCESS_ID) as stream:
            assert next(stream) == OutputEvent(offset=0, output="a")
        assert body.closed
        assert list(stream) == []
        assert (stream.next_offset, stream.exit_code) == (1, None)


# -- answers that are not a stream ----------------------------------------------------------


def test_an_unknown_process_raises_not_found_at_once() -> None:
    """A 404 is the agent's answer, not a dropped stream: raised, never retried."""
    message = f'Process "{PROCESS_ID}" not found.'
    script = Script([httpx.Response(404, json={"message": message})])
    with connect(script) as conn, pytest.raises(NotFoundError) as caught:
        list(conn.stream_output(PROCESS_ID))

    assert caught.value.message == message
    assert len(script.requests) == 1


def test_a_busy_agent_is_asked_again_before_the_stream_opens() -> None:
    """A 503 or a refused connection before any event is retried like any read."""
    script = Script(
        [
            httpx.Response(503, json={"message": "busy"}),
            httpx.ConnectError("refused"),
            stream_of(output_event(0, "x"), exit_event(0)),
        ]
    )
    with connect(script) as conn:
        assert text_of(list(conn.stream_output(PROCESS_ID))) == "x"
    assert len(script.requests) == 3
    assert all("last-event-id" not in request.headers for request in script.requests)


def test_an_answer_that_is_not_an_event_stream_raises() -> None:
    """A 200 of JSON (a proxy, an agent without streams) is an error, not an empty stream."""
    script = Script([httpx.Response(200, json={"output": ""})])
    with connect(script) as conn, pytest.raises(AgentSDKError, match="expected an event stream"):
        list(conn.stream_output(PROCESS_ID))
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'event: output\nid: 3\ndata: {"offset": 0}\n\n', "decode event data as OutputEvent"),
        (b"event: exit\ndata: not json\n\n", "decode event data as ExitEvent"),
        (b'event: output\nid: x1\ndata: {"offset": 0, "output": "a"}\n\n', "not an offset"),
        (b'event: output\ndata: {"offset": 0, "output": "a"}\n\n', "'' is not an offset"),
    ],
)
def test_events_that_break_the_protocol_raise(body: bytes, message: str) -> None:
    """Malformed data, or an output event without an offset id, cannot be resumed: raised."""
    script = Script([stream_of(body)])
    with connect(script) as conn, pytest.raises(AgentSDKError, match=message) as caught:
        list(conn.stream_output(PROCESS_ID))
    assert STREAM_URL in str(caught.value)


# -- dropped connections ----------------------------------------------------------------------


@pytest.mark.parametrize("cut", range(1, len(FULL_BODY)))
def test_a_drop_anywhere_resumes_without_repeating_or_losing_a_byte(cut: int) -> None:
    """Wherever the body is cut, inside an event or between two, the chunks come out once,
    in order, and the resumed request names the last whole event received."""
    agent = ResumingAgent(CHUNKS, cuts=[cut])
    with connect(agent) as conn:
        events = list(conn.stream_output(PROCESS_ID))

    assert_contiguous(events, CHUNKS)
    first, resumed = agent.requests
    assert "last-event-id" not in first.headers
    delivered = [e for e in events[: len(events) - 1] if isinstance(e, OutputEvent)]
    received_before_cut = FULL_BODY[:cut].count(b"\n\n")
    if received_before_cut:
        ends = [e.offset + len(e.output.encode()) for e in delivered]
        assert resumed.headers["last-event-id"] == str(ends[received_before_cut - 1])
    else:
        assert "last-event-id" not in resumed.headers
    assert resumed.url.params["since"] == "0"


def test_a_body_that_ends_before_the_exit_event_is_resumed() -> None:
    """A clean end without the exit event is a drop too: the stream goes on from its id."""
    script = Script(
        [
            stream_of(output_event(0, "a")),
            stream_of(output_event(1, "b"), exit_event(0)),
        ]
    )
    with connect(script) as conn:
        assert text_of(list(conn.stream_output(PROCESS_ID))) == "ab"
    assert script.requests[1].headers["last-event-id"] == "1"


def test_drops_without_progress_raise_after_the_client_s_retries() -> None:
    """1 + max_retries connections that each drop before an event, then APIConnectionError."""
    agent = ResumingAgent(["x"], cuts=[5, 5, 5])
    with connect(agent, max_retries=2) as conn, pytest.raises(APIConnectionError) as caught:
        list(conn.stream_output(PROCESS_ID))

    assert len(agent.requests) == 3
    assert isinstance(caught.value.cause, httpx.RemoteProtocolError)
    assert str(caught.value).startswith(f"GET {STREAM_URL}?since=0: do request: ")


def test_an_early_end_that_keeps_repeating_is_raised_as_a_protocol_error() -> None:
    """A body that always ends before the exit event is reported, not followed forever."""
    script = Script([stream_of(b": ping\n\n"), stream_of(b"")])
    with connect(script, max_retries=1) as conn, pytest.raises(APIConnectionError) as caught:
        list(conn.stream_output(PROCESS_ID))
    assert "ended before the process's exit event" in str(caught.value)


def test_every_drop_after_progress_restores_the_retry_budget() -> None:
    """A long stream survives any number of drops that each delivered an event."""
    chunks = [f"line {n}\n" for n in range(6)]
    step = len(output_event(0, chunks[0]))
    agent = ResumingAgent(chunks, cuts=[step + 3] * 5)
    with connect(agent, max_retries=1) as conn:
        assert_contiguous(list(conn.stream_output(PROCESS_ID)), chunks)
    assert len(agent.requests) == 6


def test_a_refused_reconnect_is_retried_then_raised() -> None:
    """After a drop, an agent that is gone costs the usual retries, then the usual error: the
    drop is the first failure, so max_retries=2 makes two reconnects."""
    script = Script(
        [
            stream_of(output_event(0, "a"), drop=True),
            httpx.ConnectError("refused"),
            httpx.ConnectError("refused"),
        ]
    )
    with connect(script, max_retries=2) as conn:
        stream = conn.stream_output(PROCESS_ID)
        assert next(stream) == OutputEvent(offset=0, output="a")
        with pytest.raises(APIConnectionError, match="refused"):
            next(stream)
    assert [r.headers.get("last-event-id") for r in script.requests] == [None, "1", "1"]


def test_a_gone_process_on_reconnect_raises_not_found() -> None:
    """A resumption the agent answers 404 to (the process was forgotten) is raised as such."""
    script = Script(
        [
            stream_of(output_event(0, "a"), drop=True),
            httpx.Response(404, json={"message": "gone"}),
        ]
    )
    with connect(script) as conn, pytest.raises(NotFoundError):
        list(conn.stream_output(PROCESS_ID))


def test_a_caller_s_last_event_id_is_replaced_on_resume_not_repeated() -> None:
    """The caller may start with its own Last-Event-ID; a resumption sends only the SDK's."""
    script = Script(
        [
            stream_of(output_event(10, "a"), drop=True),
            stream_of(exit_event(0)),
        ]
    )
    with connect(script) as conn:
        list(conn.stream_output(PROCESS_ID, extra_headers={"last-event-id": "10", "X-A": "1"}))

    first, resumed = script.requests
    assert first.headers.get_list("last-event-id") == ["10"]
    assert resumed.headers.get_list("last-event-id") == ["11"]
    assert resumed.headers["x-a"] == "1"


# -- the async twin ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_stream_yields_each_chunk_then_the_exit_code() -> None:
    """The async stream yields the same events and sends the same request."""
    script = Script([stream_of(output_event(0, "a\n"), exit_event(0))])
    async with aconnect(script) as conn, conn.stream_output(PROCESS_ID, since=0) as stream:
        events = [event async for event in stream]

    assert events == [OutputEvent(offset=0, output="a\n"), ExitEvent(exit_code=0)]
    assert (stream.exit_code, stream.next_offset) == (0, 2)
    assert script.requests[0].url == httpx.URL(f"{STREAM_URL}?since=0")
    assert script.requests[0].headers["accept"] == "text/event-stream"


@pytest.mark.anyio
@pytest.mark.parametrize("cut", range(1, len(FULL_BODY), 7))
async def test_async_drop_resumes_without_repeating_or_losing_a_byte(cut: int) -> None:
    """The async stream resumes from the last whole event as the sync one does, also when
    the resumed connection drops as well."""
    agent = ResumingAgent(CHUNKS, cuts=[cut, 9])
    async with aconnect(agent) as conn:
        events = [event async for event in conn.stream_output(PROCESS_ID)]

    assert_contiguous(events, CHUNKS)
    assert len(agent.requests) == 3


@pytest.mark.anyio
async def test_async_drops_without_progress_raise_after_the_client_s_retries() -> None:
    """The same budget: 1 + max_retries connections, then APIConnectionError."""
    agent = ResumingAgent(["x"], cuts=[5, 5])
    async with aconnect(agent, max_retries=1) as conn:
        with pytest.raises(APIConnectionError):
            async for _ in conn.stream_output(PROCESS_ID):
                pass
    assert len(agent.requests) == 2


@pytest.mark.anyio
async def test_async_closing_a_stream_early_closes_its_connection() -> None:
    """Leaving the async with block mid-stream closes the body."""
    body = Body([output_event(0, "a"), output_event(1, "b"), exit_event(0)])
    answer = httpx.Response(200, headers=EVENT_STREAM, stream=body)
    async with aconnect(Script([answer])) as conn:
        async with conn.stream_output(PROCESS_ID) as stream:
            assert await anext(stream) == OutputEvent(offset=0, output="a")
        assert body.closed
        assert [event async for event in stream] == []


@pytest.mark.anyio
async def test_async_nothing_is_read_after_the_exit_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The async stream ends at the exit event too, without reading on or retrying."""
    body = Body([exit_event(1), output_event(0, "late")], drop=True)
    script = Script([httpx.Response(200, headers=EVENT_STREAM, stream=body)])
    async with aconnect(script) as conn:
        assert [event async for event in conn.stream_output(PROCESS_ID)] == [ExitEvent(exit_code=1)]
    assert len(script.requests) == 1
    assert body.closed
    assert "Retrying" not in caplog.text
