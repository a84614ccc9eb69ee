"""End to end: no process outlives the agent (spec: security.md §3).

The agent runs as an ``agentproc serve`` process of its own (it is SIGKILLed here), its commands
leave behind every kind of process that tries to get away, and ``/proc`` is read directly to
find them. Graceful shutdown, a crash with the keeper, a crash of agent and keeper together
(then the next agent cleans up from the records), and the processes that must never be hit:
another live agent's, a reused pid's, and the host's own children.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

from agentproc.settings import Settings
from tests.conftest import LiveAgent, serve_agent

from ._live_processes import (
    SAFETY_TIMEOUT_SECONDS,
    Identity,
    end_processes,
    identity_of,
    leftovers,
    output,
    present,
    running,
    start,
    wait_stopped_running,
)

pytestmark = pytest.mark.e2e

AgentFactory = Callable[[Settings], AbstractContextManager[LiveAgent]]

CRASH_BOUND_SECONDS = 2.0
"""The spec's bound: everything is gone this long after the agent was killed."""

SHORT_GRACE = "1"
"""Seconds between SIGTERM and SIGKILL at shutdown: enough to see the escalation."""

POLL_SECONDS = 0.01

DOUBLE_FORK = """
import os, time
if os.fork() == 0:
    os.setsid()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        time.sleep(300)
        os._exit(0)
    print(pid, flush=True)
    os._exit(0)
os.wait()
"""
"""The classic daemon: fork, setsid, fork again; prints the daemon's pid. The daemon is
orphaned at once, in a session and group of its own, holding none of the command's pipes."""


OWN_GROUP = "import os, time; os.setpgid(0, 0); time.sleep(300)"
"""A background child that leaves the shell's process group, though not its session."""


class Leftover(NamedTuple):
    """A command that leaves processes behind."""

    command: str
    """Prints its session id first, then the pid of the process that left, if one does."""
    in_session: int
    """How many of its processes stay in the command's session (0: the shell exits)."""
    escapes: bool = False
    """Whether one process leaves the session."""


LEFTOVERS = {
    "background child": Leftover("sleep 300 & echo $$; sleep 300", 3),
    "ignores SIGTERM": Leftover("trap '' TERM; sleep 300 & echo $$; sleep 300", 3),
    "nohup": Leftover("nohup sleep 300 >/dev/null 2>&1 & echo $$; sleep 300", 3),
    "own process group": Leftover(
        f"{shlex.quote(sys.executable)} -c {shlex.quote(OWN_GROUP)} & echo $$; sleep 300", 3
    ),
    "setsid double fork": Leftover(
        f"daemon=$({shlex.quote(sys.executable)} -c {shlex.quote(DOUBLE_FORK)}); "
        "sleep 300 & echo $$; echo $daemon; wait",
        2,
        escapes=True,
    ),
    "setsid, environment cleared": Leftover(
        "setsid env -i sleep 300 >/dev/null 2>&1 & echo $$; echo $!", 0, escapes=True
    ),
    "fast writer": Leftover("echo $$; yes; exit", 2),
}

CLEARED = "setsid, environment cleared"
"""The one leftover that carries no trace of the agent once its shell has exited: it counts
as the agent's only once the agent has noticed it (within 5 s of the shell's exit), so the
tests wait for that."""

DOUBLE_FORKED = "setsid double fork"

KILLED_LINE = re.compile(r"agent (\d+) ended without shutting down; killed (\d+) process")


# -- helpers ---------------------------------------------------------------------------------


def _printed_pids(client: httpx.Client, process_id: str, count: int) -> list[int]:
    """The first ``count`` lines the command printed, as pids. There is no event for "output
    arrived", so this polls, bounded."""
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    while True:
        lines = str(output(client, process_id)["output"]).split("\n")
        if len(lines) > count:
            return [int(line) for line in lines[:count]]
        assert time.monotonic() < deadline, f"process {process_id} printed {lines!r}"
        time.sleep(POLL_SECONDS)


@dataclass(frozen=True)
class Leftovers:
    """What the leftover commands made."""

    made: set[Identity]
    """Every process of theirs, as far as the test knows."""

    escaped: dict[str, Identity]
    """Per command, the process that left its session."""


def _start_leftovers(client: httpx.Client, commands: dict[str, Leftover] = LEFTOVERS) -> Leftovers:
    """Start ``commands`` and return every process they made."""
    made: set[Identity] = set()
    escaped: dict[str, Identity] = {}
    for name, leftover in commands.items():
        process_id = start(client, leftover.command)
        [session] = _printed_pids(client, process_id, 1)
        if leftover.in_session:
            made |= _session_members(session, leftover.in_session)
        if leftover.escapes:
            [_, pid] = _printed_pids(client, process_id, 2)
            identity = identity_of(pid)
            assert identity is not None, (name, pid)
            escaped[name] = identity
            made.add(identity)
    return Leftovers(made, escaped)


