"""What the SDK's unit tests against a mocked agent share: the mock and a client of each kind.

A test module that needs other ones (a client without a token, a mock that must see every
route called) declares its own, which pytest then uses instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import respx

from agentsdk import AgentConn, AsyncAgentConn

from ._data import API, BASE_URL, TOKEN


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """A mocked agent under the process API prefix."""
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


@pytest.fixture
def conn() -> Iterator[AgentConn]:
    """A sync client with a token and the default retries."""
    with AgentConn(BASE_URL, token=TOKEN) as client:
        yield client


@pytest.fixture
async def aconn() -> AsyncIterator[AsyncAgentConn]:
    """An async client with a token and the default retries."""
    async with AsyncAgentConn(BASE_URL, token=TOKEN) as client:
        yield client
