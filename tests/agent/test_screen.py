"""The screen emulator on its own: bytes in, the lines a person sees and the cursor out."""

from __future__ import annotations

from agentproc.screen import Screen
from agentproc.spec import TerminalSize

SMALL = TerminalSize(rows=3, cols=10)


def test_lines_are_one_per_row_without_trailing_spaces() -> None:
    """Every row is listed, empty ones too, and trailing spaces are dropped."""
    screen = Screen(SMALL, scrollback_lines=10)
    screen.feed(b"a  b   \r\n")
    state = screen.render()
    assert state.lines == ("a  b", "", "")
    assert (state.cursor_row, state.cursor_col) == (1, 0)
    assert state.size == SMALL


def test_escape_sequences_are_applied_not_shown() -> None:
    """Colours vanish, cursor moves move, a clear clears: the screen holds only text."""
    screen = Screen(SMALL, scrollback_lines=10)
    screen.feed(b"\x1b[31mred\x1b[0m\r\nold text\x1b[2J\x1b[Hnew\x1b[2;4Hx")
    state = screen.render()
    assert state.lines == ("new", "   x", "")
    assert (state.cursor_row, state.cursor_col) == (1, 4)


def test_lines_that_scroll_off_the_top_are_kept_oldest_first_up_to_the_cap() -> None:
    """The scrollback holds what scrolled off, at most its cap, and returns as many as asked."""
    screen = Screen(SMALL, scrollback_lines=2)
    screen.feed(b"".join(b"row %d\r\n" % n for n in range(1, 7)))
    assert screen.render().lines == ("row 5", "row 6", "")
    assert screen.render(scrollback=5).scrollback == ("row 3", "row 4")
    assert screen.render(scrollback=1).scrollback == ("row 4",)
    assert screen.render().scrollback == ()


def test_a_scrolling_region_keeps_nothing_in_the_scrollback() -> None:
    """A line leaving a region of the screen (below a status line) is not history."""
    screen = Screen(TerminalSize(rows=4, cols=10), scrollback_lines=10)
    screen.feed(b"status\x1b[2;4r\x1b[2;1H" + b"".join(b"r%d\r\n" % n for n in range(6)))
    assert screen.render(scrollback=10).scrollback == ()
    assert screen.render().lines[0] == "status"


def test_wide_characters_take_two_cells_and_show_once() -> None:
    """A wide character is one character of the line, whose next cell it covers."""
    screen = Screen(SMALL, scrollback_lines=0)
    screen.feed("你好x".encode())
    state = screen.render()
    assert state.lines[0] == "你好x"
    assert state.cursor_col == 5


def test_the_cursor_after_the_last_column_is_reported_on_it() -> None:
    """A full line leaves the cursor waiting past the edge; it is reported in the last
    column, inside the screen."""
    screen = Screen(SMALL, scrollback_lines=0)
    screen.feed(b"0123456789")
    assert screen.render().cursor_col == 9


def test_resize_and_reset() -> None:
    """A resize changes the size and keeps the text that fits; a reset starts blank at the
    given size and keeps the scrollback."""
    screen = Screen(SMALL, scrollback_lines=5)
    screen.feed(b"one\r\ntwo\r\nthree\r\nfour")
    screen.resize(TerminalSize(rows=5, cols=4))
    assert screen.render().lines == ("two", "thre", "four", "", "")
    screen.reset(TerminalSize(rows=2, cols=2))
    state = screen.render(scrollback=5)
    assert state.lines == ("", "")
    assert state.size == TerminalSize(rows=2, cols=2)
    assert state.scrollback == ("one",)


def test_invalid_utf8_is_replaced_and_a_split_character_is_joined() -> None:
    """Bytes that are not UTF-8 show as U+FFFD; a character cut across two feeds shows whole."""
    screen = Screen(SMALL, scrollback_lines=0)
    screen.feed(b"\xff \xc3")
    screen.feed(b"\xa9")
    assert screen.render().lines[0] == "\ufffd é"


def test_erasing_blanks_what_it_covers() -> None:
    """Erase in display and in line, each way, leave spaces where text was, also over the
    alignment pattern, whose rows read as ``E`` everywhere else."""
    screen = Screen(TerminalSize(rows=4, cols=4), scrollback_lines=0)
    screen.feed(b"\x1b#8")
    assert screen.render().lines == ("EEEE",) * 4
    screen.feed(b"\x1b[2;2H\x1b[K\x1b[3;3H\x1b[1K\x1b[1;1H\x1b[1J\x1b[4;1H\x1b[0J")
    assert screen.render().lines == (" EEE", "E", "   E", "")
    screen.feed(b"\x1b[1;1Hab\x1b[2K\x1b[3;1H\x1b[2J")
    assert screen.render().lines == ("", "", "", "")


def test_the_alignment_pattern_scrolls_into_the_scrollback_as_text() -> None:
    """A row of the pattern that scrolls off is kept as its text."""
    screen = Screen(TerminalSize(rows=2, cols=3), scrollback_lines=5)
    screen.feed(b"\x1b#8\x1b[2;1H\r\nx")
    state = screen.render(scrollback=5)
    assert state.scrollback == ("EEE",)
    assert state.lines == ("EEE", "x")
