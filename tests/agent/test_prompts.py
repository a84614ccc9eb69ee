"""The quiet rule and the sharing of looks (``agentproc.prompts``), over a scripted scan.

The ``/proc`` walk itself is tested on real processes in ``test_blockedreads``; here a fake
scan says which sessions are blocked and counts the looks, so each rule is checked exactly.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import anyio
import pytest

import agentproc.arrival
import agentproc.prompts
from agentproc.arrival import Arrival
from agentproc.blockedreads import InputIdentity, Scan
from agentproc.prompts import POLL_SECONDS, QUIET_SECONDS, PromptState, PromptWatch

pytestmark = pytest.mark.anyio

PIPE = frozenset({InputIdentity(9, 1234)})
SAFETY_SECONDS = 30.0


@dataclass
class FakeScan:
    """Says the ``blocked`` sessions wait; records the sessions of every look."""

    blocked: set[int] = field(default_factory=set)
    problem: str | None = None
    blocked_from_look: int = 1
    """The first look (counting from 1) that finds the ``blocked`` sessions blocked."""
    looks: list[frozenset[int]] = field(default_factory=list)

    def __call__(self, watched: dict[int, frozenset[InputIdentity]]) -> Scan:
        self.looks.append(frozenset(watched))
        blocked = self.blocked if len(self.looks) >= self.blocked_from_look else set()
        return Scan(frozenset(blocked & set(watched)), self.problem)


def quiet_command(
    session: int = 100, *, inputs: frozenset[InputIdentity] = PIPE, accepts_input: bool = True
) -> tuple[PromptState, Arrival]:
    """A command whose last output was long ago, and the bell its output rings."""
    output = Arrival()
    output.rung_at = time.monotonic() - 10
    state = PromptState(session, inputs, output, lambda: accepts_input, output_unread=lambda: False)
    return state, output


def quiet_state(session: int = 100, *, inputs: frozenset[InputIdentity] = PIPE) -> PromptState:
    """A command whose last output was long ago, with its input open."""
    return quiet_command(session, inputs=inputs)[0]


async def test_a_blocked_read_after_the_quiet_is_waiting() -> None:
    """Quiet long enough and blocked on its input: waiting, after one look."""
    scan = FakeScan(blocked={100})
    state = quiet_state()
    assert not state.waiting()
    await PromptWatch(scan).look([state])
    assert state.waiting()
    assert scan.looks == [frozenset({100})]


class FrozenTime:
    """A ``time`` module whose monotonic clock stands still."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now


async def test_output_within_the_quiet_means_no_look_and_not_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A command that wrote just now is not looked at: it is working, not asking."""
    # The clock stands still, so "just now" holds however long a loaded machine takes
    # between the output and the look (the quiet is 200 ms).
    frozen = FrozenTime()
    monkeypatch.setattr(agentproc.arrival, "time", frozen)
    monkeypatch.setattr(agentproc.prompts, "time", frozen)
    scan = FakeScan(blocked={100})
    state, output = quiet_command()
    output.ring()
    await PromptWatch(scan).look([state])
    assert scan.looks == []
    assert not state.waiting()


async def test_output_after_the_look_began_voids_it() -> None:
    """What the look found holds only while nothing happened since it began."""
    state, output = quiet_command()
    await PromptWatch(FakeScan(blocked={100})).look([state])
    output.ring()
    assert not state.waiting()


async def test_output_still_unread_voids_a_blocked_finding() -> None:
    """Blocked, but what it wrote before blocking is not in the buffer yet: not waiting, so
    that no answer shows the wait without the question; a look after the read decides."""
    unread = True
    output = Arrival()
    output.rung_at = time.monotonic() - 10
    state = PromptState(100, PIPE, output, lambda: True, output_unread=lambda: unread)
    watch = PromptWatch(FakeScan(blocked={100}))
    await watch.look([state])
    assert not state.waiting()
    unread = False
    await watch.look([state])
    assert state.waiting()


async def test_input_sent_voids_the_finding_and_restarts_the_quiet() -> None:
    """The answer to a question is not the question still waiting: after input, the command
    is not waiting, and is not looked at again until it has been quiet anew."""
    scan = FakeScan(blocked={100})
    watch = PromptWatch(scan)
    state = quiet_state()
    await watch.look([state])
    state.input_sent()
    assert not state.waiting()
    await watch.look([state])
    assert len(scan.looks) == 1
    assert state.quiet_left(time.monotonic()) > QUIET_SECONDS / 2


async def test_a_command_without_input_or_with_it_closed_is_never_looked_at() -> None:
    """No input identity, or input no longer accepted: no look, never waiting."""
    scan = FakeScan(blocked={100, 101})
    watch = PromptWatch(scan)
    closed, _ = quiet_command(101, accepts_input=False)
    await watch.look([quiet_state(inputs=frozenset()), closed])
    assert scan.looks == []


async def test_readers_asking_together_share_looks() -> None:
    """Ten readers at once cost at most two walks: those who asked while a look ran take the
    next one, which began after they asked."""
    scan = FakeScan(blocked={100})
    watch = PromptWatch(scan)
    state = quiet_state()
    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(watch.look, [state])
    assert 1 <= len(scan.looks) <= 2
    assert state.waiting()


async def test_a_look_covers_every_command_a_waiter_waits_on() -> None:
    """Waiters ride along on any look, so waiting on many commands costs one walk a round."""
    scan = FakeScan()
    watch = PromptWatch(scan)
    first, second = quiet_state(100), quiet_state(200)
    with anyio.move_on_after(POLL_SECONDS * 4):
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch.wait, first)
            tg.start_soon(watch.wait, second)
    assert frozenset({100, 200}) in scan.looks


async def test_a_waiter_returns_once_the_command_asks() -> None:
    """The wait polls until a look finds the command blocked on its input."""
    scan = FakeScan(blocked={100}, blocked_from_look=3)
    state = quiet_state()
    with anyio.fail_after(SAFETY_SECONDS):
        await PromptWatch(scan).wait(state)
    assert len(scan.looks) == 3
    assert state.waiting()


async def test_a_waiter_on_a_command_that_cannot_wait_never_returns() -> None:
    """Without an input there is nothing to wake for: the wait only ends when cancelled."""
    scan = FakeScan(blocked={100})
    with anyio.move_on_after(QUIET_SECONDS + 2 * POLL_SECONDS) as scope:
        await PromptWatch(scan).wait(quiet_state(inputs=frozenset()))
    assert scope.cancelled_caught
    assert scan.looks == []


async def test_a_problem_the_scan_reports_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """A refusal to read /proc is an error worth knowing, but not at every look."""
    watch = PromptWatch(FakeScan(problem="reading /proc/7 was refused: Permission denied"))
    with caplog.at_level(logging.ERROR, logger="agentproc.prompts"):
        await watch.look([quiet_state()])
        await watch.look([quiet_state()])
    assert [r.getMessage() for r in caplog.records] == [
        "cannot always tell whether a command waits for input: reading /proc/7 was refused: "
        "Permission denied (reported once)"
    ]


async def test_a_failing_look_is_logged_and_changes_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A scan that raises leaves the states as they were; the failure is logged."""

    def broken(watched: dict[int, frozenset[InputIdentity]]) -> Scan:
        raise OSError("no /proc")

    state = quiet_state()
    with caplog.at_level(logging.ERROR, logger="agentproc.prompts"):
        await PromptWatch(broken).look([state])
    assert not state.waiting()
    assert "looking for commands waiting for input failed" in caplog.text
