"""Per-call ``extra_headers`` and ``conn.headers``, sync and async, over httpx.MockTransport.

Each test names the exact headers the SDK sends. ``extra_headers`` go on one call only, over
every other header (the client's, the token's, an injected client's), matched
case-insensitively so that a name is never sent twice; ``conn.headers`` reads back the
constructor's headers, without the token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import httpx
import pytest

from agentsdk import (
    AgentConn,
    AsyncAgentConn,
    AsyncControlPlaneClient,
    ControlPlaneClient,
    ExternalAuthResponse,
)
from agentsdk._base import BaseClient

from ._data import (
    BASE_URL,
    CHAT_ID,
    LIST_BODY,
    OUTPUT_BODY,
    PROCESS_ID,
    SIGNAL_BODY,
    START_BODY,
    TOKEN,
)

OTHER_CHAT_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

HTTPX_DEFAULT_HEADERS = {"accept-encoding", "connection", "user-agent", "host", "content-length"}
"""Headers httpx adds on its own; the SDK's contract is everything else."""

BODIES: dict[str, dict[str, Any]] = {
    "/start": START_BODY,
    "/list": LIST_BODY,
    f"/{PROCESS_ID}/output": OUTPUT_BODY,
    f"/{PROCESS_ID}/signal": SIGNAL_BODY,
}

EXTERNAL_AUTH_BODY = {"access_token": "gho_abc", "type": "github", "username": "gho_abc"}


class Recorder:
    """A MockTransport handler that answers each process route and remembers every request."""

    def __init__(self, *, fail_first: int = 0) -> None:
        self.requests: list[httpx.Request] = []
        self.fail_first = fail_first

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if len(self.requests) <= self.fail_first:
            return httpx.Response(503, json={"message": "busy"})
        path = request.url.path
        if path.startswith("/api/v0/processes"):
            return httpx.Response(200, json=BODIES[path.removeprefix("/api/v0/processes")])
        return httpx.Response(200, json=EXTERNAL_AUTH_BODY)

    @property
    def sent(self) -> list[dict[str, str]]:
        """The headers of each request that the SDK decided, lower-cased, in order."""
        return [
            {k: v for k, v in r.headers.multi_items() if k not in HTTPX_DEFAULT_HEADERS}
            for r in self.requests
        ]


