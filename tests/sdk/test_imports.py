"""An async call imports nothing: every module it needs is loaded, none is looked for again.

httpcore imports ``sniffio`` on every async request; where it is missing, each of those is a
failed import that searches ``sys.path`` again (a third of a millisecond apiece on a busy
machine, several per request), which is why agentsdk depends on it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

import pytest

from agentsdk import AsyncAgentConn
from tests.conftest import LiveAgent

pytestmark = pytest.mark.anyio


class Lookups:
    """A meta path finder that records each module name Python looks for, and finds none."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        self.names.append(name)
        return None


@pytest.fixture
def lookups() -> Iterator[Lookups]:
    """Every import that searches for a module while the test runs."""
    finder = Lookups()
    sys.meta_path.insert(0, finder)
    try:
        yield finder
    finally:
        sys.meta_path.remove(finder)


@pytest.mark.e2e
async def test_an_async_call_searches_for_no_module(
    live_agent: LiveAgent, lookups: Lookups
) -> None:
    """Once the client made one call over a real connection, the next ones import nothing."""
    async with AsyncAgentConn(live_agent.base_url, token=live_agent.token) as agent:
        await agent.list_processes()
        lookups.names.clear()
        for _ in range(3):
            await agent.list_processes()
    assert lookups.names == []
