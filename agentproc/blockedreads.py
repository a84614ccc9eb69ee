"""Which commands have a process blocked reading their own input, as Linux's ``/proc`` tells.

A command waits for input when one of its processes sleeps in a read of the command's own
stdin: its input pipe (or its terminal). ``/proc/<pid>/task/<tid>/syscall`` shows the system
call a sleeping thread is in and its arguments, which name the descriptors it waits on, and
``/proc/<pid>/fd/<n>`` leads to the file behind each descriptor. The system call is read
rather than ``wchan`` (the kernel function a process sleeps in): ``wchan`` names differ between
kernel versions (``pipe_read``, ``wait_woken``, ``poll_schedule_timeout``) and say nothing of
*which* file is waited on; system call numbers and arguments are the kernel's stable ABI.

The calls understood, for the architectures in :data:`CALLS`:

- ``read``, ``readv``: the descriptor is the first argument (``sh``'s ``read``, Python's
  ``input()`` on a pipe, ``cat``);
- ``select``, ``pselect6``: the read set, a bitmap of the first argument's count of bits at the
  second argument, read from ``/proc/<pid>/mem`` (GNU readline waits here: ``bash -i``, the
  Python REPL);
- ``poll``, ``ppoll``: an array of ``struct pollfd`` at the first argument, the count in the
  second;
- ``epoll_wait``, ``epoll_pwait``, ``epoll_pwait2``: the descriptors registered with the epoll
  instance of the first argument, from ``/proc/<pid>/fdinfo/<epfd>`` (node, libuv, Go).

A file is the command's input when it is one of its :class:`InputIdentity`: the same file
(device and inode; every open of a pipe or of ``/dev/pts/N`` shares one), the terminal's device
number, or ``/dev/tty`` in a process whose controlling terminal is the command's terminal (a
password prompt reads ``/dev/tty``).

The syscall and memory files need ptrace access: the agent's own commands grant it (same user,
descendants), a set-user-ID program (``sudo``) does not. Refusals are reported in the
:class:`Scan`, never raised, so one unreadable process does not hide the others.

Synchronous and standard library only; the agent runs a scan in a worker thread. One scan
reads each process's ``stat`` once (about 12 µs a process) and the rest only for the sleeping
members of the watched sessions; the files are read with ``os.open``/``os.read``.
"""

from __future__ import annotations

import os
import re
import stat
import struct
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["CALLS", "DEV_TTY", "Calls", "InputIdentity", "Scan", "waiting_sessions"]

DEV_TTY = os.makedev(5, 0)
"""``/dev/tty``: whatever opens it gets its own controlling terminal."""

MAX_SELECT_FDS = 1024
"""``FD_SETSIZE``: ``select`` cannot wait on more, so no read set is longer."""

MAX_POLL_FDS = 1024
"""The most ``struct pollfd`` entries read of one ``poll``: 8 KiB of the process's memory."""

MAX_FDINFO_BYTES = 64 * 1024
"""The most of one epoll instance's ``fdinfo`` read: about 700 registered descriptors."""

_POLLFD = struct.Struct("=ihh")
_POLL_READ = 0x001 | 0x040  # POLLIN | POLLRDNORM
_EPOLL_IN = 0x001
_EPOLL_ENTRY = re.compile(rb"^tfd:\s*(\d+)\s+events:\s*([0-9a-f]+)", re.MULTILINE)
_STAT_FIELDS = 5  # state, ppid, pgrp, session, tty_nr: the fields after the command name


@dataclass(frozen=True, slots=True)
class Calls:
    """The numbers of the system calls that wait for input, on one architecture."""

    reads: frozenset[int]
    """The descriptor is the first argument: ``read``, ``readv``."""

    selects: frozenset[int]
    """The count of descriptors, then the read set: ``select``, ``pselect6``."""

    polls: frozenset[int]
    """The ``struct pollfd`` array, then its length: ``poll``, ``ppoll``."""

    epolls: frozenset[int]
    """The epoll instance: ``epoll_wait``, ``epoll_pwait``, ``epoll_pwait2``."""


