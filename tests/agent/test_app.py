"""The app factory and the OS helpers it relies on, in isolation."""

from __future__ import annotations

import ctypes
import logging

import httpx
import pytest

from agentproc import sessions
from agentproc.app import create_app


@pytest.mark.anyio
async def test_app_without_its_lifespan_says_so() -> None:
    """Served without its lifespan, the app fails with a message that says what to do."""
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        with pytest.raises(RuntimeError, match="without its lifespan"):
            await client.get("/api/v0/processes/list")


def test_failing_to_become_a_subreaper_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Where prctl is missing, the agent says at error level that orphans may stay zombies."""

    def no_libc(*args: object, **kwargs: object) -> object:
        raise OSError("no libc here")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    with caplog.at_level(logging.ERROR, logger="agentproc.sessions"):
        assert sessions.become_subreaper() is False
    assert "orphans may stay zombies" in caplog.text