def expected(extra: Mapping[str, str], *, body: bool) -> dict[str, str]:
    """What a call of a client with the token and a chat header sends, plus ``extra``."""
    headers = {"accept": "application/json", "coder-chat-id": CHAT_ID}
    if body:
        headers["content-type"] = "application/json"
    headers["authorization"] = f"Bearer {TOKEN}"
    return {**headers, **{k.lower(): v for k, v in extra.items()}}


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry at once, so retry tests do not sleep."""
    monkeypatch.setattr(BaseClient, "_retry_delay", lambda self, taken, retry_after: 0.0)


# -- extra_headers: one call, over everything else ------------------------------------------


def test_each_method_sends_its_extra_headers_for_that_call_only() -> None:
    """start, list, output and signal each add their extra headers; the next call does not."""
    recorder = Recorder()
    transport = httpx.MockTransport(recorder)
    with AgentConn(
        BASE_URL, token=TOKEN, headers={"Coder-Chat-Id": CHAT_ID}, transport=transport
    ) as conn:
        conn.start_process(command="true", extra_headers={"X-Call": "start"})
        conn.list_processes(extra_headers={"X-Call": "list"})
        conn.process_output(PROCESS_ID, wait=True, extra_headers={"X-Call": "output"})
        conn.signal_process(PROCESS_ID, "kill", extra_headers={"X-Call": "signal"})
        conn.list_processes()

    assert recorder.sent == [
        expected({"X-Call": "start"}, body=True),
        expected({"X-Call": "list"}, body=False),
        expected({"X-Call": "output"}, body=False),
        expected({"X-Call": "signal"}, body=True),
        expected({}, body=False),
    ]


@pytest.mark.anyio
async def test_each_async_method_sends_its_extra_headers_for_that_call_only() -> None:
    """The async twin sends exactly the same headers."""
    recorder = Recorder()
    transport = httpx.MockTransport(recorder)
    async with AsyncAgentConn(
        BASE_URL, token=TOKEN, headers={"Coder-Chat-Id": CHAT_ID}, transport=transport
    ) as conn:
        await conn.start_process(command="true", extra_headers={"X-Call": "start"})
        await conn.list_processes(extra_headers={"X-Call": "list"})
        await conn.process_output(PROCESS_ID, wait=True, extra_headers={"X-Call": "output"})
        await conn.signal_process(PROCESS_ID, "kill", extra_headers={"X-Call": "signal"})
        await conn.list_processes()

    assert recorder.sent == [
        expected({"X-Call": "start"}, body=True),
        expected({"X-Call": "list"}, body=False),
        expected({"X-Call": "output"}, body=False),
        expected({"X-Call": "signal"}, body=True),
        expected({}, body=False),
    ]


def test_extra_headers_replace_a_client_header_whatever_the_case_of_its_name() -> None:
    """A per-call chat id replaces the client's: one Coder-Chat-Id goes out, the call's."""
    recorder = Recorder()
    with AgentConn(
        BASE_URL,
        token=TOKEN,
        headers={"Coder-Chat-Id": CHAT_ID},
        transport=httpx.MockTransport(recorder),
    ) as conn:
        conn.list_processes(extra_headers={"coder-chat-id": OTHER_CHAT_ID})
    assert recorder.requests[0].headers.get_list("coder-chat-id") == [OTHER_CHAT_ID]


def test_extra_headers_win_over_the_token_and_the_sdks_own_headers() -> None:
    """As in the Stainless SDKs, a call's headers are the last word, Authorization included."""
    recorder = Recorder()
    with AgentConn(BASE_URL, token=TOKEN, transport=httpx.MockTransport(recorder)) as conn:
        conn.list_processes(
            extra_headers={"authorization": "Bearer other", "Accept": "application/x+json"}
        )
    sent = recorder.requests[0].headers
    assert sent.get_list("authorization") == ["Bearer other"]
    assert sent.get_list("accept") == ["application/x+json"]


@pytest.mark.anyio
async def test_extra_headers_win_over_an_injected_clients_headers() -> None:
    """A chat header set on a shared http_client is replaced by the call's, never doubled."""
    recorder = Recorder()
    async with (
        httpx.AsyncClient(
            headers={"Coder-Chat-Id": CHAT_ID}, transport=httpx.MockTransport(recorder)
        ) as http_client,
        AsyncAgentConn(BASE_URL, http_client=http_client) as conn,
    ):
        await conn.list_processes(extra_headers={"Coder-Chat-Id": OTHER_CHAT_ID})
        await conn.list_processes()
    assert [r.headers.get_list("coder-chat-id") for r in recorder.requests] == [
        [OTHER_CHAT_ID],
        [CHAT_ID],
    ]


def test_extra_headers_are_sent_again_on_every_retry() -> None:
    """A retried call is the same call: its extra headers go on each attempt."""
    recorder = Recorder(fail_first=2)
    with AgentConn(BASE_URL, transport=httpx.MockTransport(recorder)) as conn:
        conn.list_processes(extra_headers={"Coder-Chat-Id": CHAT_ID})
    assert [r.headers.get("coder-chat-id") for r in recorder.requests] == [CHAT_ID] * 3


@pytest.mark.parametrize(
    ("extra_headers", "match"),
    [
        ({"X-Count": 1}, "string but received int"),
        ({"": "value"}, "header name"),
        ({1: "value"}, "header name"),
        (["X-A", "1"], "mapping"),
    ],
)
def test_malformed_extra_headers_raise_value_error_before_any_request(
    extra_headers: Any, match: str
) -> None:
    """Headers that are not names mapped to strings are refused before anything is sent."""
    recorder = Recorder()
    with AgentConn(BASE_URL, transport=httpx.MockTransport(recorder)) as conn:
        calls: list[Callable[[], object]] = [
            lambda: conn.start_process(command="true", extra_headers=extra_headers),
            lambda: conn.list_processes(extra_headers=extra_headers),
            lambda: conn.process_output(PROCESS_ID, extra_headers=extra_headers),
            lambda: conn.signal_process(PROCESS_ID, "kill", extra_headers=extra_headers),
        ]
        for call in calls:
            with pytest.raises(ValueError, match=match):
                call()
    assert recorder.requests == []


