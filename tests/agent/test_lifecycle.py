"""End to end: how processes end, and how the agent ends them (spec: process-api.md).

Real shells, a real uvicorn on 127.0.0.1, and ``/proc`` read directly: a test passes only
when no process of the command's session is left, zombies included.
"""

from __future__ import annotations

import shlex
import signal
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import anyio
import httpx
import pytest

from agentproc.app import begin_shutdown, create_app
from agentproc.errors import ProcessNotFound, ShuttingDown
from agentproc.manager import ProcessManager
from agentproc.settings import Settings
from agentproc.spec import ProcessSpec
from tests.conftest import LiveAgent, serve_agent, serve_in_thread

from ._live_processes import (
    PROCESSES,
    SAFETY_TIMEOUT_SECONDS,
    kill_sessions,
    leftovers,
    open_raw_get,
    output,
    read_raw_response,
    send,
    session_of,
    start,
    wait_for_output,
    wait_sessions_gone,
)

pytestmark = pytest.mark.e2e

TOKEN = "lifecycle-token"

SHORT_GRACE = "1"
"""Seconds between SIGTERM and SIGKILL for the served agent: enough to see the escalation."""

NEW_GROUP_SCRIPT = """
import os, time
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    time.sleep(300)
    os._exit(0)
os.setpgid(pid, pid)  # also from the parent: the group exists before the parent exits
"""
"""Leaves an orphan in a process group of its own, in the shell's session."""

FORKING_COMMANDS = {
    "background child": "sleep 300 & echo $$; sleep 300",
    "ignores SIGTERM": "trap '' TERM; sleep 300 & echo $$; sleep 300",
    "background pipeline": "sleep 300 | sleep 300 & echo $$; wait",
    "orphaned grandchild": "(sleep 300 &); echo $$; sleep 300",
    "own process group": (
        f"{shlex.quote(sys.executable)} -c {shlex.quote(NEW_GROUP_SCRIPT)} >/dev/null 2>&1; "
        "echo $$; sleep 300"
    ),
}
"""Ways a command leaves processes behind; the last one escapes ``killpg`` of the shell's
group but not the session."""

AgentFactory = Callable[[Settings], AbstractContextManager[LiveAgent]]


# -- signals through the API -------------------------------------------------------------------


@pytest.mark.parametrize("sig", ["kill", "terminate"])
def test_signal_ends_the_whole_session_including_background_children(
    chat_client: httpx.Client, sig: str
) -> None:
    """A signal sent through the API leaves no process of the session, zombies included."""
    process_id = start(chat_client, FORKING_COMMANDS["background child"])
    session = session_of(chat_client, process_id)
    try:
        # The shell printed after forking, so the shell and its background child exist.
        assert len(leftovers([session])[session]) >= 2
        send(chat_client, process_id, sig)
        body = output(chat_client, process_id, wait=True)
        assert body["running"] is False
        assert body["exit_code"] == -1
        assert wait_sessions_gone([session]) == {}
    finally:
        kill_sessions([session])


# -- exit codes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "exit_code"),
    [
        ("exit 0", 0),
        ("kill -TERM $$", -1),
        ("kill -KILL $$", -1),
        ("exit 255", 255),
        ("no-such-command-agentproc-test", 127),
    ],
)
def test_exit_code_is_the_shell_status_or_minus_one_for_a_signal(
    chat_client: httpx.Client, command: str, exit_code: int
) -> None:
    """The shell's status is reported as is, and a death by signal as -1."""
    process_id = start(chat_client, command)
    body = output(chat_client, process_id, wait=True)
    assert body["running"] is False
    assert body["exit_code"] == exit_code


def test_process_killed_through_the_api_reports_minus_one(chat_client: httpx.Client) -> None:
    """A process ended by the API's ``kill`` reports exit code -1."""
    process_id = start(chat_client, "sleep 300")
    send(chat_client, process_id, "kill")
    body = output(chat_client, process_id, wait=True)
    assert (body["running"], body["exit_code"]) == (False, -1)


def test_command_not_found_says_so_in_the_output(chat_client: httpx.Client) -> None:
    """A missing command exits 127 and the shell's complaint is in the combined output."""
    process_id = start(chat_client, "no-such-command-agentproc-test")
    body = output(chat_client, process_id, wait=True)
    assert body["exit_code"] == 127
    assert "no-such-command-agentproc-test" in str(body["output"])
    assert "not found" in str(body["output"])


# -- many waiters ----------------------------------------------------------------------------


