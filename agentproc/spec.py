"""What a start asks for: the validated :class:`ProcessSpec`, one name across the layers.

A front door (the HTTP route today, others tomorrow) decodes its request into the wire model
``StartProcessRequest`` and builds the spec with :meth:`ProcessSpec.from_request`; the
process manager takes nothing else. The checks live here, not in a front door, so every
door refuses alike what exec would refuse: a NUL byte (no C string carries one), a variable
name that is empty or holds ``=``, an environment string past ``MAX_ARG_STRLEN``, text that
cannot be encoded (a lone surrogate), and a command longer than the configured limit. The
deadlines are checked here too (a whole number of milliseconds from 1 to
``MAX_DEADLINE_MS``), and a terminal's size (:class:`TerminalSize`, the start's ``tty`` and a
resize).

The spec also says which of its fields identify a start for an idempotency key: every field
but those marked :data:`OUTSIDE_FINGERPRINT`, so a new start field takes part by default
and cannot be forgotten.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from agentproc.errors import CommandRequired, FieldError, InvalidField, InvalidRequest
from agentproc.settings import MAX_ARG_STRLEN, Settings
from agentsdk.types import StartProcessRequest
from agentsdk.types import TerminalSize as WireTerminalSize
from agentsdk.wire import (
    DEFAULT_TERMINAL_COLS,
    DEFAULT_TERMINAL_ROWS,
    MAX_DEADLINE_MS,
    MAX_TERMINAL_SIDE,
)

__all__ = [
    "DEADLINE_RANGE",
    "LONE_SURROGATE",
    "NOT_TEXT",
    "OUTSIDE_FINGERPRINT",
    "SIDE_RANGE",
    "ProcessSpec",
    "TerminalSize",
]

OUTSIDE_FINGERPRINT = "outside_fingerprint"
"""Field metadata key: ``True`` on a field that names a start (the idempotency key and the
chat it is scoped to) rather than describes what runs, so it is left out of the fingerprint."""

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
"""A UTF-16 surrogate outside a pair: valid in a Python string, but no encoding carries it."""

NOT_TEXT = "holds a lone surrogate (a \\uD800-\\uDFFF escape outside a pair), which is not text"
"""Why a string with a :data:`LONE_SURROGATE` is refused, wherever it comes from."""

DEADLINE_RANGE = f"must be a whole number of milliseconds from 1 to {MAX_DEADLINE_MS}"
"""Why a deadline is refused, whichever of the two it is."""

_NUL = "must not contain a NUL byte"

SIDE_RANGE = f"must be between 1 and {MAX_TERMINAL_SIDE}"


@dataclass(frozen=True, slots=True)
class TerminalSize:
    """A terminal's size in character cells, each side from 1 to ``MAX_TERMINAL_SIDE``.

    Raises:
        InvalidRequest: a side is out of range; ``validations`` names ``rows`` or ``cols``.
    """

    rows: int = DEFAULT_TERMINAL_ROWS
    """Lines."""

    cols: int = DEFAULT_TERMINAL_COLS
    """Columns."""

    def __post_init__(self) -> None:
        _raise_first(_size_problems(self.rows, self.cols, prefix=""))

    @classmethod
    def from_wire(cls, given: WireTerminalSize, *, field: str = "") -> TerminalSize:
        """The size a decoded request asks for; ``field`` is where the request holds it
        (``tty`` in a start), so a refusal names ``tty.rows`` rather than ``rows``.

        Raises:
            InvalidRequest: a side is out of range.
        """
        _raise_first(_size_problems(given.rows, given.cols, prefix=f"{field}." if field else ""))
        return cls(given.rows, given.cols)

    def to_wire(self) -> WireTerminalSize:
        """The size as the API reports it."""
        return WireTerminalSize(rows=self.rows, cols=self.cols)


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """A validated start: what to run, where, and for which chat.

    Built directly (in-process callers, tests) or through :meth:`from_request` (front doors,
    which also apply the configured command limit). Either way, a spec exec would refuse
    cannot exist: construction raises.

    Raises:
        CommandRequired: ``command`` is empty.
        InvalidRequest: a field holds what exec cannot carry; ``validations`` names each.
    """

    command: str
    """The shell command, run as ``sh -c <command>``."""

    workdir: str | None = None
    """The requested working directory; ``None`` for the agent's default."""

    env: Mapping[str, str] = field(default_factory=dict)
    """Variables over the agent's environment (the request's win)."""

    background: bool = False
    """Stored and reported; it changes nothing on the agent."""

    stdin: bool = False
    """True gives the command a pipe as stdin, fed through the input endpoint; False gives it
    /dev/null, so no command waits on a prompt nobody will answer."""

    timeout_ms: int | None = None
    """End the command this long after its start (SIGTERM, grace, SIGKILL); None: never."""

    idle_timeout_ms: int | None = None
    """End the command after this long without output, as ``timeout_ms`` does; None: never."""
    tty: TerminalSize | None = None
    """Run the command on a new terminal of this size, which is its stdin, stdout and stderr
    (``stdin`` is then implied: input goes to the terminal); ``None`` for pipes."""

    idempotency_key: str | None = field(default=None, metadata={OUTSIDE_FINGERPRINT: True})
    """A repeated key (in the same chat) attaches to the first process instead of starting."""

    chat_id: str | None = field(default=None, metadata={OUTSIDE_FINGERPRINT: True})
    """The chat that starts the process: its tag, its ``CODER_CHAT_ID``, its key's scope."""

    def __post_init__(self) -> None:
        if not self.command:
            raise CommandRequired()
        problems = [
            FieldError(name, reason)
            for name, value in (("command", self.command), ("workdir", self.workdir or ""))
            if (reason := _exec_string_problem(value))
        ]
        problems.extend(
            FieldError(f"env.{key}", reason)
            for key, value in self.env.items()
            if (reason := _variable_problem(key, value))
        )
        problems.extend(
            FieldError(name, DEADLINE_RANGE)
            for name, value in (
                ("timeout_ms", self.timeout_ms),
                ("idle_timeout_ms", self.idle_timeout_ms),
            )
            if value is not None and not _is_deadline(value)
        )
        _raise_first(problems)

    @classmethod
    def from_request(
        cls, request: StartProcessRequest, *, chat_id: str | None, settings: Settings
    ) -> ProcessSpec:
        """The spec of a decoded start request, checked against ``settings``' limits.

        Each request field goes to the spec field of its name. Go's zero values mean "not
        given", as Coder's agent reads them: an empty ``workdir`` or ``idempotency_key`` is
        none, and the spec's default stands.

        Raises:
            CommandRequired: the command is empty.
            InvalidRequest: the command is longer than ``settings.max_command_bytes``, or a
                field holds what exec cannot carry.
        """
        if not request.command:
            raise CommandRequired()
        # surrogatepass: a lone surrogate is reported by the checks below, not as a crash here.
        size = len(request.command.encode("utf-8", "surrogatepass"))
        if size > settings.max_command_bytes:
            raise InvalidRequest(
                f"Command is too long ({size} bytes; the limit is {settings.max_command_bytes}).",
                validations=(FieldError("command", "too long"),),
            )
        given = {
            name: value
            for name in type(request).model_fields
            if (value := getattr(request, name))  # falsy: Go's zero value
        }
        tty = request.tty
        if isinstance(tty, WireTerminalSize):
            given["tty"] = TerminalSize.from_wire(tty, field="tty")
        elif tty:
            given["tty"] = TerminalSize()
        return cls(**given, chat_id=chat_id)

    def fingerprint(self) -> tuple[tuple[str, object], ...]:
        """What must match for a repeated idempotency key to attach instead of conflict.

        Every field but those marked :data:`OUTSIDE_FINGERPRINT`, by name; mappings compare
        regardless of order.
        """
        return tuple(
            (f.name, _comparable(getattr(self, f.name)))
            for f in fields(self)
            if not f.metadata.get(OUTSIDE_FINGERPRINT, False)
        )

    def differences(self, other: ProcessSpec) -> list[str]:
        """The names of the :meth:`fingerprint` fields in which ``other`` differs, in order."""
        return [
            name
            for (name, mine), (_, theirs) in zip(
                self.fingerprint(), other.fingerprint(), strict=True
            )
            if mine != theirs
        ]


