"""Feeding a screen from a process's output buffer: in order, resizes where they happened,
bounded when the output outruns the emulator, and never losing a slice to a cancellation."""

from __future__ import annotations

import logging
import threading
import time

import anyio
import pytest

from agentproc import screenfeed
from agentproc.arrival import Arrival
from agentproc.buffer import HeadTailBuffer
from agentproc.screen import Screen
from agentproc.screenfeed import BACKLOG_BYTES, FEED_SLICE_BYTES, MIN_TAIL_BYTES, ScreenFeed
from agentproc.spec import TerminalSize

pytestmark = pytest.mark.anyio

SAFETY_TIMEOUT_SECONDS = 30.0
"""Safety net only: every wait below ends on an event long before this."""

SIZE = TerminalSize(rows=3, cols=10)


class RecordingScreen(Screen):
    """A screen that records what it is fed and how often it starts over."""

    def __init__(self, size: TerminalSize = SIZE) -> None:
        super().__init__(size, scrollback_lines=100)
        self.fed = bytearray()
        self.resets = 0
        self.fed_some = threading.Event()

    def feed(self, data: bytes) -> None:
        self.fed += data
        super().feed(data)
        self.fed_some.set()

    def reset(self, size: TerminalSize) -> None:
        self.resets += 1
        super().reset(size)


def feed_of(screen: Screen, buffer: HeadTailBuffer) -> ScreenFeed:
    """A feed of ``screen`` from ``buffer`` with a thread of its own."""
    return ScreenFeed(screen, buffer, anyio.CapacityLimiter(1), name="test")


async def test_render_shows_everything_written_so_far() -> None:
    """A read feeds all the output first, in order, once."""
    screen, buffer = RecordingScreen(), HeadTailBuffer()
    feed = feed_of(screen, buffer)
    buffer.write(b"one\r\n")
    buffer.write(b"two")
    state = await feed.render()
    assert state.lines == ("one", "two", "")
    assert bytes(screen.fed) == b"one\r\ntwo"
    assert feed.behind == 0


async def test_a_resize_applies_where_it_happened_in_the_output() -> None:
    """What was printed before a resize was drawn at the old width, what came after at the
    new one; resizes with no output between them count as the last."""
    screen, buffer = RecordingScreen(), HeadTailBuffer()
    feed = feed_of(screen, buffer)
    buffer.write(b"x" * 15)
    feed.resize(TerminalSize(rows=3, cols=5))
    feed.resize(TerminalSize(rows=4, cols=20))
    buffer.write(b"\r\n" + b"y" * 15)
    state = await feed.render()
    assert state.lines == ("x" * 10, "xxxxx", "y" * 15, "")
    assert state.size == TerminalSize(rows=4, cols=20)


async def test_a_resize_with_no_output_after_it_shows_in_the_next_read() -> None:
    """A read after a resize reports the new size even when nothing was printed since."""
    feed = feed_of(RecordingScreen(), HeadTailBuffer())
    feed.resize(TerminalSize(rows=7, cols=7))
    assert (await feed.render()).size == TerminalSize(rows=7, cols=7)


async def test_output_far_ahead_of_the_screen_is_skipped_to_its_tail() -> None:
    """A megabyte unread: the emulator starts over from the tail, feeding a bounded amount,
    and the screen shows the end of the output."""
    screen = RecordingScreen()
    buffer = HeadTailBuffer(window_capacity=2 * 1024 * 1024)
    feed = feed_of(screen, buffer)
    lines = [b"ln %06d\r\n" % n for n in range(100_000)]
    buffer.write(b"".join(lines))
    state = await feed.render()
    assert state.lines == ("ln 099998", "ln 099999", "")
    assert screen.resets == 1
    assert len(screen.fed) == feed.tail_bytes() == MIN_TAIL_BYTES


