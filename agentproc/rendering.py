"""What a model reads of a long output: its head and tail, joined by the omission marker, with
long lines cut.

The buffer (:mod:`agentproc.buffer`) decides which bytes are kept; this module turns the kept
head and tail into text and says what was dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agentsdk.wire import omission_marker

__all__ = ["DEFAULT_MAX_LINE_BYTES", "LINE_CUT_SUFFIX", "Truncation", "cut_lines", "render"]

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


def render(
    total: int, head: bytes, tail: bytes, max_line_bytes: int
) -> tuple[str, Truncation | None]:
    """The text for a model of an output of ``total`` bytes of which ``head`` and ``tail``
    are kept, and what was dropped (``None`` when nothing was).

    The head is returned whole while the tail is empty. Otherwise head and tail are joined by
    the omission marker, or by a single newline when nothing was omitted (Coder's rendering,
    kept for compatibility). Lines longer than ``max_line_bytes`` are cut in each half
    independently; invalid UTF-8, including a character cut in two, becomes U+FFFD.
    """
    if total == 0:
        return "", None
    if not tail:
        return cut_lines(head, max_line_bytes).decode("utf-8", "replace"), None
    omitted = total - len(head) - len(tail)
    separator = omission_marker(omitted).encode() if omitted else b"\n"
    text = cut_lines(head, max_line_bytes) + separator + cut_lines(tail, max_line_bytes)
    truncation = Truncation(original_bytes=total, retained_bytes=len(text), omitted_bytes=omitted)
    return text.decode("utf-8", "replace"), truncation


def cut_lines(data: bytes, limit: int) -> bytes:
    """``data`` with every line longer than ``limit`` bytes cut to it, suffix included."""
    if len(data) <= limit:
        return data
    lines = data.split(b"\n")
    if all(len(line) <= limit for line in lines):
        return data
    keep = limit - len(LINE_CUT_SUFFIX)
    return b"\n".join(
        line if len(line) <= limit else line[:keep] + LINE_CUT_SUFFIX for line in lines
    )
