"""Reading output pipes at the speed of the pipe: wide pipes for chatty commands, and one read
per wake-up into one scratch buffer.

A pipe holds 64 KiB by default. A command that writes fast fills it, then waits until the
agent, woken by the event loop, has read it: each 64 KiB costs a round trip between the two
processes through the scheduler, and reading a gibibyte took half as long again as
``head -c 1G /dev/zero | cat``. Once a read finds a pipe full, the command is a fast writer:
its pipe is widened (``F_SETPIPE_SZ``) to :data:`WIDE_PIPE_BYTES`, so it can write on while
the agent wakes up, and every wake-up reads what is there in reads of up to
:data:`READ_BYTES`, each handed to the buffer in one write. A widened pipe is then read by a
thread of its own (:mod:`agentproc.lane`), which brings the output to the pipe's own speed,
as long as one of the few lanes (:data:`LANES`) is free.

Pipe memory counts against a per-user kernel limit (``/proc/sys/fs/pipe-user-pages-soft``,
64 MiB by default), past which every new pipe of the user, the agent's and any other
program's, gets only 8 KiB. So at most :data:`WIDE_PIPES` pipes are wide at once, a quarter
of that limit, and a pipe the kernel refuses to widen stays as it is.

Reads go into one scratch buffer shared by every pump: the pumps run on the event loop's one
thread, and each hands what it read to its buffer (which copies it) before it awaits again,
so no per-read allocation and no memory per process.
"""

from __future__ import annotations

import fcntl
import logging
import os

__all__ = [
    "DEFAULT_PIPE_BYTES",
    "LANES",
    "WIDE_PIPES",
    "WIDE_PIPE_BYTES",
    "OutputPipes",
    "PipeSlot",
]

logger = logging.getLogger(__name__)

DEFAULT_PIPE_BYTES = 64 * 1024
"""What a pipe holds where the kernel does not say (Linux's default)."""

WIDE_PIPE_BYTES = 1024 * 1024
"""What a fast writer's pipe is widened to: the most an unprivileged process may ask for
(``/proc/sys/fs/pipe-max-size``) by default, and where reading reaches the pipe's speed."""

READ_BYTES = 256 * 1024
"""What one read takes at most, from a wide pipe too: a read holds the pipe's lock while it
copies, and the writer waits on that lock, so a whole mebibyte read at once kept the command
from writing for as long as the copy took."""

WIDE_PIPES = 16
"""Pipes wide at once, at most: 16 MiB, a quarter of the kernel's default per-user soft limit
on pipe memory, leaving the rest to the user's other pipes."""


def _usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container's cpuset sets)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


LANES = max(1, _usable_cores() // 2)
"""Wide pipes read by a thread of their own at once, at most: half the cores the agent may run
on, as their writers need the other half. Each lane's thread takes the GIL at every read;
sixteen of them on two cores kept the event loop waiting for it, and ``/healthz`` took 100 ms
at the 99th percentile instead of 27. A wide pipe without a lane is read on the loop."""

_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)
# Linux's values; Python names them from 3.10 on, only where the platform defines them.


