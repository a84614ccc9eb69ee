"""The ``process_input`` tool: type into a running process and see what it answers.

It sends text and named keys to a process started with input (``execute`` with
``interactive``, or a background command on a terminal), then waits until the process exits,
waits for input again, has been quiet for 300 ms, or ``wait`` passes, and shows what is new:
the screen for a terminal, the new output for a pipe.
"""

from __future__ import annotations

import dataclasses

import anyio
from pydantic import Field

from chattool._base import (
    InvalidArguments,
    Tool,
    ToolArguments,
    ToolError,
    ToolResult,
    describe_error,
)
from chattool._connection import InputConnection
from chattool._duration import SECOND, parse_duration
from chattool._keys import KEY_NAMES, encode_keys
from chattool._results import ProcessOutputResult
from chattool._terminal import read_screen, watch_answer

__all__ = ["DEFAULT_INPUT_WAIT", "ProcessInputArguments", "ProcessInputTool"]

DEFAULT_INPUT_WAIT = "1s"
"""Most programs answer a line of input well within a second; a slower one is looked at
again with process_output."""

NOTHING_TO_SEND = "give input, keys or close_stdin: true"


class ProcessInputArguments(ToolArguments):
    __doc__ = f"""Type into a running process that takes input: one started by execute with
    interactive: true (a terminal), or a background command reading its input.

    Sends input (text as is; a newline is Enter), then the named keys, then, with
    close_stdin, end-of-file. Then waits until the process exits, asks for input again, has
    printed nothing for 300 ms, or wait passes, and returns what it shows now: the screen for
    a terminal, the new output otherwise, with running, waiting_for_input and, once exited,
    exit_code. Keys: {KEY_NAMES}.
    """

    process_id: str = Field(description="The process id returned by execute.")
    input: str = Field(default="", description="Text to type, sent as is.")
    keys: list[str] = Field(
        default_factory=list,
        description='Named keys to press after the text, in order, e.g. ["Enter"] or ["C-c"].',
    )
    close_stdin: bool = Field(
        default=False, description="End the input after sending (end-of-file, Ctrl-D)."
    )
    wait: str = Field(
        default=DEFAULT_INPUT_WAIT,
        description='How long to wait for the answer at most, as a Go duration such as "1s" '
        'or "30s". Default: 1s.',
    )


class ProcessInputTool(Tool[ProcessInputArguments]):
    """The ``process_input`` tool: send input and keys, then report the process's answer."""

    name = "process_input"
    arguments_model = ProcessInputArguments

    async def _run(self, args: ProcessInputArguments) -> ToolResult:
        process_id = args.process_id.strip()
        if not process_id:
            raise InvalidArguments("process_id is required")
        if not args.input and not args.keys and not args.close_stdin:
            raise InvalidArguments(NOTHING_TO_SEND)
        wait_text = args.wait or DEFAULT_INPUT_WAIT
        try:
            wait_ns = parse_duration(wait_text)
        except ValueError as exc:
            raise InvalidArguments(f"wait: {exc}") from None
        if wait_ns < 0:
            raise InvalidArguments(f'wait: must not be negative, got "{wait_text}"')
        try:
            encode_keys(args.keys, terminal=False)  # refused before anything is sent
        except ValueError as exc:
            raise InvalidArguments(f"keys: {exc}") from None
        connection = await self._connect()
        if not isinstance(connection, InputConnection):
            raise ToolError("process_input: this agent connection cannot send input")

        # Enter is what the stream expects: a carriage return for a terminal.
        screen = await read_screen(connection, process_id)
        if screen.error:
            return _failure(f"read screen: {screen.error}")
        data = args.input + encode_keys(args.keys, terminal=screen.terminal)

        try:
            if data:
                await connection.write_input(process_id, data, close=args.close_stdin)
            else:
                await connection.close_input(process_id)
        except Exception as exc:
            return _failure(f"send input: {describe_error(exc)}")

        answer = await watch_answer(connection, process_id, anyio.current_time() + wait_ns / SECOND)
        if answer.state is None:
            return _failure(f"get process output: {answer.error}")
        output = answer.output
        error = answer.error
        if screen.terminal:
            shown = await read_screen(connection, process_id)
            if shown.error:
                error = "\n".join(part for part in (error, f"read screen: {shown.error}") if part)
            else:
                output = shown.text
        result = ProcessOutputResult.read(
            answer.state,
            output=output,
            skipped_bytes=0 if screen.terminal else answer.skipped,
            screen=screen.terminal,
        )
        if error:
            result = dataclasses.replace(result, error=error)
        return ToolResult(result.to_json())


def _failure(error: str) -> ToolResult:
    return ToolResult(ProcessOutputResult(success=False, error=error).to_json())
