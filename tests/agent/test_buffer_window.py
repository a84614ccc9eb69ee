"""The window: a ring longer than the rendered tail, for cursor reads (spec: live-io.md).

The rendering of a buffer with a window is byte for byte that of a buffer without one (the
head and the last ``tail_capacity`` bytes); reads keep the whole window; the window grows
only as the budget grants, and the budget takes windows back from the longest-exited
processes first, never below the tail.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentproc.budget import OutputBudget
from agentproc.buffer import DEFAULT_HEAD_BYTES, DEFAULT_TAIL_BYTES, HeadTailBuffer

from .test_buffer_read import PROPERTIES, as_tuple, model_read, read_everything, write_all

KIB = 1024
WINDOW = 256 * KIB
"""The default window (``--output-window-bytes``)."""


def written(size: int) -> bytes:
    """``size`` bytes in which every offset shows (a pattern longer than any ring here)."""
    return bytes((i * 7 + i // 251) % 256 for i in range(size))


class TestRendering:
    """The window is for reads: what a model sees is what it saw before windows."""

    @pytest.mark.parametrize(
        "total", [0, 1, 16383, 16384, 16385, 32768, 32769, 100_000, WINDOW + 16384, 3_000_000]
    )
    def test_default_sizes_render_as_without_a_window(self, total: int) -> None:
        """At every boundary of output-buffer.md, and far past the window: same text, same
        truncation, same bytes()."""
        data = written(total)
        plain, windowed = HeadTailBuffer(), HeadTailBuffer(window_capacity=WINDOW)
        for start in range(0, total, 65536):
            plain.write(data[start : start + 65536])
            windowed.write(data[start : start + 65536])
        assert windowed.render() == plain.render()
        assert windowed.bytes() == plain.bytes()

    @PROPERTIES
    @given(
        head=st.integers(1, 30),
        tail=st.integers(1, 30),
        extra=st.integers(0, 60),
        pieces=st.lists(st.binary(max_size=80), max_size=12),
        max_line=st.integers(17, 40),
    )
    def test_any_window_renders_as_the_tail_alone(
        self, head: int, tail: int, extra: int, pieces: list[bytes], max_line: int
    ) -> None:
        """Any sizes, any writes, line cuts included: the window changes no rendered byte."""
        plain = HeadTailBuffer(head, tail, max_line)
        windowed = HeadTailBuffer(head, tail, max_line, window_capacity=tail + extra)
        write_all(plain, pieces)
        write_all(windowed, pieces)
        assert windowed.render() == plain.render()
        assert windowed.bytes() == plain.bytes()


class TestReads:
    """Reads keep the head and the whole window, as a buffer whose tail were that long."""

    @PROPERTIES
    @given(
        head=st.integers(1, 30),
        tail=st.integers(1, 20),
        extra=st.integers(0, 40),
        pieces=st.lists(st.binary(max_size=60), max_size=12),
        offset=st.integers(0, 600),
        limit=st.integers(1, 600),
    )
    def test_read_keeps_the_window(
        self,
        head: int,
        tail: int,
        extra: int,
        pieces: list[bytes],
        offset: int,
        limit: int,
    ) -> None:
        """Any writes, offset and limit: the model of a head and a ring of the window's size."""
        window = tail + extra
        buf = HeadTailBuffer(head, tail, window_capacity=window)
        stream = write_all(buf, pieces)
        expected = model_read(stream, head, window, offset, limit)
        assert as_tuple(buf.read(offset, limit)) == expected

    def test_ten_megabytes_keep_the_head_and_the_last_window(self) -> None:
        """10 MB in pipe-sized writes: the head, a counted gap, then exactly the last 256 KiB."""
        data = written(10_000_000)
        buf = HeadTailBuffer(window_capacity=WINDOW)
        for start in range(0, len(data), 65536):
            buf.write(data[start : start + 65536])
        head, window = read_everything(buf, 1024 * 1024)
        assert as_tuple(head) == (data[:DEFAULT_HEAD_BYTES], 0, 0)
        gap = len(data) - DEFAULT_HEAD_BYTES - WINDOW
        assert as_tuple(window) == (data[-WINDOW:], len(data) - WINDOW, gap)
        assert (len(buf), buf.window_bytes) == (DEFAULT_HEAD_BYTES + WINDOW, WINDOW)

    def test_the_ring_grows_with_the_output(self) -> None:
        """A command that writes a little past the head holds a little ring, not the window."""
        buf = HeadTailBuffer(window_capacity=WINDOW)
        buf.write(written(DEFAULT_HEAD_BYTES + 100))
        assert buf.window_bytes == 100

    def test_window_shorter_than_the_tail_is_rejected(self) -> None:
        """A window is at least the tail it renders."""
        with pytest.raises(ValueError, match="window_capacity must be at least tail_capacity"):
            HeadTailBuffer(4, 8, window_capacity=7)


