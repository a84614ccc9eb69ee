"""Unit tests for the synchronous ``AgentConn``, against respx (no server, no socket)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator

import httpx
import pytest
import respx

import agentsdk
from agentsdk import AgentConn, StartProcessRequest
from agentsdk._base import BaseClient
from agentsdk.wire import MAX_WAIT_SECONDS

from ._data import (
    API,
    BASE_URL,
    CHAT_ID,
    ERROR_STATUSES,
    LIST_BODY,
    NOT_RETRIED_STATUSES,
    OUTPUT_BODY,
    PROCESS_ID,
    RETRIED_STATUSES,
    SIGNAL_BODY,
    START_BODY,
    TOKEN,
)

# Headers httpx adds on its own; the SDK's contract is everything else.
HTTPX_DEFAULT_HEADERS = {"accept-encoding", "connection", "user-agent"}


def sent_headers(request: httpx.Request) -> dict[str, str]:
    """The headers of ``request`` that the SDK decided, lower-cased."""
    return {k: v for k, v in request.headers.items() if k not in HTTPX_DEFAULT_HEADERS}


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry at once, so retry tests do not sleep."""
    monkeypatch.setattr(BaseClient, "_retry_delay", lambda self, taken, retry_after: 0.0)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """A mocked agent under the process API prefix; every route set up must be called."""
    with respx.mock(base_url=API, assert_all_called=True) as router:
        yield router


# -- the exact request of each method ---------------------------------------------------------


def test_start_process_sends_compact_json_with_token(
    api: respx.MockRouter, conn: AgentConn
) -> None:
    """start_process POSTs the fields as compact JSON with the bearer token."""
    route = api.post("/start").respond(200, json=START_BODY)

    result = conn.start_process(
        command="echo hi",
        workdir="/tmp",
        env={"A": "1"},
        background=True,
        idempotency_key="key-1",
    )

    assert result == agentsdk.StartProcessResponse(id=PROCESS_ID, started=True)
    request = route.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == f"{API}/start"
    assert request.content == (
        b'{"command":"echo hi","workdir":"/tmp","env":{"A":"1"},'
        b'"background":true,"idempotency_key":"key-1"}'
    )
    assert sent_headers(request) == {
        "host": "agent.test:4",
        "accept": "application/json",
        "content-type": "application/json",
        "content-length": str(len(request.content)),
        "authorization": f"Bearer {TOKEN}",
    }


def test_start_process_accepts_a_request_model(api: respx.MockRouter, conn: AgentConn) -> None:
    """A StartProcessRequest is sent exactly as the same keyword fields would be."""
    route = api.post("/start").respond(200, json=START_BODY)

    conn.start_process(StartProcessRequest(command="ls", idempotency_key="k"))

    assert route.calls.last.request.content == b'{"command":"ls","idempotency_key":"k"}'


def test_start_process_omits_unset_fields_when_retries_are_off(api: respx.MockRouter) -> None:
    """With retries disabled no idempotency key is invented, so only the command is sent."""
    route = api.post("/start").respond(200, json=START_BODY)

    with AgentConn(BASE_URL, max_retries=0) as conn:
        conn.start_process(command="true")

    request = route.calls.last.request
    assert request.content == b'{"command":"true"}'
    assert "authorization" not in request.headers


def test_start_process_generates_an_idempotency_key_when_retries_are_on(
    api: respx.MockRouter, conn: AgentConn
) -> None:
    """Without a caller key, a fresh UUID key makes the start safe to retry."""
    route = api.post("/start").respond(200, json=START_BODY)

    conn.start_process(command="true")
    conn.start_process(command="true")

    bodies = [json.loads(call.request.content) for call in route.calls]
    keys = [body.pop("idempotency_key") for body in bodies]
    assert bodies == [{"command": "true"}, {"command": "true"}]
    assert keys[0] != keys[1]
    assert all(uuid.UUID(key) for key in keys)


def test_start_process_tolerates_unknown_response_fields(
    api: respx.MockRouter, conn: AgentConn
) -> None:
    """Fields a newer agent adds are ignored; known ones are parsed."""
    api.post("/start").respond(
        200, json={"id": PROCESS_ID, "started": False, "attached": True, "age_ms": 12}
    )

    result = conn.start_process(command="true", idempotency_key="k")

    assert (result.id, result.started, result.attached) == (PROCESS_ID, False, True)


