"""Cursor reads of a process's output: where a read starts, how much it takes, and where it
may end without cutting a character in two (spec: live-io.md).

A cursor read returns the kept bytes from a byte offset on, as text. Text must not end in the
middle of a UTF-8 sequence while the rest of it may still come: the sequence is left for the
next read, which then decodes it whole. Once no more bytes can follow (the process exited, or
the kept bytes stop at the head before a dropped stretch), whatever is there is decoded, with
U+FFFD for what is incomplete.

Also here, so that every front door refuses the same things: the grammar of ``since``,
``limit`` and an event id, and what they mean.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from agentproc.body import capped_decimal
from agentproc.buffer import HeadTailBuffer
from agentproc.errors import FieldError, InvalidRequest
from agentsdk.wire import DEFAULT_CURSOR_LIMIT_BYTES, MAX_CURSOR_LIMIT_BYTES, SINCE_LAST

__all__ = [
    "LIMIT_PATTERN",
    "MAX_OFFSET",
    "OFFSET_PATTERN",
    "SINCE_PATTERN",
    "CursorRequest",
    "TextChunk",
    "parse_cursor",
    "parse_offset",
    "read_text",
]

OFFSET_PATTERN = r"^[0-9]+$"
"""A byte offset: a non-negative whole number, leading zeros allowed."""

SINCE_PATTERN = rf"^([0-9]+|{SINCE_LAST})$"
"""Where a cursor read starts: an offset, or ``last`` (where this chat's previous read ended)."""

LIMIT_PATTERN = r"^0*[1-9][0-9]*$"
"""How many bytes a cursor read returns at most: a positive whole number."""

MAX_OFFSET = 2**63 - 1
"""No output gets this long; a larger offset means the same (past the end), so an offset of
any number of digits is read without converting them all."""

UTF8_LOOKAHEAD = 3
"""Bytes read past the limit to see whether a character cut by it is complete after it."""

_SEQUENCE_LENGTHS = ((0xC2, 0xE0, 2), (0xE0, 0xF0, 3), (0xF0, 0xF5, 4))
"""The lead bytes of multi-byte UTF-8 sequences, as ``[low, high)`` ranges, and their lengths."""


@dataclass(frozen=True, slots=True)
class CursorRequest:
    """A cursor read as asked for: from an offset or from ``last``, and how much."""

    since: int | None
    """The offset to read from; ``None`` for ``since=last``."""

    limit: int
    """Bytes to return at most (a character cut by it may add up to 3)."""


@dataclass(frozen=True, slots=True)
class TextChunk:
    """Output from an offset on, decoded, as :func:`read_text` found it."""

    text: str
    """The bytes from ``start`` to ``next_offset``, decoded as UTF-8 with replacement."""

    start: int
    """The offset of the first byte of ``text`` (the end of the output when it is empty)."""

    next_offset: int
    """Where the next read continues: past ``text``, before an incomplete character."""

    skipped: int
    """Bytes between the offset asked for and ``start`` that are no longer kept."""

    total: int
    """Every byte written so far."""


def parse_offset(raw: str, field: str) -> int:
    """``raw`` as a byte offset (capped at :data:`MAX_OFFSET`).

    Raises:
        InvalidRequest: ``raw`` is not a non-negative whole number; names ``field``.
    """
    if re.fullmatch(OFFSET_PATTERN, raw) is None:
        detail = "must be a non-negative whole number"
        raise InvalidRequest(
            f"Invalid value for {field}: {detail}.", validations=(FieldError(field, detail),)
        )
    return capped_decimal(raw, MAX_OFFSET)


def parse_cursor(since: str | None, limit: str | None) -> CursorRequest | None:
    """The cursor read that ``since`` and ``limit`` ask for; ``None`` without ``since`` (a
    head+tail snapshot, as Coder's agent answers).

    Raises:
        InvalidRequest: ``since`` is neither an offset nor ``last``, ``limit`` is not a
            positive whole number, or ``limit`` comes without ``since``.
    """
    if since is None:
        if limit is not None:
            raise InvalidRequest(
                "limit applies to cursor reads: give since too.",
                validations=(FieldError("limit", "needs since"),),
            )
        return None
    if re.fullmatch(SINCE_PATTERN, since) is None:
        detail = f'must be a non-negative whole number or "{SINCE_LAST}"'
        raise InvalidRequest(
            f"Invalid value for since: {detail}.", validations=(FieldError("since", detail),)
        )
    if limit is None:
        count = DEFAULT_CURSOR_LIMIT_BYTES
    elif re.fullmatch(LIMIT_PATTERN, limit) is None:
        detail = "must be a positive whole number"
        raise InvalidRequest(
            f"Invalid value for limit: {detail}.", validations=(FieldError("limit", detail),)
        )
    else:
        count = capped_decimal(limit, MAX_CURSOR_LIMIT_BYTES)
    return CursorRequest(None if since == SINCE_LAST else parse_offset(since, "since"), count)


def read_text(buffer: HeadTailBuffer, offset: int, limit: int, *, final: bool) -> TextChunk:
    """Up to ``limit`` kept bytes of ``buffer`` from ``offset`` on, as text.

    ``final`` says no more bytes will be written (the process exited). Until then a character
    whose bytes have not all arrived is left for the next read. A character that ``limit``
    would cut is left for the next read too, unless it is the first one, which is returned
    whole (up to 3 bytes past ``limit``), so that every read moves forward.
    """
    chunk = buffer.read(offset, limit + UTF8_LOOKAHEAD)
    total = buffer.total_written
    open_end = not final and chunk.next_offset == total
    end = _text_end(chunk.data, limit, open_end=open_end)
    return TextChunk(
        text=chunk.data[:end].decode("utf-8", "replace"),
        start=chunk.start,
        next_offset=chunk.start + end,
        skipped=chunk.skipped,
        total=total,
    )


def _text_end(data: bytes, limit: int, *, open_end: bool) -> int:
    """How many bytes of ``data`` (read with lookahead) a read with ``limit`` returns.

    ``open_end``: more bytes may still follow ``data``'s end.
    """
    end = min(len(data), limit)
    cut = end - _pending(data[:end])
    if cut == end:
        return end
    # data[cut:end] is the start of a character that is not complete before `end`.
    complete = cut + _sequence_length(data[cut])
    if complete <= len(data):
        # Its remaining bytes are here, past the limit: leave it to the next read, unless
        # it is the only thing to return.
        return cut if cut > 0 else complete
    # Its remaining bytes are not kept here: they may still come, or never will (then the
    # read ends at the limit as any other, and the bytes decode as replacement characters).
    return cut if open_end else end


def _pending(data: bytes) -> int:
    """How many bytes at the end of ``data`` begin a character they do not finish."""
    # An unfinished character is at most 3 bytes long, so the last 3 bytes tell.
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    decoder.decode(data[-UTF8_LOOKAHEAD:], final=False)
    pending, _ = decoder.getstate()
    return len(pending)


def _sequence_length(lead: int) -> int:
    for low, high, length in _SEQUENCE_LENGTHS:
        if low <= lead < high:
            return length
    return 1
