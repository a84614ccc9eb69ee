"""Which processes are an agent's: the rule, the claims it is applied to, and the sweep.

The agent is told apart from its host by five rules. A process is the agent's when

1. it belongs to the session of a command the agent started, and that session is still the
   one the agent started: every command's shell leads a new session, and everything it
   starts stays in it unless it calls ``setsid``; the session id is the shell's pid, so the
   session counts only while its leader is gone or still has the recorded start time;
2. its identity (pid and start time, see :mod:`agentproc.procfs`) was recorded as the
   agent's: while it runs, the agent records every process of its own it finds outside its
   sessions (a daemon that called ``setsid``), so it stays the agent's wherever it moves and
   whatever it does to its environment;
3. its environment carries the agent's instance marker ``AGENTPROC_INSTANCE=<random id>``:
   every command gets it, and everything started below passes it on unless it clears or
   replaces its environment;
4. it is a child of the agent's process, and the agent has that process to itself
   (``agentproc serve``; the keeper excepted): the agent is a child subreaper, so every
   orphan of its commands is re-parented to it, and there nothing else is;
5. its parent is the agent's, so everything below a process of the agent's is too.

Whatever a claim says, init, the kernel's ``kthreadd`` and the sessions they lead are never
the agent's (every command leads a session of its own), and :func:`send`, the one place a
sweep sends a signal, refuses the sweeping process and each of its ancestors: a fault in a
rule must not turn a sweep against the machine.

Rule 3 reads ``/proc/<pid>/environ``. Where it decides (the shutdown sweep, the keeper after
a crash, the clean-up after a crashed predecessor) it is applied to every process; while the
agent runs, only to the processes re-parented to it. Inside a host process (a test run, a
server embedding the app) rule 4 does not hold: the host's own children and the orphans of
its other children come to the agent's process too. None of them carries this agent's
marker, and none of them is in a session the agent started, so the agent never touches its
host's processes; there, an orphan that cleared its environment before the agent saw it is
the price (see ``docs/architecture.md``, Known limits).

Claims travel as lines, the same on the pipe to the keeper and in the records on disk:
``+S <pid> <start>`` claims a session, ``+P <pid> <start>`` a process, and ``-S``/``-P``
drop the claim again.

Synchronous and standard library only: the keeper imports this.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import re
import signal
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from agentproc import procfs
from agentproc.procfs import Identity, Proc

__all__ = [
    "INSTANCE_PATTERN",
    "INSTANCE_VARIABLE",
    "Claims",
    "SweepResult",
    "claim_line",
    "forget_line",
    "ours",
    "protected",
    "send",
    "signal_all",
    "sweep",
]

logger = logging.getLogger(__name__)

INSTANCE_VARIABLE = "AGENTPROC_INSTANCE"
"""Set in every command's environment to the agent's instance id (rule 3)."""

INSTANCE_PATTERN = re.compile(r"[0-9a-f]{32}")
"""An instance id: a random UUID's 128 bits in hex, which no other process carries."""

SESSION = "S"
PROCESS = "P"
CLAIM = "+"
FORGET = "-"

SWEEP_SECONDS = 1.5
"""How long a sweep keeps killing: a SIGKILLed process dies within milliseconds, so only a
process stuck in the kernel outlasts this, and the crash bound of 2 s must still hold."""

SWEEP_POLL_SECONDS = 0.01
"""Between scans while killed processes die; the kernel gives no event for that."""


def claim_line(kind: str, identity: Identity) -> str:
    """The line that claims a session (``SESSION``) or a process (``PROCESS``)."""
    return f"{CLAIM}{kind} {identity.pid} {identity.start}\n"


def forget_line(kind: str, identity: Identity) -> str:
    """The line that drops the claim :func:`claim_line` made."""
    return f"{FORGET}{kind} {identity.pid} {identity.start}\n"


