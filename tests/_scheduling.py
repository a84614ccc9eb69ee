"""How a parallel run (``--dist loadfile``) hands test files to its workers.

Each file is one unit of work, as pytest-xdist's ``loadfile`` makes it, so that a module's
shared agent or browser starts once, with two changes:

- The files of ``tests/integrations`` form a single unit. Each of them imports the LLM SDKs
  and agent frameworks (``openai``, ``anthropic``, ``mcp``, ``pydantic_ai``, the OpenAI
  Agents SDK), about four seconds of CPU per process, and a worker that runs them all imports
  them once. Run one after another in one process they take 22 s of CPU; each in a process
  of its own, 46 s, of which pytest's own start is about 1.6 s a process.
- The units that run whole programs go first, longest first: they have few tests each, and
  xdist orders units by their number of tests, which sent them out last and made them the
  run's tail. The packaging tests, which build the wheel and install it into new
  virtualenvs (35-50 s), started half-way through the run and ended ten seconds after every
  other worker had finished.
- Then the files with end-to-end tests (marked ``e2e``: a real server, real agents): a few
  tests of several seconds each. Handed out by their number of tests among the unit tests'
  files, they came last, and the run waited 5-7 s for the worker that drew one of them
  (``test_terminal_resources.py``, 6 s) after the others had finished.
"""

from __future__ import annotations

from collections import Counter

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadFileScheduling

SHARED_IMPORTS = "tests/integrations/"
"""The directory whose files are one unit of work."""

FIRST = ("tests/packaging/", SHARED_IMPORTS, "tests/proof/", "tests/test_readme.py")
"""The units handed out before any other, in this order: the packaging tests (35-50 s on a
2-core machine), the integration tests (30-45 s), the proofs (fuzzing 15-35 s, the browser
and the generated clients 10-15 s each) and the README's examples (about 20 s)."""


class SuiteScheduling(LoadFileScheduling):
    """``--dist loadfile``, with the files under :data:`SHARED_IMPORTS` as one unit, handed
    out in the order of the workers' collection (:func:`order_collection`)."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        super().__init__(config, log)
        # Each worker orders its collection (order_collection below); xdist's reorder by
        # number of tests would undo the first rule.
        config.option.loadscopereorder = False

    def _split_scope(self, nodeid: str) -> str:
        return unit(nodeid)


def unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its file, or :data:`SHARED_IMPORTS`."""
    path = nodeid.split("::", 1)[0]
    return SHARED_IMPORTS if path.startswith(SHARED_IMPORTS) else path


END_TO_END = "e2e"
"""The marker of tests that run a real server or agent (``pyproject.toml`` declares it)."""


def order_collection(items: list[pytest.Item]) -> None:
    """Sort ``items`` as the units should be handed out: those of :data:`FIRST` first, in its
    order, then those with an :data:`END_TO_END` test, then the others; within each of the
    last two, by number of tests, most first (xdist's own order).

    Each worker sorts its own collection: the scheduler hands out tests by their index in it,
    so the order must be the workers', not the scheduler's. The sort is stable, so a unit's
    tests keep their order and stay together, and every worker comes to the same list.
    """
    tests = Counter(unit(item.nodeid) for item in items)
    end_to_end = {unit(item.nodeid) for item in items if item.get_closest_marker(END_TO_END)}

    def order(item: pytest.Item) -> tuple[int, int]:
        scope = unit(item.nodeid)
        rank = next((n for n, prefix in enumerate(FIRST) if scope.startswith(prefix)), None)
        if rank is None:
            rank = len(FIRST) + (scope not in end_to_end)
        return (rank, -tests[scope])

    items.sort(key=order)
