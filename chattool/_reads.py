"""Bounded output reads shared by ``execute`` and ``process_output``.

Every read has a client-side bound on top of the server-side one, so an agent that stops
answering costs the model a few seconds, not the rest of the chat turn. A read returns the
response or the reason there is none, never raises: the caller decides how to report it.
"""

from __future__ import annotations

import anyio

from agentsdk.types import ProcessOutputResponse
from chattool._base import describe_error
from chattool._connection import ToolConnection
from chattool._duration import SECOND, format_duration

__all__ = [
    "POLL_GRACE_SECONDS",
    "SNAPSHOT_TIMEOUT_SECONDS",
    "read_snapshot",
    "wait_for_output",
]

POLL_GRACE_SECONDS = 1.0
"""A wait that ends at its limit still needs a moment to come back over the network."""

SNAPSHOT_TIMEOUT_SECONDS = 5.0
"""The extra read after a timeout or a failed wait; Coder gives its salvage read 5 s."""


async def read_snapshot(
    connection: ToolConnection, process_id: str
) -> tuple[ProcessOutputResponse | None, str]:
    """Read the output as it is now: the response, or why there is none."""
    with anyio.move_on_after(SNAPSHOT_TIMEOUT_SECONDS):
        try:
            return await connection.process_output(process_id, wait=False), ""
        except Exception as exc:
            return None, describe_error(exc)
    return None, no_answer_within(SNAPSHOT_TIMEOUT_SECONDS)


async def wait_for_output(
    connection: ToolConnection, process_id: str, wait_seconds: float
) -> tuple[ProcessOutputResponse | None, str]:
    """Wait on the agent up to ``wait_seconds`` for the exit, then read the output.

    Returns:
        The response (``running`` may still be true), or ``None`` and why there is none.
    """
    timeout_ms = max(1, round(wait_seconds * 1000))
    with anyio.move_on_after(wait_seconds + POLL_GRACE_SECONDS):
        try:
            response = await connection.process_output(process_id, wait=True, timeout_ms=timeout_ms)
        except Exception as exc:
            return None, describe_error(exc)
        return response, ""
    return None, no_answer_within(wait_seconds + POLL_GRACE_SECONDS)


def no_answer_within(seconds: float) -> str:
    """The failure text for a read the agent never answered."""
    return f"no answer from the agent within {format_duration(round(seconds * SECOND))}"