def test_list_processes_sends_a_bare_get(api: respx.MockRouter, conn: AgentConn) -> None:
    """list_processes GETs /list with no body and no Content-Type, and parses every process."""
    route = api.get("/list").respond(200, json=LIST_BODY)

    result = conn.list_processes()

    assert result == agentsdk.ListProcessesResponse.model_validate(LIST_BODY)
    assert result.processes[0].exit_code is None
    assert result.processes[1].exit_code == 0
    request = route.calls.last.request
    assert (request.method, str(request.url), request.content) == ("GET", f"{API}/list", b"")
    assert sent_headers(request) == {
        "host": "agent.test:4",
        "accept": "application/json",
        "authorization": f"Bearer {TOKEN}",
    }


def test_process_output_sends_no_query_without_wait(api: respx.MockRouter, conn: AgentConn) -> None:
    """process_output without wait GETs /{id}/output plainly and parses the truncation."""
    route = api.get(f"/{PROCESS_ID}/output").respond(200, json=OUTPUT_BODY)

    result = conn.process_output(PROCESS_ID)

    assert result == agentsdk.ProcessOutputResponse.model_validate(OUTPUT_BODY)
    assert result.truncated is not None
    assert result.truncated.omitted_bytes == 10
    request = route.calls.last.request
    assert str(request.url) == f"{API}/{PROCESS_ID}/output"
    assert request.extensions["timeout"] == conn.timeout.as_dict()


def test_process_output_wait_outlasts_the_server_cap(
    api: respx.MockRouter, conn: AgentConn
) -> None:
    """wait=True asks ?wait=true and reads longer than the server's five-minute cap."""
    route = api.get(f"/{PROCESS_ID}/output").respond(200, json=OUTPUT_BODY)

    conn.process_output(PROCESS_ID, wait=True)

    request = route.calls.last.request
    assert str(request.url) == f"{API}/{PROCESS_ID}/output?wait=true"
    timeout = request.extensions["timeout"]
    assert timeout["read"] > MAX_WAIT_SECONDS
    assert timeout["connect"] == conn.timeout.connect


def test_process_output_wait_with_timeout_ms_sends_both_params(
    api: respx.MockRouter,
) -> None:
    """timeout_ms is sent after wait, and the read timeout outlasts it."""
    route = api.get(f"/{PROCESS_ID}/output").respond(200, json=OUTPUT_BODY)

    with AgentConn(BASE_URL, timeout=1.0) as conn:
        conn.process_output(PROCESS_ID, wait=True, timeout_ms=2500)

    request = route.calls.last.request
    assert str(request.url) == f"{API}/{PROCESS_ID}/output?wait=true&timeout_ms=2500"
    assert request.extensions["timeout"]["read"] > 2.5


def test_process_output_wait_keeps_no_timeout_when_none_is_configured(
    api: respx.MockRouter,
) -> None:
    """A client built with timeout=None never adds a read timeout to a wait."""
    route = api.get(f"/{PROCESS_ID}/output").respond(200, json=OUTPUT_BODY)

    with AgentConn(BASE_URL, timeout=None) as conn:
        conn.process_output(PROCESS_ID, wait=True)

    assert route.calls.last.request.extensions["timeout"]["read"] is None


def test_signal_process_posts_the_signal_and_returns_none(
    api: respx.MockRouter, conn: AgentConn
) -> None:
    """signal_process POSTs {"signal": ...} to /{id}/signal and returns None."""
    route = api.post(f"/{PROCESS_ID}/signal").respond(200, json=SIGNAL_BODY)

    conn.signal_process(PROCESS_ID, "kill")  # returns None; mypy checks the annotation

    request = route.calls.last.request
    assert str(request.url) == f"{API}/{PROCESS_ID}/signal"
    assert request.content == b'{"signal":"kill"}'
    assert request.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("process_id", "raw_path"),
    [
        (PROCESS_ID, f"/api/v0/processes/{PROCESS_ID}/output"),
        ("a/b", "/api/v0/processes/a%2Fb/output"),
        ("a b?c#d", "/api/v0/processes/a%20b%3Fc%23d/output"),
        ("..", "/api/v0/processes/%2E%2E/output"),
        ("ü", "/api/v0/processes/%C3%BC/output"),
    ],
)
def test_process_id_is_escaped_as_one_path_segment(
    process_id: str, raw_path: str, api: respx.MockRouter, conn: AgentConn
) -> None:
    """Any id reaches the agent as exactly one segment; a UUID is unchanged."""
    route = api.route().respond(200, json=OUTPUT_BODY)

    conn.process_output(process_id)

    assert route.calls.last.request.url.raw_path == raw_path.encode()


