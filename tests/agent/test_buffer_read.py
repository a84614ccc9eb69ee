"""Offset reads of the head+tail buffer: what a cursor read or a stream gets (spec: live-io.md).

Every byte of the output has an offset from 0. The buffer keeps the head, offsets
``[0, head_len)``, and the newest ``tail`` bytes after it; ``read(offset, limit)`` returns the
kept bytes from ``offset`` on, where they start, and how many bytes before that start are no
longer kept. The model here knows only the written stream and the spec's rule for what is kept.
"""

from __future__ import annotations

import dataclasses
import itertools
import string
import tracemalloc
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentproc.buffer import HeadTailBuffer, OutputChunk

STREAM = string.ascii_letters.encode()
"""The output of the exhaustive tests: every byte says its offset, so a misplaced one shows."""

CHUNK_SIZES = (1, 3, 7)
"""Writes byte by byte, across the head's end, and larger than any ring tried (at most 6)."""

EXTRA_BYTES = 3
"""Outputs run up to this much past head + tail, so the ring wraps and bytes are dropped."""

PROPERTIES = settings(
    max_examples=300,
    derandomize=True,  # the same cases on every run, so failures reproduce
    database=None,  # no .hypothesis/ directory in the work tree
    deadline=None,  # shared machines stall now and then; the cases are tiny
)

Expected = tuple[bytes, int, int]
"""``(data, start, skipped)`` as the model computes them."""


def kept_offsets(total: int, head: int, tail: int) -> list[int]:
    """The offsets the spec keeps: ``data[:head]`` and ``data[head:][-tail:]``."""
    kept = list(range(min(head, total)))
    if total > head:
        kept += range(max(head, total - tail), total)
    return kept


def model_read(stream: bytes, head: int, tail: int, offset: int, limit: int) -> Expected:
    """The first kept byte at or after ``offset``, and the unbroken run of kept bytes from it."""
    kept = set(kept_offsets(len(stream), head, tail))
    later = [o for o in sorted(kept) if o >= offset]
    if not later:
        return b"", len(stream), 0
    start = end = later[0]
    while end in kept and end < start + limit:
        end += 1
    return stream[start:end], start, start - offset


def as_tuple(chunk: OutputChunk) -> Expected:
    """A chunk in the model's shape."""
    return chunk.data, chunk.start, chunk.skipped


def write_all(buf: HeadTailBuffer, pieces: list[bytes]) -> bytes:
    """Write each piece in order; returns the whole stream written."""
    for piece in pieces:
        assert buf.write(piece) == len(piece)
    return b"".join(pieces)


def read_everything(buf: HeadTailBuffer, limit: int, offset: int = 0) -> list[OutputChunk]:
    """Successive reads from ``offset``, each from where the last ended, up to the end."""
    chunks = []
    while offset < buf.total_written:
        chunk = buf.read(offset, limit)
        chunks.append(chunk)
        offset = chunk.next_offset
    return chunks


def write_sequences(total: int) -> Iterator[tuple[int, ...]]:
    """Every sequence of sizes from ``CHUNK_SIZES`` adding up to at most ``total``."""
    yield ()
    for size in CHUNK_SIZES:
        if size <= total:
            for rest in write_sequences(total - size):
                yield (size, *rest)