def test_every_concurrent_waiter_wakes_when_the_process_is_killed(
    live_agent: LiveAgent, chat_client: httpx.Client
) -> None:
    """Five ``?wait=true`` requests on one process all answer ``running: false`` once it dies."""
    process_id = start(chat_client, "sleep 300")
    path = f"{PROCESSES}/{process_id}/output?wait=true"
    waiters = [open_raw_get(live_agent.base_url, path, live_agent.token) for _ in range(5)]
    try:
        # A round trip after the waiters' bytes arrived: they are being served by now.
        assert chat_client.get("/healthz").status_code == 200
        assert output(chat_client, process_id)["running"] is True
        send(chat_client, process_id, "kill")
        answers = [read_raw_response(sock) for sock in waiters]
    finally:
        for sock in waiters:
            sock.close()
    for answer in answers:
        assert answer.status == 200
        assert answer.body is not None
        assert (answer.body["running"], answer.body["exit_code"]) == (False, -1)


# -- the output pipe after the shell exits -------------------------------------------------


def test_pipe_held_by_a_background_child_is_abandoned_and_reports_minus_one(
    make_live_agent: AgentFactory,
) -> None:
    """After a clean exit, a pipe still held past the drain bound ends the read with -1."""
    sessions: list[int] = []
    try:
        with (
            make_live_agent(Settings(token=TOKEN, drain_seconds=0.5)) as agent,
            agent.client() as client,
        ):
            process_id = start(client, "echo $$; sleep 30 & echo started")
            sessions.append(session_of(client, process_id))
            body = output(client, process_id, wait=True)
            assert body["running"] is False
            assert body["exit_code"] == -1
            assert "started" in str(body["output"])
            # The background child outlived the shell: it is what held the pipe.
            assert leftovers(sessions)
        # The agent's shutdown ends the sessions of processes that already exited, too.
        assert wait_sessions_gone(sessions) == {}
    finally:
        kill_sessions(sessions)


def test_pipe_held_after_a_failing_exit_keeps_the_exit_code(
    make_live_agent: AgentFactory,
) -> None:
    """A non-zero status survives an abandoned pipe: only a clean exit is turned into -1."""
    sessions: list[int] = []
    try:
        with (
            make_live_agent(Settings(token=TOKEN, drain_seconds=0.5)) as agent,
            agent.client() as client,
        ):
            process_id = start(client, "echo $$; sleep 30 & exit 3")
            sessions.append(session_of(client, process_id))
            body = output(client, process_id, wait=True)
            assert (body["running"], body["exit_code"]) == (False, 3)
        assert wait_sessions_gone(sessions) == {}
    finally:
        kill_sessions(sessions)


# -- retention ---------------------------------------------------------------------------------


def test_zero_retention_forgets_a_process_once_its_exit_was_read(
    make_live_agent: AgentFactory,
) -> None:
    """With no retention, the read that sees the exit is the last: then 404 and gone from list."""
    with (
        make_live_agent(Settings(token=TOKEN, retention_seconds=0)) as agent,
        agent.client() as client,
    ):
        process_id = start(client, "echo bye; sleep 300")
        path = f"{PROCESSES}/{process_id}/output"
        waiter = open_raw_get(agent.base_url, f"{path}?wait=true", agent.token)
        # The same route, sent after the waiter: once it answered, the waiter is waiting.
        zero_wait = client.get(path, params={"wait": "true", "timeout_ms": "0"})
        assert zero_wait.json()["running"] is True
        # Killed only once it printed: a kill that came first would leave no output to read.
        wait_for_output(client, process_id, "bye\n")
        send(client, process_id, "kill")
        answer = read_raw_response(waiter)
        assert answer.status == 200
        assert answer.body == {
            "output": "bye\n",
            "running": False,
            "exit_code": -1,
            "exit_reason": "signal",
        }
        again = client.get(f"{PROCESSES}/{process_id}/output")
        assert again.status_code == 404
        assert again.json() == {"message": f'Process "{process_id}" not found.'}
        listed = client.get(f"{PROCESSES}/list")
        assert listed.status_code == 200
        assert process_id not in {p["id"] for p in listed.json()["processes"]}


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.anyio
async def test_retention_forgets_an_exited_process_and_its_idempotency_key() -> None:
    """An exited process stays until the clock passes retention; then it and its key are gone."""
    clock = FakeClock()
    settings = Settings(retention_seconds=10, reap_orphans=False)
    async with ProcessManager(settings, clock=clock) as manager:
        first = manager.start(ProcessSpec(command="true", idempotency_key="retry-me"))
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            await first.process.wait()

        clock.now += 9.5
        assert manager.get(first.process.id) is first.process
        assert first.process in manager.list_processes()
        attached = manager.start(ProcessSpec(command="true", idempotency_key="retry-me"))
        assert (attached.process, attached.started) == (first.process, False)

        clock.now += 1
        with pytest.raises(ProcessNotFound):
            manager.get(first.process.id)
        assert first.process not in manager.list_processes()
        # A different command under the old key would be a conflict if the key were kept.
        fresh = manager.start(ProcessSpec(command="exit 0", idempotency_key="retry-me"))
        assert fresh.started is True
        assert fresh.process.id != first.process.id
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            await fresh.process.wait()