def test_extra_headers_go_on_every_request(api: respx.MockRouter) -> None:
    """Headers given to the constructor (the chat id) are sent by all four methods."""
    api.post("/start").respond(200, json=START_BODY)
    api.get("/list").respond(200, json=LIST_BODY)
    api.get(f"/{PROCESS_ID}/output").respond(200, json=OUTPUT_BODY)
    api.post(f"/{PROCESS_ID}/signal").respond(200, json=SIGNAL_BODY)

    with AgentConn(BASE_URL, token=TOKEN, headers={"Coder-Chat-Id": CHAT_ID}) as conn:
        conn.start_process(command="true")
        conn.list_processes()
        conn.process_output(PROCESS_ID)
        conn.signal_process(PROCESS_ID, "terminate")

    assert len(api.calls) == 4
    for call in api.calls:
        assert call.request.headers["coder-chat-id"] == CHAT_ID
        assert call.request.headers["authorization"] == f"Bearer {TOKEN}"


def test_base_url_path_prefix_is_kept() -> None:
    """A base URL behind a path prefix keeps the prefix, trailing slash or not."""
    with respx.mock(base_url="http://proxy.test/agent/api/v0/processes") as router:
        route = router.get("/list").respond(200, json=LIST_BODY)
        for base_url in ("http://proxy.test/agent", "http://proxy.test/agent/"):
            with AgentConn(base_url) as conn:
                conn.list_processes()
    assert [str(c.request.url) for c in route.calls] == [
        "http://proxy.test/agent/api/v0/processes/list"
    ] * 2


# -- bad arguments fail before any I/O --------------------------------------------------------


@pytest.mark.parametrize("process_id", ["", None, 7])
def test_empty_or_non_string_id_raises_value_error(
    process_id: object, api: respx.MockRouter, conn: AgentConn
) -> None:
    """output and signal reject an empty or non-string id without sending anything."""
    with pytest.raises(ValueError, match="process id"):
        conn.process_output(process_id)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="process id"):
        conn.signal_process(process_id, "kill")  # type: ignore[arg-type]
    assert not api.calls


@pytest.mark.parametrize("signal", ["", "KILL", "SIGINT", "int", None])
def test_unknown_signal_raises_value_error(
    signal: object, api: respx.MockRouter, conn: AgentConn
) -> None:
    """Only "kill" and "terminate" are sent; anything else fails before I/O."""
    with pytest.raises(ValueError, match="signal"):
        conn.signal_process(PROCESS_ID, signal)  # type: ignore[arg-type]
    assert not api.calls


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"wait": True, "timeout_ms": -1}, "timeout_ms"),
        ({"wait": True, "timeout_ms": True}, "timeout_ms"),
        ({"wait": True, "timeout_ms": 1.5}, "timeout_ms"),
        ({"wait": False, "timeout_ms": 100}, "wait=True"),
        ({"wait": "yes"}, "wait"),
    ],
)
def test_bad_output_options_raise_value_error(
    kwargs: dict[str, object], match: str, api: respx.MockRouter, conn: AgentConn
) -> None:
    """A negative, non-integer or wait-less timeout_ms, or a non-bool wait, fails before I/O."""
    with pytest.raises(ValueError, match=match):
        conn.process_output(PROCESS_ID, **kwargs)  # type: ignore[arg-type]
    assert not api.calls


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((), {}, "non-empty command"),
        ((), {"command": ""}, "non-empty command"),
        ((), {"workdir": "/tmp"}, "non-empty command"),
        ((StartProcessRequest(command="ls"),), {"command": "ls"}, "not both"),
        ((StartProcessRequest(command="ls"),), {"env": {}}, "not both"),
        ((), {"command": "ls", "env": {"A": 1}}, "Invalid start request"),
    ],
)
def test_bad_start_arguments_raise_value_error(
    args: tuple[object, ...],
    kwargs: dict[str, object],
    match: str,
    api: respx.MockRouter,
    conn: AgentConn,
) -> None:
    """No command, an empty one, mixed request and fields, or bad field types fail before I/O."""
    with pytest.raises(ValueError, match=match):
        conn.start_process(*args, **kwargs)  # type: ignore[arg-type]
    assert not api.calls


