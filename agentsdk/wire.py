"""The wire facts the agent, the SDK and the tools share, besides the models of ``agentsdk.types``.

Paths, header and variable names, bounds and the omission marker are written once, here; the
agent (``agentproc``), the clients (``agentsdk``) and the tools (``chattool``) import them, so
one end cannot change a fact the others rely on. Like ``agentsdk.types``, this module imports
nothing of the SDK's or the service's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final, NamedTuple

__all__ = [
    "API_PREFIX",
    "CHAT_ID_HEADER",
    "CHAT_ID_VARIABLE",
    "CONTROL_PLANE_TOKEN_VARIABLE",
    "DEFAULT_CURSOR_LIMIT_BYTES",
    "DEFAULT_TERMINAL_COLS",
    "DEFAULT_TERMINAL_ROWS",
    "EXIT_EVENT",
    "EXTERNAL_AUTH_PATH",
    "HIDDEN_VARIABLES",
    "INPUT_PATH",
    "INPUT_QUIET_MS",
    "LAST_EVENT_ID_HEADER",
    "LISTEN_HOLD_SECONDS",
    "MAX_CURSOR_LIMIT_BYTES",
    "MAX_DEADLINE_MS",
    "MAX_TERMINAL_SIDE",
    "MAX_WAIT_MS",
    "MAX_WAIT_SECONDS",
    "OMISSION_MARKER",
    "OUTPUT_EVENT",
    "RESIZE_PATH",
    "RUN_PATH",
    "SCREEN_PATH",
    "SESSION_TOKEN_HEADER",
    "SINCE_LAST",
    "STREAM_HEARTBEAT_SECONDS",
    "STREAM_PATH",
    "TOKEN_VARIABLE",
    "WAKE_ON_INPUT",
    "MarkerSpan",
    "find_omission_markers",
    "omission_marker",
]

# -- the process API --------------------------------------------------------------------------

API_PREFIX = "/api/v0/processes"
"""Where the process API is mounted; Coder's agent mounts its process router there too."""

MAX_WAIT_MS = 5 * 60 * 1000
"""The longest the agent holds a ``wait=true`` output request, in milliseconds (the unit of
``timeout_ms``): a waiting client learns of an exit at once, yet no request is held forever."""

MAX_WAIT_SECONDS = MAX_WAIT_MS / 1000
"""``MAX_WAIT_MS`` in seconds, the unit of client timeouts."""

RUN_PATH = "/run"
"""A start that waits for the exit and answers with the output, under ``API_PREFIX``: one
round trip instead of start and output. Coder's agent has no such route (it answers 404)."""

CHAT_ID_HEADER = "Coder-Chat-Id"
"""Names the chat a request acts for; the agent scopes processes by it."""

CHAT_ID_VARIABLE = "CODER_CHAT_ID"
"""Set in the environment of every process started for a chat, to the chat's id, so the
commands it runs (``git`` through the askpass helper) can say which chat they act for."""

# -- live processes: cursor reads, streams and input ------------------------------------------

DEFAULT_CURSOR_LIMIT_BYTES = 64 * 1024
"""How many bytes a cursor read (``output?since=N``) returns at most when it names no
``limit``: enough for a screenful of any log, small enough to answer at once."""

MAX_CURSOR_LIMIT_BYTES = 1024 * 1024
"""The most one cursor read returns; a larger ``limit`` counts as this, so no request makes
the agent render more than a megabyte at once."""

SINCE_LAST: Final = "last"
"""The ``since`` that starts a cursor read where the previous cursor read of the same chat
context ended (0 the first time): the agent keeps a reader's place, not the reader."""

STREAM_PATH = "/{id}/stream"
"""The output stream of a process (server-sent events), under ``API_PREFIX``; ``{id}`` is the
process id as one path segment."""

INPUT_PATH = "/{id}/input"
"""Where a process started with ``stdin`` takes its input, under ``API_PREFIX``; ``{id}`` is
the process id as one path segment."""

OUTPUT_EVENT = "output"
"""The event name of an output chunk in a stream; its id is the offset where it ends."""

EXIT_EVENT = "exit"
"""The event name of a stream's last event, which carries the exit code."""

LAST_EVENT_ID_HEADER = "Last-Event-ID"
"""Resumes a stream after the event of that id (an offset); it wins over ``since``. The name
is the one browsers' EventSource sends when it reconnects."""

STREAM_HEARTBEAT_SECONDS = 15.0
"""The longest a stream stays silent: the agent sends a comment line at least this often, so
proxies keep the connection open and a reader can tell a quiet process from a dead link."""

# -- prompts and deadlines -------------------------------------------------------------------

