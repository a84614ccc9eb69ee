"""Examples of every request and successful answer of the process API, for ``openapi.json``
(the error answers are in :mod:`agentproc.error_examples`).

Swagger UI shows them, and generated clients' users read them. Each is built from the wire
models, so none can drift from what the agent sends; ``tests/test_openapi_examples.py``
checks each against the document's schemas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from agentproc.buffer import HeadTailBuffer
from agentproc.errors import AgentError
from agentsdk.types import (
    ListProcessesResponse,
    ProcessInfo,
    ProcessInputRequest,
    ProcessInputResponse,
    ProcessOutputResponse,
    ProcessScreenResponse,
    ProcessTruncation,
    RunProcessResponse,
    ScreenCursor,
    SignalProcessRequest,
    SignalProcessResponse,
    StartProcessRequest,
    StartProcessResponse,
    TerminalSize,
)

__all__ = ["EXAMPLE_ID", "SMALL_INPUT_QUEUE", "Example", "examples_of"]

EXAMPLE_ID = "0b5c0c1e-52d4-4f43-9a9e-2d0f6d1f3a77"
"""The process id of the examples."""

OTHER_ID = "7d8e3f60-9a51-4f0e-8f0b-57a1c0b6e0aa"
"""A second process, in the list."""

SMALL_INPUT_QUEUE = 65536
"""A ``--max-input-bytes`` below the body limit, under which one input can be too large."""

STARTED_AT = 1767225600
"""2026-01-01T00:00:00Z, when the examples' processes started."""


@dataclass(frozen=True, slots=True)
class Example:
    """One named example: a short summary and the value."""

    summary: str
    value: BaseModel | AgentError | dict[str, Any]


def examples_of(examples: Mapping[str, Example]) -> dict[str, dict[str, Any]]:
    """``examples`` as an OpenAPI media type's ``examples`` map, values as the wire has them."""
    return {name: {"summary": e.summary, "value": _wire(e.value)} for name, e in examples.items()}


def _wire(value: BaseModel | AgentError | dict[str, Any]) -> Any:
    if isinstance(value, AgentError):
        value = value.body()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    return value


# -- requests ---------------------------------------------------------------------------------

START_REQUESTS = {
    "command": Example("Run a command", StartProcessRequest(command="make test")),
    "everything": Example(
        "Every field: a dev server in a directory, safe to retry",
        StartProcessRequest(
            command="npm run dev",
            workdir="/home/coder/app",
            env={"PORT": "3000", "NODE_ENV": "development"},
            background=True,
            idempotency_key="toolu_01A09q90qw90lq917835lq9",
        ),
    ),
    "stdin": Example(
        "A command that reads input sent through /input",
        StartProcessRequest(command='read name; echo "hello, $name"', stdin=True),
    ),
    "terminal": Example(
        "The Python REPL on a terminal of 24 rows of 80 columns",
        StartProcessRequest(command="python3 -q", tty=TerminalSize(rows=24, cols=80)),
    ),
    "deadlines": Example(
        "Ended after 10 minutes, or after 1 minute without output",
        StartProcessRequest(command="npm ci", timeout_ms=600_000, idle_timeout_ms=60_000),
    ),
}

RESIZE_REQUESTS = {
    "resize": Example("A wider window", TerminalSize(rows=40, cols=120)),
}

SIGNAL_REQUESTS = {
    "terminate": Example("SIGTERM to the process group", SignalProcessRequest(signal="terminate")),
    "kill": Example("SIGKILL to the process group", SignalProcessRequest(signal="kill")),
}

INPUT_REQUESTS = {
    "text": Example("A line of text", ProcessInputRequest(data="Ada\n")),
    "text_then_eof": Example(
        "Text, then end-of-file", ProcessInputRequest(data="one\ntwo\n", close=True)
    ),
    "bytes": Example("Bytes that are not text", ProcessInputRequest(data_base64="AAEC/w==")),
    "eof": Example("End-of-file alone", ProcessInputRequest(close=True)),
}

# -- answers ----------------------------------------------------------------------------------

HEALTHY = {"ok": Example("The agent answers", {"status": "ok"})}

STARTED = {
    "started": Example("A new process", StartProcessResponse(id=EXAMPLE_ID, started=True)),
    "attached": Example(
        "A repeated idempotency key: the first start's process, nothing run",
        StartProcessResponse(id=EXAMPLE_ID, started=False, attached=True),
    ),
}

RUNNING_INFO = ProcessInfo(
    id=EXAMPLE_ID,
    command="npm run dev",
    workdir="/home/coder/app",
    background=True,
    running=True,
    started_at_unix=STARTED_AT + 60,
    stdin_open=None,
)

LISTED = {
    "processes": Example(
        "One running, one exited (running first, then newest first)",
        ListProcessesResponse(
            processes=[
                RUNNING_INFO,
                ProcessInfo(
                    id=OTHER_ID,
                    command="make test",
                    workdir="/home/coder/app",
                    background=False,
                    running=False,
                    exit_code=2,
                    exit_reason="exit",
                    started_at_unix=STARTED_AT,
                    exited_at_unix=STARTED_AT + 42,
                ),
            ]
        ),
    ),
    "none": Example("No process", ListProcessesResponse(processes=[])),
}