def test_a_header_value_is_not_shown_when_it_is_refused() -> None:
    """The refusal names the header and the type, not the value (it may be a secret)."""

    class Secret:
        def __repr__(self) -> str:
            return "hunter2"

    with AgentConn(BASE_URL) as conn, pytest.raises(ValueError) as caught:
        conn.list_processes(extra_headers={"Authorization": Secret()})  # type: ignore[dict-item]
    assert "Authorization" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_control_plane_calls_take_extra_headers_too() -> None:
    """The control-plane clients share the request builder, so a call's headers reach it."""
    recorder = Recorder()
    with ControlPlaneClient(
        "http://control-plane.test", token="agent-token", transport=httpx.MockTransport(recorder)
    ) as client:
        answer = client.external_auth(match="https://github.com", extra_headers={"X-Trace": "t1"})
    assert answer == ExternalAuthResponse.model_validate(EXTERNAL_AUTH_BODY)
    assert recorder.sent == [
        {"accept": "application/json", "coder-session-token": "agent-token", "x-trace": "t1"}
    ]


@pytest.mark.anyio
async def test_async_control_plane_calls_take_extra_headers_too() -> None:
    """The async control-plane client sends a call's headers the same way."""
    recorder = Recorder()
    async with AsyncControlPlaneClient(
        "http://control-plane.test", transport=httpx.MockTransport(recorder)
    ) as client:
        await client.external_auth(match="https://github.com", extra_headers={"X-Trace": "t1"})
    assert recorder.sent == [{"accept": "application/json", "x-trace": "t1"}]


# -- the live-process calls: cursor reads, input, streams ---------------------------------

LIVE_BODIES: dict[str, dict[str, Any]] = {
    f"/{PROCESS_ID}/output": {"output": "", "running": True, "offset": 0, "next_offset": 0},
    f"/{PROCESS_ID}/input": {"queued": 1, "stdin_open": True},
}


def live_agent(requests: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    """A MockTransport handler for the live-process routes that records every request."""

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        path = request.url.path.removeprefix("/api/v0/processes")
        if path.endswith("/stream"):
            body = b'event: exit\ndata: {"exit_code": 0}\n\n'
            return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, content=body)
        return httpx.Response(200, json=LIVE_BODIES[path])

    return handle


def decided(request: httpx.Request) -> dict[str, str]:
    """The headers of ``request`` that the SDK decided, lower-cased."""
    return {k: v for k, v in request.headers.multi_items() if k not in HTTPX_DEFAULT_HEADERS}


def live_expected(extra: str, *, body: bool, accept: str = "application/json") -> dict[str, str]:
    """What a live-process call of a chat-scoped client with a token sends, plus X-Call."""
    headers = {"accept": accept, "coder-chat-id": CHAT_ID}
    if body:
        headers["content-type"] = "application/json"
    return {**headers, "authorization": f"Bearer {TOKEN}", "x-call": extra}


LIVE_EXPECTED = [
    live_expected("cursor", body=False),
    live_expected("input", body=True),
    live_expected("close", body=True),
    live_expected("stream", body=False, accept="text/event-stream"),
]


def test_live_process_methods_send_their_extra_headers() -> None:
    """A cursor read, input, close and a stream each send their call's headers."""
    requests: list[httpx.Request] = []
    with AgentConn(
        BASE_URL,
        token=TOKEN,
        headers={"Coder-Chat-Id": CHAT_ID},
        transport=httpx.MockTransport(live_agent(requests)),
    ) as conn:
        conn.process_output(PROCESS_ID, since="last", extra_headers={"X-Call": "cursor"})
        conn.write_input(PROCESS_ID, "y\n", extra_headers={"X-Call": "input"})
        conn.close_input(PROCESS_ID, extra_headers={"X-Call": "close"})
        list(conn.stream_output(PROCESS_ID, extra_headers={"X-Call": "stream"}))

    assert [decided(request) for request in requests] == LIVE_EXPECTED


