"""Examples of every error answer of the process API, for ``openapi.json``: what each status
means for each operation, with the agent's real answers (the domain errors it raises).

``tests/test_openapi_examples.py`` provokes each one a request can provoke from a running
agent and compares the answer with the example.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agentproc.api_examples import EXAMPLE_ID, SMALL_INPUT_QUEUE, Example
from agentproc.cursor import LIMIT_PATTERN, OFFSET_PATTERN, SINCE_PATTERN
from agentproc.errors import (
    BodyTooLarge,
    CommandRequired,
    CrossOriginRequest,
    FieldError,
    HostNotAllowed,
    IdempotencyConflict,
    InputQueueFull,
    InputTooLarge,
    InvalidChatId,
    InvalidField,
    InvalidParameter,
    InvalidRequest,
    InvalidWorkdir,
    NoOpenStdin,
    NoTerminal,
    ProcessNotFound,
    ProcessNotRunning,
    ShuttingDown,
    SignalFailed,
    SpawnFailed,
    TerminalFailed,
    TooManyProcesses,
    Unauthorized,
    UnsupportedMediaType,
)
from agentproc.settings import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_INPUT_BYTES, DEFAULT_MAX_RUNNING
from agentproc.spec import DEADLINE_RANGE, SIDE_RANGE
from agentsdk.wire import CHAT_ID_HEADER, LAST_EVENT_ID_HEADER, MAX_DEADLINE_MS

__all__ = ["COMMON_ERRORS", "GENERIC_ERRORS", "ErrorDoc"]

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


def _field_refused(field: str, reason: str) -> InvalidField:
    return InvalidField((FieldError(field, reason),))


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
        "longer than --max-command-bytes, `workdir` does not exist or is not a directory, "
        "an `env` entry cannot be given to a process, a deadline is not a whole number of "
        f"milliseconds up to {MAX_DEADLINE_MS} (a week), or a `tty` side is not 1 to 1000; "
        f"{HEADER_REFUSED}",
        {
            "command_required": Example("No command, or an empty one", CommandRequired()),
            "invalid_json": INVALID_JSON,
            "wrong_type": WRONG_TYPE,
            "missing_workdir": Example(
                "A workdir that does not exist",
                InvalidWorkdir("/home/coder/missing", "does not exist"),
            ),
            "deadline": Example(
                "A timeout_ms longer than a week (seconds meant as milliseconds?)",
                _field_refused("timeout_ms", DEADLINE_RANGE),
            ),
            "tty": Example("A terminal of 0 rows", _field_refused("tty.rows", SIDE_RANGE)),
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

RUN_ERRORS = {
    **START_ERRORS,
    400: ErrorDoc(
        "What a start answers 400 for, or a `timeout_ms` out of its grammar. Nothing ran.",
        {
            **START_ERRORS[400].examples,
            "timeout_ms": _bad_parameter("timeout_ms", OFFSET_PATTERN),
        },
    ),
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
                InvalidField(
                    (FieldError("data_base64", "not base64"),),
                    detail="Only base64 data is allowed (standard alphabet, with padding)",
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

RESIZE_ERRORS = {
    400: ErrorDoc(
        f"`rows` or `cols` is missing, not a whole number, or not 1 to 1000; {HEADER_REFUSED}",
        {
            "too_small": Example("0 rows", _field_refused("rows", SIDE_RANGE)),
            "wrong_type": Example(
                "A side that is not a number",
                InvalidRequest(
                    "Request body must be valid JSON.",
                    detail="rows: Input should be a valid integer",
                    validations=(FieldError("rows", "Input should be a valid integer"),),
                ),
            ),
            "invalid_json": INVALID_JSON,
        },
    ),
    404: NOT_FOUND_DOC,
    409: ErrorDoc(
        "The process has no terminal (it was started without `tty`), or has exited. Nothing "
        "changed.",
        {
            "no_terminal": Example("A process on pipes", NoTerminal(EXAMPLE_ID)),
            "exited": Example("An exited process", ProcessNotRunning(EXAMPLE_ID)),
        },
    ),
    413: START_ERRORS[413],
    415: START_ERRORS[415],
    500: ErrorDoc(
        "The operating system refused to resize the terminal; `detail` says why.",
        {
            "refused": Example(
                "The terminal is gone",
                TerminalFailed(
                    f"resize the terminal of process {EXAMPLE_ID}: [Errno 5] Input/output error"
                ),
            )
        },
    ),
}

SCREEN_ERRORS = {
    400: ErrorDoc(
        f"`scrollback` is not a whole number from 0; {HEADER_REFUSED}",
        {"scrollback": _bad_parameter("scrollback", OFFSET_PATTERN)},
    ),
    404: NOT_FOUND_DOC,
    409: ErrorDoc(
        "The process has no terminal: it was started without `tty`.",
        {"no_terminal": Example("A process on pipes", NoTerminal(EXAMPLE_ID))},
    ),
}
