"""Cursor reads as text: where a read may end, and what ``since`` and ``limit`` may say
(spec: live-io.md, "Output as a byte stream")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentproc.buffer import HeadTailBuffer
from agentproc.cursor import MAX_OFFSET, CursorRequest, parse_cursor, parse_offset, read_text
from agentproc.errors import InvalidRequest
from agentsdk.wire import DEFAULT_CURSOR_LIMIT_BYTES, MAX_CURSOR_LIMIT_BYTES

from .test_buffer_read import PROPERTIES

EURO = "€".encode()
"""Three bytes: ``e2 82 ac``."""

CLEF = "𝄞".encode()
"""Four bytes: ``f0 9d 84 9e``."""


def buffer_of(*pieces: bytes, head: int = 1024, tail: int = 1024) -> HeadTailBuffer:
    """A buffer holding ``pieces``, written one by one."""
    buf = HeadTailBuffer(head, tail)
    for piece in pieces:
        buf.write(piece)
    return buf


def text_and_end(buf: HeadTailBuffer, offset: int, limit: int, *, final: bool) -> tuple[str, int]:
    """What :func:`read_text` returns that a reader uses: the text and the next offset."""
    chunk = read_text(buf, offset, limit, final=final)
    return chunk.text, chunk.next_offset


class TestCharacterBoundaries:
    """A read never ends inside a character that may still be read whole."""

    def test_a_character_the_limit_would_cut_is_left_for_the_next_read(self) -> None:
        """``ab€`` with limit 3: ``ab`` now, ``€`` next time, and no U+FFFD either time."""
        buf = buffer_of(b"ab" + EURO)
        assert text_and_end(buf, 0, 3, final=False) == ("ab", 2)
        assert text_and_end(buf, 2, 3, final=False) == ("€", 5)

    def test_a_first_character_longer_than_the_limit_is_returned_whole(self) -> None:
        """With limit 1 a four-byte character still comes out, so reads always move on."""
        buf = buffer_of(CLEF + b"x")
        assert text_and_end(buf, 0, 1, final=False) == ("𝄞", 4)
        assert text_and_end(buf, 4, 1, final=False) == ("x", 5)

    def test_a_character_still_arriving_waits_for_its_last_byte(self) -> None:
        """While the process runs, the first bytes of a character at the end are not read."""
        buf = buffer_of(b"ok" + CLEF[:2])
        assert text_and_end(buf, 0, 100, final=False) == ("ok", 2)
        assert text_and_end(buf, 2, 100, final=False) == ("", 2)
        buf.write(CLEF[2:])
        assert text_and_end(buf, 2, 100, final=False) == ("𝄞", 6)

    def test_once_the_process_exited_an_incomplete_character_is_a_replacement(self) -> None:
        """No more bytes can come: the rest is decoded, U+FFFD for what is incomplete."""
        buf = buffer_of(b"ok" + CLEF[:2])
        assert text_and_end(buf, 0, 100, final=True) == ("ok\ufffd", 4)

    def test_a_character_cut_by_dropped_bytes_does_not_hold_the_reader(self) -> None:
        """The head ends inside a character whose rest was dropped: the read goes on."""
        buf = HeadTailBuffer(3, 4)
        buf.write(b"ab" + EURO + b"0123456789")
        assert text_and_end(buf, 0, 100, final=False) == ("ab\ufffd", 3)
        chunk = read_text(buf, 3, 100, final=False)
        assert (chunk.text, chunk.start, chunk.skipped) == ("6789", 11, 8)

    def test_invalid_bytes_are_replacement_characters_not_a_wait(self) -> None:
        """Bytes that can start no character are never held back."""
        buf = buffer_of(b"a\xff\xfe")
        assert text_and_end(buf, 0, 100, final=False) == ("a\ufffd\ufffd", 3)

    @PROPERTIES
    @given(
        text=st.text(max_size=60),
        cuts=st.lists(st.integers(0, 240), max_size=6),
        limit=st.integers(1, 20),
    )
    def test_reads_while_writing_reassemble_the_text_exactly(
        self, text: str, cuts: list[int], limit: int
    ) -> None:
        """Any text, written in any pieces, read between writes with any limit, then to the
        end once final: the texts joined are the text written, no character broken."""
        data = text.encode()
        buf = HeadTailBuffer(4096, 4096)
        read = ""
        offset = 0
        bounds = sorted({min(c, len(data)) for c in cuts} | {len(data)})
        written = 0
        for bound in bounds:
            buf.write(data[written:bound])
            written = bound
            while True:
                chunk = read_text(buf, offset, limit, final=False)
                if not chunk.text:
                    break
                read += chunk.text
                offset = chunk.next_offset
        while offset < len(data):
            chunk = read_text(buf, offset, limit, final=True)
            read += chunk.text
            offset = chunk.next_offset
        assert read == text


class TestParsing:
    """``since``, ``limit`` and an event id: what they may say and what they mean."""

    @pytest.mark.parametrize(
        ("since", "limit", "expected"),
        [
            ("0", None, CursorRequest(0, DEFAULT_CURSOR_LIMIT_BYTES)),
            ("0042", "7", CursorRequest(42, 7)),
            ("last", "1", CursorRequest(None, 1)),
            ("5", "0010", CursorRequest(5, 10)),
            ("1", str(MAX_CURSOR_LIMIT_BYTES + 1), CursorRequest(1, MAX_CURSOR_LIMIT_BYTES)),
            ("1", "9" * 5000, CursorRequest(1, MAX_CURSOR_LIMIT_BYTES)),
            ("9" * 5000, None, CursorRequest(MAX_OFFSET, DEFAULT_CURSOR_LIMIT_BYTES)),
        ],
    )
    def test_valid_values(self, since: str, limit: str | None, expected: CursorRequest) -> None:
        """Offsets of any length, leading zeros, ``last``, and limits capped at 1 MiB."""
        assert parse_cursor(since, limit) == expected

    def test_no_since_is_a_snapshot(self) -> None:
        """Without ``since`` the read is Coder's head+tail snapshot."""
        assert parse_cursor(None, None) is None

    @pytest.mark.parametrize(
        ("since", "limit", "field"),
        [
            ("-1", None, "since"),
            ("", None, "since"),
            ("1.5", None, "since"),
            ("+3", None, "since"),
            ("LAST", None, "since"),
            ("٣", None, "since"),
            ("0", "0", "limit"),
            ("0", "000", "limit"),
            ("0", "-5", "limit"),
            ("0", "", "limit"),
            ("0", "1e3", "limit"),
            (None, "10", "limit"),
        ],
    )
    def test_invalid_values_name_the_field(
        self, since: str | None, limit: str | None, field: str
    ) -> None:
        """Not a non-negative offset or ``last``, not a positive limit, a limit alone: 400."""
        with pytest.raises(InvalidRequest) as refused:
            parse_cursor(since, limit)
        assert [v.field for v in refused.value.validations] == [field]

    def test_an_event_id_is_an_offset(self) -> None:
        """``Last-Event-ID`` takes the same offsets, named as the header."""
        assert parse_offset("17", "Last-Event-ID") == 17
        with pytest.raises(InvalidRequest, match="Last-Event-ID"):
            parse_offset("abc", "Last-Event-ID")
