"""Which processes are an agent's, and the guard under every signal a sweep sends.

The rule is checked on process tables made up here. The guard is checked with ``os.kill``
and ``os.killpg`` replaced, so that nothing is sent whatever the code under test decides.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from agentproc import claims, procfs, sessions
from agentproc.claims import Claims, claim_line, forget_line
from agentproc.procfs import Identity, Proc

Sent = list[tuple[int, int]]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    """Every ``os.kill`` and ``os.killpg`` call, recorded instead of made."""
    calls: Sent = []

    def record(pid: int, sig: int) -> None:
        calls.append((pid, sig))

    monkeypatch.setattr(os, "kill", record)
    monkeypatch.setattr(os, "killpg", record)
    return calls


def _ancestry() -> list[int]:
    """This process and its ancestors, read independently of the code under test."""
    chain = [os.getpid()]
    pid = os.getppid()
    while pid > 0:
        chain.append(pid)
        proc = procfs.read(pid)
        if proc is None or pid == 1:
            break
        pid = proc.ppid
    return chain


# -- the guard -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pid", [0, -1, -os.getpid(), 1], ids=["zero", "everyone", "own-group", "init"]
)
def test_send_refuses_a_pid_that_names_a_group_everyone_or_init(
    pid: int, sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    """0 and below would reach a whole group or every process, 1 is init: never sent."""
    with caplog.at_level(logging.ERROR, logger="agentproc.claims"):
        assert claims.send(pid, signal.SIGKILL, frozenset()) is False
    assert sent == []
    assert f"refusing to send SIGKILL to pid {pid}" in caplog.text


def test_send_refuses_the_process_itself_and_every_ancestor(
    sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    """The sweeping program and the programs that started it are never signalled."""
    protected = claims.protected()
    chain = [pid for pid in _ancestry() if pid > 1]
    assert set(chain) <= protected
    with caplog.at_level(logging.ERROR, logger="agentproc.claims"):
        for pid in chain:
            assert claims.send(pid, signal.SIGSTOP, protected) is False
    assert sent == []
    assert caplog.text.count("refusing to send SIGSTOP") == len(chain)


def test_send_signals_a_process_that_is_not_protected(sent: Sent) -> None:
    """The guard stops only what it must: any other pid gets its signal."""
    assert claims.send(4242, signal.SIGKILL, frozenset({4243})) is True
    assert sent == [(4242, signal.SIGKILL)]


def test_a_sweep_claiming_the_sweepers_ancestors_signals_none_of_them(sent: Sent) -> None:
    """Even when claims name the sweeping process and its parent chain, nothing is sent."""
    claimed = Claims(uuid.uuid4().hex)
    for pid in _ancestry():
        start = procfs.start_time(pid)
        assert start is not None
        claimed.processes[pid] = start
    assert claims.sweep(claimed, seconds=0.05) == claims.SweepResult(0, ())
    assert claims.signal_all(claimed, signal.SIGTERM) == 0
    assert sent == []


@pytest.mark.parametrize(
    "pgid",
    [0, -1, 1, os.getpid(), os.getpgrp()],
    ids=["zero", "everyone", "init", "own-pid", "own-group"],
)
def test_signal_group_refuses_a_group_that_is_no_commands(pgid: int, sent: Sent) -> None:
    """Only a command's own group is signalled as a whole, never the agent's or init's."""
    with pytest.raises(PermissionError, match="no command's"):
        sessions.signal_group(pgid, signal.SIGTERM)
    assert sent == []


# -- claim lines ----------------------------------------------------------------------------


def test_claim_lines_claim_and_forget_by_identity() -> None:
    """A line forgets a claim only with the start time it was made with."""
    claimed = Claims("0" * 32)
    claimed.apply(claim_line(claims.SESSION, Identity(10, 100)))
    claimed.apply(claim_line(claims.PROCESS, Identity(11, 110)))
    claimed.apply(forget_line(claims.PROCESS, Identity(11, 999)))
    assert (claimed.sessions, claimed.processes) == ({10: 100}, {11: 110})
    rebuilt = Claims(claimed.instance)
    for line in claimed.lines():
        rebuilt.apply(line)
    assert (rebuilt.sessions, rebuilt.processes) == ({10: 100}, {11: 110})
    rebuilt.apply(forget_line(claims.SESSION, Identity(10, 100)))
    rebuilt.apply(forget_line(claims.PROCESS, Identity(11, 110)))
    assert rebuilt.empty


@pytest.mark.parametrize(
    "line",
    ["", "+S 10", "+X 10 2", "*S 10 2", "+S one 2", "+S 10 2 3", "+P 1 2", "+S 0 2", "+P -5 2"],
)
def test_a_line_that_is_no_claim_is_refused(line: str) -> None:
    """Garbage on the pipe or in a records file changes nothing; init and the pids below it,
    which name groups or every process, are never claimed."""
    with pytest.raises(ValueError):
        Claims("0" * 32).apply(line)


@pytest.mark.parametrize("instance", ["", "x", "0" * 31, "0" * 33, "A" * 32, "0" * 31 + "\n"])
def test_an_instance_id_that_others_could_carry_is_refused(instance: str) -> None:
    """Only a random 128-bit id makes a marker no process of someone else's carries."""
    with pytest.raises(ValueError, match="not an instance id"):
        Claims(instance)


