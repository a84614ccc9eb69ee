"""Pseudo-terminals: a command on a terminal of its own, and the agent's three ends of it.

:func:`spawn_on_terminal` opens a pseudo-terminal of the requested size and starts the shell
with the terminal as its stdin, stdout and stderr, as the leader of a new session whose
controlling terminal it is, so that the terminal's line discipline acts as it does for a
person at a keyboard: Ctrl-C (``"\\u0003"``) interrupts the foreground job, Ctrl-D ends a
line's input, and a resize sends ``SIGWINCH`` to the foreground job.

The agent keeps the master side as three descriptors, each with one owner that closes it, so
that no owner closes a descriptor another still waits on:

- the output, read by :class:`TerminalIO` (the process's output pump), which closes it when
  the output ends: the kernel answers ``EIO`` once no process holds the terminal any more,
  which is the terminal's clean end of output, not a failure;
- the input, written by :class:`TerminalInput` (the process's input writer), closed when the
  process exits; end-of-file on a terminal is a key (the terminal's ``VEOF``, Ctrl-D), so the
  input stays open until then;
- the control end, held by :class:`Terminal`, through which the terminal is resized; closed
  by the process's supervision once the other two are.

The slave side is opened once, handed to the shell and closed in the agent at once: a
descriptor of it left in the agent would keep the output from ever ending.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import logging
import os
import subprocess
import termios
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from agentproc.blockedreads import InputIdentity
from agentproc.childinput import ChildInput
from agentproc.childio import ChildIO
from agentproc.childsignals import Inherited
from agentproc.spec import TerminalSize

__all__ = [
    "TERMINAL_TYPE",
    "Terminal",
    "TerminalChild",
    "TerminalIO",
    "TerminalInput",
    "spawn_on_terminal",
]

logger = logging.getLogger(__name__)

TERMINAL_TYPE = "xterm-256color"
"""``TERM`` of a command on a terminal, unless its request sets one: what the screen's
emulator understands, and what programs expect of a modern terminal."""

DEFAULT_END_OF_FILE = b"\x04"
"""Ctrl-D: the terminal's end-of-file key, unless the terminal says otherwise."""

_LINE_ENDS = (b"\n", b"\r")