def test_start_process_rejects_a_dict_request(api: respx.MockRouter, conn: AgentConn) -> None:
    """A plain dict is not a StartProcessRequest: ValueError, before I/O."""
    with pytest.raises(ValueError, match="StartProcessRequest"):
        conn.start_process({"command": "ls"})  # type: ignore[arg-type]
    assert not api.calls


def test_start_process_rejects_a_keyword_that_is_no_field(
    api: respx.MockRouter, conn: AgentConn
) -> None:
    """A misspelt field is a TypeError, as for any unknown keyword, not silently dropped."""
    with pytest.raises(TypeError, match="'comand'"):
        conn.start_process(command="ls", comand="ls -l")  # type: ignore[call-arg]
    assert not api.calls


def test_start_process_keywords_given_as_none_count_as_omitted(
    api: respx.MockRouter, conn: AgentConn
) -> None:
    """None for an optional field sends nothing for it, beside a request or beside a command."""
    route = api.post("/start").respond(200, json=START_BODY)

    conn.start_process(StartProcessRequest(command="ls", idempotency_key="k"), workdir=None)
    conn.start_process(command="ls", env=None, background=None, idempotency_key="k")

    bodies = [json.loads(call.request.content) for call in route.calls]
    assert bodies == [{"command": "ls", "idempotency_key": "k"}] * 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base_url": ""}, "base URL"),
        ({"base_url": "agent:4"}, "base URL"),
        ({"base_url": "ftp://agent"}, "base URL"),
        ({"base_url": "http://agent/?x=1"}, "query"),
        ({"base_url": BASE_URL, "token": ""}, "token"),
        ({"base_url": BASE_URL, "max_retries": None}, "pass 0"),
        ({"base_url": BASE_URL, "max_retries": -1}, "max_retries"),
    ],
)
def test_bad_constructor_arguments_raise_value_error(kwargs: dict[str, object], match: str) -> None:
    """A malformed base URL, token or retry count is refused at once."""
    with pytest.raises(ValueError, match=match):
        AgentConn(**kwargs)  # type: ignore[arg-type]


def test_http_client_and_transport_are_exclusive() -> None:
    """Passing both an http_client and a transport is ambiguous, so it is refused."""
    with httpx.Client() as http_client, pytest.raises(ValueError, match="not both"):
        AgentConn(BASE_URL, http_client=http_client, transport=httpx.HTTPTransport())


def test_async_http_client_is_refused() -> None:
    """An httpx.AsyncClient cannot drive the sync client; the mistake is named at once."""
    with pytest.raises(ValueError, match=r"httpx\.Client"):
        AgentConn(BASE_URL, http_client=httpx.AsyncClient())  # type: ignore[arg-type]


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "error_type"), ERROR_STATUSES)
def test_each_error_status_raises_its_exception(
    status: int, error_type: type[agentsdk.APIStatusError], api: respx.MockRouter
) -> None:
    """Every status maps to its class, carrying status, method, URL, message and detail."""
    api.get(f"/{PROCESS_ID}/output").respond(
        status, json={"message": "Nope.", "detail": "why", "ignored": 1}
    )

    with AgentConn(BASE_URL, max_retries=0) as conn, pytest.raises(error_type) as caught:
        conn.process_output(PROCESS_ID)

    error = caught.value
    assert type(error) is error_type
    assert isinstance(error, agentsdk.AgentSDKError)
    url = f"{API}/{PROCESS_ID}/output"
    assert (error.status_code, error.method, error.url) == (status, "GET", url)
    assert (error.message, error.detail, error.validations) == ("Nope.", "why", [])
    assert error.response.status_code == status
    assert error.response.json()["ignored"] == 1
    assert str(error) == f"GET {url}: unexpected status code {status}: Nope.\n\tError: why"


