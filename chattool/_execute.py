"""The ``execute`` tool: run a shell command on the workspace agent and wait for it.

The foreground path starts the process, then polls its output on a 200 ms cadence. Each poll
is a bounded server-side wait (``wait=true&timeout_ms=<rest of the tick>``), so an exit is
seen the moment it happens, while an agent that ignores the wait is still asked no more than
once per tick. A connection that can run a command in one call (``RunConnection``) starts it
and waits out the first tick in that one request, so a quick command costs one round trip.
When the timeout passes, the process is left running: the result says so, carries what it
printed so far, and gives the id to follow it with ``process_output``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import anyio
from pydantic import Field

from agentsdk.types import ProcessOutputResponse, StartProcessRequest, StartProcessResponse
from agentsdk.wire import CHAT_ID_VARIABLE, MAX_DEADLINE_MS
from chattool._base import (
    InvalidArguments,
    Tool,
    ToolArguments,
    ToolError,
    ToolResult,
    describe_error,
)
from chattool._connection import InputConnection, RunConnection, ToolConnection
from chattool._duration import SECOND, format_duration, parse_duration
from chattool._interactive import INTERACTIVE_SIZE, run_interactive
from chattool._reads import POLL_GRACE_SECONDS, no_answer_within, read_snapshot
from chattool._results import ExecuteResult, file_dump_note, truncate_output

__all__ = [
    "DEFAULT_TIMEOUT",
    "NON_INTERACTIVE_ENV",
    "POLL_INTERVAL_SECONDS",
    "ExecuteArguments",
    "ExecuteTool",
    "promote_trailing_ampersand",
]

DEFAULT_TIMEOUT = "10s"
"""Long enough for most commands; a slow one times out into a process the model can follow."""

POLL_INTERVAL_SECONDS = 0.2
"""Coder's cadence: at most five requests a second per running command."""

MIN_START_SECONDS = 5.0
"""A start is never cut short below this: giving up on a start that then succeeds would
leave a process running that the model was never told about."""

NON_INTERACTIVE_ENV: Mapping[str, str] = MappingProxyType(
    {
        "CODER_CHAT_AGENT": "true",
        "GIT_EDITOR": "true",
        "GIT_SEQUENCE_EDITOR": "true",
        "EDITOR": "true",
        "VISUAL": "true",
        "GIT_TERMINAL_PROMPT": "0",
        "NO_COLOR": "1",
        "TERM": "dumb",
        "PAGER": "cat",
        "GIT_PAGER": "cat",
    }
)
"""Sent with every command: nobody is at a terminal to answer an editor, pager or prompt."""

# The tools report failures to the model in their results; a failure a later step recovered
# from leaves the result clean, so it is logged here for whoever runs the chat backend.
logger = logging.getLogger("chattool")


class ExecuteArguments(ToolArguments):
    """Execute a shell command in the workspace.

    The command runs as `sh -c <command>` (a POSIX shell, not bash) with no terminal and no
    input: editors, pagers and credential prompts are disabled, so nothing waits for a human.
    Output is stdout and stderr combined; long output keeps its start and its end.

    Prefer the foreground and give slow commands (builds, test suites, installs) a generous
    timeout. A command still running at its timeout is not stopped: the result reports the
    timeout, the output so far and a background_process_id; use process_output with that id
    to wait for the rest, and process_signal to stop it. Use run_in_background only for
    processes meant to keep running, such as servers and watchers. Never end a command with
    a shell `&`: it would leave a process nobody tracks (a trailing `&` is treated as
    run_in_background).

    For a program that asks questions or needs a terminal (a REPL, an installer that asks
    "Ok to proceed?", git add -p, top), set interactive: it runs on a terminal with its input
    open, and the result comes as soon as it exits or waits for input, showing its screen
    and waiting_for_input; answer with process_input.
    """

    command: str = Field(description="The shell command to execute.")
    timeout: str = Field(
        default=DEFAULT_TIMEOUT,
        description=(
            'How long to wait for the command, as a Go duration such as "10s", "1.5s", "5m" '
            'or "1h30m". Default: 10s. Ignored with run_in_background.'
        ),
    )
    workdir: str = Field(
        default="",
        description="Working directory for the command. Default: the workspace directory.",
    )
    run_in_background: bool = Field(
        default=False,
        description=(
            "Start the command and return its process id at once, without waiting for it. "
            "Only for long-running processes such as servers and watchers."
        ),
    )
    interactive: bool = Field(
        default=False,
        description=(
            "Run the command on a terminal (24 rows, 120 columns) with its input open, and "
            "return as soon as it exits or waits for input (waiting_for_input), showing its "
            "screen. Answer with process_input."
        ),
    )
    timeout_ms: int = Field(
        default=0,
        description=(
            "End the command (SIGTERM, then SIGKILL) after this many milliseconds, even when "
            "no one waits for it any more; 0: never. Unlike timeout, it stops the command."
        ),
    )
    idle_timeout_ms: int = Field(
        default=0,
        description=(
            "End the command once it has printed nothing for this many milliseconds; 0: never."
        ),
    )
    model_intent: str = Field(
        default="",
        description="A few words on what this command is for, shown to the user.",
    )


