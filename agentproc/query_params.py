"""The query parameters of the output, run and screen routes: parsed as text, documented by
their type.

The agent reads each parameter as the text it is, as Coder's agent does: only ``wait=true``
exactly blocks, and a number is checked against its grammar (so ``timeout_ms=-1`` is a 400,
and a number of thousands of digits is capped without being converted). ``openapi.json``
says what a client sends: ``wait`` a boolean, the others integers (``since`` also ``last``),
so that generated clients take ``wait: true`` and ``timeout_ms: 10000``, not strings. The
runtime grammar and the documented type are declared side by side, here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query
from pydantic import WithJsonSchema

from agentproc.cursor import LIMIT_PATTERN, OFFSET_PATTERN, SINCE_PATTERN
from agentsdk.wire import (
    DEFAULT_CURSOR_LIMIT_BYTES,
    LAST_EVENT_ID_HEADER,
    MAX_CURSOR_LIMIT_BYTES,
    MAX_WAIT_MS,
    SINCE_LAST,
    WAKE_ON_INPUT,
)

__all__ = [
    "LastEventId",
    "Limit",
    "Scrollback",
    "Since",
    "StreamSince",
    "TimeoutMs",
    "Wait",
    "WakeOnInput",
    "waits",
]

WAIT_TRUE = "true"
"""The one value of ``wait`` that blocks (Coder's agent compares the text exactly)."""


def waits(wait: str | None) -> bool:
    """Whether a ``wait`` parameter asks to block: exactly ``true``, anything else not."""
    return wait == WAIT_TRUE


_OFFSET_SCHEMA = {"type": "integer", "minimum": 0}

Wait = Annotated[
    str | None,
    Query(
        description="`true` blocks until the process exits (or the wait cap, or `timeout_ms`) "
        "before answering; with `since`, until there is output past it or the process exits. "
        "`false`, or any value other than exactly `true`, answers at once, as Coder's agent "
        "does.",
    ),
    WithJsonSchema({"type": "boolean", "examples": [True]}),
]
"""``?wait=``: a boolean to clients; only the exact text ``true`` blocks."""

TimeoutMs = Annotated[
    str | None,
    Query(
        pattern=OFFSET_PATTERN,
        description=f"With `wait=true`: wait at most this many milliseconds instead of the "
        f"cap ({MAX_WAIT_MS}); a larger value counts as {MAX_WAIT_MS}. A whole number from 0 "
        "(digits only: a sign, a fraction or an exponent is a 400).",
    ),
    WithJsonSchema({"type": "integer", "minimum": 0, "examples": [10000]}),
]
"""``?timeout_ms=``: a non-negative integer of any length, capped at the wait cap."""

WakeOnInput = Annotated[
    bool,
    Query(
        alias=WAKE_ON_INPUT,
        description="With `wait=true`: also answer as soon as the process waits for input "
        "(`waiting_for_input`), at once if it does already, so a caller learns of a question "
        "without waiting for its timeout. Without `wait=true` it changes nothing.",
        examples=[True],
    ),
]
"""``?wake_on_input=``: a boolean, as FastAPI parses one (``true``, ``1``, ``yes``, ...)."""

Since = Annotated[
    str | None,
    Query(
        pattern=SINCE_PATTERN,
        description="Makes this a cursor read: the output from this byte offset on, without "
        f"cuts, marker or `truncated`. `{SINCE_LAST}` starts where the previous cursor read "
        "of this chat context ended (0 the first time). The answer adds `offset`, "
        "`next_offset` (the next read's `since`), `total_bytes` and `skipped`. An offset is a "
        "whole number from 0 (digits only); past the end, the answer is empty.",
    ),
    WithJsonSchema(
        {
            "anyOf": [_OFFSET_SCHEMA, {"type": "string", "enum": [SINCE_LAST]}],
            "examples": [0, SINCE_LAST],
        }
    ),
]
"""``?since=``: a byte offset, or ``last``."""

Limit = Annotated[
    str | None,
    Query(
        pattern=LIMIT_PATTERN,
        description=f"With `since`: bytes to return at most (default "
        f"{DEFAULT_CURSOR_LIMIT_BYTES}; a larger value than {MAX_CURSOR_LIMIT_BYTES} counts as "
        f"{MAX_CURSOR_LIMIT_BYTES}). A whole number from 1 (digits only). A character cut by "
        "the limit is left for the next read, unless it is the first.",
    ),
    WithJsonSchema({"type": "integer", "minimum": 1, "examples": [DEFAULT_CURSOR_LIMIT_BYTES]}),
]
"""``?limit=``: a positive integer, capped at the largest cursor read."""

StreamSince = Annotated[
    str | None,
    Query(
        pattern=OFFSET_PATTERN,
        description="The byte offset to start from (default 0): a whole number from 0 (digits "
        "only); past the end, the stream starts at the end.",
    ),
    WithJsonSchema({**_OFFSET_SCHEMA, "examples": [0]}),
]
"""``?since=`` of a stream: a byte offset."""

LastEventId = Annotated[
    str | None,
    Header(
        alias=LAST_EVENT_ID_HEADER,
        pattern=OFFSET_PATTERN,
        description="Resume after the event of this id (an offset); wins over `since`. "
        "Browsers' EventSource sends it when they reconnect.",
    ),
    WithJsonSchema({"type": "string", "pattern": OFFSET_PATTERN, "examples": ["7"]}),
]
"""``Last-Event-ID``: the offset an ``output`` event carried as its id."""

Scrollback = Annotated[
    str | None,
    Query(
        pattern=OFFSET_PATTERN,
        description="Also return up to this many lines that scrolled off the top of the screen, "
        "oldest first, as `scrollback` (the agent keeps `--scrollback-lines`, 1000 by "
        "default; a larger value counts as that). A whole number from 0 (digits only).",
    ),
    WithJsonSchema({**_OFFSET_SCHEMA, "examples": [100]}),
]
"""``?scrollback=`` of a screen: a line count, capped at the lines the agent keeps."""
