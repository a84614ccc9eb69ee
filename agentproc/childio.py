"""The agent's ends of a child's standard streams: the I/O handle a process owns.

That is the read end of the one pipe that carries the command's stdout and stderr, and, for
a command started with ``stdin``, the write end of its stdin (:mod:`agentproc.childinput`);
the spawner decides the wiring, and a reader here only sees a file descriptor, whatever is
behind it. Reads never block the event loop: the descriptor is non-blocking and the pump
waits for it to become readable, then takes what the pipe holds in a few large reads and
hands each to the buffer in one write (see :mod:`agentproc.pipes` for how a fast writer's
pipe is widened).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import select
from typing import IO

from agentproc.arrival import Arrival
from agentproc.buffer import HeadTailBuffer
from agentproc.childinput import ChildInput
from agentproc.lane import Lane, LaneUnavailable
from agentproc.pipes import OutputPipes, PipeSlot

__all__ = ["ChildIO"]

logger = logging.getLogger(__name__)

READS_BETWEEN_TURNS = 16
"""Reads in a row, at most, before the pump waits for the output again, which lets the other
tasks of the event loop run: a writer that keeps the output full would otherwise keep the
pump from ever waiting, and every request with it."""


class _Turn(enum.Enum):
    """How a read turn left the output."""

    MORE = enum.auto()
    """It goes on: wait until it is readable again."""
    ENDED = enum.auto()
    """Every writer closed it."""
    FAILED = enum.auto()
    """A read failed (logged)."""
    FAST = enum.auto()
    """Its writer is fast and the buffer can be read into: over to a :class:`Lane`."""


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

    def close(self) -> None:
        """Close the agent's ends, for a child that will never be pumped or fed."""
        self._output.close()
        if self.stdin is not None:
            self.stdin.close("the process was never run")

    def output_unread(self) -> bool:
        """Whether output waits in the kernel that the pump has yet to read: what the command
        wrote before it blocked may not be in the buffer yet (a busy event loop, a starved
        pump). False once the output is closed.

        A zero-timeout poll, not a byte count: the kernel moves a terminal's output to the
        agent's end from a work queue, which a loaded machine may run milliseconds after the
        write, and only a poll of the terminal waits for that move before it answers. So it
        may block briefly: call it from a worker thread. Safe against the pump closing the
        output meanwhile (a closed descriptor polls as nothing to read).
        """
        try:
            fd = self._output.fileno()
        except ValueError:
            return False  # closed: the output ended
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return any(events & select.POLLIN for _, events in poller.poll(0))

    async def pump_output(
        self,
        buffer: HeadTailBuffer,
        arrival: Arrival | None = None,
        pipes: OutputPipes | None = None,
    ) -> bool:
        """Copy the output into ``buffer`` until it ends; the output end is closed after.

        Each time the output is readable, everything the pipe holds is read (in reads of up to
        ``pipes.READ_BYTES``), each read written to ``buffer`` at once and ``arrival`` rung,
        for the readers waiting for more. A fast writer's widened pipe is read from a thread
        instead, once the buffer can take reads directly (:mod:`agentproc.lane`).

        Args:
            buffer: where the output goes.
            arrival: rung after each write.
            pipes: the agent's output pipes, which may widen this one for a fast writer;
                without them, the pipe keeps its size.

        Returns:
            True when the output reached its end (every writer closed it), False when a
            read failed (logged at error level). Cancelling the call stops reading.
        """
        fd = self._output.fileno()
        os.set_blocking(fd, False)
        slot = (pipes or OutputPipes(wide_pipes=0)).slot(fd)
        # One reader registration for the whole output, not anyio.wait_readable per wake-up:
        # that adds and removes the descriptor from the loop's poller each time (two
        # epoll_ctl calls) and wakes a task, which at the tens of thousands of short reads a
        # second of a fast writer cost more than the reads. The agent runs on asyncio only.
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[_Turn] = loop.create_future()

        def readable() -> None:
            if ended.done():
                return  # ended or cancelled; the reader goes when the pump resumes
            try:
                turn = self._read_turn(slot, buffer, arrival)
            except Exception as exc:  # to the pump's caller, not to the loop's log
                ended.set_exception(exc)
                return
            if turn is not _Turn.MORE:
                ended.set_result(turn)

        loop.add_reader(fd, readable)
        try:
            while (turn := await ended) is _Turn.FAST:
                loop.remove_reader(fd)
                try:
                    return await Lane(fd, buffer, arrival, self._pid).run()
                except LaneUnavailable as exc:
                    # A command is not to suffer for the agent's want of a thread.
                    logger.warning(
                        "reading the output of pid %d on the event loop, no thread: %s",
                        self._pid,
                        exc,
                    )
                    slot.decline_lane()
                    ended = loop.create_future()
                    loop.add_reader(fd, readable)
            return turn is _Turn.ENDED
        finally:
            loop.remove_reader(fd)
            slot.release()
            self._output.close()

    def _read_turn(self, slot: PipeSlot, buffer: HeadTailBuffer, arrival: Arrival | None) -> _Turn:
        """Read what the output holds now into ``buffer``.

        A read that filled up to the capacity may have left more behind: read on without
        waiting (a few times at most, then the loop's other callbacks get their turn);
        anything shorter emptied a pipe (a terminal is read until it has nothing, as its
        reads are always short).
        """
        for _ in range(READS_BETWEEN_TURNS):
            try:
                data = slot.read()
            except BlockingIOError:
                return _Turn.MORE
            except OSError as exc:
                if self._ends_output(exc):
                    return _Turn.ENDED
                logger.error("reading the output of pid %d failed: %s", self._pid, exc)
                return _Turn.FAILED
            if not data:
                return _Turn.ENDED
            buffer.write(data)
            if arrival is not None:
                arrival.ring()
            if slot.lane_wanted and buffer.direct_read_bytes and slot.take_lane():
                return _Turn.FAST
            if slot.short_read_empties and len(data) < slot.read_size:
                return _Turn.MORE
        return _Turn.MORE

    def _ends_output(self, error: OSError) -> bool:
        """Whether a read failing with ``error`` is the output's end rather than a failure:
        never for a pipe, whose end is an empty read."""
        return False
