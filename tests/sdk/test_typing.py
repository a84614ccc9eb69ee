"""The typed usage example passes strict mypy, and runs as written against a mock agent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ._data import LIST_BODY, OUTPUT_BODY, SIGNAL_BODY, START_BODY
from .typed_usage import run_async, run_sync

ROOT = Path(__file__).resolve().parents[2]
USAGE = Path(__file__).with_name("typed_usage.py")
MYPY_TIMEOUT_SECONDS = 300
"""Safety net only: a cold mypy run over the SDK takes seconds."""


def agent(request: httpx.Request) -> httpx.Response:
    """A mock agent that answers every endpoint with a success."""
    path = request.url.path
    if path.endswith("/start"):
        return httpx.Response(200, json=START_BODY)
    if path.endswith("/list"):
        return httpx.Response(200, json=LIST_BODY)
    if path.endswith("/output"):
        return httpx.Response(200, json=OUTPUT_BODY)
    if path.endswith("/input"):
        return httpx.Response(200, json={"queued": 1, "stdin_open": False})
    if path.endswith("/stream"):
        events = b'event: output\nid: 2\ndata: {"offset": 0, "output": "ok"}\n\n'
        events += b'event: exit\ndata: {"exit_code": 2}\n\n'
        return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, content=events)
    return httpx.Response(200, json=SIGNAL_BODY)


def test_typed_usage_passes_strict_mypy() -> None:
    """mypy --strict accepts the example, including that each deliberate misuse is reported."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", "pyproject.toml", str(USAGE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=MYPY_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_typed_usage_runs_with_the_sync_client() -> None:
    """The sync half of the example works end to end against a mock transport."""
    assert run_sync(httpx.MockTransport(agent)).exit_code == 2


@pytest.mark.anyio
async def test_typed_usage_runs_with_the_async_client() -> None:
    """The async half of the example works end to end against a mock transport."""
    assert (await run_async(httpx.MockTransport(agent))).exit_code == 2
