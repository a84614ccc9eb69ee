"""Reading a command as a person at its terminal would: its screen, and its answer to input.

Shared by ``execute``'s interactive mode, ``process_input`` and ``process_output``. A
process on a terminal is shown by its rendered screen (the agent's emulator), never by the
escape sequences of its raw output; a process on pipes by its output. Every call here is
bounded on the client side too and reports a failure instead of raising, as the tools'
other reads do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import anyio

from agentsdk import ConflictError
from agentsdk.types import ProcessOutputResponse, ProcessScreenResponse
from agentsdk.wire import MAX_CURSOR_LIMIT_BYTES, MAX_WAIT_MS, SINCE_LAST, omission_marker
from chattool._base import describe_error
from chattool._connection import InputConnection, ToolConnection
from chattool._reads import (
    POLL_GRACE_SECONDS,
    SNAPSHOT_TIMEOUT_SECONDS,
    bounded,
    no_answer_within,
)

__all__ = [
    "QUIET_SECONDS",
    "Answer",
    "ScreenRead",
    "read_screen",
    "screen_text",
    "wait_for_question",
    "watch_answer",
]

QUIET_SECONDS = 0.3
"""After input, output quiet this long means the program has answered and stopped to think
or to wait: ``process_input`` returns then rather than at its ``wait``."""


def screen_text(screen: ProcessScreenResponse) -> str:
    """The screen's lines as text, one per row, without the empty rows at the bottom."""
    lines = list(screen.lines)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + ("\n" if lines else "")


@dataclass(frozen=True, slots=True)
class ScreenRead:
    """A screen read: the text, or why there is none (``terminal`` false: the process has
    no terminal, which is no failure)."""

    text: str = ""
    terminal: bool = False
    error: str = ""


async def read_screen(connection: ToolConnection, process_id: str) -> ScreenRead:
    """The process's screen as text, if it runs on a terminal."""
    if not isinstance(connection, InputConnection):
        return ScreenRead()
    with anyio.move_on_after(SNAPSHOT_TIMEOUT_SECONDS):
        try:
            screen = await connection.screen(process_id)
        except ConflictError:
            return ScreenRead()  # started without a terminal
        except Exception as exc:
            return ScreenRead(terminal=True, error=describe_error(exc))
        return ScreenRead(text=screen_text(screen), terminal=True)
    return ScreenRead(terminal=True, error=no_answer_within(SNAPSHOT_TIMEOUT_SECONDS))


async def wait_for_question(
    connection: InputConnection, process_id: str, deadline: float
) -> tuple[ProcessOutputResponse | None, str]:
    """Wait until the process exits or waits for input, or ``deadline`` (``anyio`` time).

    Returns:
        The last answer (``running`` and not ``waiting_for_input`` at the deadline), or
        ``None`` and why there is none.
    """
    while True:
        left = deadline - anyio.current_time()
        wait_ms = max(1, min(MAX_WAIT_MS, math.ceil(left * 1000)))
        response, error = await bounded(
            partial(
                connection.process_output,
                process_id,
                wait=True,
                timeout_ms=wait_ms,
                wake_on_input=True,
            ),
            wait_ms / 1000 + POLL_GRACE_SECONDS,
        )
        if response is None:
            return None, error
        if not response.running or response.waiting_for_input:
            return response, ""
        if anyio.current_time() >= deadline:
            return response, ""


@dataclass(frozen=True, slots=True)
class Answer:
    """What a process wrote after input, up to the moment it exited, asked again, went
    quiet or the wait ran out."""

    output: str
    """The new output (the chat's ``since=last`` mark moves past it)."""

    state: ProcessOutputResponse | None
    """The last read: running, exit code, waiting for input; ``None`` if none succeeded."""

    skipped: int = 0
    """New bytes the agent no longer kept."""

    error: str = ""
    """Why a read failed, if one did; what came before it is kept."""


async def watch_answer(connection: InputConnection, process_id: str, deadline: float) -> Answer:
    """Follow the output from the chat's mark until the process exits, waits for input, has
    been quiet for ``QUIET_SECONDS``, or ``deadline`` (``anyio`` time) passes."""
    pieces: list[str] = []
    state: ProcessOutputResponse | None = None
    skipped = 0
    while True:
        left = deadline - anyio.current_time()
        wait_ms = max(1, math.ceil(min(QUIET_SECONDS, max(left, 0)) * 1000))
        read, error = await bounded(
            partial(
                connection.process_output,
                process_id,
                since=SINCE_LAST,
                limit=MAX_CURSOR_LIMIT_BYTES,
                wait=True,
                timeout_ms=wait_ms,
                wake_on_input=True,
            ),
            wait_ms / 1000 + SNAPSHOT_TIMEOUT_SECONDS,
        )
        if read is None:
            return Answer("".join(pieces), state, skipped, error)
        if read.skipped:
            skipped += read.skipped
            pieces.append(omission_marker(read.skipped))
        pieces.append(read.output)
        state = read
        quiet = not read.output and not read.skipped
        if not read.running or read.waiting_for_input or quiet:
            return Answer("".join(pieces), state, skipped)
        if anyio.current_time() >= deadline:
            return Answer("".join(pieces), state, skipped)
