"""``run_process``: one request where the agent has ``/run``, start + output where it has not.

Unit tests against respx (no server), each for the sync and the async client; the same
against real agents is in ``tests/sdk/test_run_live.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
import respx

from agentsdk import (
    AgentConn,
    AsyncAgentConn,
    ConflictError,
    RunProcessResponse,
    StartProcessRequest,
)
from agentsdk._base import BaseClient
from agentsdk.wire import MAX_WAIT_SECONDS

from ._data import API, BASE_URL, PROCESS_ID, TOKEN

RUN_BODY: dict[str, Any] = {
    "id": PROCESS_ID,
    "started": True,
    "output": "hi\n",
    "running": False,
    "exit_code": 0,
    "total_bytes": 3,
    "next_offset": 3,
}
CODER_404 = httpx.Response(404, text="404 page not found\n", headers={"Content-Type": "text/plain"})
"""What Coder's agent (chi's default) answers a path it has no route for."""

Run = Callable[..., RunProcessResponse]
"""``run_process`` of the client under test, called synchronously."""


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry at once, so retry tests do not sleep."""
    monkeypatch.setattr(BaseClient, "_retry_delay", lambda self, taken, retry_after: 0.0)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """A mocked agent under the process API prefix; every route set up must be called."""
    with respx.mock(base_url=API, assert_all_called=True) as router:
        yield router


def _sync_run(**options: Any) -> Iterator[tuple[Run, BaseClient]]:
    with AgentConn(BASE_URL, token=TOKEN, **options) as conn:
        yield conn.run_process, conn


def _async_run(**options: Any) -> Iterator[tuple[Run, BaseClient]]:
    conn = AsyncAgentConn(BASE_URL, token=TOKEN, **options)

    def run(*args: Any, **kwargs: Any) -> RunProcessResponse:
        async def call() -> RunProcessResponse:
            return await conn.run_process(*args, **kwargs)

        return anyio.run(call)

    try:
        yield run, conn
    finally:
        anyio.run(conn.aclose)


@pytest.fixture(params=["sync", "async"])
def client(request: pytest.FixtureRequest) -> Iterator[tuple[Run, BaseClient]]:
    """``run_process`` of AgentConn or of AsyncAgentConn (through ``anyio.run``), and the
    client itself."""
    maker = _sync_run if request.param == "sync" else _async_run
    yield from maker()


def test_run_is_one_request_with_the_start_body_and_answers_both(
    api: respx.MockRouter, client: tuple[Run, BaseClient]
) -> None:
    """One POST /run with the start's JSON (and a generated key); the answer is the run's."""
    run, _ = client
    route = api.post("/run").respond(json=RUN_BODY)
    result = run(command="echo hi", workdir="/w")
    body = json.loads(route.calls.last.request.content)
    assert body.pop("idempotency_key")
    assert body == {"command": "echo hi", "workdir": "/w"}
    assert "timeout_ms" not in route.calls.last.request.url.params
    assert result == RunProcessResponse.model_validate(RUN_BODY)


def test_wait_ms_is_sent_and_the_read_timeout_outlasts_the_wait(
    api: respx.MockRouter, client: tuple[Run, BaseClient]
) -> None:
    """``wait_ms`` goes in the query as ``timeout_ms``; without it the read timeout covers the
    5-minute cap."""
    run, _ = client
    route = api.post("/run").respond(json=RUN_BODY)
    run(StartProcessRequest(command="true"), wait_ms=1500)
    assert route.calls.last.request.url.params["timeout_ms"] == "1500"
    run(command="true")
    timeouts = route.calls.last.request.extensions["timeout"]
    assert timeouts["read"] > MAX_WAIT_SECONDS


def test_the_start_deadline_travels_in_the_body_apart_from_the_wait(
    api: respx.MockRouter, client: tuple[Run, BaseClient]
) -> None:
    """``timeout_ms`` among the fields is the command's deadline, not how long to wait."""
    run, _ = client
    route = api.post("/run").respond(json=RUN_BODY)
    run(command="sleep 9", timeout_ms=3000, wait_ms=100)
    body = json.loads(route.calls.last.request.content)
    assert body["timeout_ms"] == 3000
    assert route.calls.last.request.url.params["timeout_ms"] == "100"