class Terminal:
    """A process's terminal: its size, its identity, and the control end of its master side.

    Args:
        fd: a descriptor of the master side, owned (and closed) by this object.
        size: the size the terminal was opened with.
        device: the identity of the slave side, the terminal the command sees.
    """

    def __init__(self, fd: int, size: TerminalSize, device: InputIdentity) -> None:
        self._fd: int | None = fd
        self._size = size
        self.device = device
        """The terminal the command's stdin, stdout and stderr are: a process whose
        descriptor has this identity reads or writes the command's own terminal."""

    @property
    def size(self) -> TerminalSize:
        """The size the terminal has now."""
        return self._size

    def resize(self, size: TerminalSize) -> None:
        """Give the terminal ``size``; the kernel sends ``SIGWINCH`` to its foreground job.

        Raises:
            OSError: the terminal is closed, or the OS refused.
        """
        if self._fd is None:
            raise OSError("the terminal is closed")
        termios.tcsetwinsize(self._fd, (size.rows, size.cols))
        self._size = size

    def close(self) -> None:
        """Close the control end. Idempotent."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


class TerminalIO(ChildIO):
    """The output end of a terminal: ``EIO`` once every holder of the terminal is gone is
    the end of its output."""

    def _ends_output(self, error: OSError) -> bool:
        return error.errno == errno.EIO


class TerminalInput(ChildInput):
    """The input end of a terminal: what a person types, end-of-file included.

    ``close`` queues the terminal's end-of-file key rather than closing anything, so input
    stays open until the process exits. The key ends input only at the start of a line (after
    unfinished text it hands that text over), so after text that did not end its line it is
    sent twice, as a person would press it.

    Args:
        writer: the master side, written to; closed by :meth:`close`.
        pid: the shell's pid, for the log.
        limit: the most bytes queued and not yet written at once.
        end_of_file: the terminal's end-of-file key (its ``VEOF``).
    """

    def __init__(self, writer: IO[bytes], pid: int, limit: int, end_of_file: bytes) -> None:
        super().__init__(writer, pid, limit)
        self._end_of_file = end_of_file
        self._line_open = False

    def send(self, data: bytes, *, close: bool = False) -> int:
        """Queue ``data``, then end-of-file if ``close``: all of it, or nothing.

        Returns:
            The number of bytes queued, end-of-file keys included.

        Raises:
            anyio.ClosedResourceError: the process has exited.
            InputTooLarge: the input is larger than the queue may ever hold.
            InputQueueFull: the input does not fit beside what is queued now.
        """
        line_open = self._line_open if not data else data[-1:] not in _LINE_ENDS
        if close:
            data += self._end_of_file * (2 if line_open else 1)
            line_open = False
        queued = super().send(data)
        self._line_open = line_open
        return queued


@dataclass(frozen=True, slots=True)
class TerminalChild:
    """A command just started on a terminal: its process, its output and input ends, and the
    terminal itself."""

    popen: subprocess.Popen[bytes]
    io: TerminalIO
    terminal: Terminal


def spawn_on_terminal(
    argv: Sequence[str],
    size: TerminalSize,
    *,
    max_input_bytes: int,
    inherited: Inherited | None = None,
    **popen_args: Any,
) -> TerminalChild:
    """Start ``argv`` on a new terminal of ``size``, as the leader of a new session whose
    controlling terminal it is.

    Args:
        argv: the command line.
        size: the terminal's size.
        max_input_bytes: the bound of the terminal's input queue.
        inherited: signal states the command must not start with
            (:func:`agentproc.childsignals.inherited`), undone in the child before ``exec``.
        popen_args: the rest of ``subprocess.Popen``'s arguments (executable, cwd, env).

    Raises:
        OSError: no terminal could be opened, or the OS could not start the command.
        ValueError: ``subprocess.Popen`` refused an argument.
        subprocess.SubprocessError: the terminal could not become the controlling one.
    """
    master, slave = os.openpty()
    fds = [master]
    try:
        termios.tcsetwinsize(master, (size.rows, size.cols))
        end_of_file = _end_of_file_key(slave)
        device = InputIdentity.of_descriptor(slave)
        # Three ends, each closed by its one owner (see the module's docstring).
        reader, writer = os.dup(master), os.dup(master)
        fds += [reader, writer]
        popen = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            # Runs in the child after setsid(), before exec: one ioctl (and, rarely, resets of
            # signal states), no lock taken.
            preexec_fn=functools.partial(_prepare_child, inherited),
            close_fds=True,
            **popen_args,
        )
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    finally:
        os.close(slave)
    output = os.fdopen(reader, "rb", buffering=0)
    stdin = TerminalInput(
        os.fdopen(writer, "wb", buffering=0), popen.pid, max_input_bytes, end_of_file
    )
    return TerminalChild(
        popen, TerminalIO(output, popen.pid, stdin), Terminal(master, size, device)
    )


def _prepare_child(inherited: Inherited | None) -> None:
    # The shell is a session leader without a controlling terminal; its stdin is the
    # terminal, which becomes its controlling one (job control, Ctrl-C, SIGWINCH, SIGHUP).
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    if inherited is not None:
        inherited.restore()


def _end_of_file_key(slave: int) -> bytes:
    try:
        key = termios.tcgetattr(slave)[6][termios.VEOF]
    except termios.error as exc:
        logger.error("reading the end-of-file key of a new terminal failed: %s", exc)
        return DEFAULT_END_OF_FILE
    return key if isinstance(key, bytes) and key else DEFAULT_END_OF_FILE
