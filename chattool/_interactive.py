"""``execute`` with ``interactive: true``: a command on a terminal, returned at its question.

The command runs on a terminal with its input open, so a REPL, an installer's "Ok to proceed?"
or a password prompt can be answered. The tool returns as soon as the command exits, stops to
wait for input, or its timeout passes, and shows the rendered screen, not escape sequences;
while the command runs, the result gives its id and tells the model to answer with
``process_input`` or to stop it with ``process_signal``.
"""

from __future__ import annotations

import dataclasses
import math

import anyio

from agentsdk.types import ProcessOutputResponse, StartProcessRequest, TerminalSize
from agentsdk.wire import MAX_WAIT_MS
from chattool._base import describe_error
from chattool._connection import InputConnection
from chattool._duration import SECOND, format_duration
from chattool._reads import no_answer_within
from chattool._results import ExecuteResult, truncate_output
from chattool._terminal import read_screen, wait_for_question

__all__ = ["INTERACTIVE_SIZE", "STILL_RUNNING_NOTE", "WAITING_NOTE", "run_interactive"]

INTERACTIVE_SIZE = TerminalSize(rows=24, cols=120)
"""The terminal of an interactive command: a common window, wide enough for most tables."""

WAITING_NOTE = (
    "The command is waiting for input: answer it with process_input (input and/or keys such "
    "as Enter), or stop it with process_signal."
)
STILL_RUNNING_NOTE = (
    "The command is still running on its terminal: look again with process_output, type "
    "with process_input, or stop it with process_signal."
)


async def run_interactive(
    connection: InputConnection, request: StartProcessRequest, timeout_ns: int
) -> ExecuteResult:
    """Start ``request`` (a terminal, input open) and return at its exit, its first question
    or ``timeout_ns``, showing its screen."""
    began = anyio.current_time()
    deadline = began + timeout_ns / SECOND

    def elapsed_ms() -> int:
        return int((anyio.current_time() - began) * 1000)

    first_wait_ms = max(1, min(MAX_WAIT_MS, math.ceil(timeout_ns / SECOND * 1000)))
    # The start itself may take a moment on a busy agent; the wait is bounded by the agent.
    limit = first_wait_ms / 1000 + 5.0
    ran = None
    with anyio.move_on_after(limit):
        try:
            ran = await connection.run_process(request, wait_ms=first_wait_ms, wake_on_input=True)
        except Exception as exc:
            return ExecuteResult(success=False, error=f"start process: {describe_error(exc)}")
    if ran is None:
        return ExecuteResult(success=False, error=f"start process: {no_answer_within(limit)}")
    state: ProcessOutputResponse = ran
    error = ""
    if ran.running and not ran.waiting_for_input and anyio.current_time() < deadline:
        # The agent caps one wait at 5 minutes: a longer timeout waits on.
        waited, error = await wait_for_question(connection, ran.id, deadline)
        if waited is not None:
            state = waited
    shown = await read_screen(connection, ran.id)
    output = shown.text if shown.terminal and not shown.error else state.output
    if shown.error:
        error = "\n".join(part for part in (error, f"read screen: {shown.error}") if part)
    if not state.running:
        result = ExecuteResult.exited(state, wall_duration_ms=elapsed_ms(), output=output)
        return _with_error(result, error)
    if state.waiting_for_input:
        return ExecuteResult(
            success=True,
            output=truncate_output(output),
            exit_code=-1,
            wall_duration_ms=elapsed_ms(),
            error=error,
            note=WAITING_NOTE,
            waiting_for_input=True,
            background_process_id=ran.id,
        )
    timed_out = f"command timed out after {format_duration(timeout_ns)}"
    return ExecuteResult(
        success=False,
        output=truncate_output(output),
        exit_code=-1,
        wall_duration_ms=elapsed_ms(),
        error="\n".join(part for part in (timed_out, error) if part),
        note=STILL_RUNNING_NOTE,
        background_process_id=ran.id,
    )


def _with_error(result: ExecuteResult, error: str) -> ExecuteResult:
    # A failed screen read after the exit: the raw output is shown, and the failure named.
    return dataclasses.replace(result, error=error) if error else result