class TestShrinking:
    """``shrink_window`` keeps the newest bytes, down to the tail at most."""

    def test_shrunk_window_keeps_the_newest_bytes_and_the_rendering(self) -> None:
        """Reads lose the older part of the window; the rendering does not change."""
        data = written(103)
        buf = HeadTailBuffer(3, 10, window_capacity=50)
        buf.write(data)
        before = buf.render()
        assert buf.shrink_window(20) == 30
        assert buf.window_bytes == 20
        assert buf.render() == before
        assert as_tuple(buf.read(3, 100)) == (data[-20:], 83, 80)

    def test_never_below_the_tail(self) -> None:
        """Asked for less than the tail, the window keeps the tail."""
        buf = HeadTailBuffer(3, 10, window_capacity=50)
        buf.write(written(200))
        assert buf.shrink_window(0) == 40
        assert buf.window_bytes == 10

    def test_a_short_ring_stays_and_cannot_grow_past_the_new_size(self) -> None:
        """A ring shorter than the new size is left alone; later writes wrap at that size."""
        data = written(20)
        buf = HeadTailBuffer(3, 4, window_capacity=50)
        buf.write(data[:8])
        assert buf.shrink_window(6) == 0
        buf.write(data[8:])
        assert buf.window_bytes == 6
        assert as_tuple(buf.read(0, 100)) == (data[:3], 0, 0)
        assert as_tuple(buf.read(3, 100)) == (data[-6:], 14, 11)

    @PROPERTIES
    @given(
        pieces=st.lists(st.binary(max_size=40), max_size=10),
        later=st.lists(st.binary(max_size=40), max_size=5),
        size=st.integers(0, 40),
    )
    def test_shrink_then_write_reads_like_a_smaller_window(
        self, pieces: list[bytes], later: list[bytes], size: int
    ) -> None:
        """After a shrink, the head and the newest ``size`` bytes (at least the tail) are
        what reads find, whether the ring had reached that size or grows to it later."""
        buf = HeadTailBuffer(5, 6, window_capacity=30)
        stream = write_all(buf, pieces)
        buf.shrink_window(size)
        stream += write_all(buf, later)
        kept = stream[:5] + stream[5:][-min(max(size, 6), 30) :]
        assert b"".join(c.data for c in read_everything(buf, 100)) == kept
        assert buf.render() == _render(5, 6, stream)


class TestBudget:
    """The budget bounds the windows' sum; the longest-exited give their windows back first."""

    def test_window_grows_only_as_far_as_the_budget_grants(self) -> None:
        """With room for 30 ring bytes, a 50-byte window stops at 30 and wraps there."""
        budget = OutputBudget(30, floor_bytes=10)
        data = written(203)
        buf = HeadTailBuffer(3, 10, window_capacity=50, budget=budget)
        buf.write(data)
        assert (buf.window_bytes, budget.held) == (30, 30)
        assert as_tuple(buf.read(3, 100)) == (data[-30:], 173, 170)
        assert buf.render() == _render(3, 10, data)

    def test_every_window_keeps_its_tail_past_the_limit(self) -> None:
        """A full budget still gives each new window its tail: the rendering never shrinks."""
        budget = OutputBudget(10, floor_bytes=10)
        buffers = [HeadTailBuffer(3, 10, window_capacity=50, budget=budget) for _ in range(3)]
        for buf in buffers:
            buf.write(written(100))
        assert [b.window_bytes for b in buffers] == [10, 10, 10]
        assert budget.held == 30

    def test_the_longest_exited_windows_shrink_first(self) -> None:
        """Past the limit, exited windows go back to their tails in exit order, as needed."""
        budget = OutputBudget(120, floor_bytes=10)
        first, second, third = (
            HeadTailBuffer(3, 10, window_capacity=50, budget=budget) for _ in range(3)
        )
        for buf in (first, second):
            buf.write(written(60))
        budget.exited(second)
        budget.exited(first)
        assert budget.held == 100
        third.write(written(60))  # wants 50: 20 are free, 40 come back from `second`
        assert (second.window_bytes, first.window_bytes, third.window_bytes) == (10, 50, 50)
        assert budget.held == 110

    def test_a_running_window_is_never_shrunk_for_another(self) -> None:
        """Only exited windows are taken back; a new window makes do with what is left."""
        budget = OutputBudget(60, floor_bytes=10)
        running, newer = (HeadTailBuffer(3, 10, window_capacity=50, budget=budget) for _ in "ab")
        running.write(written(60))
        newer.write(written(60))
        assert (running.window_bytes, newer.window_bytes) == (50, 10)

    def test_a_forgotten_window_frees_its_bytes(self) -> None:
        """Releasing a buffer gives back what it held, and a new window can grow into it."""
        budget = OutputBudget(50, floor_bytes=10)
        old = HeadTailBuffer(3, 10, window_capacity=50, budget=budget)
        old.write(written(60))
        budget.exited(old)
        budget.release(old)
        assert budget.held == 0
        new = HeadTailBuffer(3, 10, window_capacity=50, budget=budget)
        new.write(written(60))
        assert (new.window_bytes, budget.held) == (50, 50)

    def test_memory_stays_flat_over_many_processes(self) -> None:
        """Fifty exited 10 MB outputs and a running one: the windows hold the budget, not more."""
        limit = 4 * WINDOW
        budget = OutputBudget(limit, floor_bytes=DEFAULT_TAIL_BYTES)
        chunk = written(65536)
        for _ in range(50):
            buf = HeadTailBuffer(window_capacity=WINDOW, budget=budget)
            for _ in range(160):
                buf.write(chunk)
            budget.exited(buf)
            assert budget.held <= limit
        assert budget.held == limit


def _render(head: int, tail: int, data: bytes) -> tuple[str, object]:
    plain = HeadTailBuffer(head, tail)
    plain.write(data)
    return plain.render()