def test_status_error_lists_validations(api: respx.MockRouter, conn: AgentConn) -> None:
    """The error body's validations are parsed and rendered one per line."""
    api.post("/start").respond(
        400,
        json={
            "message": "Request body must be valid JSON.",
            "validations": [
                {"field": "command", "detail": "must be a string"},
                {"field": "env.A", "detail": "must be a string"},
                {"bogus": True},
            ],
        },
    )

    with pytest.raises(agentsdk.BadRequestError) as caught:
        conn.start_process(command="true")

    error = caught.value
    assert error.detail is None
    assert [(v.field, v.detail) for v in error.validations] == [
        ("command", "must be a string"),
        ("env.A", "must be a string"),
    ]
    assert str(error) == (
        f"POST {API}/start: unexpected status code 400: Request body must be valid JSON."
        "\n\tcommand: must be a string\n\tenv.A: must be a string"
    )


@pytest.mark.parametrize(
    ("response", "message", "detail"),
    [
        (
            httpx.Response(404, text="404 page not found\n"),
            'unexpected non-JSON response "text/plain; charset=utf-8"',
            "404 page not found\n",
        ),
        (
            httpx.Response(502, content=b"", headers={"Content-Type": "text/html"}),
            'unexpected non-JSON response "text/html"',
            None,
        ),
        (
            httpx.Response(409, content=b"", headers={"Content-Type": "application/json"}),
            "empty response body",
            None,
        ),
        (
            httpx.Response(404, json={"detail": "Not Found"}),
            "unexpected status code 404, response has no message",
            '{"detail":"Not Found"}',
        ),
        (
            httpx.Response(400, json=["not", "an", "object"]),
            "unexpected status code 400, response has no message",
            '["not","an","object"]',
        ),
    ],
)
def test_unexpected_error_bodies_still_give_a_readable_error(
    response: httpx.Response,
    message: str,
    detail: str | None,
    api: respx.MockRouter,
) -> None:
    """Error bodies that are not the agent's JSON become a clear message, raw text as detail."""
    api.get(f"/{PROCESS_ID}/output").mock(return_value=response)

    with (
        AgentConn(BASE_URL, max_retries=0) as conn,
        pytest.raises(agentsdk.APIStatusError) as caught,
    ):
        conn.process_output(PROCESS_ID)

    assert (caught.value.status_code, caught.value.message) == (response.status_code, message)
    assert caught.value.detail == detail


def test_invalid_json_error_body_is_reported(api: respx.MockRouter, conn: AgentConn) -> None:
    """A JSON-typed error body that does not parse names the parse failure and keeps the text."""
    api.get("/list").respond(400, content=b"{oops", headers={"Content-Type": "application/json"})

    with pytest.raises(agentsdk.BadRequestError) as caught:
        conn.list_processes()

    assert caught.value.message.startswith("invalid JSON error body")
    assert caught.value.detail == "{oops"


def test_long_non_json_error_body_is_cut(api: respx.MockRouter, conn: AgentConn) -> None:
    """A huge HTML error page is cut so the exception stays printable."""
    api.get("/list").respond(400, html="x" * 10_000)

    with pytest.raises(agentsdk.BadRequestError) as caught:
        conn.list_processes()

    assert caught.value.detail is not None
    assert len(caught.value.detail) < 2100


def test_malformed_success_body_raises_sdk_error(api: respx.MockRouter, conn: AgentConn) -> None:
    """A 200 that is not the expected model raises AgentSDKError naming the model."""
    api.get("/list").respond(200, json={"processes": None})

    with pytest.raises(agentsdk.AgentSDKError, match="ListProcessesResponse") as caught:
        conn.list_processes()

    assert not isinstance(caught.value, agentsdk.APIStatusError)
    assert caught.value.__cause__ is not None


def test_signal_success_that_is_not_json_raises_sdk_error(
    api: respx.MockRouter, conn: AgentConn
) -> None:
    """A signal's 200 must carry the agent's confirmation; anything else is reported."""
    api.post(f"/{PROCESS_ID}/signal").respond(200, text="ok")

    with pytest.raises(agentsdk.AgentSDKError, match="decode response body"):
        conn.signal_process(PROCESS_ID, "terminate")


def test_signal_success_without_a_message_raises_sdk_error(
    api: respx.MockRouter, conn: AgentConn
) -> None:
    """A JSON 200 that is not a SignalProcessResponse is not taken for a confirmation."""
    api.post(f"/{PROCESS_ID}/signal").respond(200, json={"detail": "no message"})

    with pytest.raises(agentsdk.AgentSDKError, match="SignalProcessResponse"):
        conn.signal_process(PROCESS_ID, "terminate")


