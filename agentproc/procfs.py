"""Linux's ``/proc``: the process table, each process's identity, and its environment.

A pid alone does not name a process: the kernel hands it out again once the process has been
reaped. A pid together with the process's start time does, since the start time (field 22 of
``/proc/<pid>/stat``, in clock ticks since boot) never changes while the process lives, and a
pid is reused only after every other pid has been handed out in between. Everything that
kills a process it learnt about earlier checks both, so a reused pid is never hit.

Synchronous and standard library only: the keeper imports this, and the agent runs the scans
in a worker thread.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "PROC",
    "Identity",
    "Proc",
    "boot_id",
    "environ_has",
    "parse_stat",
    "read",
    "snapshot",
    "start_time",
]

PROC = Path("/proc")

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
"""Changes at every boot; start times only compare within one."""

DEAD_STATES = frozenset({"Z", "X"})
"""Exited (waiting to be reaped) or being removed: nothing is left to signal."""


class Identity(NamedTuple):
    """A process as the kernel tells it apart from every other one since boot."""

    pid: int
    start: int


@dataclass(frozen=True, slots=True)
class Proc:
    """One process as ``/proc/<pid>/stat`` describes it."""

    pid: int
    ppid: int
    pgrp: int
    session: int
    state: str
    start: int

    @property
    def dead(self) -> bool:
        """True when the process has exited and only waits to be reaped."""
        return self.state in DEAD_STATES

    @property
    def identity(self) -> Identity:
        """The pid with the start time that makes it unique."""
        return Identity(self.pid, self.start)


def parse_stat(pid: int, text: str) -> Proc | None:
    """The fields of one ``/proc/<pid>/stat`` line that matter here; None if it is cut short."""
    # The command name may contain spaces and parentheses; the fields after the last ')' are
    # fixed: state (3), ppid (4), pgrp (5), session (6), ... starttime (22).
    _, _, rest = text.rpartition(")")
    fields = rest.split()
    if len(fields) < 20:
        return None
    return Proc(
        pid=pid,
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        session=int(fields[3]),
        state=fields[0],
        start=int(fields[19]),
    )


def read(pid: int) -> Proc | None:
    """The process ``pid`` now, or None when there is none."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return parse_stat(pid, text)


def start_time(pid: int) -> int | None:
    """The start time of process ``pid``, or None when there is none."""
    proc = read(pid)
    return None if proc is None else proc.start


def snapshot() -> dict[int, Proc]:
    """Every process on the system (zombies included), by pid."""
    table: dict[int, Proc] = {}
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # exited while we looked
        proc = parse_stat(int(entry.name), text)
        if proc is not None:
            table[proc.pid] = proc
    return table


def environ_has(pid: int, entry: bytes) -> bool:
    """Whether process ``pid`` was started with exactly ``entry`` (``NAME=value``) in its
    environment. False when it cannot be read: gone, a zombie, or another user's."""
    try:
        data = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return entry in data.split(b"\0")


def boot_id() -> str:
    """This boot's random id, or "" where the kernel does not tell."""
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""
