"""Domain errors of the agent. They know nothing of HTTP; ``agentproc.api`` maps them.

Tree::

    AgentError
     ├── InvalidRequest        the caller sent something unusable (400)
     │    ├── CommandRequired   a start without a command
     │    ├── InvalidWorkdir
     │    ├── InvalidChatId     a Coder-Chat-Id header that is not one UUID
     │    ├── InvalidField      a body field holding what the agent refuses
     │    ├── InvalidParameter  a query parameter or header out of its grammar
     │    └── HostNotAllowed    a Host header naming no host the agent serves
     ├── Unauthorized          missing or wrong bearer token (401)
     ├── CrossOriginRequest    a web page of another origin sent the request (403)
     ├── ProcessNotFound       unknown id, reaped, or another chat's (404)
     ├── Conflict              (409)
     │    ├── ProcessNotRunning
     │    ├── IdempotencyConflict
     │    ├── StartInProgress   a start of the same idempotency key is being spawned
     │    ├── NoOpenStdin       input for a process whose stdin is not open
     │    └── NoTerminal        a resize or screen of a process without a terminal
     ├── BodyTooLarge          (413)
     │    └── InputTooLarge     one input larger than a whole input queue
     ├── UnsupportedMediaType  a body declared as anything but JSON (415)
     ├── TooManyProcesses      the running-process cap is reached (429)
     ├── InputQueueFull        a process's input queue has no room for the input (429)
     ├── SpawnFailed           the OS refused to start the shell (500)
     ├── SignalFailed          the OS refused to deliver a signal (500)
     ├── TerminalFailed        the OS refused to resize a terminal (500)
     └── ShuttingDown          the agent refuses new work while it stops (503)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from agentsdk import CHAT_ID_HEADER
from agentsdk.types import ErrorResponse, FieldValidation

__all__ = [
    "AgentError",
    "BodyTooLarge",
    "CommandRequired",
    "Conflict",
    "CrossOriginRequest",
    "FieldError",
    "HostNotAllowed",
    "IdempotencyConflict",
    "InputQueueFull",
    "InputTooLarge",
    "InvalidChatId",
    "InvalidParameter",
    "InvalidRequest",
    "InvalidWorkdir",
    "NoOpenStdin",
    "NoTerminal",
    "ProcessNotFound",
    "ProcessNotRunning",
    "ShuttingDown",
    "SignalFailed",
    "SpawnFailed",
    "StartInProgress",
    "TerminalFailed",
    "TooManyProcesses",
    "Unauthorized",
    "UnsupportedMediaType",
    "quote",
]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One request field that failed validation."""

    field: str
    detail: str


def quote(value: str) -> str:
    """``value`` in double quotes with JSON escapes: Go's ``%q``, as Coder formats ids.

    A lone surrogate, which no UTF-8 response can carry, is written as its ``\\ud800``-style
    escape, so a message quoting any string can always be sent.
    """
    quoted = json.dumps(value, ensure_ascii=False)
    return quoted.encode("utf-8", "backslashreplace").decode("utf-8")