def promote_trailing_ampersand(command: str) -> str | None:
    """The command without its trailing background ``&``, or ``None`` if it has none.

    ``a && b``, ``a |& b`` and an escaped ``\\&`` do not count: only a lone ``&`` at the end
    asks the shell to background the command.
    """
    trimmed = command.strip()
    if not trimmed.endswith("&") or trimmed.endswith(("&&", "|&", "\\&")):
        return None
    return trimmed[:-1].rstrip()


@dataclass(frozen=True, slots=True)
class _PollOutcome:
    """How the poll loop ended: an exit, the deadline, or a failed poll."""

    exited: ProcessOutputResponse | None = None
    latest: ProcessOutputResponse | None = None
    error: Exception | None = None


class ExecuteTool(Tool[ExecuteArguments]):
    """The ``execute`` tool: run a command in the workspace and report its result.

    See ``Tool`` for the constructor. Every command gets ``NON_INTERACTIVE_ENV``, plus
    ``CODER_CHAT_ID`` when the tool is bound to a chat.
    """

    name = "execute"
    arguments_model = ExecuteArguments

    def environment(self) -> dict[str, str]:
        """The variables sent with every start request of this tool."""
        env = dict(NON_INTERACTIVE_ENV)
        if self.chat_id is not None:
            env[CHAT_ID_VARIABLE] = self.chat_id
        return env

    async def _run(self, args: ExecuteArguments) -> ToolResult:
        command = args.command
        background = args.run_in_background
        if not background:
            promoted = promote_trailing_ampersand(command)
            if promoted is not None:
                command, background = promoted, True
        if not command.strip():
            raise InvalidArguments("command is required")

        timeout_ns = 0
        if not background:
            timeout_text = args.timeout or DEFAULT_TIMEOUT
            try:
                timeout_ns = parse_duration(timeout_text)
            except ValueError as exc:
                raise InvalidArguments(f"timeout: {exc}") from None
            if timeout_ns <= 0:
                raise InvalidArguments(f'timeout: must be positive, got "{timeout_text}"')

        for name, value in (
            ("timeout_ms", args.timeout_ms),
            ("idle_timeout_ms", args.idle_timeout_ms),
        ):
            if not 0 <= value <= MAX_DEADLINE_MS:
                raise InvalidArguments(f"{name}: must be 0 to {MAX_DEADLINE_MS}, got {value}")

        connection = await self._connect()
        env = self.environment()
        if args.interactive:
            # The terminal's own TERM (xterm-256color), so the program draws what its screen
            # then shows; editors and pagers stay disabled.
            env.pop("TERM", None)
        request = StartProcessRequest(
            command=command,
            workdir=args.workdir or None,
            env=env,
            background=background,
            tty=INTERACTIVE_SIZE if args.interactive else None,
            timeout_ms=args.timeout_ms or None,
            idle_timeout_ms=args.idle_timeout_ms or None,
        )
        if args.interactive and not background:
            if not isinstance(connection, InputConnection):
                raise ToolError(
                    "interactive: this agent connection cannot send input or read a screen"
                )
            result = await run_interactive(connection, request, timeout_ns)
            return ToolResult(result.to_json())
        if background:
            result = await self._start_background(connection, request)
        else:
            result = await self._run_foreground(connection, request, timeout_ns)
        return ToolResult(result.to_json())

    async def _start_background(
        self, connection: ToolConnection, request: StartProcessRequest
    ) -> ExecuteResult:
        try:
            started = await connection.start_process(request)
        except Exception as exc:
            return ExecuteResult(
                success=False, error=f"start background process: {describe_error(exc)}"
            )
        return ExecuteResult(success=True, background_process_id=started.id)

    async def _run_foreground(
        self, connection: ToolConnection, request: StartProcessRequest, timeout_ns: int
    ) -> ExecuteResult:
        timeout_text = format_duration(timeout_ns)
        note = file_dump_note(request.command)
        began = anyio.current_time()
        deadline = began + timeout_ns / SECOND

        def elapsed_ms() -> int:
            return int((anyio.current_time() - began) * 1000)

        start_limit = max(timeout_ns / SECOND, MIN_START_SECONDS)
        first_wait = min(POLL_INTERVAL_SECONDS, deadline - began)
        runs = isinstance(connection, RunConnection)
        started: StartProcessResponse | None = None
        with anyio.move_on_after(start_limit + (first_wait if runs else 0)):
            try:
                if isinstance(connection, RunConnection):
                    # The start and the first tick's wait in one request.
                    ran = await connection.run_process(
                        request, wait_ms=math.ceil(first_wait * 1000)
                    )
                    if not ran.running:
                        return ExecuteResult.exited(ran, wall_duration_ms=elapsed_ms(), note=note)
                    started = ran
                else:
                    started = await connection.start_process(request)
            except Exception as exc:
                return ExecuteResult(success=False, error=f"start process: {describe_error(exc)}")
        if started is None:
            return ExecuteResult(
                success=False,
                error=f"start process: {no_answer_within(start_limit)}",
            )
        process_id = started.id

        outcome = await _poll_until_exit(connection, process_id, deadline)
        if outcome.exited is not None:
            return ExecuteResult.exited(outcome.exited, wall_duration_ms=elapsed_ms(), note=note)

        snapshot, snapshot_error = await read_snapshot(connection, process_id)
        if snapshot is not None and not snapshot.running:
            # It exited while we were giving up on it: report the real result.
            if outcome.error is not None:
                logger.error(
                    "execute: polling the output of process %s failed, answered from a plain "
                    "read that showed its exit: %s",
                    process_id,
                    describe_error(outcome.error),
                    exc_info=outcome.error,
                )
            return ExecuteResult.exited(snapshot, wall_duration_ms=elapsed_ms(), note=note)

        if outcome.error is None:
            error = f"command timed out after {timeout_text}"
        else:
            error = f"get process output: {describe_error(outcome.error)}"
            if snapshot is not None:
                error += " (process still running, use process_output to check later)"
        if snapshot_error:
            error += f"\nfailed to get output: {snapshot_error}"

        partial = snapshot if snapshot is not None else outcome.latest
        return ExecuteResult(
            success=False,
            output=truncate_output(partial.output) if partial is not None else "",
            exit_code=-1,
            wall_duration_ms=elapsed_ms(),
            error=error,
            truncated=partial.truncated if partial is not None else None,
            note=note,
            background_process_id=process_id,
        )


