"""Wire types of the agent process API, shared by the service and the client.

Every model here is the JSON contract of ``/api/v0/processes``, compatible with Coder's
workspace agent. This module imports nothing but pydantic so that the SDK never drags in
the server and the server never re-declares the wire. Field docstrings become the field
descriptions of ``openapi.json``.

Optional fields are omitted from JSON when unset (``model_dump(exclude_none=True)``), as
Go's ``omitempty`` does, and unknown response fields are ignored so newer agents keep
working with older clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ErrorResponse",
    "ExternalAuthRequest",
    "ExternalAuthResponse",
    "FieldValidation",
    "ListProcessesResponse",
    "ProcessInfo",
    "ProcessOutputResponse",
    "ProcessTruncation",
    "Signal",
    "SignalProcessRequest",
    "SignalProcessResponse",
    "StartProcessParams",
    "StartProcessRequest",
    "StartProcessResponse",
]

Signal = Literal["kill", "terminate"]
"""The signals the agent accepts: ``kill`` is SIGKILL, ``terminate`` is SIGTERM."""


class _Wire(BaseModel):
    # Unknown fields are ignored both ways: a newer agent may add response fields, and
    # the server must accept requests from newer clients.
    model_config = ConfigDict(use_attribute_docstrings=True, extra="ignore", frozen=True)


class StartProcessRequest(_Wire):
    """Start ``sh -c <command>`` on the agent."""

    command: str = Field(min_length=1)
    """The shell command, run as ``sh -c <command>`` with stdin from /dev/null."""

    workdir: str | None = None
    """Working directory. Default: the agent's configured directory if it exists, else $HOME."""

    env: dict[str, str] | None = None
    """Variables added to the agent's environment for this process; they win over the agent's."""

    background: bool | None = None
    """Stored and reported in the process list; it changes nothing on the agent."""

    idempotency_key: str | None = None
    """Makes the start safe to retry: a repeated key returns the first process instead of
    starting a new one (409 if the other fields differ)."""


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
    """A snapshot of a process's bounded output and its exit state."""

    output: str
    """Combined stdout and stderr, head and tail, as UTF-8 (invalid bytes replaced)."""

    truncated: ProcessTruncation | None = None
    """Present when the output was longer than the head."""

    running: bool
    """False guarantees ``output`` is complete."""

    exit_code: int | None = None
    """The exit status once exited (-1 when ended by a signal). Absent while running."""


class SignalProcessRequest(_Wire):
    """A signal for a running process's whole process group."""

    signal: Signal
    """``terminate`` (SIGTERM) or ``kill`` (SIGKILL)."""


class FieldValidation(_Wire):
    """One field that failed validation."""

    field: str
    """The field's path, dotted for nested fields."""

    detail: str
    """What is wrong with it."""


class SignalProcessResponse(_Wire):
    """The agent delivered the signal; the process may still be exiting."""

    message: str
    """What was sent to which process, e.g. ``Signal "kill" sent to process "<id>".``"""


class ErrorResponse(_Wire):
    """The body of every error response."""

    message: str
    """A sentence for humans and models."""

    detail: str | None = None
    """The underlying cause, when there is one."""

    validations: list[FieldValidation] | None = None
    """Per-field failures, for a request that did not validate."""


class ExternalAuthRequest(_Wire):
    """Ask the control plane for a git provider token (the askpass flow)."""

    match: str = ""
    """The URL git is talking to, e.g. ``https://github.com``."""

    id: str = ""
    """The external-auth provider id, as an alternative to ``match``."""

    listen: bool = False
    """Wait for the user to finish authenticating instead of answering at once."""

    git_branch: str = ""
    """The current branch of the repository git runs in."""

    git_remote_origin: str = ""
    """The repository's ``remote.origin.url``."""

    chat_id: str = ""
    """The chat whose command ran git, so only that chat's git status is refreshed."""


class ExternalAuthResponse(_Wire):
    """A git provider token, or a URL where the user must authenticate first."""

    access_token: str = ""
    """The provider's OAuth access token."""

    token_extra: dict[str, object] | None = None
    """Provider-specific extra token fields."""

    url: str = ""
    """When set, the user must open this URL to authenticate before a token exists."""

    type: str = ""
    """The provider type, e.g. ``github``."""

    expires_at: str | None = None
    """When the token expires (RFC 3339), if it does."""

    username: str = ""
    """What git should use as the username."""

    password: str = ""
    """What git should use as the password."""