def _is_deadline(value: object) -> bool:
    # A bool is an int to Python, but true is no number of milliseconds.
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_DEADLINE_MS


def _raise_first(problems: list[FieldError]) -> None:
    """Raise an :class:`InvalidField` naming the first of ``problems`` and listing them all."""
    if problems:
        raise InvalidField(problems)


def _size_problems(rows: int, cols: int, *, prefix: str) -> list[FieldError]:
    return [
        FieldError(f"{prefix}{name}", SIDE_RANGE)
        for name, side in (("rows", rows), ("cols", cols))
        if not 1 <= side <= MAX_TERMINAL_SIDE
    ]


def _comparable(value: object) -> object:
    if isinstance(value, Mapping):
        return tuple(sorted(value.items()))
    return value


def _exec_string_problem(value: str) -> str:
    if "\0" in value:
        return _NUL
    if LONE_SURROGATE.search(value):
        return NOT_TEXT
    return ""


def _variable_problem(key: str, value: str) -> str:
    if not key or "=" in key or "\0" in key:
        return "a name must be non-empty, without '=' or NUL"
    if "\0" in value:
        return _NUL
    if LONE_SURROGATE.search(key) or LONE_SURROGATE.search(value):
        return NOT_TEXT
    if len(key.encode()) + len(value.encode()) + 2 > MAX_ARG_STRLEN:
        # KEY=VALUE and its NUL must fit in one exec string, or the spawn fails (E2BIG).
        return f"is longer than {MAX_ARG_STRLEN - 2} bytes with its name"
    return ""