CALLS: Mapping[str, Calls] = {
    "x86_64": Calls(
        reads=frozenset({0, 19}),
        selects=frozenset({23, 270}),
        polls=frozenset({7, 271}),
        epolls=frozenset({232, 281, 441}),
    ),
    # The generic table: no poll, select or epoll_wait, only their newer forms.
    "aarch64": Calls(
        reads=frozenset({63, 65}),
        selects=frozenset({72}),
        polls=frozenset({73}),
        epolls=frozenset({22, 441}),
    ),
}
"""By ``os.uname().machine``. Elsewhere no command is ever seen waiting (the scan says so)."""


class InputIdentity(NamedTuple):
    """A file that is a command's input: its stdin pipe, or its terminal."""

    device: int
    """``st_dev`` of the file."""

    inode: int
    """``st_ino`` of the file."""

    terminal: int = 0
    """``st_rdev`` when the file is a terminal (a character device); 0 otherwise."""

    @classmethod
    def of_descriptor(cls, fd: int) -> InputIdentity:
        """The identity of the file open on ``fd``: the agent's end of a stdin pipe, or a
        terminal's slave end.

        Raises:
            OSError: ``fd`` is not open.
        """
        status = os.fstat(fd)
        terminal = status.st_rdev if stat.S_ISCHR(status.st_mode) else 0
        return cls(status.st_dev, status.st_ino, terminal)


@dataclass(frozen=True, slots=True)
class Scan:
    """What one scan found."""

    waiting: frozenset[int]
    """The watched sessions with a process blocked reading one of their inputs."""

    problem: str | None = None
    """The first thing that could not be read for a reason other than an exit (a refusal),
    or why nothing can be told on this machine; None when everything was read."""


class _Matcher:
    """Tells whether a descriptor of a process leads to one of a session's inputs."""

    def __init__(self, inputs: Collection[InputIdentity]) -> None:
        self.files = frozenset((i.device, i.inode) for i in inputs)
        self.terminals = frozenset(i.terminal for i in inputs if i.terminal)

    def matches(self, pid: str, fd: int, tty_nr: int) -> bool:
        try:
            status = os.stat(f"/proc/{pid}/fd/{fd}")
        except (FileNotFoundError, ProcessLookupError):
            return False  # closed, or the process exited, while we looked
        if (status.st_dev, status.st_ino) in self.files:
            return True
        if not stat.S_ISCHR(status.st_mode):
            return False
        rdev = status.st_rdev
        return rdev in self.terminals or (rdev == DEV_TTY and tty_nr in self.terminals)


def waiting_sessions(
    watched: Mapping[int, Collection[InputIdentity]], machine: str | None = None
) -> Scan:
    """Which of the ``watched`` sessions (session id → its inputs) have a process blocked
    reading one of their inputs, in one walk of ``/proc``.

    Args:
        watched: the sessions to look at; a session is its leader's pid (the command's shell).
        machine: the architecture whose system call numbers apply; this machine's by default.
    """
    calls = CALLS.get(machine or os.uname().machine)
    if calls is None:
        machine = machine or os.uname().machine
        return Scan(frozenset(), f"blocked reads are not understood on {machine}")
    matchers = {session: _Matcher(inputs) for session, inputs in watched.items() if inputs}
    found: set[int] = set()
    problem: str | None = None
    if not matchers:
        return Scan(frozenset())
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = _stat_fields(f"/proc/{pid}/stat")
            if fields is None:
                continue
            session = int(fields[3])
            matcher = matchers.get(session)
            if matcher is None or session in found:
                continue
            if _blocked_on_input(pid, calls, matcher, tty_nr=int(fields[4])):
                found.add(session)
        except PermissionError as exc:
            problem = problem or f"reading /proc/{pid} was refused: {exc.strerror}"
    return Scan(frozenset(found), problem)


