"""Wire types of the agent process API, shared by the service and the client.

Every model here is the JSON contract of ``/api/v0/processes``, compatible with Coder's
workspace agent. This module imports nothing but pydantic (and the plain constants of
``agentsdk.wire``) so that the SDK never drags in the server and the server never
re-declares the wire. Field docstrings become the field descriptions of ``openapi.json``.

Optional fields are omitted from JSON when unset (``model_dump(exclude_none=True)``), as
Go's ``omitempty`` does, and unknown response fields are ignored so newer agents keep
working with older clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypedDict

from pydantic import (
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from agentsdk._error_shape import ErrorResponse as ErrorResponse
from agentsdk._error_shape import FieldValidation as FieldValidation
from agentsdk._events import ExitEvent as ExitEvent
from agentsdk._events import OutputEvent as OutputEvent
from agentsdk._events import StreamEvent as StreamEvent
from agentsdk._external_auth import ExternalAuthRequest as ExternalAuthRequest
from agentsdk._external_auth import ExternalAuthResponse as ExternalAuthResponse
from agentsdk._model import WireModel as _Wire
from agentsdk.wire import MAX_TERMINAL_SIDE

__all__ = [
    "TTY_SHAPE",
    "ErrorResponse",
    "ExitEvent",
    "ExitReason",
    "ExternalAuthRequest",
    "ExternalAuthResponse",
    "FieldValidation",
    "ListProcessesResponse",
    "OutputEvent",
    "ProcessInfo",
    "ProcessInputRequest",
    "ProcessInputResponse",
    "ProcessOutputResponse",
    "ProcessScreenResponse",
    "ProcessTruncation",
    "RunProcessResponse",
    "ScreenCursor",
    "Signal",
    "SignalProcessRequest",
    "SignalProcessResponse",
    "StartProcessParams",
    "StartProcessRequest",
    "StartProcessResponse",
    "StreamEvent",
    "TerminalSize",
]

Signal = Literal["kill", "terminate"]
"""The signals the agent accepts: ``kill`` is SIGKILL, ``terminate`` is SIGTERM."""

ExitReason = Literal["exit", "signal", "timeout", "idle_timeout", "shutdown"]
"""Why a process ended: ``exit`` (the shell exited by itself), ``signal`` (a signal from the
API or anyone else), ``timeout`` or ``idle_timeout`` (the start's deadline passed and the
agent ended it), ``shutdown`` (the agent ended it as it stopped)."""


TTY_SHAPE = 'must be true, false or {"rows": R, "cols": C} with whole numbers'
"""Why a ``tty`` that is neither a boolean nor a size is refused, wherever it is checked."""

_SIDE = Field(json_schema_extra={"minimum": 1, "maximum": MAX_TERMINAL_SIDE})
# The range is the agent's to check (it words the refusal); the schema only documents it.


class TerminalSize(_Wire):
    """A terminal's size in character cells: the start field ``tty``, a resize, and the size a
    process's terminal has now."""

    rows: int = _SIDE
    """Lines, from 1 to 1000."""

    cols: int = _SIDE
    """Columns, from 1 to 1000."""


class StartProcessRequest(_Wire):
    """Start ``sh -c <command>`` on the agent."""

    command: str = Field(min_length=1)
    """The shell command, run as ``sh -c <command>``; its stdin is /dev/null unless ``stdin``."""

    workdir: str | None = None
    """Working directory. Default: the agent's configured directory if it exists, else $HOME."""

    env: dict[str, str] | None = None
    """Variables added to the agent's environment for this process; they win over the agent's."""

    background: bool | None = None
    """Stored and reported in the process list; it changes nothing on the agent."""

    idempotency_key: str | None = None
    """Makes the start safe to retry: a repeated key returns the first process instead of
    starting a new one (409 if the other fields differ)."""

    stdin: bool | None = None
    """True gives the command a pipe as stdin, fed through the input endpoint. Default false:
    stdin is /dev/null, as on Coder's agent, so no command hangs on a prompt nobody answers."""

    # Strict, so that a client cannot send True (or "100") as a number: True would be 1 ms.
    timeout_ms: int | None = Field(default=None, strict=True)
    """End the command this many milliseconds after it started: SIGTERM to its process
    group, then SIGKILL after the agent's grace period. At most ``MAX_DEADLINE_MS`` of
    ``agentsdk.wire`` (a week); 0 or absent: no deadline. Not the ``timeout_ms`` of an output
    read, which bounds one wait."""

    idle_timeout_ms: int | None = Field(default=None, strict=True)
    """End the command once it has written no output for this many milliseconds, as
    ``timeout_ms`` ends it. At most ``MAX_DEADLINE_MS``; 0 or absent: no idle deadline."""
    tty: TerminalSize | bool | None = None
    """Run the command on a terminal of this size (``true``: 24 rows of 80 columns): its stdin,
    stdout and stderr are the terminal, whose raw bytes are the output, and input goes to the
    terminal. Default: no terminal."""

    @field_validator("tty", mode="wrap")
    @classmethod
    def _tty_shape(cls, value: object, handler: ValidatorFunctionWrapHandler) -> object:
        # One sentence for the field instead of one error per member of the union.
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(TTY_SHAPE) from None