class Claims:
    """The sessions and processes one agent instance claims, and its instance marker."""

    def __init__(self, instance: str) -> None:
        """Claims of agent instance ``instance``.

        Raises:
            ValueError: ``instance`` is not 32 lowercase hex digits (``uuid4().hex``): a
                short or guessable marker could be carried by processes of someone else's.
        """
        if INSTANCE_PATTERN.fullmatch(instance) is None:
            raise ValueError(f"not an instance id: {instance!r}")
        self.instance = instance
        self.sessions: dict[int, int] = {}
        """Session id (the shell's pid) → the shell's start time."""
        self.processes: dict[int, int] = {}
        """Pid → start time of processes recorded outside the sessions."""

    @property
    def marker(self) -> bytes:
        """The environment entry every command of this instance carries."""
        return f"{INSTANCE_VARIABLE}={self.instance}".encode()

    @property
    def empty(self) -> bool:
        """True when nothing is claimed."""
        return not self.sessions and not self.processes

    def copy(self) -> Claims:
        """An independent copy, for a scan in another thread."""
        other = Claims(self.instance)
        other.sessions = dict(self.sessions)
        other.processes = dict(self.processes)
        return other

    def apply(self, line: str) -> None:
        """Apply one claim line.

        Raises:
            ValueError: the line is not a claim line.
        """
        parts = line.split()
        if len(parts) != 3 or len(parts[0]) != 2:
            raise ValueError(f"not a claim line: {line!r}")
        op, kind = parts[0][0], parts[0][1]
        pid, start = int(parts[1]), int(parts[2])
        if kind not in (SESSION, PROCESS) or op not in (CLAIM, FORGET) or pid <= 1:
            raise ValueError(f"not a claim line: {line!r}")
        claimed = self.sessions if kind == SESSION else self.processes
        if op == CLAIM:
            claimed[pid] = start
        elif claimed.get(pid) == start:
            del claimed[pid]

    def lines(self) -> list[str]:
        """Every claim, as the lines that rebuild it."""
        return [
            *(claim_line(SESSION, Identity(*item)) for item in self.sessions.items()),
            *(claim_line(PROCESS, Identity(*item)) for item in self.processes.items()),
        ]


def _everyone(proc: Proc) -> bool:
    return True


def ours(
    table: dict[int, Proc],
    claims: Claims,
    *,
    exclude: Collection[int] = (),
    check_marker: Callable[[Proc], bool] = _everyone,
    adopter: int | None = None,
) -> dict[int, Proc]:
    """The processes of ``table`` that are ``claims``' by the rule above (zombies included).

    Args:
        table: the process table (:func:`agentproc.procfs.snapshot`).
        claims: what the agent claims.
        exclude: pids that are never the agent's (itself, its keeper), nor their children.
            The roots of the process tree (init and the kernel's ``kthreadd``), their
            sessions and the kernel's threads never are.
        check_marker: which processes to read the environment of for rule 3.
        adopter: the agent's process when it has it to itself (rule 4).
    """

    def never(proc: Proc) -> bool:
        # Every command leads a session of its own, and whatever leaves it makes another:
        # nothing of the agent's is in init's session or the kernel's (0).
        return proc.pid in exclude or proc.pid <= 1 or proc.ppid == 0 or proc.session <= 1

    marker = claims.marker
    found: dict[int, Proc] = {}
    for proc in table.values():
        if never(proc):
            continue
        leader_start = claims.sessions.get(proc.session)
        leader = table.get(proc.session)
        if (
            (leader_start is not None and (leader is None or leader.start == leader_start))
            or claims.processes.get(proc.pid) == proc.start
            or proc.ppid == adopter
            or (not proc.dead and check_marker(proc) and procfs.environ_has(proc.pid, marker))
        ):
            found[proc.pid] = proc
    children: dict[int, list[Proc]] = collections.defaultdict(list)
    for proc in table.values():
        children[proc.ppid].append(proc)
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child.pid not in found and not never(child):
                found[child.pid] = child
                stack.append(child.pid)
    return found


def protected() -> frozenset[int]:
    """This process and every ancestor of it, read from ``/proc`` now.

    :func:`send` never signals these, whatever the rule above says: a fault in the rule must
    never let a sweep stop or kill the program that runs it or the programs that started it.
    """
    pids = {os.getpid()}
    pid = os.getppid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        parent = procfs.read(pid)
        if parent is None:
            break
        pid = parent.ppid
    return frozenset(pids)