def test_connect_error_raises_api_connection_error(api: respx.MockRouter) -> None:
    """A refused connection names method and URL and keeps the httpx error as the cause."""
    api.get("/list").mock(side_effect=httpx.ConnectError("Connection refused"))

    with (
        AgentConn(BASE_URL, max_retries=0) as conn,
        pytest.raises(agentsdk.APIConnectionError) as caught,
    ):
        conn.list_processes()

    error = caught.value
    assert type(error) is agentsdk.APIConnectionError
    assert (error.method, error.url) == ("GET", f"{API}/list")
    assert isinstance(error.__cause__, httpx.ConnectError)
    assert error.cause is error.__cause__
    assert str(error) == f"GET {API}/list: do request: Connection refused"


def test_timeout_raises_api_timeout_error(api: respx.MockRouter) -> None:
    """A read timeout is an APITimeoutError, itself an APIConnectionError."""
    api.get(f"/{PROCESS_ID}/output").mock(side_effect=httpx.ReadTimeout(""))

    with (
        AgentConn(BASE_URL, max_retries=0) as conn,
        pytest.raises(agentsdk.APITimeoutError) as caught,
    ):
        conn.process_output(PROCESS_ID, wait=True)

    assert isinstance(caught.value, agentsdk.APIConnectionError)
    assert str(caught.value).endswith("do request: ReadTimeout")


# -- retries -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", RETRIED_STATUSES)
def test_reads_are_retried_on_transient_statuses(
    status: int, api: respx.MockRouter, conn: AgentConn
) -> None:
    """list_processes retries a 429 or 5xx and returns the later success."""
    route = api.get("/list")
    route.side_effect = [
        httpx.Response(status, json={"message": "busy"}),
        httpx.Response(200, json=LIST_BODY),
    ]

    result = conn.list_processes()

    assert len(result.processes) == 2
    assert route.call_count == 2


@pytest.mark.parametrize(
    "error", [httpx.ConnectError("refused"), httpx.ReadError("reset"), httpx.ReadTimeout("slow")]
)
def test_output_is_retried_on_connection_errors(
    error: httpx.RequestError, api: respx.MockRouter, conn: AgentConn
) -> None:
    """process_output retries connect, read and timeout errors."""
    route = api.get(f"/{PROCESS_ID}/output")
    route.side_effect = [error, httpx.Response(200, json=OUTPUT_BODY)]

    result = conn.process_output(PROCESS_ID, wait=True)

    assert result.exit_code == 2
    assert route.call_count == 2


def test_signal_is_retried_on_429(api: respx.MockRouter, conn: AgentConn) -> None:
    """signal_process is safe to send again, so a 429 is retried."""
    route = api.post(f"/{PROCESS_ID}/signal")
    route.side_effect = [
        httpx.Response(429, json={"message": "slow down"}),
        httpx.Response(200, json=SIGNAL_BODY),
    ]

    conn.signal_process(PROCESS_ID, "kill")

    assert route.call_count == 2
    assert [c.request.content for c in route.calls] == [b'{"signal":"kill"}'] * 2


def test_start_is_retried_with_the_same_generated_key(
    api: respx.MockRouter, conn: AgentConn
) -> None:
    """A start retried after a lost answer resends the identical body, key included."""
    route = api.post("/start")
    route.side_effect = [
        httpx.ReadError("connection reset"),
        httpx.Response(503, json={"message": "Agent is shutting down."}),
        httpx.Response(200, json={"id": PROCESS_ID, "started": False, "attached": True}),
    ]

    result = conn.start_process(command="make test")

    assert result.attached is True
    bodies = [call.request.content for call in route.calls]
    assert len(bodies) == 3
    assert len(set(bodies)) == 1
    assert json.loads(bodies[0])["idempotency_key"]


def test_start_is_retried_with_the_caller_key(api: respx.MockRouter, conn: AgentConn) -> None:
    """A caller's idempotency key is kept and reused on retry."""
    route = api.post("/start")
    route.side_effect = [httpx.ConnectError("refused"), httpx.Response(200, json=START_BODY)]

    conn.start_process(command="true", idempotency_key="tool-call-7")

    assert [c.request.content for c in route.calls] == [
        b'{"command":"true","idempotency_key":"tool-call-7"}'
    ] * 2