class StartProcessParams(TypedDict, total=False):
    """The fields of a ``StartProcessRequest`` as keywords, as ``start_process`` takes them.

    Field for field the request's (a test holds the two equal), so type checkers see the
    keywords; ``None`` means "not given", as leaving the keyword out does.
    """

    command: str | None
    """The shell command; required unless a whole request is passed instead."""

    workdir: str | None
    """Working directory; the agent's default when omitted."""

    env: Mapping[str, str] | None
    """Variables added to the agent's environment (these win)."""

    background: bool | None
    """Stored and listed; it changes nothing on the agent."""

    idempotency_key: str | None
    """A repeated key returns the first process instead of a new one."""

    stdin: bool | None
    """True gives the command a pipe as stdin; /dev/null otherwise."""

    timeout_ms: int | None
    """End the command this many milliseconds after its start (terminate, grace, kill)."""

    idle_timeout_ms: int | None
    """End the command after this many milliseconds without output."""
    tty: TerminalSize | bool | None
    """Run the command on a terminal of this size (``True``: 24 x 80)."""


class StartProcessResponse(_Wire):
    """The process the agent started, or attached to for a repeated idempotency key."""

    id: str
    """The process id (a UUID) to use with the output and signal endpoints."""

    started: bool
    """True when this request started the process; false when it attached to an earlier one."""

    attached: bool | None = None
    """True when an earlier start with the same idempotency key is returned."""


class ProcessInfo(_Wire):
    """One process the agent knows: running or recently exited."""

    id: str
    """The process id."""

    command: str
    """The command as it was given."""

    workdir: str | None = None
    """The working directory actually used."""

    background: bool
    """The ``background`` flag of the start request."""

    running: bool
    """True until the shell has exited and its output is fully drained."""

    exit_code: int | None = None
    """The shell's exit status; -1 when it was ended by a signal. Absent while running."""

    started_at_unix: int
    """Start time, Unix seconds."""

    exited_at_unix: int | None = None
    """Exit time, Unix seconds. Absent while running."""

    stdin_open: bool | None = None
    """True while input can be sent: started with ``stdin`` (or on a terminal), not closed,
    not exited. Absent otherwise."""

    tty: TerminalSize | None = None
    """The size of the process's terminal now. Absent for a process without one."""

    waiting_for_input: bool | None = None
    """True while some process of the command is blocked reading the command's own stdin
    and the command has written no output (and been sent no input) for at least 200 ms: it
    most likely asks a question. Absent otherwise."""

    exit_reason: ExitReason | None = None
    """Why the process ended. Absent while running."""


class ListProcessesResponse(_Wire):
    """Every process visible to the caller: running first, then newest first."""

    processes: list[ProcessInfo]
    """Always an array, empty when there are none."""


class ProcessTruncation(_Wire):
    """What the head+tail rendering dropped. Present only when the tail was used."""

    original_bytes: int
    """Every byte the process wrote."""

    retained_bytes: int
    """Bytes of the rendered output, omission marker included."""

    omitted_bytes: int
    """Bytes dropped between the head and the tail."""

    strategy: Literal["head_tail"] = "head_tail"
    """Always ``head_tail``: the first 16 KiB and the last 16 KiB are kept."""


