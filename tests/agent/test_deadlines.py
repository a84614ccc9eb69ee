"""Deadlines and exit reasons (terminals.md, "Deadlines"), end to end.

Against a real uvicorn server with a short grace (SIGTERM → 0.5 s → SIGKILL) and a short drain,
so that a child that ignores SIGTERM while holding the output open would outlive an agent that
stopped reading at the drain; the sessions are then checked empty in ``/proc``.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from agentproc.app import begin_shutdown, create_app
from agentproc.errors import FieldError, InvalidRequest
from agentproc.manager import ProcessManager
from agentproc.settings import Settings
from agentproc.spec import DEADLINE_RANGE, ProcessSpec
from agentsdk.wire import MAX_DEADLINE_MS
from tests.conftest import (
    SAFETY_TIMEOUT_SECONDS,
    TEST_TOKEN,
    LiveAgent,
    run_live_agent,
    serve_in_thread,
)

from ._live_processes import (
    PROCESSES,
    kill_sessions,
    open_raw_get,
    read_raw_response,
    send,
    session_of,
    start,
    wait_sessions_gone,
)

GRACE_SECONDS = 0.5
DRAIN_SECONDS = 0.2
"""Shorter than the grace: reading the output must go on until the kill, not stop here."""

SETTINGS = Settings(
    token=TEST_TOKEN, shutdown_grace_seconds=GRACE_SECONDS, drain_seconds=DRAIN_SECONDS
)
WAIT = {"wait": "true", "timeout_ms": "60000"}
"""Waits end at the exit; 60 s is only a safety net."""

IGNORES_TERM = (
    "python3 -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    'print("ready", flush=True); time.sleep(100)\''
)
"""A child that ignores SIGTERM, says so, and holds the output open."""


@pytest.fixture(scope="module")
def agent() -> Iterator[LiveAgent]:
    """One agent with a short grace and drain for the module."""
    with run_live_agent(SETTINGS) as running:
        yield running


@pytest.fixture
def client(agent: LiveAgent) -> Iterator[httpx.Client]:
    """A client of the module's agent in a fresh chat."""
    with agent.client(headers={"Coder-Chat-Id": str(uuid.uuid4())}) as c:
        yield c


def finish(client: httpx.Client, process_id: str) -> dict[str, Any]:
    """Block until the process exited; its final output response."""
    response = client.get(f"{PROCESSES}/{process_id}/output", params=WAIT)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["running"] is False, body
    return body


def listed(client: httpx.Client, process_id: str) -> dict[str, Any]:
    """The process as the list shows it."""
    processes = client.get(f"{PROCESSES}/list").json()["processes"]
    found: dict[str, Any] = next(p for p in processes if p["id"] == process_id)
    return found


# -- timeout_ms ------------------------------------------------------------------------------


def test_timeout_ends_the_whole_group(client: httpx.Client) -> None:
    """``sleep & sleep`` past its timeout: both sleeps and the shell are gone, reason timeout."""
    process_id = start(client, "echo $$; sleep 100 & sleep 100", timeout_ms=300)
    session = session_of(client, process_id)
    try:
        body = finish(client, process_id)
        assert body == {
            "output": f"{session}\n",
            "running": False,
            "exit_code": -1,
            "exit_reason": "timeout",
        }
        assert wait_sessions_gone([session]) == {}
        assert listed(client, process_id)["exit_reason"] == "timeout"
    finally:
        kill_sessions([session])


def test_a_command_that_ignores_sigterm_is_killed_after_the_grace(client: httpx.Client) -> None:
    """The shell ignores SIGTERM: SIGKILL follows once the grace has passed."""
    began = time.monotonic()
    process_id = start(client, "trap '' TERM; echo $$; sleep 100", timeout_ms=200)
    session = session_of(client, process_id)
    try:
        body = finish(client, process_id)
        assert time.monotonic() - began >= 0.2 + GRACE_SECONDS
        assert (body["exit_code"], body["exit_reason"]) == (-1, "timeout")
        assert wait_sessions_gone([session]) == {}
    finally:
        kill_sessions([session])