def test_start_without_key_is_never_retried(api: respx.MockRouter) -> None:
    """With retries disabled there is no key, and a failed start is sent exactly once."""
    route = api.post("/start").mock(side_effect=httpx.ReadError("reset"))

    with AgentConn(BASE_URL, max_retries=0) as conn, pytest.raises(agentsdk.APIConnectionError):
        conn.start_process(command="rm -rf build")

    assert route.call_count == 1


def test_retries_stop_after_max_retries(api: respx.MockRouter) -> None:
    """After max_retries retries the last error is raised: 1 + max_retries attempts."""
    route = api.get("/list").respond(500, json={"message": "boom"})

    with AgentConn(BASE_URL, max_retries=3) as conn, pytest.raises(agentsdk.InternalServerError):
        conn.list_processes()

    assert route.call_count == 4


def test_max_retries_zero_disables_retries(api: respx.MockRouter) -> None:
    """max_retries=0 sends every call once, even on a 503."""
    route = api.get("/list").respond(503, json={"message": "Agent is shutting down."})

    with AgentConn(BASE_URL, max_retries=0) as conn, pytest.raises(agentsdk.InternalServerError):
        conn.list_processes()

    assert route.call_count == 1


@pytest.mark.parametrize("status", NOT_RETRIED_STATUSES)
def test_client_errors_are_not_retried(status: int, api: respx.MockRouter, conn: AgentConn) -> None:
    """A 4xx other than 429 means the request is wrong; it is raised after one attempt."""
    route = api.post(f"/{PROCESS_ID}/signal").respond(status, json={"message": "no"})

    with pytest.raises(agentsdk.APIStatusError):
        conn.signal_process(PROCESS_ID, "kill")

    assert route.call_count == 1


def test_non_transient_transport_errors_are_not_retried(
    api: respx.MockRouter, conn: AgentConn
) -> None:
    """A proxy refusal will not change on a second try, so it is raised at once."""
    route = api.get("/list").mock(side_effect=httpx.ProxyError("forbidden"))

    with pytest.raises(agentsdk.APIConnectionError):
        conn.list_processes()

    assert route.call_count == 1


