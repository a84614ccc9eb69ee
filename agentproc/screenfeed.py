"""Feeding a terminal's screen its output, in order, without ever stalling the event loop.

A terminal emulator in pure Python digests well under a megabyte a second, and some input
costs it far more per byte than other input (a scroll of a tall screen, a clear of a wide
one), while a program can print a gigabyte to its terminal in seconds. So:

- The emulator reads the output from the process's own buffer, by offset: the output is
  kept once, and the screen never holds a copy of its own.
- It works on worker threads (a few, shared by every terminal), a slice of at most
  :data:`FEED_SLICE_BYTES` at a time, one slice per screen at a time: whatever a slice costs,
  the event loop gets the interpreter back within its switch interval, and a reader of the
  screen waits for the slice under way, never for the whole backlog.
- A background task feeds each screen as output arrives, so a program that redraws its
  screen piece by piece (an editor, ``top``) is followed piece by piece. During a flood it
  waits for the output to pause instead of working on bytes it would skip.
- Once the output is more than :data:`BACKLOG_BYTES` ahead of the screen, the emulator has
  lost the race: it skips to the last few screenfuls (:meth:`ScreenFeed.tail_bytes`), starts
  over from a blank screen, and goes on from there. Only those bytes can still matter for
  what the screen shows, and the cost of catching up stays bounded whatever is written.
- A resize takes effect at the point of the output where it happened: what the program
  printed before it was drawn for the old size.

Reading the screen (:meth:`ScreenFeed.render`) first feeds everything written up to that
moment, so the answer shows all output so far; should that take longer than
:data:`CATCH_UP_SECONDS`, the rest is passed over and logged, so no reader waits longer.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import anyio

from agentproc.arrival import Arrival
from agentproc.buffer import HeadTailBuffer
from agentproc.screen import Screen, ScreenState
from agentproc.spec import TerminalSize

__all__ = [
    "BACKLOG_BYTES",
    "CATCH_UP_SECONDS",
    "EMULATOR_THREADS",
    "FEED_SLICE_BYTES",
    "FLOOD_PAUSE_SECONDS",
    "MIN_TAIL_BYTES",
    "TAIL_BYTES_PER_CELL",
    "ScreenFeed",
]

logger = logging.getLogger(__name__)

FEED_SLICE_BYTES = 4096
"""Output fed to an emulator in one go: milliseconds of work for ordinary output, and what a
reader of the screen may have to wait for besides its own catching up."""

BACKLOG_BYTES = 64 * 1024
"""How far the output may run ahead of the screen before the emulator skips to its tail: a
fraction of a second of emulation for a reader to wait out at worst."""

MIN_TAIL_BYTES = 16 * 1024
"""The least output replayed after a skip: a screenful of a 24 x 80 terminal several times
over, escape sequences and colours included."""

TAIL_BYTES_PER_CELL = 8
"""Output replayed after a skip per cell of the screen, so a large screen is filled too."""

FLOOD_PAUSE_SECONDS = 0.05
"""How long the output of a flood must pause before the background feeder catches up: short
enough to seem immediate to a reader, long enough to stay out of a flood's way."""

CATCH_UP_SECONDS = 2.0
"""The longest a reader of the screen waits for the emulator to catch up; output it has not
rendered by then is passed over (and the log says so). Ordinary output on an ordinary screen
never comes near it; a thousand-row screen fed its costliest sequences might."""

EMULATOR_THREADS = 2
"""Worker threads for every terminal's emulation together. The interpreter runs one of them at
a time anyway; a second lets one screen be read while another is fed."""


@dataclass(frozen=True, slots=True)
class _Slice:
    """One step of emulation, taken on the event loop and applied on a worker thread."""

    reset: TerminalSize | None
    """Start over at this size first (the output before ``data`` was skipped)."""

    resizes: tuple[TerminalSize, ...]
    """Resizes that happened before ``data``, in order."""

    data: bytes
    """The output to feed, next after everything fed before."""


