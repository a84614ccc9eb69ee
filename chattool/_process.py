"""The companions of ``execute``: follow, list and stop the processes it started.

``process_output`` shows the model what a process wrote since the model last looked: it
waits for the exit (Coder's ``wait=true``, up to ``wait_timeout``), then reads from the
agent's ``since=last`` mark for this chat. Two requests, because the agent's long poll with
``since`` ends at the first new output, while the model asked to wait for the exit; the
wait's own answer (the head+tail snapshot) is what ``full: true`` returns instead.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid

from pydantic import Field

from agentsdk.types import ProcessOutputResponse, Signal
from chattool._base import InvalidArguments, Tool, ToolArguments, ToolResult, describe_error
from chattool._connection import ConnectionResolver, ToolConnection
from chattool._duration import SECOND, parse_duration
from chattool._reads import UnseenOutput, read_snapshot, read_unseen, wait_for_output
from chattool._results import ProcessOutputResult, dump_json, truncate_output
from chattool._terminal import read_screen

__all__ = [
    "DEFAULT_WAIT_TIMEOUT",
    "MAX_LISTED_PROCESSES",
    "ProcessListArguments",
    "ProcessListTool",
    "ProcessOutputArguments",
    "ProcessOutputTool",
    "ProcessSignalArguments",
    "ProcessSignalTool",
]

DEFAULT_WAIT_TIMEOUT = "10s"
"""As long as execute's default: one call either sees the exit or returns a fresh snapshot."""

MAX_REMEMBERED_PIPES = 1024
"""Processes a ``process_output`` tool remembers as having no terminal."""

MAX_LISTED_PROCESSES = 10
"""Enough to find a recent process; a long list would only fill the model's context."""

NO_NEW_OUTPUT_NOTE = "no output since the previous process_output call; full: true shows all"
"""Tells an empty answer from a silent process: the output exists, it was all seen before."""

MORE_OUTPUT_NOTE = "{count} more bytes of new output follow; call process_output again for them"
"""Said when one call could not read all that is new (very large windows, or a failed read)."""

# The tools report failures to the model in their results; a failure a later step recovered
# from leaves the result clean, so it is logged here for whoever runs the chat backend.
logger = logging.getLogger("chattool")


class ProcessOutputArguments(ToolArguments):
    """Retrieve the output of a process started by execute.

    Use the background_process_id that execute returned (after run_in_background, or when a
    command outlived its timeout). Waits until the process exits or wait_timeout passes,
    then returns the output written since your previous process_output call for this
    process (the first call returns it from the start), whether the process is running, and
    its exit_code once it has exited. Long new output keeps its start and its end.
    skipped_bytes, when present, counts new output the agent no longer kept (it keeps the
    most recent output of a long-running process), so it cannot be shown. Pass full: true
    for the whole output instead: its first and last 16 KiB, seen or not. A process on a
    terminal (execute with interactive) shows its screen instead, as a person would see it.
    """

    process_id: str = Field(description="The process id returned by execute.")
    wait_timeout: str = Field(
        default=DEFAULT_WAIT_TIMEOUT,
        description=(
            'How long to wait for the process to exit, as a Go duration such as "10s" or '
            '"2m". Default: 10s. "0s" returns the output at once.'
        ),
    )
    full: bool = Field(
        default=False,
        description=(
            "Return the whole output (its first and last 16 KiB) instead of only what is "
            "new since the previous call. It does not change what counts as seen."
        ),
    )


class ProcessListArguments(ToolArguments):
    """List the processes started in this workspace: running ones first, then the most
    recent ones, at most 10. Each entry has the id, command, whether it is running and its
    exit code."""


class ProcessSignalArguments(ToolArguments):
    """Stop a running process started by execute, together with its children.

    "terminate" (SIGTERM) asks it to exit cleanly; use "kill" (SIGKILL) when it does not.
    """

    process_id: str = Field(description="The process id returned by execute.")
    signal: Signal = Field(
        description='"terminate" to ask the process to exit, "kill" to force it.'
    )