# -- shutdown --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_manager_refuses_starts_once_shutdown_began() -> None:
    """After ``begin_shutdown`` a start raises ShuttingDown and running processes are ended."""
    settings = Settings(shutdown_grace_seconds=0.5, reap_orphans=False)
    async with ProcessManager(settings) as manager:
        running = manager.start(ProcessSpec(command="sleep 300"))
        manager.begin_shutdown()
        with pytest.raises(ShuttingDown) as refused:
            manager.start(ProcessSpec(command="true"))
        assert refused.value.message == "Agent is shutting down."
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            await running.process.wait()
        assert running.process.exit_code == -1


def test_start_during_shutdown_answers_503() -> None:
    """Once the app began shutting down, a start answers 503 with the error body."""
    app = create_app(Settings(token=TOKEN, shutdown_grace_seconds=0.5))
    with (
        serve_in_thread(app) as served,
        httpx.Client(
            base_url=served.base_url, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as client,
    ):
        served.call_soon(lambda: begin_shutdown(app))
        response = client.post(f"{PROCESSES}/start", json={"command": "true"})
    assert response.status_code == 503
    assert response.json() == {"message": "Agent is shutting down."}


def test_sigterm_ends_every_session_and_the_agent_exits_zero() -> None:
    """SIGTERM to the agent ends every process it started, stubborn ones too, and exits 0."""
    sessions: list[int] = []
    try:
        with serve_agent("--shutdown-grace", SHORT_GRACE) as agent:
            with agent.client() as client:
                sessions.extend(
                    session_of(client, start(client, command))
                    for command in FORKING_COMMANDS.values()
                )
            assert set(leftovers(sessions)) == set(sessions)
            status = agent.stop()
            log = agent.log_text()
        assert status == 0, log
        # Strict: the agent reaps before it exits, so nothing may be left even for a moment.
        assert leftovers(sessions) == {}, log
        assert "ignored SIGTERM; killing it" in log
    finally:
        kill_sessions(sessions)


def test_sigterm_ends_a_long_poll_in_flight() -> None:
    """A ``?wait=true`` request open at SIGTERM ends with the process instead of holding on."""
    sessions: list[int] = []
    try:
        with serve_agent("--shutdown-grace", SHORT_GRACE) as agent:
            with agent.client() as client:
                process_id = start(client, FORKING_COMMANDS["ignores SIGTERM"])
                sessions.append(session_of(client, process_id))
                waiter = open_raw_get(
                    agent.base_url, f"{PROCESSES}/{process_id}/output?wait=true", agent.token
                )
                # A round trip after the waiter's bytes arrived: it is being served by now.
                assert client.get("/healthz").status_code == 200
            agent.process.send_signal(signal.SIGTERM)
            answer = read_raw_response(waiter)
            status = agent.process.wait(SAFETY_TIMEOUT_SECONDS)
        assert status == 0
        if answer.status is not None:
            assert answer.status == 200
            assert answer.body is not None
            assert (answer.body["running"], answer.body["exit_code"]) == (False, -1)
        assert leftovers(sessions) == {}
    finally:
        kill_sessions(sessions)


def test_sigterm_gives_children_of_exited_shells_the_same_grace(tmp_path: Path) -> None:
    """A background child whose shell already exited gets SIGTERM (and time to clean up)."""
    marker = tmp_path / "terminated"
    child = f"trap 'echo TERM > {shlex.quote(str(marker))}; exit 0' TERM; sleep 300 & wait"
    command = f"sh -c {shlex.quote(child)} >/dev/null 2>&1 & echo $$"
    sessions: list[int] = []
    try:
        with serve_agent("--shutdown-grace", "10", "--drain-seconds", "0.5") as agent:
            with agent.client() as client:
                process_id = start(client, command)
                sessions.append(session_of(client, process_id))
                assert output(client, process_id, wait=True)["exit_code"] == 0
            assert set(leftovers(sessions)) == set(sessions)
            status = agent.stop()
            log = agent.log_text()
        assert status == 0, log
        assert marker.read_text() == "TERM\n", log
        assert leftovers(sessions) == {}, log
    finally:
        kill_sessions(sessions)