def test_retry_after_reaches_the_backoff(
    api: respx.MockRouter, conn: AgentConn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Retry-After header of each failed answer is handed to the delay computation."""
    seen: list[tuple[int, str | None]] = []

    def record(self: BaseClient, taken: int, retry_after: str | None) -> float:
        seen.append((taken, retry_after))
        return 0.0

    monkeypatch.setattr(BaseClient, "_retry_delay", record)
    route = api.get("/list")
    route.side_effect = [
        httpx.Response(429, json={"message": "slow"}, headers={"Retry-After": "3"}),
        httpx.Response(503, json={"message": "busy"}),
        httpx.Response(200, json=LIST_BODY),
    ]

    conn.list_processes()

    assert seen == [(0, "3"), (1, None)]


def test_each_retry_is_logged(
    api: respx.MockRouter, conn: AgentConn, caplog: pytest.LogCaptureFixture
) -> None:
    """A retried failure is logged with the error, so it is never silently dropped."""
    route = api.get("/list")
    route.side_effect = [httpx.ConnectError("refused"), httpx.Response(200, json=LIST_BODY)]

    with caplog.at_level(logging.WARNING, logger="agentsdk"):
        conn.list_processes()

    assert len(caplog.records) == 1
    assert "retry 1 of 2" in caplog.text
    assert "refused" in caplog.text


# -- lifecycle -----------------------------------------------------------------------------------


def test_context_manager_closes_the_owned_client() -> None:
    """Leaving the with-block closes the pool the client created."""
    with AgentConn(BASE_URL) as conn:
        pool = conn._client
    assert conn.is_closed
    assert pool.is_closed


def test_closed_client_cannot_be_reused(api: respx.MockRouter) -> None:
    """After close(), calls and re-entering raise RuntimeError without any I/O."""
    conn = AgentConn(BASE_URL)
    conn.close()
    conn.close()  # closing twice is harmless

    with pytest.raises(RuntimeError, match="closed"):
        conn.list_processes()
    with pytest.raises(RuntimeError, match="closed"), conn:
        pass
    assert not api.calls


def test_injected_http_client_is_used_and_left_open(api: respx.MockRouter) -> None:
    """A caller's httpx.Client sends the requests (its headers too) and outlives close()."""
    route = api.get("/list").respond(200, json=LIST_BODY)

    with httpx.Client(headers={"X-Trace": "t1"}) as http_client:
        with AgentConn(BASE_URL, http_client=http_client, headers={"X-Trace": "t2"}) as conn:
            conn.list_processes()
        assert not http_client.is_closed

    assert route.calls.last.request.headers["x-trace"] == "t2"


def test_transport_is_used_for_the_owned_client() -> None:
    """A transport passed in (here httpx.MockTransport) carries every request."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=LIST_BODY)

    with AgentConn(BASE_URL, transport=httpx.MockTransport(handler)) as conn:
        conn.list_processes()

    assert [str(r.url) for r in seen] == [f"{API}/list"]


def test_properties_report_the_configuration() -> None:
    """base_url, timeout and max_retries reflect the constructor's arguments."""
    with AgentConn(BASE_URL + "/", timeout=7.0, max_retries=5) as conn:
        assert conn.base_url == BASE_URL
        assert conn.timeout == httpx.Timeout(7.0)
        assert conn.max_retries == 5


# -- with_options --------------------------------------------------------------------------------


def test_with_options_copy_shares_the_pool_and_keeps_the_class(api: respx.MockRouter) -> None:
    """The copy is an AgentConn over the very same httpx client, with its own settings."""
    route = api.get("/list").respond(200, json=LIST_BODY)
    with AgentConn(BASE_URL, token=TOKEN, headers={"X-Trace": "1"}) as conn:
        copy = conn.with_options(timeout=7.5, max_retries=0)
        copy.list_processes()
        conn.list_processes()

        assert type(copy) is AgentConn
        assert copy._client is conn._client
        assert (copy.base_url, copy.headers) == (conn.base_url, conn.headers)
        assert (copy.timeout, copy.max_retries) == (httpx.Timeout(7.5), 0)
        assert (conn.timeout, conn.max_retries) != (copy.timeout, copy.max_retries)
    first, second = route.calls
    assert first.request.extensions["timeout"]["read"] == 7.5
    assert second.request.extensions["timeout"] == conn.timeout.as_dict()
    for call in route.calls:
        assert call.request.headers["authorization"] == f"Bearer {TOKEN}"
        assert call.request.headers["x-trace"] == "1"


def test_closing_the_copy_keeps_the_pool_open(api: respx.MockRouter) -> None:
    """Only the client that built the pool closes it; a closed copy refuses further calls."""
    api.get("/list").respond(200, json=LIST_BODY)
    conn = AgentConn(BASE_URL)
    copy = conn.with_options(max_retries=0)

    copy.close()

    assert copy.is_closed
    assert not conn._client.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        copy.list_processes()
    conn.list_processes()
    conn.close()
    assert conn._client.is_closed


def test_with_options_keeps_what_it_is_not_given() -> None:
    """An omitted option is the original's; None is kept as "no timeout", not as omitted."""
    with AgentConn(BASE_URL, timeout=3.0, max_retries=4) as conn:
        assert conn.with_options().timeout == httpx.Timeout(3.0)
        assert conn.with_options(max_retries=1).timeout == httpx.Timeout(3.0)
        assert conn.with_options(timeout=None).timeout == httpx.Timeout(None)
        assert conn.with_options(timeout=9.0).max_retries == 4


def test_with_options_checks_its_arguments_and_refuses_a_closed_client() -> None:
    """A bad retry count is a ValueError; a closed client has no pool to lend."""
    conn = AgentConn(BASE_URL)
    with pytest.raises(ValueError, match="pass 0"):
        conn.with_options(max_retries=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_retries"):
        conn.with_options(max_retries=-1)
    conn.close()
    with pytest.raises(RuntimeError, match="closed"):
        conn.with_options(max_retries=0)


def test_a_copy_without_retries_sends_a_start_once(api: respx.MockRouter) -> None:
    """The copy's max_retries decides: no retries means no generated key and no second try."""
    route = api.post("/start").respond(503, json={"message": "busy"})
    with AgentConn(BASE_URL) as conn, pytest.raises(agentsdk.InternalServerError):
        conn.with_options(max_retries=0).start_process(command="true")

    assert route.call_count == 1
    assert "idempotency_key" not in json.loads(route.calls.last.request.content)