def _blocked_on_input(pid: str, calls: Calls, matcher: _Matcher, tty_nr: int) -> bool:
    """Whether a thread of process ``pid`` sleeps waiting to read one of ``matcher``'s inputs."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        return False
    for tid in threads:
        fields = _stat_fields(f"/proc/{pid}/task/{tid}/stat")
        # Sleeping, interruptibly: a thread preempted on its way through a read is not waiting.
        if fields is None or fields[0] != b"S":
            continue
        waited = _waited_descriptors(pid, f"/proc/{pid}/task/{tid}/syscall", calls)
        if any(matcher.matches(pid, fd, tty_nr) for fd in waited):
            return True
    return False


def _waited_descriptors(pid: str, syscall_path: str, calls: Calls) -> Iterable[int]:
    """The descriptors a sleeping thread waits to read, from its system call."""
    text = _read(syscall_path)
    if text is None:
        return ()
    parts = text.split()
    # "running" while on a CPU; "-1 sp pc" outside a system call; "nr a0 … a5 sp pc" inside.
    if len(parts) < 7 or not parts[0].isdigit():
        return ()
    number = int(parts[0])
    first, second = int(parts[1], 16), int(parts[2], 16)
    if number in calls.reads:
        return (first,)
    if number in calls.selects:
        return _select_set(pid, count=first, address=second)
    if number in calls.polls:
        return _poll_set(pid, address=first, count=second)
    if number in calls.epolls:
        return _epoll_set(pid, epfd=first)
    return ()


def _select_set(pid: str, count: int, address: int) -> list[int]:
    if address == 0 or count <= 0:
        return []
    data = _read_memory(pid, address, (min(count, MAX_SELECT_FDS) + 7) // 8)
    return [
        index * 8 + bit
        for index, byte in enumerate(data)
        for bit in range(8)
        if byte >> bit & 1 and index * 8 + bit < count
    ]


def _poll_set(pid: str, address: int, count: int) -> list[int]:
    if address == 0 or count <= 0:
        return []
    data = _read_memory(pid, address, min(count, MAX_POLL_FDS) * _POLLFD.size)
    usable = len(data) - len(data) % _POLLFD.size
    return [
        fd
        for fd, events, _ in _POLLFD.iter_unpack(data[:usable])
        if fd >= 0 and events & _POLL_READ
    ]


def _epoll_set(pid: str, epfd: int) -> list[int]:
    text = _read(f"/proc/{pid}/fdinfo/{epfd}", MAX_FDINFO_BYTES)
    if text is None:
        return []
    return [int(fd) for fd, events in _EPOLL_ENTRY.findall(text) if int(events, 16) & _EPOLL_IN]


def _stat_fields(path: str) -> list[bytes] | None:
    """State, ppid, pgrp, session and tty_nr from a ``stat`` file; None when it is gone."""
    text = _read(path)
    if text is None:
        return None
    # The command name may hold spaces and parentheses; the fields after the last ')' do not.
    fields = text.rpartition(b")")[2].split(maxsplit=_STAT_FIELDS)
    return fields if len(fields) > _STAT_FIELDS else None


def _read(path: str, limit: int = 4096) -> bytes | None:
    """Up to ``limit`` bytes of a ``/proc`` file; None when its process is gone.

    Raises:
        PermissionError: the file may not be read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, ProcessLookupError):
        return None
    try:
        chunks: list[bytes] = []
        size = 0
        while size < limit:
            chunk = os.read(fd, limit - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    except (ProcessLookupError, FileNotFoundError):
        return None
    finally:
        os.close(fd)


def _read_memory(pid: str, address: int, size: int) -> bytes:
    """``size`` bytes of process ``pid``'s memory at ``address``; fewer (or none) where the
    process is gone or the address is not mapped.

    Raises:
        PermissionError: the memory may not be read.
    """
    try:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, ProcessLookupError):
        return b""
    try:
        return os.pread(fd, size, address)
    except PermissionError:
        raise
    except OSError:
        return b""  # EIO: unmapped, or the process is exiting
    finally:
        os.close(fd)