class AgentError(Exception):
    """Base of every error the agent reports to its caller."""

    def __init__(
        self,
        message: str,
        detail: str | None = None,
        validations: tuple[FieldError, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.validations = validations

    def body(self) -> ErrorResponse:
        """The error as the wire carries it: the body of the error response."""
        return ErrorResponse(
            message=self.message,
            detail=self.detail,
            validations=[FieldValidation(field=v.field, detail=v.detail) for v in self.validations]
            or None,
        )


class InvalidRequest(AgentError):
    """Raised when a request body, field or query parameter is unusable."""


class CommandRequired(InvalidRequest):
    """Raised when a start has no command, or an empty one."""

    def __init__(self) -> None:
        super().__init__("Command is required.", validations=(FieldError("command", "required"),))


class InvalidWorkdir(InvalidRequest):
    """Raised when the requested working directory is missing or not a directory."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            f"Working directory {quote(path)} {reason}.",
            validations=(FieldError("workdir", reason),),
        )


class InvalidChatId(InvalidRequest):
    """Raised when a request's chat id is present but not one UUID.

    Reading it as "no chat" would show the request every chat's processes, so it is refused.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"Invalid {CHAT_ID_HEADER} header.",
            detail=detail,
            validations=(FieldError(CHAT_ID_HEADER, "must be one UUID"),),
        )


class InvalidField(InvalidRequest):
    """Raised when body fields hold what the agent refuses (the first is named in the
    message, every one in ``validations``)."""

    def __init__(self, fields: Sequence[FieldError], *, detail: str | None = None) -> None:
        first = fields[0] if fields else FieldError("body", "invalid")
        super().__init__(
            f"Invalid field {quote(first.field)}: {first.detail}.",
            detail=detail,
            validations=tuple(fields),
        )


class InvalidParameter(InvalidRequest):
    """Raised when query parameters or headers do not match their grammar (the first is
    named in the message, every one in ``validations``)."""

    def __init__(self, fields: Sequence[FieldError]) -> None:
        first = fields[0] if fields else FieldError("request", "invalid")
        super().__init__(
            f"Invalid value for {first.field}: {first.detail}.", validations=tuple(fields)
        )


class HostNotAllowed(InvalidRequest):
    """Raised when the ``Host`` header names a host the agent does not answer to.

    A hostile name resolving to loopback (DNS rebinding) would otherwise let a web page
    read the agent's answers as its own.
    """

    def __init__(self, host: str) -> None:
        super().__init__(
            f"Host {quote(host)} is not allowed.",
            detail='Address the agent by an IP address or "localhost", '
            "or start it with --allowed-host for this name.",
        )


class Unauthorized(AgentError):
    """Raised when the bearer token is missing or wrong."""


class CrossOriginRequest(AgentError):
    """Raised when a request carries the ``Origin`` of a web page the agent does not trust."""

    def __init__(self) -> None:
        super().__init__(
            "Cross-origin requests are not allowed.",
            detail="Start the agent with --allowed-origin to trust this origin.",
        )


class ProcessNotFound(AgentError):
    """Raised for an unknown id, a forgotten process, or a process of another chat."""

    def __init__(self, process_id: str) -> None:
        super().__init__(f"Process {quote(process_id)} not found.")


class Conflict(AgentError):
    """Raised when the request contradicts the process's current state."""


class ProcessNotRunning(Conflict):
    """Raised when signalling a process that has already exited."""

    def __init__(self, process_id: str) -> None:
        super().__init__(f"Process {quote(process_id)} is not running.")


class IdempotencyConflict(Conflict):
    """Raised when an idempotency key is reused with different start parameters.

    Args:
        key: the idempotency key.
        process_id: the process the key's first start produced.
        fields: the start fields that differ from that start's, named in the message.
    """

    def __init__(self, key: str, process_id: str, fields: Sequence[str]) -> None:
        *others, last = fields or ["start"]
        differing = f"{', '.join(others)} and {last}" if others else last
        super().__init__(
            f"Idempotency key {quote(key)} was already used for process {quote(process_id)} "
            f"with a different {differing}.",
        )


class StartInProgress(Conflict):
    """Raised by a synchronous start whose idempotency key another start is spawning now:
    it cannot wait for that one to attach to it, so the caller retries."""

    def __init__(self, key: str) -> None:
        super().__init__(f"A start with idempotency key {quote(key)} is in progress; retry.")


class NoOpenStdin(Conflict):
    """Raised for input to a process started without stdin, whose stdin was closed, or that
    has exited."""

    def __init__(self, process_id: str) -> None:
        super().__init__(f"Process {quote(process_id)} has no open stdin.")


class NoTerminal(Conflict):
    """Raised for a resize or a screen of a process that was started without a terminal."""

    def __init__(self, process_id: str) -> None:
        super().__init__(
            f"Process {quote(process_id)} has no terminal.",
            detail='Start it with "tty" to give it one.',
        )


class BodyTooLarge(AgentError):
    """Raised when a request body exceeds the configured limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body is larger than {limit} bytes.")


class InputTooLarge(BodyTooLarge):
    """Raised for one input larger than a whole input queue: no retry could ever queue it."""

    def __init__(self, size: int, limit: int) -> None:
        AgentError.__init__(
            self,
            f"Input of {size} bytes is larger than the input queue ({limit} bytes). "
            "Send it in smaller pieces.",
        )


class UnsupportedMediaType(AgentError):
    """Raised when a request body is declared as something other than JSON.

    Forms and ``text/plain`` are what a web page can send anywhere without asking first.
    """

    def __init__(self) -> None:
        super().__init__("Content-Type must be application/json.")


class TooManyProcesses(AgentError):
    """Raised when starting one more process would pass the running-process cap."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"Too many running processes ({limit}). "
            "Wait for some to exit or signal them, then retry."
        )


class InputQueueFull(AgentError):
    """Raised when input would take a process's queue past its bound; nothing was queued."""

    def __init__(self, pending: int, size: int, limit: int) -> None:
        super().__init__(
            f"The process's input queue is full ({pending} bytes wait for the command to read "
            f"them; {size} more would pass the limit of {limit}). Retry once it has read some.",
        )


class SpawnFailed(AgentError):
    """Raised when the OS could not start ``sh``."""

    def __init__(self, detail: str) -> None:
        super().__init__("Failed to start process.", detail=detail)


class SignalFailed(AgentError):
    """Raised when the OS could not deliver a signal."""

    def __init__(self, detail: str) -> None:
        super().__init__("Failed to signal process.", detail=detail)


class TerminalFailed(AgentError):
    """Raised when the OS could not resize a process's terminal."""

    def __init__(self, detail: str) -> None:
        super().__init__("Failed to resize the terminal.", detail=detail)


class ShuttingDown(AgentError):
    """Raised for new starts once the agent has begun to shut down."""

    def __init__(self) -> None:
        super().__init__("Agent is shutting down.")
