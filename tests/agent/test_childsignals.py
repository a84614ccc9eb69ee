"""Commands start with no signal ignored or blocked, whatever the agent inherited
(``agentproc.childsignals``).

An agent started as a shell's background job ignores SIGINT and SIGQUIT, one started by
``nohup`` ignores SIGHUP. Here the test's own process ignores them while a spawner is made and
used, or ``agentproc serve`` is started as ``nohup ... &`` would start it; the command reads
what it got from ``/proc/self/status``.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from agentproc.buffer import HeadTailBuffer
from agentproc.children import wait_child
from agentproc.childsignals import CHECKED, Inherited, ignored_signals, inherited
from agentproc.settings import Settings
from agentproc.spawner import Child, Spawner
from agentproc.spec import ProcessSpec, TerminalSize
from tests.conftest import serve_agent

from ._live_processes import output, start

SAFETY_TIMEOUT_SECONDS = 30.0
"""Safety net only: the command ends at once."""

BACKGROUND_JOB = (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP)
"""What a shell's background job and ``nohup`` leave ignored."""

STATUS = "grep -E '^Sig(Ign|Blk):' /proc/self/status"
"""What the command prints: its ignored and blocked signals, as hexadecimal masks."""

RESETTABLE = sum(1 << (number - 1) for number in CHECKED)
"""The signals an agent can put back to their default, as a ``SigIgn`` mask. glibc keeps two
real-time signals for itself (32 and 33) and refuses to change them; a process that ignores
them passes that on, harmlessly: a program that uses them sets them up itself."""


def ignored_or_blocked(status: dict[str, int]) -> dict[str, int]:
    """From ``SigIgn`` and ``SigBlk``, what a command must not start with."""
    return {"SigIgn": status["SigIgn"] & RESETTABLE, "SigBlk": status["SigBlk"]}


NONE = {"SigIgn": 0, "SigBlk": 0}

BACKGROUND_NOHUP = ("sh", "-c", 'trap "" INT QUIT HUP; exec "$@"', "sh")
"""Starts the agent as ``nohup agentproc serve &`` in a script would: SIGINT, SIGQUIT and
SIGHUP ignored (``trap ""`` ignores, and ``exec`` keeps what is ignored)."""


@contextmanager
def ignoring(*signals: signal.Signals) -> Iterator[None]:
    """This process ignores ``signals`` for the block's duration."""
    before = {sig: signal.getsignal(sig) for sig in signals}
    try:
        for sig in signals:
            signal.signal(sig, signal.SIG_IGN)
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def in_thread_blocking(
    blocked: signal.Signals, work: Callable[[], dict[str, int]]
) -> dict[str, int]:
    """``work()`` in a thread of its own that blocks ``blocked``, as an application serving
    the agent's app might block signals in its threads."""
    done: list[dict[str, int]] = []

    def run() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, (blocked,))
        done.append(work())

    thread = threading.Thread(target=run, name="blocking-thread")
    thread.start()
    thread.join(SAFETY_TIMEOUT_SECONDS)
    (result,) = done
    return result


def parse(text: str) -> dict[str, int]:
    """``SigIgn`` and ``SigBlk`` from a ``/proc/<pid>/status``, or the lines :data:`STATUS`
    prints (on a terminal, with carriage returns)."""
    found: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("SigIgn", "SigBlk"):
            found[name] = int(value, 16)
    return found


async def masks(child: Child) -> dict[str, int]:
    """The command's ignored (of :data:`RESETTABLE`) and blocked signals, once it exited 0."""
    buffer = HeadTailBuffer()
    try:
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            assert await child.io.pump_output(buffer) is True
            assert await wait_child(child.popen) == 0
    finally:
        child.io.close()
    return ignored_or_blocked(parse(buffer.bytes().decode()))


def test_the_signals_a_background_job_ignores_are_found_and_python_own_are_not() -> None:
    """SIGPIPE and SIGXFSZ, which Python ignores itself, are subprocess's to put back."""
    assert ignored_signals() == ()
    with ignoring(*BACKGROUND_JOB):
        assert set(ignored_signals()) == set(BACKGROUND_JOB)
    assert signal.getsignal(signal.SIGPIPE) is signal.SIG_IGN
    assert signal.SIGPIPE not in CHECKED and signal.SIGKILL not in CHECKED


def test_nothing_to_undo_is_none_so_the_spawn_stays_fast() -> None:
    """No ignored signal and none blocked: no code runs between fork and exec."""
    assert inherited(()) is None
    assert inherited((signal.SIGINT,)) == Inherited((signal.SIGINT,), blocked=False)


@pytest.mark.anyio
@pytest.mark.parametrize("tty", [None, TerminalSize(rows=24, cols=80)], ids=["pipe", "terminal"])
async def test_a_command_starts_with_no_signal_ignored(tty: TerminalSize | None) -> None:
    """The agent ignores what a background job does; the command ignores nothing (before,
    Ctrl-C on a terminal reached jobs that ignored it)."""
    with ignoring(*BACKGROUND_JOB):
        spawner = Spawner(Settings(), final_env={})
        child = spawner.spawn(ProcessSpec(command=STATUS, tty=tty))
    assert await masks(child) == NONE


def test_restoring_unblocks_what_the_forking_thread_blocks() -> None:
    """A child keeps its forking thread's blocked signals (``sh`` may clear them itself, so
    this runs ``grep`` directly), unless :meth:`Inherited.restore` runs before ``exec``."""

    def status(restore: bool) -> dict[str, int]:
        undo = inherited(())
        assert undo is not None and undo.blocked
        done = subprocess.run(
            ["grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"],
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=undo.restore if restore else None,
        )
        return ignored_or_blocked(parse(done.stdout))

    sigusr1 = 1 << (signal.SIGUSR1 - 1)
    assert in_thread_blocking(signal.SIGUSR1, lambda: status(restore=False))["SigBlk"] == sigusr1
    assert in_thread_blocking(signal.SIGUSR1, lambda: status(restore=True)) == NONE


@pytest.mark.anyio
async def test_an_agent_that_ignores_nothing_gives_commands_nothing_to_undo() -> None:
    """The usual case, the fast way: the command's masks are empty too."""
    child = Spawner(Settings(), final_env={}).spawn(ProcessSpec(command=STATUS))
    assert await masks(child) == NONE


@pytest.mark.e2e
@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "terminal"])
def test_an_agent_started_in_the_background_under_nohup_gives_commands_every_signal(
    tty: bool,
) -> None:
    """``agentproc serve`` itself keeps ignoring SIGQUIT and SIGHUP (its server catches
    SIGINT), and what it runs ignores none of them."""
    with serve_agent(wrapper=BACKGROUND_NOHUP) as agent, agent.client() as client:
        agents_own = parse(Path(f"/proc/{agent.pid}/status").read_text())
        process_id = start(client, STATUS, tty=tty)
        body = output(client, process_id, wait=True)
    quit_and_hangup = (1 << (signal.SIGQUIT - 1)) | (1 << (signal.SIGHUP - 1))
    assert agents_own["SigIgn"] & quit_and_hangup == quit_and_hangup
    assert body["exit_code"] == 0, body
    assert ignored_or_blocked(parse(str(body["output"]))) == NONE