class TestExamples:
    """The cases a reader meets, spelled out (head and tail sizes as given)."""

    def test_nothing_written_reads_empty_at_offset_zero(self) -> None:
        """An empty buffer gives no bytes and starts at 0, wherever the read asks."""
        buf = HeadTailBuffer(4, 4)
        assert as_tuple(buf.read(0, 1)) == (b"", 0, 0)
        assert as_tuple(buf.read(9, 100)) == (b"", 0, 0)

    def test_read_within_the_head(self) -> None:
        """A read inside an unfilled head returns those bytes from the offset asked."""
        buf = HeadTailBuffer(10, 4)
        buf.write(b"hello")
        assert as_tuple(buf.read(1, 3)) == (b"ell", 1, 0)
        assert as_tuple(buf.read(3, 100)) == (b"lo", 3, 0)

    def test_read_crosses_from_head_into_tail_when_nothing_was_dropped(self) -> None:
        """With the tail right after the head, one read spans both."""
        buf = HeadTailBuffer(4, 8)
        buf.write(b"0123456789")
        assert as_tuple(buf.read(2, 5)) == (b"23456", 2, 0)
        assert as_tuple(buf.read(0, 100)) == (b"0123456789", 0, 0)

    def test_read_stops_at_the_end_of_the_head_before_dropped_bytes(self) -> None:
        """A chunk never spans dropped bytes: it ends with the head when the tail moved on."""
        buf = HeadTailBuffer(4, 4)
        buf.write(b"0123456789AB")
        assert as_tuple(buf.read(2, 10)) == (b"23", 2, 0)

    def test_read_in_the_dropped_bytes_skips_to_the_tail(self) -> None:
        """From a dropped offset, the chunk starts at the oldest kept byte and counts the gap."""
        buf = HeadTailBuffer(4, 4)
        buf.write(b"0123456789AB")
        assert as_tuple(buf.read(4, 10)) == (b"89AB", 8, 4)
        assert as_tuple(buf.read(6, 1)) == (b"8", 8, 2)
        assert as_tuple(buf.read(9, 2)) == (b"9A", 9, 0)

    def test_read_at_or_past_the_end_is_empty_at_the_end(self) -> None:
        """An offset at or beyond the total gives no bytes, start at the total, nothing skipped."""
        buf = HeadTailBuffer(4, 4)
        buf.write(b"0123456789AB")
        assert as_tuple(buf.read(12, 1)) == (b"", 12, 0)
        assert as_tuple(buf.read(50, 7)) == (b"", 12, 0)

    def test_read_across_the_end_of_a_wrapped_ring(self) -> None:
        """Bytes stored on both sides of the ring's wrap point come back in order."""
        buf = HeadTailBuffer(1, 4)
        for byte in b"Habcdef":
            buf.write(bytes([byte]))
        assert as_tuple(buf.read(3, 4)) == (b"cdef", 3, 0)
        assert as_tuple(buf.read(4, 2)) == (b"de", 4, 0)
        assert as_tuple(buf.read(1, 4)) == (b"cdef", 3, 2)

    def test_default_sizes_read_head_then_skip_to_the_last_16384_bytes(self) -> None:
        """Three MiB read in 64 KiB chunks: the head, then the tail after a counted gap."""
        total = 3 * 1024 * 1024
        data = bytes(i % 251 for i in range(total))
        buf = HeadTailBuffer()
        buf.write(data)
        first, second = read_everything(buf, 64 * 1024)
        assert as_tuple(first) == (data[:16384], 0, 0)
        assert as_tuple(second) == (data[-16384:], total - 16384, total - 32768)

    def test_next_offset_is_just_past_the_data(self) -> None:
        """``next_offset`` is ``start + len(data)``, also for an empty chunk at the end."""
        buf = HeadTailBuffer(2, 2)
        buf.write(b"abcdefg")
        assert buf.read(1, 5).next_offset == 2
        assert buf.read(3, 5).next_offset == 7
        assert buf.read(9, 5).next_offset == 7

    def test_chunk_is_immutable_bytes(self) -> None:
        """A chunk is frozen and holds ``bytes`` that later writes do not change."""
        buf = HeadTailBuffer(2, 2)
        buf.write(b"abcd")
        chunk = buf.read(0, 4)
        buf.write(b"WXYZ")
        assert isinstance(chunk.data, bytes)
        assert as_tuple(chunk) == (b"abcd", 0, 0)
        with pytest.raises(dataclasses.FrozenInstanceError):
            chunk.start = 1  # type: ignore[misc]

    def test_reading_changes_nothing(self) -> None:
        """Reads leave the stored bytes, the totals and the rendering as they were."""
        buf = HeadTailBuffer(3, 5)
        buf.write(b"0123456789abcdef")
        before = (buf.bytes(), len(buf), buf.total_written, buf.render())
        for offset in range(20):
            buf.read(offset, 3)
        assert (buf.bytes(), len(buf), buf.total_written, buf.render()) == before


class TestValidation:
    """Offsets and limits a caller could get wrong are refused, not guessed at."""

    @pytest.mark.parametrize("offset", [-1, -100])
    def test_negative_offset_is_rejected(self, offset: int) -> None:
        """An offset below 0 raises ValueError naming the offset."""
        buf = HeadTailBuffer(4, 4)
        buf.write(b"data")
        with pytest.raises(ValueError, match=f"offset must not be negative, got {offset}"):
            buf.read(offset, 1)

    @pytest.mark.parametrize("limit", [0, -1])
    def test_limit_below_one_is_rejected(self, limit: int) -> None:
        """A limit below 1 raises ValueError naming the limit, even on an empty buffer."""
        buf = HeadTailBuffer(4, 4)
        with pytest.raises(ValueError, match=f"limit must be at least 1, got {limit}"):
            buf.read(0, limit)


@pytest.mark.parametrize(("head", "tail"), list(itertools.product(range(1, 7), range(1, 7))))
def test_every_write_sequence_offset_and_limit_reads_like_the_model(head: int, tail: int) -> None:
    """Small head and tail, every way of writing up to head + tail + 3 bytes in chunks of 1, 3
    and 7, every offset to 2 past the end and every limit to 2 past the total: as the model."""
    longest = head + tail + EXTRA_BYTES
    # What the model expects depends on the total only, so it is computed once per total.
    expected = {
        total: {
            offset: model_read(STREAM[:total], head, tail, offset, total + 2)
            for offset in range(total + 3)
        }
        for total in range(longest + 1)
    }
    for sizes in write_sequences(longest):
        buf = HeadTailBuffer(head, tail)
        total = 0
        for size in sizes:
            buf.write(STREAM[total : total + size])
            total += size
        for offset, (data, start, skipped) in expected[total].items():
            for limit in range(1, total + 3):
                got = as_tuple(buf.read(offset, limit))
                assert got == (data[:limit], start, skipped), (sizes, offset, limit)


