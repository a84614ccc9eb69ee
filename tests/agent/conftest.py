"""Fixtures shared by the end-to-end tests of the agent's process API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveAgent

__all__ = ["chat_client"]


@pytest.fixture
def chat_client(live_agent: LiveAgent) -> Iterator[httpx.Client]:
    """A client of the shared agent in a fresh chat, so listings see only this test's work."""
    with live_agent.client(headers={"Coder-Chat-Id": str(uuid.uuid4())}) as client:
        yield client