def _session_members(session: int, count: int) -> set[Identity]:
    """The ``count`` processes of ``session``, once they all exist (a forked child may not
    have been scheduled yet when its parent printed), polled, bounded."""
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    while True:
        found = {identity_of(pid) for pid, _ in leftovers([session]).get(session, [])}
        members = {identity for identity in found if identity is not None}
        if len(members) >= count:
            return members
        assert time.monotonic() < deadline, f"session {session} has only {members}"
        time.sleep(POLL_SECONDS)


def _wait_recorded(state_dir: Path, identity: Identity) -> None:
    """Wait until the agent has noticed ``identity`` and recorded it as its own."""
    line = f"+P {identity[0]} {identity[1]}\n"
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    while not any(line in path.read_text() for path in state_dir.glob("*.records")):
        assert time.monotonic() < deadline, f"the agent never recorded {identity}"
        time.sleep(POLL_SECONDS)


def _keeper_of(agent_pid: int) -> int:
    """The pid of the agent's keeper, its child running ``python -m agentproc.keeper``."""
    for task in os.listdir(f"/proc/{agent_pid}/task"):
        children = Path(f"/proc/{agent_pid}/task/{task}/children").read_text().split()
        for child in children:
            with contextlib.suppress(OSError):
                if b"agentproc.keeper" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return int(child)
    raise AssertionError(f"agent {agent_pid} has no keeper")


def _reap_if_ours(pid: int) -> None:
    # A dead agent's orphans (its keeper included) come to this process when an in-thread
    # agent made it a subreaper earlier in the run.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@contextlib.contextmanager
def _ended_afterwards() -> Iterator[set[Identity]]:
    """Collects identities to SIGKILL and reap when the test ends, passed or failed."""
    identities: set[Identity] = set()
    try:
        yield identities
    finally:
        end_processes(identities)


# -- crash -----------------------------------------------------------------------------------


def test_nothing_the_agent_started_runs_two_seconds_after_it_is_killed() -> None:
    """SIGKILL the agent: every leftover, daemons and stubborn ones included, dies in 2 s."""
    with _ended_afterwards() as cleanup, serve_agent() as agent:
        with agent.client() as client:
            made = _start_leftovers(client)
        cleanup |= made.made
        _wait_recorded(agent.state_dir, made.escaped[CLEARED])
        keeper = _keeper_of(agent.pid)
        assert set(running(made.made)) == made.made

        killed_at = time.monotonic()
        agent.process.kill()
        left = wait_stopped_running(made.made)
        elapsed = time.monotonic() - killed_at
        agent.process.wait(SAFETY_TIMEOUT_SECONDS)
    # Complete once the keeper, which shares the agent's stderr, has exited.
    log = agent.log_text()
    _reap_if_ours(keeper)
    assert left == [], log
    assert elapsed < CRASH_BOUND_SECONDS, f"{elapsed:.2f} s\n{log}"
    # The keeper acted, said so, and removed the records it made unnecessary.
    assert re.search(r"killed \d+ of its processes", log), log
    assert list(agent.state_dir.glob("*.records")) == [], log


# -- graceful shutdown ---------------------------------------------------------------------


def test_sigterm_leaves_no_process_however_it_detached_and_exits_zero() -> None:
    """SIGTERM the agent: every leftover is gone (reaped, too) and the agent exits 0."""
    with _ended_afterwards() as cleanup:
        with serve_agent("--shutdown-grace", SHORT_GRACE) as agent:
            with agent.client() as client:
                made = _start_leftovers(client)
            cleanup |= made.made
            _wait_recorded(agent.state_dir, made.escaped[CLEARED])
            keeper = _keeper_of(agent.pid)
            status = agent.stop()
            log = agent.log_text()
        assert status == 0, log
        # Strict: the agent kills and reaps before it exits, so nothing may be left at all.
        assert present(made.made) == [], log
        assert identity_of(keeper) is None, log
        assert list(agent.state_dir.glob("*.records")) == [], log


# -- the records, for a crash of agent and keeper together ---------------------------------