class ProcessOutputResponse(_Wire):
    """A process's output and its exit state: a head+tail snapshot, or a cursor read.

    A cursor read (``since=N`` or ``since=last``) adds ``offset``, ``next_offset``,
    ``total_bytes`` and ``skipped``, and its ``output`` is the kept bytes from the cursor on,
    without cuts, marker or ``truncated``.
    """

    output: str
    """Combined stdout and stderr as UTF-8 (invalid bytes replaced): the head and the tail,
    or, for a cursor read, the bytes from ``offset`` on."""

    truncated: ProcessTruncation | None = None
    """Present when the output was longer than the head. Never on a cursor read."""

    running: bool
    """False guarantees ``output`` is complete."""

    exit_code: int | None = None
    """The exit status once exited (-1 when ended by a signal). Absent while running."""

    offset: int | None = None
    """Cursor reads only: the byte offset where ``output`` starts."""

    next_offset: int | None = None
    """Cursor reads only: where the next read starts (``since`` for the next call)."""

    total_bytes: int | None = None
    """Cursor reads only: every byte the process has written so far."""

    skipped: int | None = None
    """Cursor reads only: bytes between the requested offset and ``offset`` that the agent no
    longer keeps. Absent when none were lost."""

    waiting_for_input: bool | None = None
    """True while the command waits for input (see ``ProcessInfo``). Absent otherwise."""

    exit_reason: ExitReason | None = None
    """Why the process ended. Absent while running."""


class RunProcessResponse(ProcessOutputResponse, StartProcessResponse):
    """What a run answers: the start's fields, then the output as the wait left it.

    The same head+tail snapshot as a plain output read, taken when the process exited or when
    ``timeout_ms`` passed (then ``running`` is true and the process goes on).
    """

    total_bytes: int | None = None
    """Every byte the process had written when the snapshot was taken."""

    next_offset: int | None = None
    """Where a cursor read (``output?since=``) continues after this snapshot, to follow what
    the process writes next; equal to ``total_bytes``."""


class SignalProcessRequest(_Wire):
    """A signal for a running process's whole process group."""

    signal: Signal
    """``terminate`` (SIGTERM) or ``kill`` (SIGKILL)."""


class ProcessInputRequest(_Wire):
    """Input for a process started with ``stdin``: text or bytes, then optionally end-of-file.

    Give ``data`` or ``data_base64``, not both; ``{"close": true}`` alone closes stdin.
    """

    data: str | None = None
    """Text to write, as UTF-8."""

    data_base64: str | None = None
    """Bytes to write, base64-encoded, for input that is not text."""

    close: bool | None = None
    """True closes stdin (end-of-file) once the data before it has been written."""

    @model_validator(mode="after")
    def _one_data_form(self) -> ProcessInputRequest:
        if self.data is not None and self.data_base64 is not None:
            raise ValueError("Send data or data_base64, not both.")
        return self


class ProcessInputResponse(_Wire):
    """The input joined the process's queue; the agent writes it as the command reads."""

    queued: int
    """Bytes this call added to the queue."""

    stdin_open: bool
    """Whether more input can be sent: false once stdin was closed."""


class ScreenCursor(_Wire):
    """Where the cursor of a terminal's screen is, 0-based."""

    row: int
    """The line, from 0 at the top."""

    col: int
    """The column, from 0 at the left."""


class ProcessScreenResponse(_Wire):
    """A process's terminal as a person would see it: the screen a VT100/xterm emulator shows
    after all the output so far, and the exit state."""

    rows: int
    """Lines of the screen."""

    cols: int
    """Columns of the screen."""

    lines: list[str]
    """One string per line of the screen, top to bottom, without trailing spaces."""

    cursor: ScreenCursor
    """Where the cursor is."""

    running: bool
    """False means the screen shows every byte the process wrote."""

    exit_code: int | None = None
    """The exit status once exited (-1 when ended by a signal). Absent while running."""

    exit_reason: ExitReason | None = None
    """Why the process ended, once exited (see ``ProcessInfo.exit_reason``). Absent while
    running."""

    scrollback: list[str] | None = None
    """With ``?scrollback=N``: up to N lines that scrolled off the top, oldest first, without
    trailing spaces. Absent otherwise."""


class SignalProcessResponse(_Wire):
    """The agent delivered the signal; the process may still be exiting."""

    message: str
    """What was sent to which process, e.g. ``Signal "kill" sent to process "<id>".``"""