def _shortened_render() -> tuple[str, ProcessTruncation]:
    # The real rendering of `seq 1 100000`, with head and tail cut to 24 bytes to stay short.
    buffer = HeadTailBuffer(head_capacity=24, tail_capacity=24)
    buffer.write("".join(f"{n}\n" for n in range(1, 100_001)).encode())
    text, truncation = buffer.render()
    assert truncation is not None  # noqa: S101 - 588,895 bytes overflow 48
    return text, ProcessTruncation(
        original_bytes=truncation.original_bytes,
        retained_bytes=truncation.retained_bytes,
        omitted_bytes=truncation.omitted_bytes,
    )


_TRUNCATED_TEXT, _TRUNCATION = _shortened_render()

OUTPUTS = {
    "running": Example(
        "A snapshot while the command runs",
        ProcessOutputResponse(output="step 1\n", running=True),
    ),
    "exited": Example(
        "After the exit (also what wait=true answers): the output is complete",
        ProcessOutputResponse(
            output="step 1\nstep 2\nstep 3\noops\n", running=False, exit_code=3, exit_reason="exit"
        ),
    ),
    "killed": Example(
        "Ended by a signal: exit code -1",
        ProcessOutputResponse(output="", running=False, exit_code=-1, exit_reason="signal"),
    ),
    "question": Example(
        "Waiting for input (what wait=true&wake_on_input=true answers at a question)",
        ProcessOutputResponse(output="Ok to proceed? (y) ", running=True, waiting_for_input=True),
    ),
    "timed_out": Example(
        "Ended by the agent at the start's timeout_ms",
        ProcessOutputResponse(
            output="downloading\n", running=False, exit_code=-1, exit_reason="timeout"
        ),
    ),
    "truncated": Example(
        "Longer than head and tail: `seq 1 100000`, with head and tail shortened here to 24 "
        "bytes each (the agent keeps 16 KiB of each)",
        ProcessOutputResponse(
            output=_TRUNCATED_TEXT,
            truncated=_TRUNCATION,
            running=False,
            exit_code=0,
            exit_reason="exit",
        ),
    ),
    "cursor": Example(
        "A cursor read (since=7): the output from byte 7 on",
        ProcessOutputResponse(
            output="step 2\n", running=True, offset=7, next_offset=14, total_bytes=14
        ),
    ),
    "cursor_skipped": Example(
        "A cursor read from an offset the window has let go",
        ProcessOutputResponse(
            output="line 90001\n",
            running=True,
            offset=1_500_000,
            next_offset=1_500_011,
            total_bytes=1_500_011,
            skipped=1_499_990,
        ),
    ),
}

SIGNALLED = {
    "sent": Example(
        "Delivered; the process may still be exiting",
        SignalProcessResponse(message=f'Signal "terminate" sent to process "{EXAMPLE_ID}".'),
    ),
}

QUEUED = {
    "queued": Example("Queued; stdin stays open", ProcessInputResponse(queued=4, stdin_open=True)),
    "closed": Example("Queued, then end-of-file", ProcessInputResponse(queued=8, stdin_open=False)),
}

RAN = {
    "exited": Example(
        "The command exited within the wait: its whole output",
        RunProcessResponse(
            id=EXAMPLE_ID,
            started=True,
            output="building\n",
            running=False,
            exit_code=2,
            exit_reason="exit",
            total_bytes=9,
            next_offset=9,
        ),
    ),
    "running": Example(
        "timeout_ms passed first: the command runs on; follow it from next_offset",
        RunProcessResponse(
            id=EXAMPLE_ID, started=True, output="", running=True, total_bytes=0, next_offset=0
        ),
    ),
    "attached": Example(
        "A repeated idempotency key: the first run's process and its output",
        RunProcessResponse(
            id=EXAMPLE_ID,
            started=False,
            attached=True,
            output="done\n",
            running=False,
            exit_code=0,
            exit_reason="exit",
            total_bytes=5,
            next_offset=5,
        ),
    ),
}

RESIZED = {"resized": Example("The new size", TerminalSize(rows=40, cols=120))}

SCREENS = {
    "repl": Example(
        "The Python REPL after 2+2, the cursor after the fresh prompt",
        ProcessScreenResponse(
            rows=6,
            cols=40,
            lines=[">>> 2+2", "4", ">>>", "", "", ""],
            cursor=ScreenCursor(row=2, col=4),
            running=True,
        ),
    ),
    "exited": Example(
        "After the exit, with ?scrollback=2: the last screen and what scrolled off",
        ProcessScreenResponse(
            rows=2,
            cols=20,
            lines=["line 4", "line 5"],
            cursor=ScreenCursor(row=1, col=6),
            running=False,
            exit_code=0,
            exit_reason="exit",
            scrollback=["line 2", "line 3"],
        ),
    ),
}
