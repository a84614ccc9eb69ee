"""One fake provider per module, and a fresh chat's tools on the session's agent per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from agentsdk import AsyncAgentConn
from chattool import ChatTools, chat_tools
from tests.conftest import LiveAgent, serve_in_thread
from tests.fakeprovider import FakeProvider


@pytest.fixture(scope="module")
def served_provider() -> Iterator[FakeProvider]:
    """The fake provider on 127.0.0.1, shared by the module's tests."""
    provider = FakeProvider()
    with serve_in_thread(provider.app()) as served:
        provider.base_url = served.base_url
        yield provider


@pytest.fixture
def fake(served_provider: FakeProvider) -> Iterator[FakeProvider]:
    """The module's fake provider; the test fails if the provider refused or failed anything."""
    served_provider.take_errors()
    yield served_provider
    assert served_provider.take_errors() == []


@pytest.fixture
async def tools(live_agent: LiveAgent) -> AsyncIterator[ChatTools]:
    """A new chat's tools on the session's agent, over one SDK connection."""
    async with AsyncAgentConn(live_agent.base_url, token=live_agent.token) as conn:
        yield chat_tools(conn, chat_id=uuid.uuid4())
