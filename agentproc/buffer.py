"""The bounded head+tail output buffer.

A process may print gigabytes; a language model can read a few kilobytes. The buffer keeps
the first bytes (what the command was doing) and a ring of the last bytes (the error, the
summary line), counts everything it dropped, and renders the head and the last
``tail_capacity`` bytes with an explicit omission marker.

Every byte has an offset in the output, from 0, and :meth:`HeadTailBuffer.read` returns the
bytes still kept from any offset on, saying how many were dropped on the way, so a reader can
follow the output chunk by chunk. For such readers the ring may be longer than the rendered
tail: a *window* of ``window_capacity`` bytes, of which the rendering shows only the end. The
window grows as the output does, within an :class:`~agentproc.budget.OutputBudget` shared by
every buffer, and may be shrunk back to the tail (:meth:`HeadTailBuffer.shrink_window`).
Memory stays at ``head_capacity + window_capacity`` at most, whatever is written.

The buffer is pure and synchronous: bytes in, text or bytes out. It has no lock: a process's
pump writes it and request handlers read it, all on the one event loop thread, and no method
awaits, so no reader ever sees a write half done. When the process is done with it is the
process's own business (``ManagedProcess.wait``), not the buffer's.

One writer may work from another thread: a reader of a fast writer's pipe that reads straight
into the ring (:mod:`agentproc.lane`), sparing the copy from a scratch buffer. Opening direct
reads (:meth:`HeadTailBuffer.open_direct`) reserves the part of the ring past the end of the
output; each read fills it without the GIL and makes what it read output. The reserved part
counts as dropped for every reader, so no read copies bytes the kernel is overwriting; and as
the GIL may pass to that thread in the middle of a read, every such change is counted, and a
reader that saw the count move while it copied reads again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from agentproc.rendering import DEFAULT_MAX_LINE_BYTES, LINE_CUT_SUFFIX, Truncation, render

if TYPE_CHECKING:
    from agentproc.budget import OutputBudget

_T = TypeVar("_T")

__all__ = [
    "DEFAULT_HEAD_BYTES",
    "DEFAULT_TAIL_BYTES",
    "DIRECT_READ_SHARE",
    "MIN_DIRECT_READ_BYTES",
    "DirectReads",
    "HeadTailBuffer",
    "OutputChunk",
]

DEFAULT_HEAD_BYTES = 16384
"""The start of the output: usually what the command was doing."""

DEFAULT_TAIL_BYTES = 16384
"""The end of the output: usually the error or the summary."""

DIRECT_READ_SHARE = 4
"""A direct read reserves at most this fraction of the ring (a quarter), so the window keeps
three quarters of its bytes readable while the kernel fills the rest."""

MIN_DIRECT_READ_BYTES = 16 * 1024
"""Below this, a direct read is too short to be worth it: the ring is read into by copying."""


@dataclass(frozen=True, slots=True)
class OutputChunk:
    """Kept bytes of the output from one offset on, as :meth:`HeadTailBuffer.read` found them."""

    data: bytes
    """Raw bytes, never decoded: a multi-byte character may be cut at either end."""
    start: int
    """The output offset of ``data[0]`` (the end of the output when ``data`` is empty)."""
    skipped: int
    """Bytes between the offset asked for and ``start`` that the buffer no longer keeps."""

    @property
    def next_offset(self) -> int:
        """Where the next read continues: just past ``data``."""
        return self.start + len(self.data)


class HeadTailBuffer:
    """Keep the first ``head_capacity`` bytes written and a window of the newest after them.

    The kept bytes are two ranges of output offsets: the head, ``[0, head_len)``, and the
    window, the newest bytes after the head, ``[total - window_len, total)``. Between them lie
    the bytes that were dropped (none until the window's ring has wrapped). The rendering
    shows the head and the last ``tail_capacity`` bytes of the window.

    Args:
        head_capacity: bytes kept from the start of the output.
        tail_capacity: bytes of the end that the rendering shows, once the head is full; the
            window never holds fewer (once that much was written).
        max_line_bytes: longer lines are cut in the rendering (not in storage).
        window_capacity: bytes kept from the end for :meth:`read`; ``tail_capacity`` when
            omitted, and never less.
        budget: shared by the buffers of every process; the window grows past
            ``tail_capacity`` only as far as it grants.

    Raises:
        ValueError: a capacity below 1 byte, a window shorter than the tail, or a line limit
            no longer than the cut suffix.
    """

    def __init__(
        self,
        head_capacity: int = DEFAULT_HEAD_BYTES,
        tail_capacity: int = DEFAULT_TAIL_BYTES,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        *,
        window_capacity: int | None = None,
        budget: OutputBudget | None = None,
    ) -> None:
        if head_capacity < 1 or tail_capacity < 1:
            raise ValueError("head_capacity and tail_capacity must be at least 1 byte")
        if max_line_bytes <= len(LINE_CUT_SUFFIX):
            raise ValueError(f"max_line_bytes must exceed {len(LINE_CUT_SUFFIX)} bytes")
        window = tail_capacity if window_capacity is None else window_capacity
        if window < tail_capacity:
            raise ValueError(
                f"window_capacity must be at least tail_capacity ({tail_capacity}), got {window}"
            )
        self._head_capacity = head_capacity
        self._tail_capacity = tail_capacity
        self._window_capacity = window
        self._max_line_bytes = max_line_bytes
        self._budget = budget
        self._head = bytearray()
        # The byte at output offset o >= head_capacity lives at ring index
        # (o - head_capacity) % len(ring), always, so a read finds any kept offset without
        # tracking where the ring was last written. The ring starts empty (most commands
        # never fill the head) and grows by appending, which keeps that rule while nothing
        # has wrapped; once it wraps, its length is fixed, and only shrink_window changes it
        # (laying the kept bytes out again by the rule).
        self._tail = bytearray()
        self._wrapped = False
        self._total = 0
        # Direct reads (see the module's docstring): the ring bytes past the end of the output
        # that a reader in another thread may be filling now, and a count of every change
        # that thread made, by which a reader on the loop's thread tells a torn copy.
        self._reserved = 0
        self._changes = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data``; returns its length. Never blocks, never fails, keeps no reference
        to ``data`` (a reader's scratch buffer may be written again at once)."""
        n = len(data)
        if n == 0:
            return 0
        view = memoryview(data)
        room = self._head_capacity - len(self._head)
        if room > 0:
            self._head += view[:room]
            view = view[room:]
        if len(view):
            self._write_tail(view, self._total + n - len(view))
        self._total += n
        return n

    def _write_tail(self, data: memoryview, offset: int) -> None:
        if not self._wrapped:
            room = self._grow(len(data))
            if room:
                self._tail += data[:room]
                data = data[room:]
                offset += room
            if not len(data):
                return
            self._wrapped = True
        cap = len(self._tail)
        n = len(data)
        if n > cap:
            # Only the newest ring-full of a large write can survive it.
            offset += n - cap
            data = data[n - cap :]
            n = cap
        pos = (offset - self._head_capacity) % cap
        end = pos + n
        if end <= cap:
            self._tail[pos:end] = data
        else:
            first = cap - pos
            self._tail[pos:] = data[:first]
            self._tail[: end - cap] = data[first:]

    def _grow(self, wanted: int) -> int:
        """How many more bytes the ring may hold, up to ``wanted``: the tail always, the rest
        of the window as far as the budget grants."""
        size = len(self._tail)
        wanted = min(wanted, self._window_capacity - size)
        if wanted <= 0:
            return 0
        required = min(wanted, max(0, self._tail_capacity - size))
        if self._budget is None:
            return wanted
        return self._budget.allot(required, wanted)

    @property
    def direct_read_bytes(self) -> int:
        """What one direct read (:meth:`open_direct`) may take now: 0 until the ring has reached
        its final length (once it wrapped), and when a share of it too short to be worth it
        is all it can spare beside the rendered tail."""
        if not self._wrapped:
            return 0
        cap = len(self._tail)
        size = min(cap // DIRECT_READ_SHARE, cap - self._tail_capacity)
        return size if size >= MIN_DIRECT_READ_BYTES else 0

    def open_direct(self) -> DirectReads:
        """Start reading straight into the ring (see :class:`DirectReads`): until
        :meth:`DirectReads.close`, the next :attr:`direct_read_bytes` of the ring count as
        dropped for every reader, the window keeps its length, and nothing else may write
        the buffer.

        Raises:
            ValueError: the buffer cannot be read into (:attr:`direct_read_bytes` is 0).
        """
        size = self.direct_read_bytes
        if not size:
            raise ValueError("the ring cannot be read into directly yet")
        self._reserved = size
        self._changes += 1
        return DirectReads(self, size)

    def _consistent(self, read: Callable[[], _T]) -> _T:
        """``read()``, again for as long as a direct reader changed the buffer meanwhile."""
        while True:
            changes = self._changes
            result = read()
            if changes == self._changes:
                return result

    def _tail_start(self) -> int:
        """The offset of the oldest byte in the ring (``total`` while the ring is empty);
        bytes reserved for a direct read count as dropped."""
        return max(len(self._head), self._total - len(self._tail) + self._reserved)

    def _render_start(self) -> int:
        """The offset of the oldest byte the rendering shows after the head."""
        return max(self._tail_start(), self._total - self._tail_capacity)

    def _copy(self, start: int, end: int) -> bytes:
        """The kept bytes of offsets ``[start, end)``, which must hold no dropped byte."""
        # Slices, not memoryviews: a view left alive on the head would make the next write's
        # resize fail. Either way the cost is a copy of the range, never of the whole buffer.
        head_len = len(self._head)
        parts: list[bytearray] = []
        if start < head_len:
            parts.append(self._head[start : min(end, head_len)])
        ring_start = max(start, head_len)
        if end > ring_start:
            cap = len(self._tail)
            pos = (ring_start - self._head_capacity) % cap
            n = end - ring_start
            first = min(cap - pos, n)
            parts.append(self._tail[pos : pos + first])
            if first < n:
                parts.append(self._tail[: n - first])
        return b"".join(parts)

    def read(self, offset: int, limit: int) -> OutputChunk:
        """The kept bytes from output ``offset`` on, at most ``limit`` of them.

        Bytes from ``offset`` that were dropped are skipped and counted, so the chunk starts at
        the oldest kept byte past them. A chunk never spans dropped bytes: a read in the head
        stops at the head's end when the tail no longer follows on, and the next read reports
        the gap. An offset at or past the end gives an empty chunk starting at the end. The
        cost is that of copying the chunk, whatever the total.

        Raises:
            ValueError: ``offset`` is negative or ``limit`` is below 1.
        """
        if offset < 0:
            raise ValueError(f"offset must not be negative, got {offset}")
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        return self._consistent(lambda: self._read(offset, limit))

    def _read(self, offset: int, limit: int) -> OutputChunk:
        total = self._total
        head_len = len(self._head)
        tail_start = self._tail_start()
        start = min(offset if offset < head_len else max(offset, tail_start), total)
        end = min(start + limit, total)
        if start < head_len < tail_start:
            end = min(end, head_len)
        return OutputChunk(self._copy(start, end), start, max(0, start - offset))

    def render(self) -> tuple[str, Truncation | None]:
        """The text for a model, and what was dropped (``None`` when nothing was): the head
        and the tail as :func:`agentproc.rendering.render` joins them."""
        total, head, tail = self._consistent(self._rendered)
        return render(total, head, tail, self._max_line_bytes)

    def _rendered(self) -> tuple[int, bytes, bytes]:
        """The output's length, the head, and the tail the rendering shows."""
        total = self._total
        return total, bytes(self._head), self._copy(self._render_start(), total)

    def bytes(self) -> bytes:
        """A copy of the rendered bytes, head then tail, without marker or line cuts."""
        _, head, tail = self._consistent(self._rendered)
        return head + tail

    def __len__(self) -> int:
        """Bytes stored now (at most ``head_capacity + window_capacity``)."""
        return self._consistent(lambda: len(self._head) + self._total - self._tail_start())

    @property
    def window_bytes(self) -> int:
        """The length of the window's ring: the memory it holds, whether filled yet or not."""
        return len(self._tail)

    def shrink_window(self, size: int) -> int:
        """Keep at most the newest ``size`` bytes after the head (never fewer than
        ``tail_capacity``) from now on; returns how many bytes of ring this freed.

        The rendering is unchanged; reads find the older bytes of the window dropped. While
        direct reads are under way, the window keeps its length (0 is freed).
        """
        if self._reserved:
            return 0
        size = max(size, self._tail_capacity)
        self._window_capacity = min(self._window_capacity, size)
        old = len(self._tail)
        if old <= size:
            return 0
        # A ring longer than size holds more than size bytes: it is full, so the new one is.
        keep_from = self._total - size
        kept = self._copy(keep_from, self._total)
        ring = bytearray(size)
        pos = (keep_from - self._head_capacity) % size
        first = size - pos
        ring[pos:] = kept[:first]
        ring[:pos] = kept[first:]
        self._tail = ring
        self._wrapped = True
        return old - size

    @property
    def total_written(self) -> int:
        """Every byte ever accepted, stored or not: the offset where the output ends now."""
        return self._total


class DirectReads:
    """Reads from a file descriptor straight into a buffer's ring, from any thread: the bytes
    go where :meth:`HeadTailBuffer.write` would have copied them, without the copy. Made by
    :meth:`HeadTailBuffer.open_direct`.

    Each read fills the part of the ring past the end of the output that the buffer keeps
    reserved, then makes it output; meanwhile the next part is reserved. Kept lean: it runs
    once per read of a fast writer's pipe, and its cost slows the writer down.
    """

    __slots__ = ("_buffer", "_cap", "_pos", "_ring", "_size")

    def __init__(self, buffer: HeadTailBuffer, size: int) -> None:
        self._buffer = buffer
        self._size = size
        self._cap = len(buffer._tail)
        self._pos = (buffer._total - buffer._head_capacity) % self._cap
        self._ring = memoryview(buffer._tail)

    def read_from(self, fd: int) -> int:
        """One read of ``fd`` into the ring; how many bytes it brought (0: the end).

        Raises:
            BlockingIOError: nothing to read now (a non-blocking ``fd``).
            OSError: the read failed.
        """
        pos, cap, ring = self._pos, self._cap, self._ring
        end = pos + self._size
        count = os.readv(fd, [ring[pos:end]] if end <= cap else [ring[pos:], ring[: end - cap]])
        buffer = self._buffer
        buffer._total += count
        buffer._changes += 1
        self._pos = (pos + count) % cap
        return count

    def close(self) -> None:
        """Reads are over: the whole ring is readable, and written, as before."""
        self._ring.release()
        self._buffer._reserved = 0
        self._buffer._changes += 1
