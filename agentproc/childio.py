"""The agent's ends of a child's standard streams: the I/O handle a process owns.

That is the read end of the one pipe that carries the command's stdout and stderr, and, for
a command started with ``stdin``, the write end of its stdin (:mod:`agentproc.childinput`);
the spawner decides the wiring, and a reader here only sees a file descriptor, whatever is
behind it. Reads never block the event loop: the descriptor is non-blocking and the pump
waits for it to become readable.
"""

from __future__ import annotations

import logging
import os
from typing import IO

import anyio
import anyio.lowlevel

from agentproc.arrival import Arrival
from agentproc.buffer import HeadTailBuffer
from agentproc.childinput import ChildInput

__all__ = ["READ_CHUNK", "ChildIO"]

logger = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
"""One pipe read: the pipe's own capacity, so a fast writer costs few wakeups."""

READS_BETWEEN_TURNS = 16
"""Reads in a row, at most, before the pump lets the other tasks of the event loop run: a
writer that keeps the output full (a terminal hands over a few kilobytes a read) would
otherwise keep the pump from ever waiting, and every request with it."""


class ChildIO:
    """The agent's ends of one child's streams.

    Args:
        output: the read end of the child's output (stdout and stderr together).
        pid: the child's pid, for the log.
        stdin: the agent's end of the child's stdin; None when it is /dev/null.
    """

    def __init__(self, output: IO[bytes], pid: int, stdin: ChildInput | None = None) -> None:
        self._output = output
        self._pid = pid
        self.stdin = stdin
        """Where input for the command goes; None when its stdin is /dev/null."""

    async def pump_output(self, buffer: HeadTailBuffer, arrival: Arrival | None = None) -> bool:
        """Copy the output into ``buffer`` until it ends; the output end is closed after.

        ``arrival`` is rung after each write, for the readers waiting for more.

        Returns:
            True when the output reached its end (every writer closed it), False when a
            read failed (logged at error level). Cancelling the call stops reading.
        """
        fd = self._output.fileno()
        os.set_blocking(fd, False)
        try:
            reads = 0
            while True:
                try:
                    chunk = os.read(fd, READ_CHUNK)
                except BlockingIOError:
                    reads = 0
                    await anyio.wait_readable(fd)
                    continue
                except OSError as exc:
                    if self._ends_output(exc):
                        return True
                    logger.error("reading the output of pid %d failed: %s", self._pid, exc)
                    return False
                if not chunk:
                    return True
                buffer.write(chunk)
                if arrival is not None:
                    arrival.ring()
                reads += 1
                if reads == READS_BETWEEN_TURNS:
                    reads = 0
                    await anyio.lowlevel.checkpoint()
        finally:
            anyio.notify_closing(fd)
            self._output.close()

    def _ends_output(self, error: OSError) -> bool:
        """Whether a read failing with ``error`` is the output's end rather than a failure:
        never for a pipe, whose end is an empty read."""
        return False
