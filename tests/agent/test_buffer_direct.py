"""Direct reads into the ring (``HeadTailBuffer.open_direct``): they keep exactly what writes
would have kept, the part being filled reads as dropped, and a reader that a direct read
overtook in the middle of its copy reads again."""

from __future__ import annotations

import os
import random

import pytest

from agentproc.buffer import (
    DEFAULT_HEAD_BYTES,
    DEFAULT_TAIL_BYTES,
    DIRECT_READ_SHARE,
    MIN_DIRECT_READ_BYTES,
    DirectReads,
    HeadTailBuffer,
)

WINDOW = 256 * 1024
DIRECT = WINDOW // DIRECT_READ_SHARE


def wrapped_pair(seed: int) -> tuple[HeadTailBuffer, HeadTailBuffer]:
    """Two buffers holding the same output, past the point where the ring wrapped."""
    rng = random.Random(seed)  # noqa: S311 - seeded so a failure replays
    start = rng.randbytes(DEFAULT_HEAD_BYTES + WINDOW + 1000)
    pair = HeadTailBuffer(window_capacity=WINDOW), HeadTailBuffer(window_capacity=WINDOW)
    for buffer in pair:
        buffer.write(start)
    return pair


def feed(direct: DirectReads, read_fd: int, write_fd: int, data: bytes) -> None:
    """``data`` through the pipe and into the ring, in as many reads as it takes."""
    os.write(write_fd, data)
    got = 0
    while got < len(data):
        got += direct.read_from(read_fd)


def every_read(buffer: HeadTailBuffer) -> list[tuple[bytes, int, int]]:
    """What reads from every offset of interest return, as plain tuples."""
    total = buffer.total_written
    offsets = [0, 1, DEFAULT_HEAD_BYTES - 1, DEFAULT_HEAD_BYTES, total - WINDOW - 1]
    offsets += [total - WINDOW + step for step in range(0, WINDOW + 1, 4099)] + [total]
    chunks = (buffer.read(max(0, offset), WINDOW) for offset in offsets)
    return [(chunk.data, chunk.start, chunk.skipped) for chunk in chunks]


@pytest.mark.parametrize("seed", range(4))
def test_direct_reads_keep_exactly_what_writes_would_have_kept(
    pipe: tuple[int, int], seed: int
) -> None:
    """The same bytes, read into one buffer's ring and written to another, in pieces that
    wrap the ring at random places: once the direct reads are closed, the two buffers read,
    render and count alike."""
    read_fd, write_fd = pipe
    direct_one, written = wrapped_pair(seed)
    rng = random.Random(seed)  # noqa: S311 - seeded so a failure replays
    direct = direct_one.open_direct()
    for _ in range(20):
        piece = rng.randbytes(rng.randint(1, DIRECT))
        feed(direct, read_fd, write_fd, piece)
        written.write(piece)
    direct.close()
    assert direct_one.total_written == written.total_written
    assert len(direct_one) == len(written)
    assert direct_one.render() == written.render()
    assert direct_one.bytes() == written.bytes()
    assert every_read(direct_one) == every_read(written)


def test_the_part_of_the_ring_being_filled_reads_as_dropped(pipe: tuple[int, int]) -> None:
    """While direct reads are open, the oldest bytes of the window, whose place the next read
    fills, are reported skipped; the rendering still shows the whole tail."""
    read_fd, write_fd = pipe
    buffer, _ = wrapped_pair(0)
    total = buffer.total_written
    oldest = total - WINDOW
    assert buffer.read(oldest, 10).start == oldest
    direct = buffer.open_direct()
    chunk = buffer.read(oldest, 10)
    assert (chunk.start, chunk.skipped) == (oldest + DIRECT, DIRECT)
    assert len(buffer) == DEFAULT_HEAD_BYTES + WINDOW - DIRECT
    _, truncation = buffer.render()
    assert truncation is not None
    assert truncation.omitted_bytes == total - DEFAULT_HEAD_BYTES - DEFAULT_TAIL_BYTES
    feed(direct, read_fd, write_fd, b"x" * 100)
    assert buffer.read(total, 1000).data == b"x" * 100
    direct.close()
    assert buffer.read(oldest + 100, 10).start == oldest + 100


def test_a_window_being_read_into_is_not_shrunk() -> None:
    """The output budget cannot take back a window that a direct read is filling: its views
    would point into a ring the buffer no longer has."""
    buffer, _ = wrapped_pair(1)
    direct = buffer.open_direct()
    assert buffer.shrink_window(DEFAULT_TAIL_BYTES) == 0
    assert buffer.window_bytes == WINDOW
    direct.close()
    assert buffer.shrink_window(DEFAULT_TAIL_BYTES) == WINDOW - DEFAULT_TAIL_BYTES


def test_direct_reads_wait_for_a_ring_of_its_final_length_and_worth_reading_into() -> None:
    """Before the ring wrapped it still grows, and a ring with no room beside its tail for a
    read of a worthwhile size is never read into."""
    growing = HeadTailBuffer(window_capacity=WINDOW)
    growing.write(b"x" * (DEFAULT_HEAD_BYTES + WINDOW))
    assert growing.direct_read_bytes == 0
    with pytest.raises(ValueError, match="cannot be read into"):
        growing.open_direct()
    growing.write(b"x")
    assert growing.direct_read_bytes == DIRECT
    small = HeadTailBuffer(window_capacity=DEFAULT_TAIL_BYTES + MIN_DIRECT_READ_BYTES - 1)
    small.write(b"x" * (DEFAULT_HEAD_BYTES + 2 * small.window_bytes + 10**6))
    assert small.window_bytes > DEFAULT_TAIL_BYTES
    assert small.direct_read_bytes == 0


class Overtaken(HeadTailBuffer):
    """A buffer whose first copy of kept bytes is overtaken by a direct read of ``later``, as
    when the GIL passes to the reading thread in the middle of a request's read."""

    def __init__(self, read_fd: int, write_fd: int, later: bytes) -> None:
        super().__init__(window_capacity=WINDOW)
        self.copies = 0
        self._overtake = (read_fd, write_fd, later)
        self.direct: DirectReads | None = None

    def _copy(self, start: int, end: int) -> bytes:
        self.copies += 1
        copied = super()._copy(start, end)
        if self.copies == 1 and self.direct is not None:
            feed(self.direct, *self._overtake)
        return copied


def test_a_read_overtaken_by_a_direct_read_is_read_again(pipe: tuple[int, int]) -> None:
    """A read whose copy a direct read overtook is not returned (its oldest bytes may be the
    new ones): it is read again, and says those bytes were dropped."""
    read_fd, write_fd = pipe
    later = b"n" * DIRECT
    buffer = Overtaken(read_fd, write_fd, later)
    rng = random.Random(2)  # noqa: S311 - seeded so a failure replays
    old = rng.randbytes(DEFAULT_HEAD_BYTES + WINDOW + 5000)
    buffer.write(old)
    buffer.direct = buffer.open_direct()
    oldest_readable = len(old) - WINDOW + DIRECT
    chunk = buffer.read(oldest_readable, WINDOW)
    assert buffer.copies == 2
    assert chunk.start == oldest_readable + len(later)
    assert chunk.data == (old + later)[chunk.start :][: len(chunk.data)]
    buffer.direct.close()
