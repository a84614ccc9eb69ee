"""The fast lane: a fast writer's pipe read by a thread of its own, straight into the ring.

The output pump reads on the event loop: each time the pipe turns readable, the loop wakes,
reads into a scratch buffer and copies that into the output buffer. For a command that writes
a gibibyte, both costs add up. The loop woke about once per 20 KiB of ``head``'s 4 KiB
writes, each wake-up costing it microseconds; and every byte was copied twice. Together they
held such output at about 1.7 times the time of ``head -c 1G /dev/zero | cat``, where a
thread reading into the ring took 0.9 times that.

So once a pipe has been found full and widened (:mod:`agentproc.pipes`: its writer is fast)
and the buffer's ring has reached its final length, the pump hands the pipe to a
:class:`Lane`, if one of the few (:data:`agentproc.pipes.LANES`) is free. Its thread reads
into the part of the ring the buffer reserves for it
(:meth:`~agentproc.buffer.HeadTailBuffer.open_direct`), waits in ``poll`` when the pipe is
empty, and rings the arrival bell on the loop at most once per :data:`RING_INTERVAL`, and
once more at the end. A lane ends with its output, or when its pump is cancelled (a stop the
thread sees within one read).

The cost is the GIL: the thread takes it at every read. While the loop itself is busy (a
stream of the same output being framed and sent, say), the thread waits for it and the
writer with it, so such a stream ends somewhat later than when the loop read the pipe.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import select
import threading
import time

import anyio

from agentproc.arrival import Arrival
from agentproc.buffer import DirectReads, HeadTailBuffer

__all__ = ["RING_INTERVAL", "Lane", "LaneUnavailable"]

logger = logging.getLogger(__name__)

RING_INTERVAL = 0.001
"""Seconds between two rings of the arrival bell, at least, while output streams in: a reader
following the output learns of it that soon, and the loop wakes for it at most a thousand
times a second, however fast the writer."""


class LaneUnavailable(Exception):
    """A lane's thread could not be started: the pipe is read on the event loop instead."""


