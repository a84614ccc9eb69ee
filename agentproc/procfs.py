"""Linux's ``/proc``: the process table, each process's identity, and its environment.

A pid alone does not name a process: the kernel hands it out again once the process has been
reaped. A pid together with the process's start time does, since the start time (field 22 of
``/proc/<pid>/stat``, in clock ticks since boot) never changes while the process lives, and a
pid is reused only after every other pid has been handed out in between. Everything that
kills a process it learnt about earlier checks both, so a reused pid is never hit.

Synchronous and standard library only: the keeper imports this, and the agent runs the scans
in a worker thread. A scan reads every process's ``stat``, so files are read with one
``os.open``/``os.read``/``os.close`` each and parsed as bytes: ``pathlib``'s text files cost
about three times as much per file, and a command name need not be valid UTF-8.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "PROC",
    "Identity",
    "Proc",
    "boot_id",
    "boot_tick",
    "environ_has",
    "forked_within",
    "parse_stat",
    "read",
    "read_file",
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


READ_SIZE = 4096
"""One read of a ``/proc`` file: a ``stat`` line is a few hundred bytes, so one read gets it."""


def parse_stat(pid: int, line: bytes) -> Proc | None:
    """The fields of one ``/proc/<pid>/stat`` line that matter here; None if it is cut short."""
    # The command name may contain spaces, parentheses and any bytes; the fields after the
    # last ')' are fixed: state (3), ppid (4), pgrp (5), session (6), ... starttime (22).
    _, _, rest = line.rpartition(b")")
    fields = rest.split()
    if len(fields) < 20:
        return None
    return Proc(
        pid=pid,
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        session=int(fields[3]),
        state=fields[0].decode("ascii", "replace"),
        start=int(fields[19]),
    )


def read_file(path: str) -> bytes:
    """The whole content of the ``/proc`` file at ``path``.

    Raises:
        OSError: it cannot be read (the process is gone, or is another user's).
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, READ_SIZE)
        if len(data) < READ_SIZE:
            return data
        parts = [data]
        while chunk := os.read(fd, READ_SIZE * 4):
            parts.append(chunk)
        return b"".join(parts)
    finally:
        os.close(fd)


def read(pid: int) -> Proc | None:
    """The process ``pid`` now, or None when there is none."""
    try:
        line = read_file(f"/proc/{pid}/stat")
    except OSError:
        return None
    return parse_stat(pid, line)


def start_time(pid: int) -> int | None:
    """The start time of process ``pid``, or None when there is none."""
    proc = read(pid)
    return None if proc is None else proc.start


# /proc counts start times in clock ticks since boot: the fork's CLOCK_BOOTTIME divided
# down, exactly so where a tick is a whole number of nanoseconds (it is 10 ms at 100 Hz).
_TICK_NS, _TICK_REMAINDER = divmod(1_000_000_000, os.sysconf("SC_CLK_TCK"))


def boot_tick() -> int:
    """Now, in the clock ticks since boot that ``/proc`` counts start times in."""
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME) // _TICK_NS


def forked_within(tick: int) -> int | None:
    """The start time ``/proc`` gives a process forked since :func:`boot_tick` returned
    ``tick``, when that tick is not over yet; None otherwise (read it from ``/proc``).

    The kernel stamps a process with ``CLOCK_BOOTTIME`` as it forks it, so a fork that began
    and ended within one tick gave its child that tick. That spares reading the new child's
    ``stat`` file, which waits while the child still execs.
    """
    if not _TICK_REMAINDER and boot_tick() == tick:
        return tick
    return None


def snapshot() -> dict[int, Proc]:
    """Every process on the system (zombies included), by pid."""
    table: dict[int, Proc] = {}
    for name in os.listdir(PROC):
        if not name.isdigit():
            continue
        try:
            line = read_file(f"/proc/{name}/stat")
        except OSError:
            continue  # exited while we looked
        proc = parse_stat(int(name), line)
        if proc is not None:
            table[proc.pid] = proc
    return table


def environ_has(pid: int, entry: bytes) -> bool:
    """Whether process ``pid`` was started with exactly ``entry`` (``NAME=value``) in its
    environment. False when it cannot be read: gone, a zombie, or another user's."""
    try:
        data = read_file(f"/proc/{pid}/environ")
    except OSError:
        return False
    return entry in data.split(b"\0")


def boot_id() -> str:
    """This boot's random id, or "" where the kernel does not tell."""
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""
