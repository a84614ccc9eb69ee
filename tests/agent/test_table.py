"""Unit tests for the process table: retention, the cap, idempotency keys, chat visibility.

Real commands (``true``, ``sleep``) fill the table; only the clock is fake.
"""

from __future__ import annotations

import signal
import uuid

import anyio
import pytest

from agentproc.errors import IdempotencyConflict, ProcessNotFound
from agentproc.settings import Settings
from agentproc.spec import ProcessSpec
from agentproc.table import ProcessTable

from ._core import FakeClock, open_core

pytestmark = pytest.mark.anyio

SAFETY_TIMEOUT_SECONDS = 30.0
"""Safety net only: every wait below ends on an exit long before this."""

CHAT = str(uuid.uuid4())
OTHER_CHAT = str(uuid.uuid4())


async def test_an_exited_process_stays_until_retention_passes() -> None:
    """Readable and listed up to the retention after its exit; then unknown."""
    clock = FakeClock()
    async with open_core(clock=clock) as core:
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            process = await core.run(ProcessSpec(command="true"))
        clock.now += 9.5
        assert core.table.get(process.id) is process
        assert core.table.visible() == [process]
        clock.now += 1
        with pytest.raises(ProcessNotFound):
            core.table.get(process.id)
        assert core.table.visible() == []


async def test_retention_counts_from_the_exit_not_the_start() -> None:
    """A process that ran longer than the retention is still kept once it exits."""
    clock = FakeClock()
    async with open_core(clock=clock) as core:
        process = core.start(ProcessSpec(command="sleep 300"))
        clock.now += 60
        assert core.table.get(process.id) is process
        process.signal_or_log(signal.SIGKILL)
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            await process.wait()
        clock.now += 9.5
        assert core.table.get(process.id) is process


async def test_the_oldest_exits_are_forgotten_beyond_the_cap() -> None:
    """With more exited processes than ``max_retained``, the first to exit go first."""
    settings = Settings(reap_orphans=False, max_retained=2)
    async with open_core(settings) as core:
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            first = await core.run(ProcessSpec(command="true"))
            second = await core.run(ProcessSpec(command="true"))
            third = await core.run(ProcessSpec(command="true"))
        assert set(core.table.visible()) == {second, third}
        with pytest.raises(ProcessNotFound):
            core.table.get(first.id)


async def test_running_processes_are_never_forgotten() -> None:
    """Neither retention nor the cap touches a process that has not exited."""
    clock = FakeClock()
    settings = Settings(reap_orphans=False, retention_seconds=0, max_retained=0)
    async with open_core(settings, clock=clock) as core:
        running = core.start(ProcessSpec(command="sleep 300"))
        clock.now += 3600
        assert core.table.get(running.id) is running
        assert core.table.running() == [running]
        assert core.table.running_count == 1


async def test_a_repeated_key_attaches_within_its_chat_only() -> None:
    """The same key and start in the same chat attach; another chat's key is another key."""
    async with open_core() as core:
        spec = ProcessSpec(command="true", idempotency_key="k", chat_id=CHAT)
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            first = await core.run(spec)
        assert core.table.attach(spec) is first
        assert core.table.attach(ProcessSpec(command="true", idempotency_key="k")) is None
        other = ProcessSpec(command="true", idempotency_key="k", chat_id=OTHER_CHAT)
        assert core.table.attach(other) is None
        assert core.table.attach(ProcessSpec(command="true", chat_id=CHAT)) is None


async def test_a_repeated_key_with_another_start_conflicts() -> None:
    """A key reused for a different command is a conflict naming the key and the process."""
    async with open_core() as core:
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            first = await core.run(ProcessSpec(command="true", idempotency_key="k"))
        with pytest.raises(IdempotencyConflict) as conflict:
            core.table.attach(ProcessSpec(command="false", idempotency_key="k"))
        assert f'process "{first.id}"' in conflict.value.message


async def test_a_conflict_names_what_differs() -> None:
    """The 409 says which start fields differ from the first start's, so a caller can tell."""
    async with open_core() as core:
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            first = await core.run(ProcessSpec(command="true", idempotency_key="k"))
        with pytest.raises(IdempotencyConflict) as one:
            core.table.attach(ProcessSpec(command="true", stdin=True, idempotency_key="k"))
        with pytest.raises(IdempotencyConflict) as three:
            core.table.attach(
                ProcessSpec(command="false", background=True, stdin=True, idempotency_key="k")
            )
    prefix = f'Idempotency key "k" was already used for process "{first.id}" with a different '
    assert one.value.message == prefix + "stdin."
    assert three.value.message == prefix + "command, background and stdin."


async def test_a_forgotten_process_takes_its_key_along() -> None:
    """Past retention the key is free: another start under it conflicts with nothing."""
    clock = FakeClock()
    async with open_core(clock=clock) as core:
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            await core.run(ProcessSpec(command="true", idempotency_key="k"))
        clock.now += 11
        assert core.table.attach(ProcessSpec(command="false", idempotency_key="k")) is None


async def test_a_chat_sees_only_its_own_processes() -> None:
    """A chat reaches its own; an untagged or other chat's process is not found from it."""
    async with open_core() as core:
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            mine = await core.run(ProcessSpec(command="true", chat_id=CHAT))
            theirs = await core.run(ProcessSpec(command="true", chat_id=OTHER_CHAT))
            untagged = await core.run(ProcessSpec(command="true"))
        assert core.table.visible(CHAT) == [mine]
        assert core.table.get(mine.id, CHAT) is mine
        for hidden in (theirs, untagged):
            with pytest.raises(ProcessNotFound):
                core.table.get(hidden.id, CHAT)
        assert set(core.table.visible()) == {mine, theirs, untagged}


async def test_the_list_is_running_first_then_newest_first() -> None:
    """Running processes come before exited ones; within each, the newest start first."""
    async with open_core() as core:
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            old_exit = await core.run(ProcessSpec(command="true"))
            new_exit = await core.run(ProcessSpec(command="true"))
        old_run = core.start(ProcessSpec(command="sleep 300"))
        new_run = core.start(ProcessSpec(command="sleep 300"))
        # Start times are wall-clock seconds; set apart, they cannot tie on a fast machine.
        for offset, process in enumerate((old_exit, new_exit, old_run, new_run)):
            process.started_at = 1000.0 + offset
        assert core.table.visible() == [new_run, old_run, new_exit, old_exit]


async def test_each_forgotten_process_is_handed_to_on_forget() -> None:
    """Past retention a process is forgotten once, and whoever holds its memory is told."""
    clock = FakeClock()
    forgotten: list[object] = []
    async with open_core(clock=clock) as core:
        core.table = ProcessTable(
            retention_seconds=10, max_retained=10, clock=clock, on_forget=forgotten.append
        )
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            process = await core.run(ProcessSpec(command="true"))
        core.table.forget_expired()
        assert forgotten == []
        clock.now += 11
        core.table.forget_expired()
        core.table.forget_expired()
        assert forgotten == [process]
