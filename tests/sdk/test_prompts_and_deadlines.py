"""``wake_on_input``, the start's deadlines and the new answer fields, sync and async, against
respx; and the whole path through the real app in process."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from agentproc.app import create_app
from agentproc.settings import Settings
from agentproc.testing import BlockingApp
from agentsdk import AgentConn, AsyncAgentConn, ProcessInfo, ProcessOutputResponse
from agentsdk.types import StartProcessRequest
from agentsdk.wire import WAKE_ON_INPUT

from ._data import API, BASE_URL, PROCESS_ID, START_BODY, TOKEN

WAITING_BODY: dict[str, Any] = {"output": "Ok? ", "running": True, "waiting_for_input": True}
ENDED_BODY: dict[str, Any] = {
    "output": "",
    "running": False,
    "exit_code": -1,
    "exit_reason": "timeout",
}

QUERIES: list[tuple[dict[str, Any], str]] = [
    ({"wait": True, "wake_on_input": True}, f"wait=true&{WAKE_ON_INPUT}=true"),
    (
        {"wait": True, "timeout_ms": 500, "wake_on_input": True},
        f"wait=true&timeout_ms=500&{WAKE_ON_INPUT}=true",
    ),
    (
        {"since": "last", "wait": True, "wake_on_input": True},
        f"since=last&wait=true&{WAKE_ON_INPUT}=true",
    ),
    ({"wait": True, "wake_on_input": False}, "wait=true"),
]
"""Arguments and the exact query they send: the flag only when true."""

BAD_ARGUMENTS: list[tuple[dict[str, Any], str]] = [
    ({"wake_on_input": True}, "wake_on_input ends a wait early"),
    ({"wait": True, "wake_on_input": "true"}, "wake_on_input to be a bool"),
    ({"wait": True, "wake_on_input": 1}, "wake_on_input to be a bool"),
]


@pytest.mark.parametrize(("kwargs", "query"), QUERIES)
def test_wake_on_input_goes_in_the_query(
    kwargs: dict[str, Any], query: str, api: respx.MockRouter, conn: AgentConn
) -> None:
    """wake_on_input=True adds the flag after the wait's own parameters."""
    route = api.get(f"/{PROCESS_ID}/output").respond(200, json=WAITING_BODY)

    answer = conn.process_output(PROCESS_ID, **kwargs)

    assert route.calls.last.request.url == httpx.URL(f"{API}/{PROCESS_ID}/output?{query}")
    assert answer.waiting_for_input is True


@pytest.mark.anyio
@pytest.mark.parametrize(("kwargs", "query"), QUERIES)
async def test_async_wake_on_input_goes_in_the_query(
    kwargs: dict[str, Any], query: str, api: respx.MockRouter, aconn: AsyncAgentConn
) -> None:
    """The async client sends the same query."""
    route = api.get(f"/{PROCESS_ID}/output").respond(200, json=WAITING_BODY)

    answer = await aconn.process_output(PROCESS_ID, **kwargs)

    assert route.calls.last.request.url == httpx.URL(f"{API}/{PROCESS_ID}/output?{query}")
    assert answer.waiting_for_input is True


@pytest.mark.parametrize(("kwargs", "message"), BAD_ARGUMENTS)
def test_bad_wake_on_input_raises_before_any_request(
    kwargs: dict[str, Any], message: str, api: respx.MockRouter, conn: AgentConn
) -> None:
    """Without a wait, or not a bool: a ValueError, and nothing is sent."""
    route = api.get(f"/{PROCESS_ID}/output")

    with pytest.raises(ValueError, match=message):
        conn.process_output(PROCESS_ID, **kwargs)

    assert not route.called


@pytest.mark.anyio
@pytest.mark.parametrize(("kwargs", "message"), BAD_ARGUMENTS)
async def test_async_bad_wake_on_input_raises_before_any_request(
    kwargs: dict[str, Any], message: str, api: respx.MockRouter, aconn: AsyncAgentConn
) -> None:
    """The async client refuses the same arguments."""
    route = api.get(f"/{PROCESS_ID}/output")

    with pytest.raises(ValueError, match=message):
        await aconn.process_output(PROCESS_ID, **kwargs)

    assert not route.called


def test_start_sends_the_deadlines(api: respx.MockRouter, conn: AgentConn) -> None:
    """timeout_ms and idle_timeout_ms are start keywords, sent as given."""
    route = api.post("/start").respond(200, json=START_BODY)

    conn.start_process(command="make", timeout_ms=60_000, idle_timeout_ms=5_000)

    sent = json.loads(route.calls.last.request.content)
    assert (sent["timeout_ms"], sent["idle_timeout_ms"]) == (60_000, 5_000)


@pytest.mark.anyio
async def test_async_start_sends_the_deadlines(
    api: respx.MockRouter, aconn: AsyncAgentConn
) -> None:
    """The async client takes the same keywords."""
    route = api.post("/start").respond(200, json=START_BODY)

    await aconn.start_process(command="make", timeout_ms=60_000, idle_timeout_ms=5_000)

    sent = json.loads(route.calls.last.request.content)
    assert (sent["timeout_ms"], sent["idle_timeout_ms"]) == (60_000, 5_000)


@pytest.mark.parametrize("value", [True, "100", 1.0])
def test_a_deadline_that_is_no_int_raises_before_any_request(
    value: object, api: respx.MockRouter, conn: AgentConn
) -> None:
    """True is no number of milliseconds (lax parsing would send 1 ms): a ValueError."""
    route = api.post("/start")

    with pytest.raises(ValueError, match="timeout_ms"):
        conn.start_process(command="make", timeout_ms=value)  # type: ignore[arg-type]

    assert not route.called


def test_a_start_without_deadlines_sends_none() -> None:
    """Left out, the deadlines are not in the body: a Coder agent reads the same request."""
    body = StartProcessRequest(command="ls").model_dump(exclude_none=True)
    assert body == {"command": "ls"}


def test_the_exit_reason_parses_in_both_answers() -> None:
    """exit_reason and waiting_for_input are fields of the output and of the process info."""
    assert ProcessOutputResponse.model_validate(ENDED_BODY).exit_reason == "timeout"
    info = ProcessInfo.model_validate(
        {
            "id": PROCESS_ID,
            "command": "sleep 100",
            "background": False,
            "running": False,
            "exit_code": -1,
            "started_at_unix": 1,
            "exit_reason": "idle_timeout",
        }
    )
    assert info.exit_reason == "idle_timeout"
    assert info.waiting_for_input is None


def test_through_the_real_app_a_question_wakes_the_wait() -> None:
    """End to end in process: the SDK's wake_on_input returns on a real prompt, and a
    deadline ends a real command with its reason."""
    app = create_app(
        Settings(token=TOKEN, shutdown_grace_seconds=0.5, allowed_hosts=("agent.test",))
    )
    with (
        BlockingApp(app) as running,
        AgentConn(BASE_URL, token=TOKEN, transport=running.transport()) as agent,
    ):
        started = agent.start_process(command="printf 'Ok? '; read x", stdin=True)
        asked = agent.process_output(started.id, wait=True, timeout_ms=60_000, wake_on_input=True)
        assert (asked.output, asked.waiting_for_input) == ("Ok? ", True)
        agent.close_input(started.id)
        timed = agent.start_process(command="sleep 100", timeout_ms=100)
        ended = agent.process_output(timed.id, wait=True, timeout_ms=60_000)
        assert (ended.exit_code, ended.exit_reason) == (-1, "timeout")