async def _poll_until_exit(
    connection: ToolConnection, process_id: str, deadline: float
) -> _PollOutcome:
    """Poll once per 200 ms tick, each poll waiting on the agent for the rest of its tick."""
    ticks_from = anyio.current_time()
    last_tick = -1
    latest: ProcessOutputResponse | None = None
    while True:
        now = anyio.current_time()
        if now >= deadline:
            return _PollOutcome(latest=latest)
        tick = int((now - ticks_from) // POLL_INTERVAL_SECONDS)
        window_end = min(ticks_from + (tick + 1) * POLL_INTERVAL_SECONDS, deadline)
        if tick <= last_tick:
            # The agent answered before the tick was over (it may not support waiting):
            # keep to one poll per tick.
            await anyio.sleep_until(window_end)
            continue
        last_tick = tick

        wait_ms = max(1, math.ceil((window_end - now) * 1000))
        response = None
        with anyio.CancelScope(deadline=deadline + POLL_GRACE_SECONDS):
            try:
                response = await connection.process_output(
                    process_id, wait=True, timeout_ms=wait_ms
                )
            except Exception as exc:
                return _PollOutcome(latest=latest, error=exc)
        if response is None:
            # The agent did not answer even after the deadline: that is the timeout.
            return _PollOutcome(latest=latest)
        if not response.running:
            return _PollOutcome(exited=response)
        latest = response
