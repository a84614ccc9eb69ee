"""Configuration of the agent service: one immutable object, built once at startup."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_COMMAND_BYTES",
    "DEFAULT_DRAIN_SECONDS",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_RETAINED",
    "DEFAULT_MAX_RUNNING",
    "DEFAULT_RETENTION_SECONDS",
    "DEFAULT_SHUTDOWN_GRACE_SECONDS",
    "HIDDEN_VARIABLES",
    "MAX_ARG_STRLEN",
    "Settings",
    "default_state_dir",
]

DEFAULT_RETENTION_SECONDS = 300.0
"""Exited processes stay readable for 5 minutes, long enough for a slow poller."""

DEFAULT_MAX_RUNNING = 256
"""A runaway model loop must not fork-bomb the workspace."""

DEFAULT_MAX_RETAINED = 1000
"""Exited processes kept at most (each up to ~48 KiB), so a loop of short, chatty commands
cannot grow memory without bound within the retention time."""

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""A start request is a command and some variables; a megabyte is already generous."""

MAX_ARG_STRLEN = 128 * 1024
"""Linux refuses one argument or one environment string of this many bytes or more (NUL
included), so exec would fail."""

DEFAULT_COMMAND_BYTES = MAX_ARG_STRLEN - 1
"""The longest command ``sh -c`` can be given."""

DEFAULT_SHUTDOWN_GRACE_SECONDS = 5.0
"""Time between SIGTERM and SIGKILL at shutdown, as trio's subprocess cancel policy."""

DEFAULT_DRAIN_SECONDS = 5.0
"""After the shell exits, a backgrounded grandchild may hold the pipe; wait this long (Coder)."""

HIDDEN_VARIABLES = ("AGENTPROC_TOKEN", "AGENTPROC_CONTROL_PLANE_TOKEN")
"""Kept out of commands' environment so that ``env`` does not print the agent's tokens into a
model's context. Not isolation: a process of the same user can read the agent's /proc."""


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

    max_command_bytes: int = DEFAULT_COMMAND_BYTES
    """Longest command accepted, in UTF-8 bytes (400 beyond)."""

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

    owns_process: bool = False
    """The agent has its process to itself (``agentproc serve`` sets this), so every orphan
    re-parented to it is one of its commands' and it ends them all. In a host process (a
    test, a server that embeds the app) the host's orphans come to it too: then it claims
    only those that carry its instance marker in their environment."""

    state_dir: Path | None = None
    """Where the agent records the processes it started, so that the next agent can end what
    a crashed one left. ``None``: ``agentproc serve`` uses :func:`default_state_dir`, and an
    app inside another program (a test) keeps no records, touching no directory of the
    user's."""

    def __post_init__(self) -> None:
        at_least = {
            "retention_seconds": 0,
            "max_running": 1,
            "max_retained": 0,
            "max_body_bytes": 1,
            "max_command_bytes": 1,
            "shutdown_grace_seconds": 0,
            "drain_seconds": 0,
        }
        wrong = [
            f"{name} must be >= {low}"
            for name, low in at_least.items()
            if getattr(self, name) < low
        ]
        if self.token == "":
            wrong.append("token must not be empty (use None for no token)")
        if wrong:
            raise ValueError("invalid settings: " + "; ".join(wrong))
