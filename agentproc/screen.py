"""A terminal's screen as a person would see it: a VT100/xterm emulator fed its output.

:class:`Screen` wraps pyte, the maintained pure-Python terminal emulator: bytes in (escape
sequences, UTF-8, carriage returns), rendered lines and a cursor out. It also keeps the text
of the lines that scroll off the top, at most a configured number of them, as plain strings
(pyte's own history keeps whole rows of styled cells, which cost far more per line).

Memory is bounded by the screen's size (one cell per written position) plus the capped
scrollback; it does not grow with the output. The class is synchronous and holds no lock:
feeding it may take long for some input, so :mod:`agentproc.screenfeed` decides what it is
fed, when, and on which thread.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import pyte
from pyte.screens import Char, Margins, StaticDefaultDict

from agentproc.spec import TerminalSize

__all__ = ["Screen", "ScreenState"]


@dataclass(frozen=True, slots=True)
class ScreenState:
    """What a screen shows at one moment."""

    size: TerminalSize
    """Its rows and columns."""

    lines: tuple[str, ...]
    """One string per row, top to bottom, without trailing spaces."""

    cursor_row: int
    """The cursor's row, from 0 at the top."""

    cursor_col: int
    """The cursor's column, from 0 at the left."""

    scrollback: tuple[str, ...]
    """Lines that scrolled off the top, oldest first, as many as were asked for (at most)."""


class _ScrollingScreen(pyte.Screen):
    """pyte's screen, keeping the text of each line that scrolls off the top of the screen.

    Only text is ever read from it, so erasing forgets cells instead of painting them with
    the cursor's colours, and the alignment pattern (``ESC # 8``) gives each row "E" as the
    default of its cells instead of writing every cell: pyte's own ways visit every cell of
    the screen, seconds of work for a few bytes on a 1000 x 1000 one.
    """

    def __init__(self, size: TerminalSize, scrollback: deque[str]) -> None:
        super().__init__(size.cols, size.rows)
        self.scrollback = scrollback

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        if how == 0:
            rows = range(self.cursor.y + 1, self.lines)
        elif how == 1:
            rows = range(self.cursor.y)
        elif how in (2, 3):
            rows = range(self.lines)
        else:
            return
        self.dirty.update(rows)
        for row in rows:
            self.buffer.pop(row, None)  # the next use makes a blank one
        if how in (0, 1):
            self.erase_in_line(how)

    def erase_in_line(self, how: int = 0, private: bool = False) -> None:
        if how == 0:
            columns = range(self.cursor.x, self.columns)
        elif how == 1:
            columns = range(self.cursor.x + 1)
        elif how == 2:
            columns = range(self.columns)
        else:
            return
        self.dirty.add(self.cursor.y)
        line = self.buffer[self.cursor.y]
        if _blank(line):
            for column in [column for column in line if column in columns]:
                del line[column]
        else:
            blank = self.default_char
            for column in columns:
                line[column] = blank

    def alignment_display(self) -> None:
        self.dirty.update(range(self.lines))
        letter = self.default_char._replace(data="E")
        for row in range(self.lines):
            self.buffer[row] = StaticDefaultDict(letter)

    def index(self) -> None:
        top, bottom = self.margins or Margins(0, self.lines - 1)
        # Only a scroll of the whole screen moves a line into the scrollback, as in xterm: a
        # line leaving a scrolling region (a status bar's neighbour) is overwritten, not kept.
        if self.cursor.y == bottom and top == 0:
            self.scrollback.append(_text(self.buffer[top], self.columns))
        super().index()


class Screen:
    """A terminal's screen, fed the terminal's output.

    Args:
        size: the terminal's size.
        scrollback_lines: how many lines that scrolled off the top are kept, at most.
    """

    def __init__(self, size: TerminalSize, scrollback_lines: int) -> None:
        self._scrollback: deque[str] = deque(maxlen=scrollback_lines)
        self._screen = _ScrollingScreen(size, self._scrollback)
        self._stream = pyte.ByteStream(self._screen)

    @property
    def size(self) -> TerminalSize:
        """The size the screen has now."""
        return TerminalSize(self._screen.lines, self._screen.columns)

    def feed(self, data: bytes) -> None:
        """Apply ``data``, output of the terminal, in order after everything fed before.

        Raises:
            Exception: the emulator failed on ``data`` (pyte refuses some malformed escape
                sequences with a ``TypeError``); what follows the failure in ``data`` is
                lost, the screen keeps what was applied, and the next feed starts afresh.
        """
        try:
            self._stream.feed(data)
        except Exception:
            # The parser is a generator, finished by the exception: give the screen a new one.
            self._stream = pyte.ByteStream(self._screen)
            raise

    def resize(self, size: TerminalSize) -> None:
        """Give the screen ``size``, as the terminal was given it (what the program draws
        after the resize fits the new size)."""
        self._screen.resize(size.rows, size.cols)

    def reset(self, size: TerminalSize) -> None:
        """Start over with a blank screen of ``size`` and a fresh decoder, as after output
        the screen never saw; the scrollback stays."""
        self._screen = _ScrollingScreen(size, self._scrollback)
        self._stream = pyte.ByteStream(self._screen)

    def render(self, scrollback: int = 0) -> ScreenState:
        """What the screen shows, with up to ``scrollback`` lines that scrolled off it."""
        screen = self._screen
        kept = len(self._scrollback)
        wanted = min(max(scrollback, 0), kept)
        return ScreenState(
            size=self.size,
            lines=tuple(_text(screen.buffer[row], screen.columns) for row in range(screen.lines)),
            cursor_row=min(screen.cursor.y, screen.lines - 1),
            # Right after a character in the last column the cursor waits past it.
            cursor_col=min(screen.cursor.x, screen.columns - 1),
            scrollback=tuple(self._scrollback)[kept - wanted :],
        )


def _blank(line: StaticDefaultDict[int, Char]) -> bool:
    """Whether the cells of ``line`` that hold nothing show a space."""
    return line.default.data == " "


def _text(line: StaticDefaultDict[int, Char], columns: int) -> str:
    """A row's text without trailing spaces. pyte leaves the cell after a wide character
    empty, so joining the cells spells the row as it shows."""
    if not _blank(line):
        end = columns
    elif line:
        end = min(columns, max(line) + 1)
    else:
        end = 0
    return "".join(line[column].data for column in range(end)).rstrip(" ")