def test_the_keeper_refuses_an_instance_id_before_it_reads_anything() -> None:
    """A keeper started by hand with a guessable id exits with a usage error, sweeping nothing."""
    result = subprocess.run(
        [sys.executable, "-m", "agentproc.keeper", "x"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "not an instance id: 'x'" in result.stderr
    assert "killed" not in result.stderr


# -- the rule --------------------------------------------------------------------------------


def _proc(pid: int, ppid: int, session: int, start: int, state: str = "S") -> Proc:
    return Proc(pid=pid, ppid=ppid, pgrp=session, session=session, state=state, start=start)


def _table(*procs: Proc) -> dict[int, Proc]:
    return {proc.pid: proc for proc in procs}


def _ours(
    table: dict[int, Proc],
    claimed: Claims,
    exclude: frozenset[int] = frozenset(),
    adopter: int | None = None,
) -> set[int]:
    # The marker is read from /proc; the made-up pids must not be looked up there.
    found = claims.ours(
        table, claimed, exclude=exclude, check_marker=lambda proc: False, adopter=adopter
    )
    return set(found)


SHELL = _proc(100, 50, 100, start=1000)
BACKGROUND = _proc(101, 100, 100, start=1001)
DAEMON = _proc(200, 101, 200, start=1002)
"""Left the session with setsid, below a process of the session."""
STRANGER = _proc(300, 50, 300, start=900)


def test_a_claimed_session_and_everything_below_it_are_ours() -> None:
    """The session's members, and what they started elsewhere, are the agent's."""
    claimed = Claims("0" * 32)
    claimed.sessions[SHELL.pid] = SHELL.start
    assert _ours(_table(SHELL, BACKGROUND, DAEMON, STRANGER), claimed) == {100, 101, 200}


def test_a_session_stays_ours_after_its_shell_is_gone() -> None:
    """Background children outlive the shell and stay in its session."""
    claimed = Claims("0" * 32)
    claimed.sessions[SHELL.pid] = SHELL.start
    orphan = _proc(101, 1, 100, start=1001)
    assert _ours(_table(orphan, STRANGER), claimed) == {101}


def test_a_session_whose_leader_pid_was_reused_is_not_ours() -> None:
    """Another process with the shell's pid (another start time) leads another session."""
    claimed = Claims("0" * 32)
    claimed.sessions[SHELL.pid] = SHELL.start
    reused = _proc(100, 50, 100, start=5000)
    member = _proc(102, 100, 100, start=5001)
    assert _ours(_table(reused, member, STRANGER), claimed) == set()


def test_a_process_claimed_by_identity_is_ours_only_with_its_start_time() -> None:
    """A recorded pid now held by a process that started later is someone else's."""
    claimed = Claims("0" * 32)
    claimed.processes[DAEMON.pid] = DAEMON.start
    assert _ours(_table(DAEMON, STRANGER), claimed) == {200}
    claimed.processes[DAEMON.pid] = DAEMON.start - 1
    assert _ours(_table(DAEMON, STRANGER), claimed) == set()


def test_excluded_processes_and_what_only_they_started_are_never_ours() -> None:
    """The agent itself and its keeper are children of nothing claimed, whatever happens."""
    claimed = Claims("0" * 32)
    claimed.sessions[SHELL.pid] = SHELL.start
    keeper = _proc(150, 100, 100, start=1003)
    below_keeper = _proc(151, 150, 151, start=1004)
    assert _ours(_table(SHELL, keeper, below_keeper), claimed, exclude=frozenset({150})) == {100}


def test_the_roots_of_the_process_tree_and_what_they_started_are_never_ours() -> None:
    """Init and ``kthreadd`` head everything: a claim naming them must not reach it all."""
    claimed = Claims("0" * 32)
    init = _proc(1, 0, 1, start=1)
    kthreadd = _proc(2, 0, 0, start=1)
    kernel_thread = _proc(3, 2, 0, start=2)
    claimed.processes.update({1: 1, 2: 1, 3: 2})
    claimed.sessions.update({0: 0, 1: 1})
    table = _table(init, kthreadd, kernel_thread, STRANGER)
    assert _ours(table, claimed, adopter=1) == set()
    assert _ours(table, claimed, adopter=0) == set()


def test_the_children_of_an_agent_that_has_its_process_to_itself_are_ours() -> None:
    """``agentproc serve`` adopts only its commands' orphans: all of them are its own."""
    claimed = Claims("0" * 32)
    adopted = _proc(400, 42, 400, start=2000)
    assert _ours(_table(adopted, STRANGER), claimed) == set()
    assert _ours(_table(adopted, STRANGER), claimed, adopter=42) == {400}


@pytest.fixture
def marked() -> Iterator[tuple[Claims, subprocess.Popen[bytes]]]:
    """A command-like child (a session of its own) carrying a fresh instance marker, and the
    claims it matches."""
    claimed = Claims(uuid.uuid4().hex)
    env = {**os.environ, claims.INSTANCE_VARIABLE: claimed.instance}
    # Popen returns once the exec has begun; until it is done, /proc shows the parent's
    # environment, without the marker. The child says when it runs (keeping the marker
    # through its own exec).
    child = subprocess.Popen(
        ["sh", "-c", "echo running; exec sleep 300"],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"running\n"
        yield claimed, child
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_a_process_carrying_the_instance_marker_is_ours(
    marked: tuple[Claims, subprocess.Popen[bytes]],
) -> None:
    """The marker finds a process the agent never saw; another instance's marker does not."""
    claimed, child = marked
    table = procfs.snapshot()
    assert set(claims.ours(table, claimed)) == {child.pid}
    assert claims.ours(table, Claims(uuid.uuid4().hex)) == {}