@pytest.mark.anyio
async def test_async_live_process_methods_send_their_extra_headers() -> None:
    """The async twins send exactly the same headers."""
    requests: list[httpx.Request] = []
    async with AsyncAgentConn(
        BASE_URL,
        token=TOKEN,
        headers={"Coder-Chat-Id": CHAT_ID},
        transport=httpx.MockTransport(live_agent(requests)),
    ) as conn:
        await conn.process_output(PROCESS_ID, since="last", extra_headers={"X-Call": "cursor"})
        await conn.write_input(PROCESS_ID, "y\n", extra_headers={"X-Call": "input"})
        await conn.close_input(PROCESS_ID, extra_headers={"X-Call": "close"})
        async with conn.stream_output(PROCESS_ID, extra_headers={"X-Call": "stream"}) as stream:
            assert [event async for event in stream]

    assert [decided(request) for request in requests] == LIVE_EXPECTED


# -- conn.headers: what the caller configured ----------------------------------------------


def assert_caller_headers_only(headers: Mapping[str, str]) -> None:
    """The constructor's headers below, case-insensitively, and no token header."""
    assert dict(headers) == {"coder-chat-id": CHAT_ID, "x-trace": "t"}
    assert headers["CODER-CHAT-ID"] == CHAT_ID
    assert "authorization" not in headers
    assert "coder-session-token" not in headers


CALLER_HEADERS = {"Coder-Chat-Id": CHAT_ID, "X-Trace": "t"}


def test_headers_read_back_the_constructors_headers_without_the_token() -> None:
    """conn.headers is the caller's headers, looked up case-insensitively, token left out."""
    with AgentConn(BASE_URL, token=TOKEN, headers=CALLER_HEADERS) as conn:
        assert_caller_headers_only(conn.headers)
    with ControlPlaneClient(BASE_URL, token=TOKEN, headers=CALLER_HEADERS) as client:
        assert_caller_headers_only(client.headers)


@pytest.mark.anyio
async def test_async_headers_read_back_the_constructors_headers_without_the_token() -> None:
    """The async clients read their headers back the same way."""
    async with AsyncAgentConn(BASE_URL, token=TOKEN, headers=CALLER_HEADERS) as conn:
        assert_caller_headers_only(conn.headers)
    async with AsyncControlPlaneClient(BASE_URL, token=TOKEN, headers=CALLER_HEADERS) as client:
        assert_caller_headers_only(client.headers)


def test_headers_of_a_client_without_any_are_empty() -> None:
    """No headers given, none read back: the connection is not scoped to a chat."""
    with AgentConn(BASE_URL, token=TOKEN) as conn:
        assert dict(conn.headers) == {}


def test_changing_the_headers_read_back_changes_nothing_sent() -> None:
    """conn.headers is a copy: writing into it does not reach any request."""
    recorder = Recorder()
    with AgentConn(
        BASE_URL, headers={"Coder-Chat-Id": CHAT_ID}, transport=httpx.MockTransport(recorder)
    ) as conn:
        copy = cast(httpx.Headers, conn.headers)
        copy["Coder-Chat-Id"] = OTHER_CHAT_ID
        copy["X-Injected"] = "1"
        conn.list_processes()
        assert conn.headers["coder-chat-id"] == CHAT_ID
    assert recorder.requests[0].headers.get_list("coder-chat-id") == [CHAT_ID]
    assert "x-injected" not in recorder.requests[0].headers


@pytest.mark.parametrize(
    ("headers", "match"),
    [({"X-Count": 1}, "string but received int"), ({"": "v"}, "header name"), ("X: 1", "mapping")],
)
def test_malformed_constructor_headers_raise_value_error(headers: Any, match: str) -> None:
    """The constructor's headers are checked the same way as a call's."""
    with pytest.raises(ValueError, match=match):
        AgentConn(BASE_URL, headers=headers)


def test_repeated_header_names_survive_a_copy_with_other_options() -> None:
    """with_options keeps each header the client sends, not a joined value."""
    recorder = Recorder()
    headers = httpx.Headers([("X-Tag", "a"), ("X-Tag", "b")])
    with ControlPlaneClient(
        "http://control-plane.test", headers=headers, transport=httpx.MockTransport(recorder)
    ) as client:
        copy = client.with_options(max_retries=0)
        copy.external_auth(match="https://github.com")
    assert recorder.requests[0].headers.get_list("x-tag") == ["a", "b"]
