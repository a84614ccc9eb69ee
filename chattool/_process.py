"""The companions of ``execute``: follow, list and stop the processes it started."""

from __future__ import annotations

import logging

from pydantic import Field

from agentsdk.types import Signal
from chattool._base import InvalidArguments, Tool, ToolArguments, ToolResult, describe_error
from chattool._duration import SECOND, parse_duration
from chattool._reads import read_snapshot, wait_for_output
from chattool._results import ProcessOutputResult, dump_json, truncate_output

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

MAX_LISTED_PROCESSES = 10
"""Enough to find a recent process; a long list would only fill the model's context."""

RUNNING_NOTE = "process is still running"

# The tools report failures to the model in their results; a failure a later step recovered
# from leaves the result clean, so it is logged here for whoever runs the chat backend.
logger = logging.getLogger("chattool")


class ProcessOutputArguments(ToolArguments):
    """Retrieve the output of a process started by execute.

    Use the background_process_id that execute returned (after run_in_background, or when a
    command outlived its timeout). Waits until the process exits or wait_timeout passes, then
    returns its output so far, whether it is still running, and its exit code once it has
    finished.
    """

    process_id: str = Field(description="The process id returned by execute.")
    wait_timeout: str = Field(
        default=DEFAULT_WAIT_TIMEOUT,
        description=(
            'How long to wait for the process to exit, as a Go duration such as "10s" or '
            '"2m". Default: 10s. "0s" returns the current output at once.'
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
    """The ``process_output`` tool: wait for a process's exit, then report its output."""

    name = "process_output"
    arguments_model = ProcessOutputArguments

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
        response, wait_error = None, ""
        if wait_ns > 0:
            response, wait_error = await wait_for_output(connection, process_id, wait_ns / SECOND)
        if response is None:
            # A snapshot was asked for, or the wait failed: one plain read still gives the
            # model the output so far.
            response, snapshot_error = await read_snapshot(connection, process_id)
            if response is None:
                error = f"get process output: {wait_error or snapshot_error}"
                if wait_error:
                    error += f"\nfailed to get output: {snapshot_error}"
                return ToolResult(ProcessOutputResult(success=False, error=error).to_json())
            if wait_error:
                logger.error(
                    "process_output: waiting for process %s failed, answered from a plain "
                    "read instead: %s",
                    process_id,
                    wait_error,
                )

        if response.running:
            result = ProcessOutputResult(
                success=True,
                output=truncate_output(response.output),
                exit_code=-1,
                truncated=response.truncated,
                note=RUNNING_NOTE,
                running=True,
            )
        else:
            result = ProcessOutputResult.exited(response)
        return ToolResult(result.to_json())


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