class ScreenFeed:
    """The screen of one terminal, fed from the process's output buffer.

    Args:
        screen: the emulator; only this object touches it from now on.
        buffer: the process's output, read by offset.
        limiter: the worker threads emulation may use, shared by every terminal.
        name: how the log names the process.
    """

    def __init__(
        self,
        screen: Screen,
        buffer: HeadTailBuffer,
        limiter: anyio.CapacityLimiter,
        *,
        name: str,
    ) -> None:
        self._screen = screen
        self._buffer = buffer
        self._limiter = limiter
        self._name = name
        self._lock = anyio.Lock()
        self._fed = 0
        # Resizes not yet applied, with the output offset where each happened, oldest first.
        self._resizes: deque[tuple[int, TerminalSize]] = deque()
        # The size at the offset fed so far (once the work handed over is done), and the
        # size the terminal has now.
        self._applied = self._size = screen.size
        self._failures = 0

    @property
    def behind(self) -> int:
        """Bytes of output the screen has not been fed yet."""
        return self._buffer.total_written - self._fed

    def resize(self, size: TerminalSize) -> None:
        """Resize the screen at the current end of the output."""
        at = self._buffer.total_written
        if self._resizes and self._resizes[-1][0] == at:
            # Resizes with no output between them: only the last one can show.
            self._resizes[-1] = (at, size)
        else:
            self._resizes.append((at, size))
        self._size = size

    def tail_bytes(self) -> int:
        """How much output is replayed after a skip, for the terminal's size now."""
        cells = self._size.rows * self._size.cols
        return min(BACKLOG_BYTES, max(MIN_TAIL_BYTES, TAIL_BYTES_PER_CELL * cells))

    async def run(self, arrival: Arrival) -> None:
        """Feed the screen as output arrives (``arrival`` rings), until cancelled.

        While the output outruns the emulator, nothing is fed: all but its tail would be
        skipped anyway, and the emulator's work would only slow the process's output down.
        Feeding resumes once the output pauses (or a reader asks for the screen).
        """
        while True:
            while self.behind <= 0:
                await arrival.wait()
            while self.behind > BACKLOG_BYTES:
                written = self._buffer.total_written
                await anyio.sleep(FLOOD_PAUSE_SECONDS)
                if self._buffer.total_written == written:
                    break
            async with self._lock:
                await self._feed_slice()

    async def render(self, scrollback: int = 0) -> ScreenState:
        """The screen after all output written so far, with up to ``scrollback`` lines that
        scrolled off it; output not rendered within :data:`CATCH_UP_SECONDS` is passed over."""
        async with self._lock:
            target = self._buffer.total_written
            deadline = anyio.current_time() + CATCH_UP_SECONDS
            while self._fed < target or (self._resizes and self._resizes[0][0] <= target):
                if anyio.current_time() >= deadline:
                    await self._apply_shielded(self._skip_to(target))
                    break
                await self._apply_shielded(self._take_slice())
            return await anyio.to_thread.run_sync(
                self._screen.render, scrollback, limiter=self._limiter
            )

    async def _feed_slice(self) -> None:
        await self._apply_shielded(self._take_slice())

    async def _apply_shielded(self, work: _Slice) -> None:
        # The slice was taken on the event loop, where the offset moved on; shielded, so that
        # a slice taken is applied (a cancellation waits for it) and the offset says where
        # the screen stands.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self._apply, work, limiter=self._limiter)

    def _skip_to(self, target: int) -> _Slice:
        """Give up catching up: the output up to ``target`` is passed over, its resizes kept."""
        if target > self._fed:
            logger.error(
                "the screen of process %s skipped %d bytes of output it could not render "
                "within %g s of being asked for",
                self._name,
                target - self._fed,
                CATCH_UP_SECONDS,
            )
            self._fed = target
        return _Slice(None, self._take_resizes(), b"")

    def _take_slice(self) -> _Slice:
        total = self._buffer.total_written
        reset = None
        if total - self._fed > BACKLOG_BYTES:
            self._fed = total - self.tail_bytes()
            reset = self._pass_resizes(self._fed)
        chunk = self._buffer.read(self._fed, FEED_SLICE_BYTES)
        if chunk.skipped and reset is None:
            # The buffer no longer holds what the screen had not seen: a gap, as after a skip.
            reset = self._pass_resizes(chunk.start)
        self._fed = chunk.start
        resizes = self._take_resizes()
        end = chunk.next_offset
        if self._resizes:
            end = min(end, self._resizes[0][0])
        data = chunk.data[: end - self._fed]
        self._fed = end
        return _Slice(reset, resizes, data)

    def _take_resizes(self) -> tuple[TerminalSize, ...]:
        """The resizes up to the offset fed so far, in order, taken off the pending ones."""
        taken = []
        while self._resizes and self._resizes[0][0] <= self._fed:
            self._applied = self._resizes.popleft()[1]
            taken.append(self._applied)
        return tuple(taken)

    def _pass_resizes(self, offset: int) -> TerminalSize:
        """Drop the resizes before ``offset`` unapplied; the size in force there."""
        while self._resizes and self._resizes[0][0] <= offset:
            self._applied = self._resizes.popleft()[1]
        return self._applied

    def _apply(self, work: _Slice) -> None:
        # On a worker thread, under the lock: nothing else touches the screen meanwhile.
        screen = self._screen
        try:
            if work.reset is not None:
                screen.reset(work.reset)
            for size in work.resizes:
                screen.resize(size)
            if work.data:
                screen.feed(work.data)
        except Exception as exc:
            # The emulator's own failure (binary output trips pyte) must not end the feeding,
            # nor the process's supervision: the screen goes on from the next slice.
            self._failures += 1
            logger.error(
                "emulating the screen of process %s failed (%d time(s) so far); the rest of %d "
                "bytes of its output is skipped: %s: %s",
                self._name,
                self._failures,
                len(work.data),
                type(exc).__name__,
                exc,
                exc_info=self._failures == 1,
            )