def test_next_agent_kills_what_a_crashed_agent_and_keeper_left_and_says_how_many(
    tmp_path: Path,
) -> None:
    """With agent and keeper SIGKILLed, the next agent on the state dir ends the leftovers."""
    commands = {name: leftover for name, leftover in LEFTOVERS.items() if name != "fast writer"}
    with _ended_afterwards() as cleanup:
        with serve_agent(state_dir=tmp_path) as first:
            with first.client() as client:
                made = _start_leftovers(client, commands)
            cleanup |= made.made
            _wait_recorded(tmp_path, made.escaped[CLEARED])
            keeper = _keeper_of(first.pid)
            # Stopped first, so that it can neither notice its keeper's death nor replace it.
            os.kill(first.pid, signal.SIGSTOP)
            os.kill(keeper, signal.SIGKILL)
            first.process.kill()
            first.process.wait(SAFETY_TIMEOUT_SECONDS)
        _reap_if_ours(keeper)
        left = running(made.made)
        assert len(left) == len(made.made), "the leftovers must survive the crash"
        [records] = tmp_path.glob("*.records")

        with serve_agent(state_dir=tmp_path) as second:
            log = second.log_text()
            assert wait_stopped_running(left) == [], log
            assert not records.exists(), log
        found = KILLED_LINE.search(log)
        assert found is not None, log
        assert (int(found[1]), int(found[2])) == (first.pid, len(left)), log
        assert list(tmp_path.glob("*.records")) == [], "the second agent's own records stay"


def test_records_of_a_live_agent_are_never_touched(tmp_path: Path) -> None:
    """A second agent on the same state dir leaves the first one's processes and records."""
    with serve_agent(state_dir=tmp_path) as first, first.client() as client:
        process_id = start(client, "echo $$; sleep 300")
        [session] = _printed_pids(client, process_id, 1)
        [records] = tmp_path.glob("*.records")
        before = records.read_text()
        assert f"+S {session} " in before
        with serve_agent(state_dir=tmp_path) as second:
            log = second.log_text()
        assert "ended without shutting down" not in log, log
        assert records.read_text() == before
        assert output(client, process_id)["running"] is True
        assert leftovers([session])


def test_a_record_naming_a_reused_pid_kills_nothing(tmp_path: Path) -> None:
    """A dead agent's record whose pid now belongs to another process (its start time
    differs) leaves that process alone; the records are removed all the same."""
    victim = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        victim_identity = identity_of(victim.pid)
        test_identity = identity_of(os.getpid())
        assert victim_identity is not None
        assert test_identity is not None
        pid, started = victim_identity
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        # The dead agent's pid is this process's, with a start time it never had.
        name = f"{os.getpid()}-{test_identity[1] + 1}-{uuid.uuid4().hex}.records"
        records = tmp_path / name
        records.write_text(
            f"agentproc records 1 boot={boot}\n+S {pid} {started + 1}\n+P {pid} {started - 1}\n"
        )
        with serve_agent(state_dir=tmp_path) as agent:
            log = agent.log_text()
        found = KILLED_LINE.search(log)
        assert found is not None, log
        assert int(found[2]) == 0, log
        assert victim.poll() is None
        assert not records.exists()
    finally:
        victim.kill()
        victim.wait()


# -- an agent inside another program ---------------------------------------------------------


def test_an_agent_in_the_test_process_never_touches_the_processes_own_children(
    make_live_agent: AgentFactory, tmp_path: Path
) -> None:
    """An in-thread agent adopts orphans of the whole process: it kills and reaps only its
    own, never the host's children, orphans re-parented to the host, or their zombies."""
    settings = Settings(token="custody-token", shutdown_grace_seconds=1, state_dir=tmp_path)
    own = [
        subprocess.Popen(["sleep", "300"]),
        subprocess.Popen(["sleep", "300"], start_new_session=True),
    ]
    zombie = subprocess.Popen(["sh", "-c", "exit 7"])
    with _ended_afterwards() as cleanup:
        cleanup.update(identity for p in own if (identity := identity_of(p.pid)) is not None)
        with make_live_agent(settings) as agent, agent.client() as client:
            # The agent made this process a subreaper: this orphan is re-parented to it.
            orphaned = subprocess.run(
                ["sh", "-c", "setsid sleep 300 >/dev/null 2>&1 & echo $!"],
                capture_output=True,
                text=True,
                check=True,
            )
            orphan = identity_of(int(orphaned.stdout))
            assert orphan is not None
            cleanup.add(orphan)
            made = _start_leftovers(client, {DOUBLE_FORKED: LEFTOVERS[DOUBLE_FORKED]})
            cleanup |= made.made
            # Noticing its own daemon means a scan ran with the host's processes around.
            _wait_recorded(tmp_path, made.escaped[DOUBLE_FORKED])
            assert Path(f"/proc/{orphan[0]}/stat").read_text().split()[3] == str(os.getpid())
        assert present(made.made) == []
        assert set(running(cleanup - made.made)) == cleanup - made.made
        assert all(p.poll() is None for p in own)
        # Still this process's to reap, with its own status.
        assert zombie.wait(SAFETY_TIMEOUT_SECONDS) == 7
    for process in own:
        process.wait(SAFETY_TIMEOUT_SECONDS)