class Lane:
    """Reads one pipe into one buffer, from a thread, until the output ends.

    Args:
        fd: the read end of the pipe, non-blocking; the lane leaves it open.
        buffer: where the output goes; its :attr:`~HeadTailBuffer.direct_read_bytes` must not
            be 0, and nothing else may write it while the lane runs.
        arrival: rung as output arrives, on the event loop's thread.
        pid: the writer's pid, for the log.
    """

    def __init__(self, fd: int, buffer: HeadTailBuffer, arrival: Arrival | None, pid: int) -> None:
        self._fd = fd
        self._buffer = buffer
        self._arrival = arrival
        self._pid = pid
        self._stopping = False
        # Rings: one scheduled on the loop and not yet run; output committed and not yet
        # rung for; when the last ring was scheduled.
        self._ring_pending = False
        self._unrung = False
        self._last_ring = 0.0

    async def run(self) -> bool:
        """Read until the output ends: True when every writer closed it, False when a read
        failed (logged at error level). Cancelling the call stops the thread; either way it
        returns once the thread is gone.

        The thread reads a descriptor of its own (a duplicate), which it closes when it is
        done, so the caller may close its own at any time.

        Raises:
            LaneUnavailable: the thread could not be started (no descriptor or thread to be
                had); nothing was read, and the caller reads on as before.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool | None] = loop.create_future()
        thread, stop_writer = self._start(loop, done)
        try:
            # Shielded, so that a cancellation leaves ``done`` to the thread's last word.
            return bool(await asyncio.shield(done))
        finally:
            # The stop: the thread sees it at its next read, or its poll sees the pipe hang up.
            self._stopping = True
            os.close(stop_writer)
            with anyio.CancelScope(shield=True):
                if not done.done():
                    await asyncio.wait([done])
                    failure = done.exception()
                    if failure is not None:
                        logger.error("reading the output of pid %d failed: %r", self._pid, failure)
                # It has only to exit now, but the thread is gone when the lane is.
                await anyio.to_thread.run_sync(thread.join)

    def _start(
        self, loop: asyncio.AbstractEventLoop, done: asyncio.Future[bool | None]
    ) -> tuple[threading.Thread, int]:
        """Start the thread; it and the write end of its stop pipe.

        Raises:
            LaneUnavailable: a descriptor or the thread could not be had.
        """
        opened: list[int] = []
        try:
            stop_reader, stop_writer = os.pipe()
            opened += [stop_reader, stop_writer]
            fd = os.dup(self._fd)
            opened.append(fd)
            thread = threading.Thread(
                target=self._run_thread,
                args=(loop, done, fd, stop_reader),
                name=f"output of pid {self._pid}",
                daemon=True,
            )
            thread.start()
        except (OSError, RuntimeError) as exc:
            for descriptor in opened:
                os.close(descriptor)
            raise LaneUnavailable(str(exc) or type(exc).__name__) from exc
        logger.debug("reading the output of pid %d from a thread", self._pid)
        return thread, stop_writer

    def _run_thread(
        self,
        loop: asyncio.AbstractEventLoop,
        done: asyncio.Future[bool | None],
        fd: int,
        stop: int,
    ) -> None:
        """The thread: read, close its descriptors, then tell the loop how it ended. It
        touches nothing after."""
        outcome: bool | BaseException | None
        try:
            direct = self._buffer.open_direct()
            try:
                outcome = self._read_all(loop, direct, fd, stop)
            finally:
                direct.close()
        except BaseException as exc:  # to the pump's caller, not to the thread's stderr
            outcome = exc
        finally:
            os.close(fd)
            os.close(stop)
        loop.call_soon_threadsafe(self._finish, done, outcome)

    def _read_all(
        self, loop: asyncio.AbstractEventLoop, direct: DirectReads, fd: int, stop: int
    ) -> bool | None:
        """Read into the buffer until the end (True), a failed read (False) or a stop (None).

        Reads follow one another for as long as the pipe has bytes, however few: waiting in
        ``poll`` after each short read made the writer wait for the pipe far more (a
        gibibyte took half as long again).
        """
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(stop, select.POLLIN)
        while not self._stopping:
            try:
                count = direct.read_from(fd)
            except BlockingIOError:
                # Empty: ring for what came, then wait for more or until the ring is due.
                now = time.monotonic()
                if self._unrung:
                    self._ring_soon(loop, now)
                poller.poll(self._poll_timeout_ms(now))
                continue
            except OSError as exc:
                logger.error("reading the output of pid %d failed: %s", self._pid, exc)
                return False
            if count == 0:
                return True
            self._unrung = True
            now = time.monotonic()
            if now - self._last_ring >= RING_INTERVAL:
                self._ring_soon(loop, now)
        return None

    def _ring_soon(self, loop: asyncio.AbstractEventLoop, now: float) -> None:
        """Have the loop ring the bell, unless it has one to ring still."""
        if self._ring_pending:
            return
        self._ring_pending = True
        self._unrung = False
        self._last_ring = now
        loop.call_soon_threadsafe(self._ring)

    def _poll_timeout_ms(self, now: float) -> int:
        """How long an empty pipe is waited on: until the next ring is due while output
        waits to be rung for, else for as long as it takes."""
        if not self._unrung:
            return -1
        return max(1, math.ceil((RING_INTERVAL - (now - self._last_ring)) * 1000))

    def _ring(self) -> None:
        self._ring_pending = False
        if self._arrival is not None:
            self._arrival.ring()

    def _finish(self, done: asyncio.Future[bool | None], outcome: object) -> None:
        """On the loop: the last ring, and the outcome to :meth:`run`."""
        if self._arrival is not None:
            self._arrival.ring()
        if isinstance(outcome, BaseException):
            done.set_exception(outcome)
        else:
            done.set_result(outcome if isinstance(outcome, bool) else None)
