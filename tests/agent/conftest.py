"""Fixtures shared by the tests of the agent (the ``agentproc`` package).

Where HTTP itself is not under test, a test talks to the app in this process, through
``agentproc.testing`` (the ``agent`` and ``make_agent`` fixtures): no socket, though
requests still start real processes. What needs a server (disconnects, connection reuse,
raw sockets, shutdown, the browser rules) uses the real uvicorn server of ``tests.conftest``
(``live_agent``, ``make_live_agent``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import httpx
import pytest

from agentproc.app import create_app
from agentproc.settings import Settings
from agentproc.testing import BlockingApp
from tests.conftest import TEST_TOKEN, LiveAgent

__all__ = ["InProcessAgent", "MakeAgent", "agent", "chat_client", "make_agent", "run_in_process"]


@dataclass(frozen=True)
class InProcessAgent:
    """``create_app(settings)`` running in this process; its clients need no socket."""

    running: BlockingApp
    settings: Settings

    @property
    def token(self) -> str | None:
        """The bearer token the agent requires (None when it is open)."""
        return self.settings.token

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        """An httpx client of this agent, authenticated, with ``headers`` on every request."""
        return self.running.client(token=self.token, headers=headers)

    def anonymous(self, headers: dict[str, str] | None = None) -> httpx.Client:
        """An httpx client of this agent that sends no token."""
        return self.running.client(headers=headers)


MakeAgent = Callable[[Settings], AbstractContextManager[InProcessAgent]]


@contextmanager
def run_in_process(settings: Settings) -> Iterator[InProcessAgent]:
    """Run ``create_app(settings)`` in process until the block ends; then it is shut down."""
    with BlockingApp(create_app(settings)) as running:
        yield InProcessAgent(running, settings)


@pytest.fixture(scope="session")
def agent() -> Iterator[InProcessAgent]:
    """One agent in process for the whole session, with token ``test-token``.

    Shared, as ``live_agent`` is: a test that lists processes works in a fresh chat, and a
    test stops what it started. (An agent per test costs about as much as the requests.)
    """
    with run_in_process(Settings(token=TEST_TOKEN)) as running:
        yield running


@pytest.fixture
def make_agent() -> MakeAgent:
    """Run an agent with custom settings in process: ``with make_agent(Settings(...)) as a``."""
    return run_in_process


@pytest.fixture
def chat_client(live_agent: LiveAgent) -> Iterator[httpx.Client]:
    """A client of the shared agent in a fresh chat, so listings see only this test's work."""
    with live_agent.client(headers={"Coder-Chat-Id": str(uuid.uuid4())}) as client:
        yield client


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    """A fresh pipe, non-blocking at the read end: ``(read_fd, write_fd)``."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    yield read_fd, write_fd
    os.close(read_fd)
    os.close(write_fd)
