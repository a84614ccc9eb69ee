"""Custody's look at the process table, and the lock that keeps a scan from reaping a shell.

A scan (:func:`scan`, run in a worker thread) reads ``/proc`` once, reaps the agent's zombie
children that are orphans of its commands, and tells :class:`~agentproc.custody.Custody`
what changed: the claimed sessions that emptied, the agent's processes found outside them,
the claimed processes that vanished. :class:`Spawning` is why it never reaps a shell: the
manager spawns and reports under its lock, and a scan decides and reaps holding it alone.

It knows nothing of claims on disk, the keeper, or when scans run: custody decides all that.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from agentproc import claims as claims_module
from agentproc import procfs
from agentproc.claims import Claims
from agentproc.procfs import Identity, Proc

__all__ = ["Scan", "SpawnLock", "Spawning", "scan"]


class SpawnLock:
    """Shared by spawns, exclusive for a scan's reaping: any number of shells may be spawned
    at once, and a scan decides about a zombie only while none is. Spawns that would begin
    give way to a scan waiting to reap, so a stream of starts never holds reaping off."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._spawns = 0
        self._reapers = 0

    def __enter__(self) -> None:
        with self._condition:
            while self._reapers:
                self._condition.wait()
            self._spawns += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._condition:
            self._spawns -= 1
            if not self._spawns:
                self._condition.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold it while no spawn is in progress (and none begins)."""
        with self._condition:
            self._reapers += 1
            try:
                while self._spawns:
                    self._condition.wait()
                yield
            finally:
                self._reapers -= 1
                self._condition.notify_all()


class Spawning:
    """The shells the manager spawned and has not reaped yet, and a lock around spawning them.

    A scan reaps the agent's zombie children that are orphans of its commands, never a shell:
    its supervision must reap it to learn its exit status (a shell reaped by someone else
    reads as status 0). A shell that exits before the manager has reported it would look like
    an orphan to a scan running in a worker thread at that moment, so the manager spawns and
    reports under this lock (shared: spawns may overlap), and a scan decides and reaps
    holding it exclusively.
    """

    def __init__(self) -> None:
        self.shells: set[int] = set()
        self.lock = SpawnLock()

    def reap_unless_a_shell(self, pid: int) -> bool:
        """Reap the zombie child ``pid`` unless it is a shell; True when it was reaped."""
        with self.lock.exclusive():
            if pid in self.shells:
                return False
            # ChildProcessError: someone else reaped it first; gone either way.
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            return True


@dataclass(frozen=True, slots=True)
class Scan:
    """What one scan found changed since the claims were last updated."""

    emptied: list[Identity]
    outside: list[Identity]
    vanished: list[Identity]
    foreign: frozenset[Identity]


def scan(
    claims: Claims,
    running: Collection[int],
    exclude: Collection[int],
    foreign: Collection[Identity],
    owns_process: bool,
    spawning: Spawning,
) -> Scan:
    """Read the table, reap the agent's own zombie children, and tell what changed."""
    me = os.getpid()
    table = procfs.snapshot()

    def adopted(proc: Proc) -> bool:
        # Only orphans re-parented to the agent are read for the marker while it runs.
        return proc.ppid == me and proc.identity not in foreign

    found = claims_module.ours(
        table,
        claims,
        exclude={me, *exclude},
        check_marker=adopted,
        adopter=me if owns_process else None,
    )
    remaining: dict[int, Proc] = {}
    for proc in found.values():
        if proc.dead and proc.ppid == me and spawning.reap_unless_a_shell(proc.pid):
            continue
        remaining[proc.pid] = proc
    occupied = {proc.session for proc in remaining.values()}
    return Scan(
        emptied=[
            Identity(sid, start)
            for sid, start in claims.sessions.items()
            if sid not in running and sid not in occupied
        ],
        outside=[
            proc.identity
            for proc in remaining.values()
            if not proc.dead
            and proc.session not in claims.sessions
            and claims.processes.get(proc.pid) != proc.start
        ],
        vanished=[
            Identity(pid, start)
            for pid, start in claims.processes.items()
            if (kept := remaining.get(pid)) is None or kept.start != start or kept.dead
        ],
        foreign=frozenset(
            proc.identity
            for proc in table.values()
            if proc.ppid == me and not proc.dead and proc.pid not in found
        ),
    )
