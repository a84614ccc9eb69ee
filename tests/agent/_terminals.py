"""Helpers for tests that drive commands on terminals through the API, over plain httpx.

Waits end on events: a screen that does not yet show what a test waits for is read again
only once the agent has more output (a long-poll cursor read), or the process exited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from ._live_processes import PROCESSES, SAFETY_TIMEOUT_SECONDS

__all__ = ["Screen", "finish", "screen", "type_in", "wait_for_screen"]

Screen = dict[str, Any]
"""A ``GET /{id}/screen`` answer."""

LONG_POLL = {"wait": "true", "timeout_ms": "5000", "limit": "1"}
"""A cursor read that returns as soon as one more byte arrived; 5 s is only a safety net."""


def screen(client: httpx.Client, process_id: str, **params: Any) -> Screen:
    """The process's screen, failing on anything but 200."""
    response = client.get(f"{PROCESSES}/{process_id}/screen", params=params)
    assert response.status_code == 200, response.text
    answer: Screen = response.json()
    return answer


def type_in(client: httpx.Client, process_id: str, data: str = "", **fields: Any) -> None:
    """Send ``data`` (and ``fields``, such as ``close``) to the process's terminal."""
    body = {"data": data, **fields} if data else fields
    response = client.post(f"{PROCESSES}/{process_id}/input", json=body)
    assert response.status_code == 200, response.text


def finish(client: httpx.Client, process_id: str) -> dict[str, Any]:
    """Block until the process exits; its final output response."""
    response = client.get(
        f"{PROCESSES}/{process_id}/output", params={"wait": "true", "timeout_ms": "60000"}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["running"] is False, answer
    return answer


def wait_for_screen(
    client: httpx.Client, process_id: str, shows: Callable[[Screen], bool]
) -> Screen:
    """The process's screen once ``shows`` holds for it; fails if the process exits first or
    the safety net passes."""
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    while True:
        # The end of the output first: the screen read after it covers at least that much,
        # so waiting for output past it can miss nothing the screen did not show.
        seen = client.get(f"{PROCESSES}/{process_id}/output", params={"since": "0", "limit": "1"})
        end = seen.json()["total_bytes"]
        current = screen(client, process_id)
        if shows(current):
            return current
        assert current["running"], f"exited before the screen showed it: {current}"
        assert time.monotonic() < deadline, f"the screen never showed it: {current}"
        client.get(f"{PROCESSES}/{process_id}/output", params={"since": str(end), **LONG_POLL})