class OutputPipes:
    """The wide-pipe slots and the scratch buffer every output pump of an agent shares.

    Use from the event loop's thread only.

    Args:
        wide_pipes: how many pipes may be wide at once (0: none is widened).
        wide_bytes: what a widened pipe holds.
        lanes: how many wide pipes may be read by a thread at once.
    """

    def __init__(
        self, wide_pipes: int = WIDE_PIPES, wide_bytes: int = WIDE_PIPE_BYTES, lanes: int = LANES
    ) -> None:
        self._free = wide_pipes
        self._wide_bytes = wide_bytes
        self._free_lanes = lanes
        self._scratch = bytearray()
        self._refused = False

    @property
    def free_slots(self) -> int:
        """How many more pipes may be widened now."""
        return self._free

    @property
    def free_lanes(self) -> int:
        """How many more wide pipes may be read by a thread now."""
        return self._free_lanes

    def take_lane(self) -> bool:
        """Take a lane if one is free."""
        if self._free_lanes <= 0:
            return False
        self._free_lanes -= 1
        return True

    def give_back_lane(self) -> None:
        """A lane is done with: it is free again."""
        self._free_lanes += 1

    def slot(self, fd: int) -> PipeSlot:
        """The reading state of the pipe read through ``fd``, as it is now (not widened)."""
        try:
            capacity = fcntl.fcntl(fd, _F_GETPIPE_SZ)
        except OSError:
            # Not a pipe (a terminal): read as one, without its short-read rule.
            return PipeSlot(self, fd, DEFAULT_PIPE_BYTES, pipe=False)
        return PipeSlot(self, fd, capacity)

    def read(self, fd: int, size: int) -> memoryview:
        """Up to ``size`` bytes of ``fd``, in the scratch buffer: valid until the next read.

        Raises:
            BlockingIOError: nothing to read now.
            OSError: the read failed.
        """
        if len(self._scratch) < size:
            self._scratch = bytearray(size)
        count = os.readv(fd, [self._scratch])
        return memoryview(self._scratch)[:count]

    def widen(self, fd: int) -> int | None:
        """Widen the pipe read through ``fd`` if a wide slot is free; its new capacity, or
        None when it stays as it is (no slot free, or the kernel refused)."""
        if self._free <= 0:
            return None
        try:
            capacity: int = fcntl.fcntl(fd, _F_SETPIPE_SZ, self._wide_bytes)
        except OSError as exc:
            # A refusal costs speed only: the pipe keeps working at its size.
            level = logging.DEBUG if self._refused else logging.WARNING
            logger.log(
                level, "an output pipe stays narrow, the kernel refused to widen it: %s", exc
            )
            self._refused = True
            return None
        self._free -= 1
        return capacity

    def give_back(self) -> None:
        """A wide pipe is done with: its slot is free again."""
        self._free += 1


class PipeSlot:
    """One pipe's reading state: what one read takes, and whether the pipe holds a wide slot.

    Args:
        pipes: the agent's output pipes.
        fd: the read end.
        capacity: what the pipe holds now.
        pipe: whether ``fd`` is a pipe at all (a terminal is not).
    """

    def __init__(self, pipes: OutputPipes, fd: int, capacity: int, *, pipe: bool = True) -> None:
        self._pipes = pipes
        self._fd = fd
        self.capacity = capacity
        """What the pipe holds."""
        self.short_read_empties = pipe
        """Whether a read shorter than :attr:`read_size` means nothing is left: true of a
        pipe; a terminal hands over a few kilobytes a read however much waits."""
        self._tried = False
        self._wide = False
        self._lane = False
        self._declined = False

    @property
    def read_size(self) -> int:
        """What one read takes at most: the pipe's capacity, up to :data:`READ_BYTES`."""
        return min(self.capacity, READ_BYTES)

    def read(self) -> memoryview:
        """What the pipe holds now (up to :attr:`capacity`); widens the pipe the first time
        a read finds it full. Valid until the next read of any pipe.

        Raises:
            BlockingIOError: nothing to read now.
            OSError: the read failed.
        """
        data = self._pipes.read(self._fd, self.read_size)
        if len(data) == self.capacity and self.short_read_empties and not self._tried:
            # A full pipe: the writer was waiting for the agent. Widen it, once.
            self._tried = True
            capacity = self._pipes.widen(self._fd)
            if capacity is not None:
                self._wide = True
                self.capacity = capacity
        return data

    @property
    def lane_wanted(self) -> bool:
        """Whether this pipe would take a lane: it is wide, holds none, and has not declined
        one. One attribute test for a narrow pipe, so the pump may ask at every read."""
        return self._wide and not self._lane and not self._declined

    def take_lane(self) -> bool:
        """Whether this wide pipe may be read by a thread of its own: once a lane is free
        (it keeps it until :meth:`release`). Never for a narrow pipe."""
        if self.lane_wanted:
            self._lane = self._pipes.take_lane()
        return self._lane

    def decline_lane(self) -> None:
        """This pipe is read on the event loop to its end: its lane, if it holds one, is
        free again, and it takes none from now on."""
        self._declined = True
        self._give_back_lane()

    def _give_back_lane(self) -> None:
        if self._lane:
            self._lane = False
            self._pipes.give_back_lane()

    def release(self) -> None:
        """The pipe is done with: its wide slot and its lane, if it holds them, are free
        again."""
        self._give_back_lane()
        if self._wide:
            self._wide = False
            self._pipes.give_back()