def test_a_child_that_ignores_sigterm_cannot_outlive_the_deadline(client: httpx.Client) -> None:
    """The shell dies of SIGTERM while its child ignores it and keeps the output open: the
    output is read until the kill (not only the drain), so the child is killed too."""
    process_id = start(client, f"echo $$; {IGNORES_TERM}; echo after", timeout_ms=2000)
    session = session_of(client, process_id)
    try:
        body = finish(client, process_id)
        assert body["output"] == f"{session}\nready\n", "the child was ready before the deadline"
        assert (body["exit_code"], body["exit_reason"]) == (-1, "timeout")
        assert wait_sessions_gone([session]) == {}
    finally:
        kill_sessions([session])


def test_a_deadline_after_the_shell_exited_by_itself_keeps_the_reason_exit(
    client: httpx.Client,
) -> None:
    """The shell exited on its own; a deadline that then ends its background child does not
    make the exit a timeout. The shell exits within milliseconds; the deadline leaves it a
    second, which a loaded machine needs."""
    process_id = start(client, "echo $$; sleep 100 &", timeout_ms=1000)
    session = session_of(client, process_id)
    try:
        assert finish(client, process_id)["exit_reason"] == "exit"
    finally:
        kill_sessions([session])


# -- idle_timeout_ms -------------------------------------------------------------------------


def test_idle_timeout_ends_a_silent_command(client: httpx.Client) -> None:
    """No output for the idle timeout: the command is ended, reason idle_timeout."""
    process_id = start(client, "echo $$; sleep 100", idle_timeout_ms=300)
    session = session_of(client, process_id)
    try:
        body = finish(client, process_id)
        assert (body["exit_code"], body["exit_reason"]) == (-1, "idle_timeout")
        assert wait_sessions_gone([session]) == {}
    finally:
        kill_sessions([session])


def test_idle_timeout_spares_a_chatty_command(client: httpx.Client) -> None:
    """A line every 50 ms for 1.5 s, with a 1 s idle timeout: it runs to its end.

    The first line comes from the shell at once (no interpreter to start first, which can
    take most of a second on a loaded machine), and each gap is twenty times shorter than
    the timeout."""
    command = "i=0; while [ $i -lt 30 ]; do echo $i; i=$((i + 1)); sleep 0.05; done"
    process_id = start(client, command, idle_timeout_ms=1000)
    body = finish(client, process_id)
    assert (body["exit_code"], body["exit_reason"]) == (0, "exit")
    assert body["output"] == "".join(f"{i}\n" for i in range(30))


def test_both_deadlines_the_first_to_pass_names_the_reason(client: httpx.Client) -> None:
    """A chatty command with both deadlines ends at the whole-run timeout."""
    command = "while :; do echo tick; sleep 0.05; done"
    process_id = start(client, command, timeout_ms=300, idle_timeout_ms=60_000)
    assert finish(client, process_id)["exit_reason"] == "timeout"


# -- other exits -----------------------------------------------------------------------------


@pytest.mark.parametrize("sig", ["kill", "terminate"])
def test_a_signal_through_the_api_reports_signal(client: httpx.Client, sig: str) -> None:
    """kill or terminate through the API: exit code -1 (Coder's rule), reason signal."""
    process_id = start(client, "echo $$; sleep 100", timeout_ms=60_000)
    session_of(client, process_id)
    send(client, process_id, sig)
    body = finish(client, process_id)
    assert (body["exit_code"], body["exit_reason"]) == (-1, "signal")


def test_a_signal_from_anyone_else_reports_signal(client: httpx.Client) -> None:
    """A signal the agent did not send is a signal too."""
    process_id = start(client, "echo $$; sleep 100")
    session = session_of(client, process_id)
    os.killpg(session, signal.SIGTERM)
    body = finish(client, process_id)
    assert (body["exit_code"], body["exit_reason"]) == (-1, "signal")


