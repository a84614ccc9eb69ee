"""A process's terminal as readers and resizers see it: its size, resizes, and its screen.

:class:`ProcessTerminal` is the terminal side of :class:`~agentproc.process.ManagedProcess`,
which it is mixed into. The screen's emulation and its feeding from the buffer are
:mod:`agentproc.screenfeed`'s; the pseudo-terminal itself is :mod:`agentproc.terminal`'s.

It knows nothing of HTTP, supervision or cursor reads.
"""

from __future__ import annotations

from agentproc.errors import NoTerminal, ProcessNotRunning, TerminalFailed
from agentproc.screenfeed import ScreenFeed
from agentproc.spawner import Child
from agentproc.spec import TerminalSize
from agentproc.terminal import Terminal
from agentsdk.types import ExitReason, ProcessScreenResponse, ScreenCursor

__all__ = ["ProcessTerminal"]


class ProcessTerminal:
    """The terminal of one process, if it has one; mixed into ``ManagedProcess``, which sets
    every attribute declared here."""

    id: str
    exit_code: int | None
    exit_reason: ExitReason | None
    _child: Child
    _screen: ScreenFeed | None

    @property
    def terminal(self) -> Terminal | None:
        """The command's terminal (its size, and the identity of the device the command's
        stdin, stdout and stderr are); ``None`` when they are pipes."""
        return self._child.terminal

    def resize(self, size: TerminalSize) -> None:
        """Give the command's terminal ``size``; its foreground job gets ``SIGWINCH``.

        Raises:
            NoTerminal: the command has no terminal.
            ProcessNotRunning: the process has exited.
            TerminalFailed: the OS refused.
        """
        terminal = self.terminal
        if terminal is None or self._screen is None:
            raise NoTerminal(self.id)
        if self.exit_code is not None:
            raise ProcessNotRunning(self.id)
        try:
            terminal.resize(size)
        except OSError as exc:
            raise TerminalFailed(f"resize the terminal of process {self.id}: {exc}") from exc
        self._screen.resize(size)

    async def screen(self, scrollback: int | None = None) -> ProcessScreenResponse:
        """The terminal's screen after all output so far, and the exit state read first, so
        ``running: false`` means the screen shows every byte the process wrote.

        Args:
            scrollback: also this many lines that scrolled off the top, at most.

        Raises:
            NoTerminal: the command has no terminal.
        """
        if self._screen is None:
            raise NoTerminal(self.id)
        exit_code, exit_reason = self.exit_code, self.exit_reason
        state = await self._screen.render(scrollback or 0)
        return ProcessScreenResponse(
            rows=state.size.rows,
            cols=state.size.cols,
            lines=list(state.lines),
            cursor=ScreenCursor(row=state.cursor_row, col=state.cursor_col),
            running=exit_code is None,
            exit_code=exit_code,
            exit_reason=exit_reason,
            scrollback=None if scrollback is None else list(state.scrollback),
        )