def send(pid: int, sig: signal.Signals, protected: Collection[int]) -> bool:
    """Send ``sig`` to the one process ``pid``; False when it was not sent.

    The only place a sweep sends a signal. It refuses, at error level, a pid that would
    name more than one process (0 and below), init (1), and any pid of ``protected``
    (:func:`protected`), so that no fault elsewhere can make a sweep hit those.
    """
    if pid <= 1 or pid in protected:
        logger.error("refusing to send %s to pid %d: it is never the agent's", sig.name, pid)
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    except OSError as exc:
        logger.error("sending %s to pid %d failed: %s", sig.name, pid, exc)
        return False
    return True


def signal_all(
    claims: Claims,
    sig: signal.Signals,
    *,
    exclude: Collection[int] = (),
    skip_groups: Collection[int] = (),
) -> int:
    """Send ``sig`` to every live process of ``claims``; returns how many got it.

    Args:
        claims: what the agent claims.
        sig: the signal.
        exclude: pids that are never the agent's (itself, its keeper).
        skip_groups: process groups already signalled as a whole, so no member gets ``sig``
            twice (a shell's trap would run twice).
    """
    untouchable = protected()
    found = ours(procfs.snapshot(), claims, exclude={*untouchable, *exclude})
    return sum(
        send(proc.pid, sig, untouchable)
        for proc in found.values()
        if not proc.dead and proc.pgrp not in skip_groups
    )


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What a sweep did."""

    killed: int
    """Processes that were sent SIGKILL."""

    survivors: tuple[int, ...]
    """Pids still alive when the sweep gave up."""


def sweep(
    claims: Claims,
    *,
    exclude: Collection[int] = (),
    reap: bool = False,
    waited: Collection[int] = (),
    owns_process: bool = False,
    seconds: float = SWEEP_SECONDS,
) -> SweepResult:
    """End every process of ``claims``, reading every process's environment for the marker.

    Everything found is first stopped (SIGSTOP) and the table read again until no new process
    turns up, so that nothing forks behind the sweep's back and every parent still links its
    children into the tree; then all of it is killed. A process found once stays claimed
    after its parent dies.

    Args:
        claims: what the agent claims.
        exclude: pids that are never the agent's (itself, its keeper).
        reap: also reap the zombies among the caller's own children that are the agent's.
        waited: children whose exit someone else waits for, never reaped here.
        owns_process: the agent has the caller's process to itself (rule 4).
        seconds: how long to keep at it before reporting survivors.
    """
    me = os.getpid()
    untouchable = protected()
    excluded = {*untouchable, *exclude}
    claims = claims.copy()
    stopped: set[Identity] = set()
    killed: set[Identity] = set()
    deadline = time.monotonic() + seconds
    while True:
        adopter = me if owns_process else None
        found = ours(procfs.snapshot(), claims, exclude=excluded, adopter=adopter)
        claims.processes.update((proc.pid, proc.start) for proc in found.values())
        live = [proc for proc in found.values() if not proc.dead]
        fresh = [proc for proc in live if proc.identity not in stopped]
        for proc in fresh:
            send(proc.pid, signal.SIGSTOP, untouchable)
            stopped.add(proc.identity)
        if not fresh:
            sent = [proc for proc in live if send(proc.pid, signal.SIGKILL, untouchable)]
            killed.update(proc.identity for proc in sent)
        reaped = _reap(found.values(), me, waited) if reap else 0
        if not live and not reaped:
            return SweepResult(len(killed), ())
        if time.monotonic() > deadline:
            return SweepResult(len(killed), tuple(sorted(proc.pid for proc in live)))
        if not fresh:
            time.sleep(SWEEP_POLL_SECONDS)


def _reap(found: Collection[Proc], me: int, waited: Collection[int]) -> int:
    reaped = 0
    for proc in found:
        if proc.dead and proc.ppid == me and proc.pid not in waited:
            # ChildProcessError: someone else reaped it first; gone either way.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(proc.pid, os.WNOHANG)
                reaped += 1
    return reaped