class ProcessOutputTool(Tool[ProcessOutputArguments]):
    """The ``process_output`` tool: wait for a process's exit, then report its new output."""

    name = "process_output"
    arguments_model = ProcessOutputArguments

    def __init__(
        self,
        connection: ToolConnection | ConnectionResolver | None,
        *,
        chat_id: str | uuid.UUID | None = None,
    ) -> None:
        super().__init__(connection, chat_id=chat_id)
        self._without_terminal: set[str] = set()

    async def _run(self, args: ProcessOutputArguments) -> ToolResult:
        process_id = args.process_id.strip()
        if not process_id:
            raise InvalidArguments("process_id is required")
        wait_text = args.wait_timeout or DEFAULT_WAIT_TIMEOUT
        try:
            wait_ns = parse_duration(wait_text)
        except ValueError as exc:
            raise InvalidArguments(f"wait_timeout: {exc}") from None
        if wait_ns < 0:
            raise InvalidArguments(f'wait_timeout: must not be negative, got "{wait_text}"')

        connection = await self._connect()
        waited, wait_error = None, ""
        if wait_ns > 0:
            waited, wait_error = await wait_for_output(connection, process_id, wait_ns / SECOND)
        if args.full:
            result = await _full_output(connection, process_id, waited, wait_error)
        else:
            result = await _new_output(connection, process_id, wait_error)
        if not result.error and process_id not in self._without_terminal:
            result = await self._on_screen(connection, process_id, result)
        return ToolResult(result.to_json())

    async def _on_screen(
        self, connection: ToolConnection, process_id: str, result: ProcessOutputResult
    ) -> ProcessOutputResult:
        """``result`` showing the process's screen instead of its raw output, if it runs on
        a terminal (whose raw output is escape sequences)."""
        shown = await read_screen(connection, process_id)
        if not shown.terminal:
            # Asked once per process: a process never gains a terminal. (Forgotten wholesale
            # past a bound: asking again costs one request, keeping every id costs memory.)
            if len(self._without_terminal) >= MAX_REMEMBERED_PIPES:
                self._without_terminal.clear()
            self._without_terminal.add(process_id)
            return result
        if shown.error:
            return dataclasses.replace(result, error=f"read screen: {shown.error}")
        return dataclasses.replace(
            result, output=truncate_output(shown.text), truncated=None, skipped_bytes=0
        )


async def _full_output(
    connection: ToolConnection,
    process_id: str,
    waited: ProcessOutputResponse | None,
    wait_error: str,
) -> ProcessOutputResult:
    """The head+tail snapshot: the wait's answer, or a plain read when there was none."""
    response = waited
    if response is None:
        # A snapshot was asked for, or the wait failed: one plain read still gives the
        # model the output so far.
        response, snapshot_error = await read_snapshot(connection, process_id)
        if response is None:
            return _read_failure(wait_error, snapshot_error)
        _log_recovered_wait(process_id, wait_error)
    return ProcessOutputResult.read(response, output=response.output)


async def _new_output(
    connection: ToolConnection, process_id: str, wait_error: str
) -> ProcessOutputResult:
    """What is new since the chat's previous read, after the wait (whether it worked or not)."""
    unseen, read_error = await read_unseen(connection, process_id)
    if unseen is None:
        return _read_failure(wait_error, read_error)
    _log_recovered_wait(process_id, wait_error)
    if unseen.error:
        logger.error(
            "process_output: reading on in the output of process %s failed after %s, "
            "answered with what was read: %s",
            process_id,
            unseen.state.next_offset,
            unseen.error,
        )
    return ProcessOutputResult.read(
        unseen.state,
        output=unseen.output,
        skipped_bytes=unseen.skipped,
        note=_new_output_note(unseen),
    )


def _new_output_note(unseen: UnseenOutput) -> str:
    if unseen.remaining:
        return MORE_OUTPUT_NOTE.format(count=unseen.remaining)
    if unseen.cursor and not unseen.output and not unseen.skipped and unseen.state.total_bytes:
        return NO_NEW_OUTPUT_NOTE
    return ""


def _read_failure(wait_error: str, read_error: str) -> ProcessOutputResult:
    # Both failures are the model's to see: the wait's first, then the read that followed.
    error = f"get process output: {wait_error or read_error}"
    if wait_error:
        error += f"\nfailed to get output: {read_error}"
    return ProcessOutputResult(success=False, error=error)


def _log_recovered_wait(process_id: str, wait_error: str) -> None:
    if wait_error:
        logger.error(
            "process_output: waiting for process %s failed, answered from a plain read instead: %s",
            process_id,
            wait_error,
        )


class ProcessListTool(Tool[ProcessListArguments]):
    """The ``process_list`` tool: the agent's processes for this chat, at most 10."""

    name = "process_list"
    arguments_model = ProcessListArguments

    async def _run(self, args: ProcessListArguments) -> ToolResult:
        connection = await self._connect()
        try:
            listing = await connection.list_processes()
        except Exception as exc:
            return ToolResult(_failure(f"list processes: {describe_error(exc)}"))
        # The agent already orders them: running first, then newest first.
        shown = listing.processes[:MAX_LISTED_PROCESSES]
        data: dict[str, object] = {
            "processes": [process.model_dump(mode="json", exclude_none=True) for process in shown]
        }
        if len(listing.processes) > len(shown):
            data["note"] = f"showing the first {len(shown)} of {len(listing.processes)} processes"
        return ToolResult(dump_json(data))


class ProcessSignalTool(Tool[ProcessSignalArguments]):
    """The ``process_signal`` tool: terminate or kill a running process."""

    name = "process_signal"
    arguments_model = ProcessSignalArguments

    async def _run(self, args: ProcessSignalArguments) -> ToolResult:
        process_id = args.process_id.strip()
        if not process_id:
            raise InvalidArguments("process_id is required")
        connection = await self._connect()
        try:
            await connection.signal_process(process_id, args.signal)
        except Exception as exc:
            return ToolResult(_failure(f"signal process: {describe_error(exc)}"))
        message = f'signal "{args.signal}" sent to process {process_id}'
        return ToolResult(dump_json({"success": True, "message": message}))


def _failure(error: str) -> str:
    return dump_json({"success": False, "error": error})
