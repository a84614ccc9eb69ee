"""Bounded output reads shared by ``execute`` and ``process_output``.

Every read has a client-side bound on top of the server-side one, so an agent that stops
answering costs the model a few seconds, not the rest of the chat turn. A read returns the
response or the reason there is none, never raises: the caller decides how to report it.

``read_unseen`` is how ``process_output`` shows a model only what it has not seen: cursor
reads from the agent's ``since=last`` mark, which the agent keeps per chat, so any replica
of the chat backend can serve the next call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio

from agentsdk.types import ProcessOutputResponse
from agentsdk.wire import MAX_CURSOR_LIMIT_BYTES, SINCE_LAST, omission_marker
from chattool._base import describe_error
from chattool._connection import ToolConnection
from chattool._duration import SECOND, format_duration

__all__ = [
    "MAX_CATCH_UP_READS",
    "POLL_GRACE_SECONDS",
    "SNAPSHOT_TIMEOUT_SECONDS",
    "UnseenOutput",
    "bounded",
    "read_snapshot",
    "read_unseen",
    "wait_for_output",
]

T = TypeVar("T")

POLL_GRACE_SECONDS = 1.0
"""A wait that ends at its limit still needs a moment to come back over the network."""

SNAPSHOT_TIMEOUT_SECONDS = 5.0
"""The extra read after a timeout or a failed wait; Coder gives its salvage read 5 s."""

MAX_CATCH_UP_READS = 8
"""Cursor reads of up to 1 MiB each that one call makes to reach the end of what is new. The
agent's default window (256 KiB, and its 16 KiB head) takes one or two; the bound keeps a
call's transfer to a few megabytes where an operator keeps much larger windows."""


async def bounded(call: Callable[[], Awaitable[T]], seconds: float) -> tuple[T | None, str]:
    """``call``'s answer if it comes within ``seconds``, or ``None`` and why there is none
    (what it raised, or that the agent did not answer in time). Never raises."""
    with anyio.move_on_after(seconds):
        try:
            return await call(), ""
        except Exception as exc:
            return None, describe_error(exc)
    return None, no_answer_within(seconds)


async def read_snapshot(
    connection: ToolConnection, process_id: str
) -> tuple[ProcessOutputResponse | None, str]:
    """Read the output as it is now: the response, or why there is none."""
    return await bounded(
        lambda: connection.process_output(process_id, wait=False), SNAPSHOT_TIMEOUT_SECONDS
    )


async def wait_for_output(
    connection: ToolConnection, process_id: str, wait_seconds: float
) -> tuple[ProcessOutputResponse | None, str]:
    """Wait on the agent up to ``wait_seconds`` for the exit, then read the output.

    Returns:
        The response (``running`` may still be true), or ``None`` and why there is none.
    """
    timeout_ms = max(1, round(wait_seconds * 1000))
    return await bounded(
        lambda: connection.process_output(process_id, wait=True, timeout_ms=timeout_ms),
        wait_seconds + POLL_GRACE_SECONDS,
    )


def no_answer_within(seconds: float) -> str:
    """The failure text for a read the agent never answered."""
    return f"no answer from the agent within {format_duration(round(seconds * SECOND))}"


@dataclass(frozen=True, slots=True)
class UnseenOutput:
    """What a process wrote since the chat's previous cursor read, as far as the agent keeps it.

    ``output`` is the first read's text and, when more reads were needed, the last read's,
    joined by the agent's omission marker counting the bytes between them; the model only
    ever sees the head and the tail of it.
    """

    output: str
    """The new output, not yet cut to the model's limit."""

    state: ProcessOutputResponse
    """The last read: ``running`` and ``exit_code`` as of the end of ``output``."""

    skipped: int = 0
    """New bytes the agent no longer kept, so they were never read."""

    remaining: int = 0
    """New bytes not read yet, when the reads stopped early (their bound, or a failure)."""

    error: str = ""
    """Why a read after the first failed, if one did; what came before it is kept."""

    cursor: bool = True
    """False when the agent answered with a snapshot instead (it has no cursor reads)."""


async def read_unseen(
    connection: ToolConnection, process_id: str
) -> tuple[UnseenOutput | None, str]:
    """Read what is new since the chat's previous cursor read, up to where it ends now.

    Reads go on from the agent's mark until they reach the end the first one reported (or,
    once a read shows the exit, the final end), so a process that keeps writing cannot keep
    the call reading; at most ``MAX_CATCH_UP_READS`` of them.

    Returns:
        The new output, or ``None`` and why the first read failed.
    """
    first, error = await _read_from_mark(connection, process_id)
    if first is None:
        return None, error
    if first.next_offset is None or first.total_bytes is None:
        # An agent without cursor reads ignores since= and answers with its snapshot.
        return UnseenOutput(output=first.output, state=first, cursor=False), ""
    last, end = first, first.total_bytes
    skipped, reads = first.skipped or 0, 1
    while not _caught_up(last, end) and reads < MAX_CATCH_UP_READS:
        following, error = await _read_from_mark(connection, process_id)
        reads += 1
        if following is None:
            break
        if _offset(following) <= _offset(last):
            break  # a character still incomplete at the end waits for the rest of its bytes
        skipped += following.skipped or 0
        last = following
        if not last.running and last.total_bytes is not None:
            # The output is final now: reading to its very end cannot go on forever.
            end = last.total_bytes
    output = first.output
    if last is not first:
        gap = (last.offset or 0) - _offset(first)
        output += (omission_marker(gap) if gap > 0 else "") + last.output
    stopped_early = bool(error) or (reads >= MAX_CATCH_UP_READS and not _caught_up(last, end))
    return UnseenOutput(
        output=output,
        state=last,
        skipped=skipped,
        remaining=end - _offset(last) if stopped_early else 0,
        error=error,
    ), ""


async def _read_from_mark(
    connection: ToolConnection, process_id: str
) -> tuple[ProcessOutputResponse | None, str]:
    return await bounded(
        lambda: connection.process_output(
            process_id, since=SINCE_LAST, limit=MAX_CURSOR_LIMIT_BYTES
        ),
        SNAPSHOT_TIMEOUT_SECONDS,
    )


def _offset(response: ProcessOutputResponse) -> int:
    """Where the read after ``response`` starts."""
    return response.next_offset or 0


def _caught_up(response: ProcessOutputResponse, end: int) -> bool:
    return _offset(response) >= end