INPUT_QUIET_MS = 200
"""How long a command blocked reading its own stdin must have been silent (no output, no
input sent) before it counts as ``waiting_for_input``: a program that prints a question and
reads the answer is told apart from one that reads input as part of its work."""

WAKE_ON_INPUT: Final = "wake_on_input"
"""The output read's query parameter that, with ``wait=true``, also ends the wait when the
command starts waiting for input."""

MAX_DEADLINE_MS = 7 * 24 * 60 * 60 * 1000
"""The longest ``timeout_ms`` or ``idle_timeout_ms`` a start may ask for: a week. A longer
one is almost certainly a unit mistake (seconds or microseconds for milliseconds)."""
# -- terminals ------------------------------------------------------------------------------

DEFAULT_TERMINAL_ROWS = 24
"""The rows of a terminal started with ``"tty": true``: the VT100's, which programs assume."""

DEFAULT_TERMINAL_COLS = 80
"""The columns of a terminal started with ``"tty": true``."""

MAX_TERMINAL_SIDE = 1000
"""The most rows, and the most columns, a terminal may have: far beyond any real window, and
a bound on what one screen costs the agent to keep."""

RESIZE_PATH = "/{id}/resize"
"""Where a process's terminal is resized, under ``API_PREFIX``; ``{id}`` is the process id as
one path segment."""

SCREEN_PATH = "/{id}/screen"
"""Where a process's terminal screen is read, under ``API_PREFIX``; ``{id}`` is the process id
as one path segment."""

# -- the agent's own environment --------------------------------------------------------------

TOKEN_VARIABLE = "AGENTPROC_TOKEN"  # noqa: S105 - a variable name, not a secret
"""Holds the bearer token the agent requires on its API."""

CONTROL_PLANE_TOKEN_VARIABLE = "AGENTPROC_CONTROL_PLANE_TOKEN"  # noqa: S105 - a variable name
"""Holds the token the agent authenticates itself with to its control plane."""

HIDDEN_VARIABLES = (TOKEN_VARIABLE, CONTROL_PLANE_TOKEN_VARIABLE)
"""Kept out of commands' environment so that ``env`` does not print the agent's tokens into a
model's context. Not isolation: a process of the same user can read the agent's /proc."""

# -- the control plane, as the agent calls it -------------------------------------------------

EXTERNAL_AUTH_PATH = "/api/v2/workspaceagents/me/external-auth"
"""Where coderd answers an agent's external-auth questions; ``me`` is the agent of the token.
Public so a control plane serving the route and the clients calling it share one value."""

SESSION_TOKEN_HEADER = "Coder-Session-Token"  # noqa: S105 - a header name, not a secret
"""The header coderd reads an agent token from (it does not accept a bearer token there)."""

LISTEN_HOLD_SECONDS = 30.0
"""How long chattool.gitauth holds a ``listen=true`` request open before it answers with the
URL again; a client waiting on one needs a read timeout longer than this."""

# -- the output's omission marker -------------------------------------------------------------

OMISSION_MARKER = "\n\n... [omitted {omitted_bytes} bytes] ...\n\n"
"""Joins the head and the tail of a long output, saying how many bytes the agent dropped
between them (Coder's agent writes the same). Fill it in with ``omission_marker``."""

_MARKER_HEAD, _MARKER_TAIL = OMISSION_MARKER.split("{omitted_bytes}")
_MARKER_PATTERN = re.compile(
    re.escape(_MARKER_HEAD.encode()) + rb"(\d+)" + re.escape(_MARKER_TAIL.encode())
)


class MarkerSpan(NamedTuple):
    """Where an omission marker sits in an output, and the count it carries."""

    start: int
    """The index of the marker's first byte."""

    end: int
    """The index just past the marker's last byte."""

    omitted_bytes: int
    """How many bytes the marker says were dropped."""


def omission_marker(omitted_bytes: int) -> str:
    """The marker for ``omitted_bytes`` dropped bytes, as the agent writes it.

    Raises:
        ValueError: ``omitted_bytes`` is negative.
    """
    if omitted_bytes < 0:
        raise ValueError(f"Expected omitted_bytes >= 0 but received {omitted_bytes!r}")
    return OMISSION_MARKER.format(omitted_bytes=omitted_bytes)


def find_omission_markers(data: bytes) -> Iterator[MarkerSpan]:
    """Every omission marker in an output's UTF-8 bytes, in order.

    The agent writes at most one; an output that merely prints text of the same shape shows
    up here too, so a reader that keeps the marker should keep no more than one.
    """
    for match in _MARKER_PATTERN.finditer(data):
        yield MarkerSpan(match.start(), match.end(), int(match.group(1)))
