"""The bounded head+tail output buffer.

A process may print gigabytes; a language model can read a few kilobytes. The buffer keeps
the first bytes (what the command was doing) and a ring of the last bytes (the error, the
summary line), counts everything it dropped, and renders the two halves with an explicit
omission marker. Memory stays at ``head_capacity + tail_capacity`` whatever is written.

The buffer is pure and synchronous: bytes in, text out. It has no lock: the process
manager's pump writes it and request handlers read it, all on the one event loop thread, and
no method awaits, so no reader ever sees a write half done. When the process is done with it
is the process's own business (``ManagedProcess.wait``), not the buffer's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFAULT_HEAD_BYTES",
    "DEFAULT_MAX_LINE_BYTES",
    "DEFAULT_TAIL_BYTES",
    "HeadTailBuffer",
    "Truncation",
]

DEFAULT_HEAD_BYTES = 16384
"""The start of the output: usually what the command was doing."""

DEFAULT_TAIL_BYTES = 16384
"""The end of the output: usually the error or the summary."""

DEFAULT_MAX_LINE_BYTES = 2048
"""One minified bundle or base64 blob must not eat the whole budget."""

LINE_CUT_SUFFIX = b" ... [truncated]"
"""Appended to a cut line, so the reader knows the line went on."""


@dataclass(frozen=True, slots=True)
class Truncation:
    """What a rendering dropped; mirrors the wire type ``ProcessTruncation``."""

    original_bytes: int
    retained_bytes: int
    omitted_bytes: int
    strategy: Literal["head_tail"] = "head_tail"
    """How the output was shortened: the start and the end kept, the middle dropped."""


class HeadTailBuffer:
    """Keep the first ``head_capacity`` and the last ``tail_capacity`` bytes written.

    Args:
        head_capacity: bytes kept from the start of the output.
        tail_capacity: bytes kept from the end, once the head is full.
        max_line_bytes: longer lines are cut in the rendering (not in storage).
    """

    def __init__(
        self,
        head_capacity: int = DEFAULT_HEAD_BYTES,
        tail_capacity: int = DEFAULT_TAIL_BYTES,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        if head_capacity < 1 or tail_capacity < 1:
            raise ValueError("head_capacity and tail_capacity must be at least 1 byte")
        if max_line_bytes <= len(LINE_CUT_SUFFIX):
            raise ValueError(f"max_line_bytes must exceed {len(LINE_CUT_SUFFIX)} bytes")
        self._head_capacity = head_capacity
        self._tail_capacity = tail_capacity
        self._max_line_bytes = max_line_bytes
        self._head = bytearray()
        # The ring is allocated on first use: most commands never fill the head.
        self._tail = bytearray()
        self._tail_pos = 0
        self._tail_len = 0
        self._total = 0

    def write(self, data: bytes) -> int:
        """Append ``data``; returns ``len(data)``. Never blocks, never fails."""
        n = len(data)
        if n == 0:
            return 0
        view = memoryview(data)
        self._total += n
        room = self._head_capacity - len(self._head)
        if room > 0:
            self._head += view[:room]
            view = view[room:]
        if len(view):
            self._write_tail(view)
        return n

    def _write_tail(self, data: memoryview) -> None:
        cap = self._tail_capacity
        if not self._tail:
            self._tail = bytearray(cap)
        n = len(data)
        if n >= cap:
            self._tail[:] = data[n - cap :]
            self._tail_pos = 0
            self._tail_len = cap
            return
        pos = self._tail_pos
        first = min(cap - pos, n)
        self._tail[pos : pos + first] = data[:first]
        rest = n - first
        if rest:
            self._tail[:rest] = data[first:]
        self._tail_pos = (pos + n) % cap
        self._tail_len = min(cap, self._tail_len + n)

    def _tail_bytes(self) -> bytes:
        if self._tail_len < self._tail_capacity:
            return bytes(self._tail[: self._tail_len])
        pos = self._tail_pos
        return bytes(self._tail[pos:] + self._tail[:pos])

    def render(self) -> tuple[str, Truncation | None]:
        """The text for a model, and what was dropped (``None`` when nothing was).

        The head is returned whole while the tail is empty. Otherwise head and tail are
        joined by the omission marker, or by a single newline when nothing was omitted
        (Coder's rendering, kept for compatibility). Long lines are cut in each half
        independently; invalid UTF-8, including a character cut in two, becomes U+FFFD.
        """
        total = self._total
        head = bytes(self._head)
        tail = self._tail_bytes() if len(head) >= self._head_capacity else b""
        if total == 0:
            return "", None
        if not tail:
            return self._cut_lines(head).decode("utf-8", "replace"), None
        omitted = total - len(head) - len(tail)
        separator = f"\n\n... [omitted {omitted} bytes] ...\n\n".encode() if omitted else b"\n"
        text = self._cut_lines(head) + separator + self._cut_lines(tail)
        truncation = Truncation(
            original_bytes=total, retained_bytes=len(text), omitted_bytes=omitted
        )
        return text.decode("utf-8", "replace"), truncation

    def _cut_lines(self, data: bytes) -> bytes:
        limit = self._max_line_bytes
        if len(data) <= limit:
            return data
        lines = data.split(b"\n")
        if all(len(line) <= limit for line in lines):
            return data
        keep = limit - len(LINE_CUT_SUFFIX)
        return b"\n".join(
            line if len(line) <= limit else line[:keep] + LINE_CUT_SUFFIX for line in lines
        )

    def bytes(self) -> bytes:
        """A copy of the stored bytes, head then tail, without marker or line cuts."""
        return bytes(self._head) + self._tail_bytes()

    def __len__(self) -> int:
        """Bytes stored now (at most ``head_capacity + tail_capacity``)."""
        return len(self._head) + self._tail_len

    @property
    def total_written(self) -> int:
        """Every byte ever accepted, stored or not."""
        return self._total
