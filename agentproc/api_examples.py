"""Examples of every request and answer of the process API, for ``openapi.json``.

Swagger UI shows them, and generated clients' users read them. Each is built from the wire
models and the domain errors the agent really answers with, so none can drift from what the
agent sends; ``tests/test_openapi.py`` checks each against the document's schemas and
provokes each error from a running agent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from agentproc.buffer import HeadTailBuffer
from agentproc.cursor import LIMIT_PATTERN, OFFSET_PATTERN, SINCE_PATTERN
from agentproc.errors import (
    AgentError,
    BodyTooLarge,
    CommandRequired,
    CrossOriginRequest,
    FieldError,
    HostNotAllowed,
    IdempotencyConflict,
    InputQueueFull,
    InputTooLarge,
    InvalidChatId,
    InvalidParameter,
    InvalidRequest,
    InvalidWorkdir,
    NoOpenStdin,
    ProcessNotFound,
    ProcessNotRunning,
    ShuttingDown,
    SignalFailed,
    SpawnFailed,
    TooManyProcesses,
    Unauthorized,
    UnsupportedMediaType,
)
from agentproc.settings import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_INPUT_BYTES, DEFAULT_MAX_RUNNING
from agentsdk.types import (
    ListProcessesResponse,
    ProcessInfo,
    ProcessInputRequest,
    ProcessInputResponse,
    ProcessOutputResponse,
    ProcessTruncation,
    SignalProcessRequest,
    SignalProcessResponse,
    StartProcessRequest,
    StartProcessResponse,
)
from agentsdk.wire import CHAT_ID_HEADER, LAST_EVENT_ID_HEADER

__all__ = [
    "COMMON_ERRORS",
    "EXAMPLE_ID",
    "GENERIC_ERRORS",
    "ErrorDoc",
    "Example",
    "examples_of",
]

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
        ProcessOutputResponse(output="step 1\nstep 2\nstep 3\noops\n", running=False, exit_code=3),
    ),
    "killed": Example(
        "Ended by a signal: exit code -1",
        ProcessOutputResponse(output="", running=False, exit_code=-1),
    ),
    "truncated": Example(
        "Longer than head and tail: `seq 1 100000`, with head and tail shortened here to 24 "
        "bytes each (the agent keeps 16 KiB of each)",
        ProcessOutputResponse(
            output=_TRUNCATED_TEXT, truncated=_TRUNCATION, running=False, exit_code=0
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

# -- errors -----------------------------------------------------------------------------------

BAD_CHAT_ID = Example(
    f"A {CHAT_ID_HEADER} header that is not one UUID",
    InvalidChatId(
        f"{CHAT_ID_HEADER} must be one UUID, such as 0b5f3a5e-8d0c-4d5e-9a3b-6c1f2e7d8a90; "
        "leave the header out to act for no chat."
    ),
)
HOST_NOT_ALLOWED = Example(
    "A Host header naming a host the agent does not answer to (DNS rebinding)",
    HostNotAllowed("evil.example"),
)
MISSING_TOKEN = Example(
    "No Authorization header",
    Unauthorized("Missing bearer token: send 'Authorization: Bearer <token>'."),
)
WRONG_TOKEN = Example("A wrong token", Unauthorized("Invalid bearer token."))
CROSS_ORIGIN = Example("An Origin header of another web page", CrossOriginRequest())
NOT_FOUND = Example(
    "Unknown, forgotten, or outside the request's chat", ProcessNotFound(EXAMPLE_ID)
)
NOT_JSON = Example("A form or text/plain body", UnsupportedMediaType())
NOT_JSON_DESCRIPTION = (
    "The body is declared as something other than JSON (a form, text/plain): send "
    "`Content-Type: application/json`, or none. Nothing ran."
)
BODY_TOO_LARGE = Example(
    "Longer than --max-body-bytes (default shown)", BodyTooLarge(DEFAULT_MAX_BODY_BYTES)
)
INVALID_JSON = Example(
    "A body that is not JSON",
    InvalidRequest(
        "Request body must be valid JSON.",
        detail="Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
    ),
)
WRONG_TYPE = Example(
    "A field of the wrong type",
    InvalidRequest(
        "Request body must be valid JSON.",
        detail="command: Input should be a valid string",
        validations=(FieldError("command", "Input should be a valid string"),),
    ),
)
SHUTTING_DOWN = Example("The agent is stopping", ShuttingDown())


@dataclass(frozen=True, slots=True)
class ErrorDoc:
    """What one error status of an operation means, and examples of it."""

    description: str
    examples: Mapping[str, Example]


def _bad_parameter(name: str, pattern: str) -> Example:
    return Example(
        f"`{name}` out of its grammar",
        InvalidParameter((FieldError(name, f"String should match pattern '{pattern}'"),)),
    )


HEADER_REFUSED = (
    f"or a header is refused: `Host` names a host the agent does not answer to, or "
    f"`{CHAT_ID_HEADER}` is not one UUID."
)

START_ERRORS = {
    400: ErrorDoc(
        "The body is not a JSON object with the documented field types, `command` is empty or "
        "longer than --max-command-bytes, `workdir` does not exist or is not a directory, or "
        f"an `env` entry cannot be given to a process; {HEADER_REFUSED}",
        {
            "command_required": Example("No command, or an empty one", CommandRequired()),
            "invalid_json": INVALID_JSON,
            "wrong_type": WRONG_TYPE,
            "missing_workdir": Example(
                "A workdir that does not exist",
                InvalidWorkdir("/home/coder/missing", "does not exist"),
            ),
        },
    ),
    409: ErrorDoc(
        "The idempotency key was used before for a start with another command, workdir, env, "
        "background or stdin. Nothing ran.",
        {
            "key_reused": Example(
                "The key of an earlier start, with another command",
                IdempotencyConflict("toolu_01A09q90qw90lq917835lq9", EXAMPLE_ID, ["command"]),
            )
        },
    ),
    413: ErrorDoc("The body is longer than --max-body-bytes.", {"body": BODY_TOO_LARGE}),
    415: ErrorDoc(NOT_JSON_DESCRIPTION, {"form": NOT_JSON}),
    429: ErrorDoc(
        "--max-running processes are running already. Nothing ran; `Retry-After` says when to "
        "try again.",
        {
            "running": Example(
                "At --max-running (default shown)", TooManyProcesses(DEFAULT_MAX_RUNNING)
            )
        },
    ),
    500: ErrorDoc(
        "The operating system could not start `sh`; `detail` says why.",
        {
            "spawn": Example(
                "Out of file descriptors",
                SpawnFailed("start process: [Errno 24] Too many open files"),
            )
        },
    ),
    503: ErrorDoc("The agent is shutting down and starts nothing.", {"stopping": SHUTTING_DOWN}),
}

NOT_FOUND_DOC = ErrorDoc(
    "No such process: an unknown id, a process forgotten after the retention time, or one "
    "outside the request's chat (another chat's, or one started without a chat).",
    {"unknown": NOT_FOUND},
)

OUTPUT_ERRORS = {
    400: ErrorDoc(
        f"`timeout_ms`, `since` or `limit` is out of its grammar (see each); {HEADER_REFUSED}",
        {
            "timeout_ms": _bad_parameter("timeout_ms", OFFSET_PATTERN),
            "since": _bad_parameter("since", SINCE_PATTERN),
            "limit": _bad_parameter("limit", LIMIT_PATTERN),
        },
    ),
    404: NOT_FOUND_DOC,
}

STREAM_ERRORS = {
    400: ErrorDoc(
        f"`since` or `{LAST_EVENT_ID_HEADER}` is not an offset; {HEADER_REFUSED}",
        {
            "since": _bad_parameter("since", OFFSET_PATTERN),
            "last_event_id": _bad_parameter(LAST_EVENT_ID_HEADER, OFFSET_PATTERN),
        },
    ),
    404: NOT_FOUND_DOC,
}

SIGNAL_ERRORS = {
    400: ErrorDoc(
        f"No signal, a signal other than `kill` or `terminate`, or a body that is not JSON; "
        f"{HEADER_REFUSED}",
        {
            "required": Example(
                "No signal",
                InvalidRequest(
                    "Signal is required.", validations=(FieldError("signal", "required"),)
                ),
            ),
            "unsupported": Example(
                "Another signal",
                InvalidRequest(
                    'Unsupported signal "hup". Use "kill" or "terminate".',
                    validations=(FieldError("signal", 'must be "kill" or "terminate"'),),
                ),
            ),
            "invalid_json": INVALID_JSON,
        },
    ),
    404: NOT_FOUND_DOC,
    409: ErrorDoc(
        "The process has exited already; nothing was sent.",
        {"exited": Example("An exited process", ProcessNotRunning(EXAMPLE_ID))},
    ),
    413: ErrorDoc("The body is longer than --max-body-bytes.", {"body": BODY_TOO_LARGE}),
    415: ErrorDoc(NOT_JSON_DESCRIPTION, {"form": NOT_JSON}),
    500: ErrorDoc(
        "The operating system refused to deliver the signal; `detail` says why.",
        {
            "refused": Example(
                "Not permitted",
                SignalFailed("terminate process: [Errno 1] Operation not permitted"),
            )
        },
    ),
}

INPUT_ERRORS = {
    400: ErrorDoc(
        "Both `data` and `data_base64`, `data_base64` that is not base64, or a body that is "
        f"not JSON; {HEADER_REFUSED}",
        {
            "both": Example(
                "Both data and data_base64",
                InvalidRequest(
                    "Send data or data_base64, not both.",
                    detail="body: Send data or data_base64, not both.",
                    validations=(FieldError("body", "Send data or data_base64, not both."),),
                ),
            ),
            "not_base64": Example(
                "data_base64 that is not base64",
                InvalidRequest(
                    'Invalid field "data_base64": not base64.',
                    detail="Only base64 data is allowed (standard alphabet, with padding)",
                    validations=(FieldError("data_base64", "not base64"),),
                ),
            ),
            "invalid_json": INVALID_JSON,
        },
    ),
    404: NOT_FOUND_DOC,
    409: ErrorDoc(
        "The process's stdin is not open: it was started without `stdin: true`, its stdin was "
        "closed, or it has exited. Nothing was queued.",
        {"no_stdin": Example("No open stdin", NoOpenStdin(EXAMPLE_ID))},
    ),
    413: ErrorDoc(
        "The input is larger than the whole input queue (--max-input-bytes), so no retry could "
        "queue it, or the body is longer than --max-body-bytes. Nothing was queued.",
        {
            "input": Example(
                f"An input larger than --max-input-bytes {SMALL_INPUT_QUEUE}",
                InputTooLarge(SMALL_INPUT_QUEUE + 1, SMALL_INPUT_QUEUE),
            ),
            "body": BODY_TOO_LARGE,
        },
    ),
    415: ErrorDoc(NOT_JSON_DESCRIPTION, {"form": NOT_JSON}),
    429: ErrorDoc(
        "The input queue has no room for this input; nothing was queued. Retry once the "
        "command has read some (`Retry-After`).",
        {
            "queue_full": Example(
                "A full queue",
                InputQueueFull(1_046_528, 4096, DEFAULT_MAX_INPUT_BYTES),
            )
        },
    ),
}

COMMON_ERRORS = {
    400: ErrorDoc(
        "A header is refused: `Host` names a host the agent does not answer to, or "
        f"`{CHAT_ID_HEADER}` is not one UUID.",
        {"chat_id": BAD_CHAT_ID, "host": HOST_NOT_ALLOWED},
    ),
    401: ErrorDoc(
        "The agent has a token and the request's bearer token is missing or wrong.",
        {"missing": MISSING_TOKEN, "wrong": WRONG_TOKEN},
    ),
    403: ErrorDoc(
        "The request carries the `Origin` of a web page other than the agent's own or one "
        "given with --allowed-origin.",
        {"origin": CROSS_ORIGIN},
    ),
}
"""What any ``/api/`` call may answer, whatever the operation; an operation's own 400 adds
its examples to these."""

GENERIC_ERRORS = {
    **COMMON_ERRORS,
    404: NOT_FOUND_DOC,
    409: ErrorDoc(
        "The request conflicts with the process's state.",
        {"exited": Example("An exited process", ProcessNotRunning(EXAMPLE_ID))},
    ),
    413: START_ERRORS[413],
    415: START_ERRORS[415],
    429: START_ERRORS[429],
    500: START_ERRORS[500],
    503: START_ERRORS[503],
}
"""The documentation of a status for an operation that gives none of its own."""
