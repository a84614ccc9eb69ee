"""Configuration of the agent service: one immutable object, built once at startup."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from agentproc.buffer import DEFAULT_TAIL_BYTES

__all__ = [
    "ANY_HOST",
    "DEFAULT_COMMAND_BYTES",
    "DEFAULT_DRAIN_SECONDS",
    "DEFAULT_HEADER_TIMEOUT_SECONDS",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_INPUT_BYTES",
    "DEFAULT_MAX_RETAINED",
    "DEFAULT_MAX_RUNNING",
    "DEFAULT_OUTPUT_BUDGET_BYTES",
    "DEFAULT_OUTPUT_WINDOW_BYTES",
    "DEFAULT_PORT",
    "DEFAULT_RETENTION_SECONDS",
    "DEFAULT_SCROLLBACK_LINES",
    "DEFAULT_SHUTDOWN_GRACE_SECONDS",
    "MAX_ARG_STRLEN",
    "SETTING_BOUNDS",
    "InvalidSettings",
    "Settings",
    "default_state_dir",
]

DEFAULT_PORT = 7420
"""Where ``agentproc serve`` listens unless told: any free port works; this one is merely easy
to remember."""

DEFAULT_RETENTION_SECONDS = 300.0
"""Exited processes stay readable for 5 minutes, long enough for a slow poller."""

DEFAULT_MAX_RUNNING = 256
"""A runaway model loop must not fork-bomb the workspace."""

DEFAULT_MAX_RETAINED = 1000
"""Exited processes kept at most (each its head and tail, ~32 KiB, and what the output budget
leaves of its window), so a loop of short, chatty commands cannot grow memory without bound
within the retention time."""

DEFAULT_OUTPUT_WINDOW_BYTES = 256 * 1024
"""A process's newest output kept for cursor reads and streams: a reader that falls a few
pipe-fuls behind a chatty command still finds its place, at a quarter megabyte a process."""

DEFAULT_OUTPUT_BUDGET_BYTES = 128 * 1024 * 1024
"""What the windows of every process may hold together: 512 full windows, twice the running
cap's worth, so only exited processes' windows are ever taken back at the defaults."""

DEFAULT_SCROLLBACK_LINES = 1000
"""Lines that scrolled off the top of a terminal's screen kept for reading, per process: as
much as a person scrolls back through, at most a few hundred kilobytes of text."""

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""A start request is a command and some variables; a megabyte is already generous."""

DEFAULT_MAX_INPUT_BYTES = 1024 * 1024
"""Input waiting for a command that reads slowly or never, per process: a request body's worth,
so one call can always fill an empty queue."""

MAX_ARG_STRLEN = 128 * 1024
"""Linux refuses one argument or one environment string of this many bytes or more (NUL
included), so exec would fail."""

DEFAULT_COMMAND_BYTES = MAX_ARG_STRLEN - 1
"""The longest command ``sh -c`` can be given."""

DEFAULT_SHUTDOWN_GRACE_SECONDS = 5.0
"""Time between SIGTERM and SIGKILL at shutdown, as trio's subprocess cancel policy."""

DEFAULT_DRAIN_SECONDS = 5.0
"""After the shell exits, a backgrounded grandchild may hold the pipe; wait this long (Coder)."""

ANY_HOST = "*"
"""As an allowed host, turns the ``Host`` check off; only an agent with a token may do so."""

DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0
"""Any client sends its request headers in one go; one that trickles them holds a descriptor."""

DEFAULT_MAX_CONNECTIONS = 1024
"""Far more than a control plane and a few tools keep open; each costs a descriptor."""

SETTING_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "retention_seconds": (0, None),
    "max_running": (1, None),
    "max_retained": (0, None),
    "max_body_bytes": (1, None),
    "max_input_bytes": (1, None),
    "max_command_bytes": (1, None),
    "output_window_bytes": (DEFAULT_TAIL_BYTES, None),
    "output_budget_bytes": (0, None),
    "scrollback_lines": (0, None),
    "shutdown_grace_seconds": (0, None),
    "drain_seconds": (0, None),
    "max_connections": (1, None),
    "nice": (-20, 19),
    "oom_score_adj": (-1000, 1000),
}
"""The lowest and highest value of each numeric setting (``None``: unbounded), inclusive."""


class InvalidSettings(ValueError):
    """Raised by :class:`Settings` for values that would break the agent.

    Args:
        problems: each wrong setting, as its field name and what is wrong with its value.
    """

    def __init__(self, problems: tuple[tuple[str, str], ...]) -> None:
        super().__init__(
            "invalid settings: " + "; ".join(f"{name} {reason}" for name, reason in problems)
        )
        self.problems = problems