async def test_output_the_buffer_no_longer_keeps_starts_the_screen_over() -> None:
    """When the window has moved past what the screen was fed, the screen starts over at
    the oldest byte kept rather than feeding a hole."""
    screen = RecordingScreen()
    buffer = HeadTailBuffer(head_capacity=16, tail_capacity=BACKLOG_BYTES // 2)
    feed = feed_of(screen, buffer)
    buffer.write(b"a" * 16)
    await feed.render()
    buffer.write(b"\r\n" + b"b" * (BACKLOG_BYTES // 2) + b"\r\nlast")
    state = await feed.render()
    assert screen.resets == 1
    assert state.lines[-1] == "last"


async def test_the_feeder_follows_the_output_as_it_arrives() -> None:
    """Without any read, the background feeder hands new output to the screen."""
    screen, buffer, arrival = RecordingScreen(), HeadTailBuffer(), Arrival()
    feed = feed_of(screen, buffer)
    with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
        async with anyio.create_task_group() as tg:
            tg.start_soon(feed.run, arrival)
            buffer.write(b"hello")
            arrival.ring()
            await anyio.to_thread.run_sync(screen.fed_some.wait)
            tg.cancel_scope.cancel()
    assert bytes(screen.fed) == b"hello"


async def test_the_feeder_stays_out_of_a_flood_and_feeds_only_its_tail() -> None:
    """Output far ahead of the screen: the feeder waits for it to pause, then skips to the
    tail, so the emulator works on no byte it would throw away."""
    screen, arrival = RecordingScreen(), Arrival()
    buffer = HeadTailBuffer(window_capacity=4 * BACKLOG_BYTES)
    feed = feed_of(screen, buffer)
    with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
        async with anyio.create_task_group() as tg:
            tg.start_soon(feed.run, arrival)
            buffer.write(b"f" * (3 * BACKLOG_BYTES) + b"\r\nend")
            arrival.ring()
            await anyio.to_thread.run_sync(screen.fed_some.wait)
            tg.cancel_scope.cancel()
    assert screen.resets == 1
    assert len(screen.fed) <= feed.tail_bytes()


async def test_a_cancelled_feeder_still_applies_the_slice_it_took() -> None:
    """Cancelled while a slice is under way, the feeder finishes it: the screen is fed every
    byte exactly once."""

    class SlowScreen(RecordingScreen):
        def __init__(self) -> None:
            super().__init__()
            self.entered = threading.Event()
            self.release = threading.Event()

        def feed(self, data: bytes) -> None:
            self.entered.set()
            self.release.wait(SAFETY_TIMEOUT_SECONDS)
            super().feed(data)

    screen, buffer, arrival = SlowScreen(), HeadTailBuffer(), Arrival()
    feed = feed_of(screen, buffer)
    with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
        async with anyio.create_task_group() as tg:
            tg.start_soon(feed.run, arrival)
            buffer.write(b"first")
            arrival.ring()
            await anyio.to_thread.run_sync(screen.entered.wait)
            tg.cancel_scope.cancel()
            screen.release.set()
        buffer.write(b" second")
        state = await feed.render()
    assert bytes(screen.fed) == b"first second"
    assert state.lines[0] == "first seco"


async def test_a_failure_of_the_emulator_is_logged_and_feeding_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An emulator that raises on some output loses that slice, says so at error level, and
    the next output shows."""

    class FailingOnce(RecordingScreen):
        def feed(self, data: bytes) -> None:
            if not self.fed:
                self.fed += b"?"
                raise TypeError("bad escape")
            super().feed(data)

    screen, buffer = FailingOnce(), HeadTailBuffer()
    feed = feed_of(screen, buffer)
    buffer.write(b"lost")
    with caplog.at_level(logging.ERROR, logger="agentproc.screenfeed"):
        await feed.render()
    assert "emulating the screen of process test failed" in caplog.text
    assert "TypeError: bad escape" in caplog.text
    buffer.write(b"\r\nshown")
    assert (await feed.render()).lines[:2] == ("", "shown")


async def test_a_read_waits_for_at_most_a_slice_per_step() -> None:
    """However much is unread, no slice handed to the emulator is larger than the limit."""

    class Sizes(RecordingScreen):
        sizes: list[int]

        def feed(self, data: bytes) -> None:
            self.sizes = [*getattr(self, "sizes", []), len(data)]
            super().feed(data)

    screen, buffer = Sizes(), HeadTailBuffer(window_capacity=BACKLOG_BYTES)
    feed = feed_of(screen, buffer)
    buffer.write(b"z" * (BACKLOG_BYTES - 1))
    await feed.render()
    assert max(screen.sizes) == FEED_SLICE_BYTES
    assert sum(screen.sizes) == BACKLOG_BYTES - 1


async def test_a_reader_waits_for_a_slow_emulator_only_so_long(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An emulator too slow for the output it has to catch up on: the read answers after the
    catch-up bound with what was rendered, the rest is passed over (resizes still apply) and
    the log says how much."""

    class Slow(RecordingScreen):
        def feed(self, data: bytes) -> None:
            time.sleep(0.05)
            super().feed(data)

    monkeypatch.setattr(screenfeed, "CATCH_UP_SECONDS", 0.1)
    screen, buffer = Slow(), HeadTailBuffer(window_capacity=BACKLOG_BYTES)
    feed = feed_of(screen, buffer)
    buffer.write(b"s" * (BACKLOG_BYTES - 1))
    feed.resize(TerminalSize(rows=5, cols=5))
    with caplog.at_level(logging.ERROR, logger="agentproc.screenfeed"):
        state = await feed.render()
    assert 0 < len(screen.fed) < BACKLOG_BYTES - 1
    assert feed.behind == 0
    assert state.size == TerminalSize(rows=5, cols=5)
    assert f"skipped {BACKLOG_BYTES - 1 - len(screen.fed)} bytes" in caplog.text