@pytest.mark.parametrize("missing", [CODER_404, httpx.Response(405)], ids=["404", "405"])
def test_without_the_route_it_is_start_then_a_waiting_read_and_remembered(
    api: respx.MockRouter, client: tuple[Run, BaseClient], missing: httpx.Response
) -> None:
    """An agent without /run gets the same start and a waiting read, and is not asked for
    /run again on this connection (nor on a with_options copy of it)."""
    run_fn, conn = client
    run = api.post("/run").mock(return_value=missing)
    start = api.post("/start").respond(json={"id": PROCESS_ID, "started": True})
    output = api.get(f"/{PROCESS_ID}/output").respond(
        json={"output": "hi\n", "running": False, "exit_code": 0}
    )
    first = run_fn(command="echo hi", idempotency_key="k", wait_ms=200)
    assert first == RunProcessResponse(
        id=PROCESS_ID, started=True, output="hi\n", running=False, exit_code=0
    )
    assert json.loads(start.calls.last.request.content) == {
        "command": "echo hi",
        "idempotency_key": "k",
    }
    assert dict(output.calls.last.request.url.params) == {"wait": "true", "timeout_ms": "200"}
    run_fn(command="echo again")
    copy = conn.with_options(max_retries=0)
    assert copy._absent_routes is conn._absent_routes
    assert (run.call_count, start.call_count, output.call_count) == (1, 2, 2)


def test_another_error_from_run_is_raised_without_falling_back(
    api: respx.MockRouter, client: tuple[Run, BaseClient]
) -> None:
    """A 409 (a key reused differently) is the agent's answer, not a missing route."""
    run, _ = client
    api.post("/run").respond(409, json={"message": "Idempotency key conflict."})
    with pytest.raises(ConflictError, match="Idempotency key conflict"):
        run(command="true", idempotency_key="k")


def test_a_dropped_run_is_retried_with_the_same_key(
    api: respx.MockRouter, client: tuple[Run, BaseClient]
) -> None:
    """A run with a key is safe to send again: the agent attaches to the first process."""
    run, _ = client
    route = api.post("/run")
    route.side_effect = [httpx.ConnectError("reset"), httpx.Response(200, json=RUN_BODY)]
    run(command="true")
    keys = {json.loads(call.request.content)["idempotency_key"] for call in route.calls}
    assert route.call_count == 2 and len(keys) == 1


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ({"command": "true", "wait_ms": -1}, ValueError, "wait_ms"),
        ({"command": "true", "wait_ms": True}, ValueError, "wait_ms"),
        ({"command": ""}, ValueError, "non-empty command"),
        ({"command": "true", "shell": "bash"}, TypeError, "run_process"),
    ],
)
def test_bad_arguments_raise_before_any_request(
    client: tuple[Run, BaseClient], arguments: dict[str, Any], error: type[Exception], match: str
) -> None:
    """Bad arguments are refused before anything is sent (respx is not even set up)."""
    run, _ = client
    with pytest.raises(error, match=match):
        run(**arguments)


def test_wake_on_input_goes_in_the_query_of_the_run_and_of_its_fallback(
    api: respx.MockRouter, client: tuple[Run, BaseClient]
) -> None:
    """``wake_on_input=True`` asks /run, or the fallback's waiting read, to answer early."""
    run, _ = client
    route = api.post("/run").respond(json=RUN_BODY)
    run(command="true", wake_on_input=True)
    assert route.calls.last.request.url.params["wake_on_input"] == "true"
    run(command="true")
    assert "wake_on_input" not in route.calls.last.request.url.params


def test_wake_on_input_must_be_a_bool(client: tuple[Run, BaseClient]) -> None:
    """Refused before anything is sent."""
    run, _ = client
    with pytest.raises(ValueError, match="wake_on_input"):
        run(command="true", wake_on_input="yes")