class TestProperties:
    """Random sizes, writes and reads against the model and the spec's kept bytes."""

    @PROPERTIES
    @given(
        head=st.integers(1, 40),
        tail=st.integers(1, 40),
        pieces=st.lists(st.binary(max_size=60), max_size=12),
        offset=st.integers(0, 600),
        limit=st.integers(1, 600),
    )
    def test_read_matches_the_model(
        self, head: int, tail: int, pieces: list[bytes], offset: int, limit: int
    ) -> None:
        """Any writes, any offset and limit: the data, start and skipped the model gives."""
        buf = HeadTailBuffer(head, tail)
        stream = write_all(buf, pieces)
        assert as_tuple(buf.read(offset, limit)) == model_read(stream, head, tail, offset, limit)

    @PROPERTIES
    @given(
        head=st.integers(1, 40),
        tail=st.integers(1, 40),
        pieces=st.lists(st.binary(max_size=60), max_size=12),
        offset=st.integers(0, 600),
        limit=st.integers(1, 600),
    )
    def test_a_read_is_at_most_limit_bytes_of_the_output_at_its_start(
        self, head: int, tail: int, pieces: list[bytes], offset: int, limit: int
    ) -> None:
        """A chunk is never longer than the limit, and is the output's bytes at its offsets."""
        buf = HeadTailBuffer(head, tail)
        stream = write_all(buf, pieces)
        chunk = buf.read(offset, limit)
        assert len(chunk.data) <= limit
        assert chunk.data == stream[chunk.start : chunk.next_offset]
        assert chunk.skipped == max(0, chunk.start - offset)
        assert chunk.next_offset <= len(stream)

    @PROPERTIES
    @given(
        head=st.integers(1, 40),
        tail=st.integers(1, 40),
        pieces=st.lists(st.binary(max_size=60), max_size=12),
        limit=st.integers(1, 100),
    )
    def test_successive_reads_reassemble_the_kept_bytes(
        self, head: int, tail: int, pieces: list[bytes], limit: int
    ) -> None:
        """Reads from 0, each where the last ended, give head + tail and skip what was dropped."""
        buf = HeadTailBuffer(head, tail)
        stream = write_all(buf, pieces)
        chunks = read_everything(buf, limit)
        kept = stream[:head] + stream[head:][-tail:]
        assert b"".join(c.data for c in chunks) == kept == buf.bytes()
        assert sum(c.skipped for c in chunks) == len(stream) - len(kept)
        assert [c.skipped for c in chunks if c.skipped] in ([], [len(stream) - len(kept)])

    @PROPERTIES
    @given(
        head=st.integers(1, 20),
        tail=st.integers(1, 20),
        steps=st.lists(st.tuples(st.binary(max_size=50), st.integers(1, 30)), max_size=15),
    )
    def test_a_follower_gets_every_byte_in_order_or_counts_it_skipped(
        self, head: int, tail: int, steps: list[tuple[bytes, int]]
    ) -> None:
        """One read between writes, as a stream does: the chunks, in order, are the output's
        bytes at their offsets, and with the skipped counts they cover everything written."""
        buf = HeadTailBuffer(head, tail)
        stream = b""
        cursor = 0
        chunks: list[OutputChunk] = []
        for piece, limit in steps:
            buf.write(piece)
            stream += piece
            chunk = buf.read(cursor, limit)
            chunks.append(chunk)
            cursor = chunk.next_offset
        chunks += read_everything(buf, 7, cursor)
        position = 0
        for chunk in chunks:
            assert chunk.start == position + chunk.skipped
            assert chunk.data == stream[chunk.start : chunk.next_offset]
            position = chunk.next_offset
        assert position == len(stream)


MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("written", "offset"),
    [
        (4 * MIB + 7, 0),
        (MIB + MIB // 2, MIB - 8),
        (4 * MIB + 7, MIB + 5),
        (4 * MIB + 7, 3 * MIB + 100),
        (4 * MIB + 7, 4 * MIB - 9),
    ],
    ids=["head", "head-into-tail", "dropped", "tail", "tail-across-the-ring-end"],
)
def test_a_read_copies_only_what_it_returns(written: int, offset: int) -> None:
    """A 16-byte read from a buffer keeping up to 2 MiB allocates a few hundred bytes, not a
    copy of the head or the tail, wherever it starts."""
    buf = HeadTailBuffer(MIB, MIB)
    buf.write(bytes(written))
    tracemalloc.start()
    try:
        chunk = buf.read(offset, 16)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(chunk.data) == 16
    assert peak < 4096