@pytest.mark.parametrize("status", [0, 3])
def test_a_plain_exit_reports_exit(client: httpx.Client, status: int) -> None:
    """The shell's own exit, whatever its status, is reason exit."""
    body = finish(client, start(client, f"exit {status}", timeout_ms=60_000))
    assert (body["exit_code"], body["exit_reason"]) == (status, "exit")
    assert "exit_reason" not in listed(client, start(client, "sleep 100"))


@pytest.mark.anyio
async def test_shutdown_reports_shutdown() -> None:
    """A process the agent ends as it shuts down says so."""
    async with ProcessManager(Settings(shutdown_grace_seconds=GRACE_SECONDS)) as manager:
        process = manager.start(ProcessSpec(command="sleep 100")).process
        manager.begin_shutdown()
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            await process.wait()
        assert (process.exit_code, process.exit_reason) == (-1, "shutdown")
        assert process.info().exit_reason == "shutdown"


def test_a_long_poll_open_at_shutdown_answers_reason_shutdown() -> None:
    """The waiting reader of a process ended by the shutdown is told why."""
    app = create_app(SETTINGS)
    with (
        serve_in_thread(app) as served,
        httpx.Client(
            base_url=served.base_url, headers={"Authorization": f"Bearer {TEST_TOKEN}"}
        ) as client,
    ):
        process_id = start(client, "echo $$; sleep 100")
        session = session_of(client, process_id)
        try:
            waiter = open_raw_get(
                served.base_url, f"{PROCESSES}/{process_id}/output?wait=true", TEST_TOKEN
            )
            with waiter:
                # A round trip on another connection: the waiter's request is being served.
                client.get("/healthz").raise_for_status()
                served.call_soon(lambda: begin_shutdown(app))
                answer = read_raw_response(waiter)
            assert answer.body is not None
            assert (answer.body["exit_code"], answer.body["exit_reason"]) == (-1, "shutdown")
        finally:
            kill_sessions([session])


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["timeout_ms", "idle_timeout_ms"])
@pytest.mark.parametrize("value", [-1, MAX_DEADLINE_MS + 1])
def test_a_deadline_out_of_range_is_a_400(client: httpx.Client, field: str, value: int) -> None:
    """Negative or past a week: a 400 that names the field and the range."""
    response = client.post(f"{PROCESSES}/start", json={"command": "true", field: value})
    assert response.status_code == 400
    assert response.json() == {
        "message": f'Invalid field "{field}": {DEADLINE_RANGE}.',
        "validations": [{"field": field, "detail": DEADLINE_RANGE}],
    }


@pytest.mark.parametrize("value", [True, 1.5, "100", None, [1]])
def test_a_deadline_that_is_no_whole_number_is_a_400(client: httpx.Client, value: object) -> None:
    """A boolean, a fraction, a string or a list is refused by type; null is no deadline."""
    response = client.post(f"{PROCESSES}/start", json={"command": "true", "timeout_ms": value})
    if value is None:
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 400
    assert response.json()["validations"][0]["field"] == "timeout_ms"


def test_zero_is_no_deadline_as_go_s_zero_value(client: httpx.Client) -> None:
    """``0`` is Go's zero value: not given, so the command runs without a deadline."""
    process_id = start(client, "echo done", timeout_ms=0, idle_timeout_ms=0)
    assert finish(client, process_id)["exit_reason"] == "exit"


def test_the_spec_refuses_a_deadline_out_of_range_without_http() -> None:
    """Every door refuses alike: the domain checks, not the route."""
    with pytest.raises(InvalidRequest) as refused:
        ProcessSpec(command="true", timeout_ms=0, idle_timeout_ms=True)
    assert refused.value.validations == (
        FieldError("timeout_ms", DEADLINE_RANGE),
        FieldError("idle_timeout_ms", DEADLINE_RANGE),
    )
    assert ProcessSpec(command="true", timeout_ms=MAX_DEADLINE_MS).timeout_ms == MAX_DEADLINE_MS


def test_deadlines_identify_a_start() -> None:
    """A repeated idempotency key with another deadline is another start (a conflict)."""
    base = ProcessSpec(command="true", idempotency_key="k")
    assert ProcessSpec(command="true", idempotency_key="k", timeout_ms=5).differences(base) == [
        "timeout_ms"
    ]