def default_state_dir() -> Path:
    """Where ``agentproc serve`` keeps its records: ``$XDG_STATE_HOME/agentproc``, or
    ``~/.local/state/agentproc`` (the XDG base directory default)."""
    base = os.environ.get("XDG_STATE_HOME", "")
    # The XDG spec says to ignore a relative path.
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "agentproc"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service can be configured with.

    The command line (``agentproc serve``) and ``AGENTPROC_*`` environment variables fill
    this in; tests build it directly.
    """

    token: str | None = None
    """Bearer token required on every ``/api/`` path; ``None`` leaves the API open."""

    workdir: Path | None = None
    """Default working directory for processes that name none (falls back to $HOME)."""

    retention_seconds: float = DEFAULT_RETENTION_SECONDS
    """How long an exited process stays listed and readable."""

    max_running: int = DEFAULT_MAX_RUNNING
    """How many processes may run at once before starts answer 429."""

    max_retained: int = DEFAULT_MAX_RETAINED
    """How many exited processes are kept at most; the oldest are forgotten first."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """Largest request body accepted (413 beyond)."""

    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES
    """Input written to a process and not yet read by it, at most (429 beyond)."""

    max_command_bytes: int = DEFAULT_COMMAND_BYTES
    """Longest command accepted, in UTF-8 bytes (400 beyond)."""

    output_window_bytes: int = DEFAULT_OUTPUT_WINDOW_BYTES
    """Bytes of each process's newest output kept for cursor reads and streams; at least the
    rendered tail."""

    output_budget_bytes: int = DEFAULT_OUTPUT_BUDGET_BYTES
    """Bytes the output windows of every process may hold together (each keeps its tail
    regardless); past it, the windows of the longest-exited processes shrink first."""

    scrollback_lines: int = DEFAULT_SCROLLBACK_LINES
    """Lines that scrolled off the top of a terminal's screen kept per process, for
    ``GET /{id}/screen?scrollback=N``."""

    shutdown_grace_seconds: float = DEFAULT_SHUTDOWN_GRACE_SECONDS
    """SIGTERM, then this long, then SIGKILL for every process group at shutdown."""

    drain_seconds: float = DEFAULT_DRAIN_SECONDS
    """How long to keep reading output after the shell exited."""

    nice: int | None = None
    """Niceness for child processes (Linux); ``None`` leaves it as the agent's."""

    oom_score_adj: int | None = None
    """``/proc/<pid>/oom_score_adj`` for child processes (Linux); ``None`` leaves it."""

    env: dict[str, str] = field(default_factory=dict)
    """Variables injected into every child, after the agent's own and before the request's
    (this is how ``GIT_ASKPASS`` reaches git)."""

    reap_orphans: bool = True
    """Adopt and reap the orphaned grandchildren of our commands, so none is left a zombie
    when the system's init does not reap (as in many containers)."""

    allowed_hosts: tuple[str, ...] = ()
    """Names accepted in the ``Host`` header besides IP literals and ``localhost`` (which
    keeps DNS rebinding out); :data:`ANY_HOST` accepts every name and needs a token."""

    allowed_origins: tuple[str, ...] = ()
    """Web origins (``scheme://host[:port]``) that may call the API besides the agent's own."""

    header_timeout_seconds: float = DEFAULT_HEADER_TIMEOUT_SECONDS
    """A connection that has not sent complete request headers this long after it opened (or
    after its last response) is closed."""

    max_connections: int = DEFAULT_MAX_CONNECTIONS
    """Open connections at most; beyond, the longest-idle one is closed, or the new one is
    answered 503 when every open one is busy with a request."""

    owns_process: bool = False
    """The agent has its process to itself (``agentproc serve`` sets this), so every orphan
    re-parented to it is one of its commands' and it ends them all. In a host process (a
    test, a server that embeds the app) the host's orphans come to it too: then it claims
    only those that carry its instance marker in their environment."""

    mcp: bool = False
    """Also serve the chat tools over MCP's streamable HTTP at ``/mcp``, behind the token and
    the browser rules (needs the ``mcp`` extra)."""

    state_dir: Path | None = None
    """Where the agent records the processes it started, so that the next agent can end what
    a crashed one left. ``None``: ``agentproc serve`` uses :func:`default_state_dir`, and an
    app inside another program (a test) keeps no records, touching no directory of the
    user's."""

    def __post_init__(self) -> None:
        problems: list[tuple[str, str]] = []
        for name, (low, high) in SETTING_BOUNDS.items():
            value = getattr(self, name)
            if value is None:
                continue
            below = low is not None and value < low
            above = high is not None and value > high
            if below or above or not math.isfinite(value):
                problems.append((name, _bound_text(low, high, value)))
        timeout = self.header_timeout_seconds
        if not (timeout > 0 and math.isfinite(timeout)):
            problems.append(("header_timeout_seconds", f"must be > 0, got {timeout}"))
        if self.token == "":
            problems.append(("token", "must not be empty (use None for no token)"))
        if ANY_HOST in self.allowed_hosts and self.token is None:
            problems.append(
                ("allowed_hosts", f"{ANY_HOST!r} needs a token: any web page could drive it")
            )
        if problems:
            raise InvalidSettings(tuple(problems))


def _bound_text(low: float | None, high: float | None, value: float) -> str:
    if high is None:
        return f"must be >= {low}, got {value}"
    if low is None:
        return f"must be <= {high}, got {value}"
    return f"must be between {low} and {high}, got {value}"
