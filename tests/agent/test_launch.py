"""A start spawns its shell in a worker thread (``ProcessManager.launch``): the event loop
serves meanwhile, and the rules of a start hold however starts interleave.

A busy machine makes a fork wait for its child's exec for milliseconds; on the event loop
that stopped every request, ``/healthz`` included. Here the spawn is held at a gate, in its
worker thread, while the test checks what the rest of the agent does meanwhile. (A quiet
agent spawns on the event loop; the gate makes every agent busy enough for a thread.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import anyio
import pytest

from agentproc import manager as manager_module
from agentproc.app import create_app
from agentproc.errors import ShuttingDown, StartInProgress, TooManyProcesses
from agentproc.manager import ProcessManager, StartResult
from agentproc.settings import Settings
from agentproc.spawner import Child, Spawner
from agentproc.spec import ProcessSpec
from agentproc.testing import async_app_client

pytestmark = pytest.mark.anyio

SAFETY_TIMEOUT_SECONDS = 30.0
SETTINGS = Settings(reap_orphans=False, shutdown_grace_seconds=0.5)


class Gate:
    """Holds every spawn in its worker thread until the test opens it."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = threading.Event()
        self.spawns = 0
        self.pids: list[int] = []
        self.threads: list[int] = []

    async def reached(self) -> None:
        """Return once a spawn waits at the gate."""
        assert await anyio.to_thread.run_sync(self.entered.wait, SAFETY_TIMEOUT_SECONDS)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    """Spawns wait at a gate; it opens at the end of the test whatever happens."""
    held = Gate()
    real = Spawner.spawn

    def spawn(self: Spawner, spec: ProcessSpec) -> Child:
        held.spawns += 1
        held.threads.append(threading.get_ident())
        held.entered.set()
        assert held.opened.wait(SAFETY_TIMEOUT_SECONDS)
        child = real(self, spec)
        held.pids.append(child.pid)
        return child

    monkeypatch.setattr(Spawner, "spawn", spawn)
    monkeypatch.setattr(manager_module, "QUIET_RUNNING", 0)
    yield held
    held.opened.set()


async def test_healthz_is_answered_while_a_start_spawns(gate: Gate) -> None:
    """A start whose fork is slow holds its own request only."""
    async with (
        async_app_client(create_app(SETTINGS)) as client,
        anyio.create_task_group() as tg,
    ):
        answers: list[int] = []

        async def start() -> None:
            response = await client.post("/api/v0/processes/start", json={"command": "true"})
            answers.append(response.status_code)

        tg.start_soon(start)
        await gate.reached()
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            assert (await client.get("/healthz")).status_code == 200
        assert answers == []
        gate.opened.set()
    assert answers == [200]


async def test_starts_of_one_key_spawn_once_and_attach_to_it(gate: Gate) -> None:
    """A start of a key whose first start is still spawning waits, then attaches to it."""
    spec = ProcessSpec(command="true", idempotency_key="once")
    async with ProcessManager(SETTINGS) as manager, anyio.create_task_group() as tg:
        results: list[StartResult] = []

        async def launch() -> None:
            results.append(await manager.launch(spec))

        tg.start_soon(launch)
        await gate.reached()
        tg.start_soon(launch)
        await anyio.wait_all_tasks_blocked()
        gate.opened.set()
    assert gate.spawns == 1
    first, second = results
    assert (first.started, second.started) == (True, False)
    assert first.process is second.process


async def test_a_start_being_spawned_counts_toward_the_running_cap(gate: Gate) -> None:
    """With one process allowed, a second start while the first spawns is refused."""
    async with (
        ProcessManager(Settings(max_running=1, reap_orphans=False)) as manager,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(manager.launch, ProcessSpec(command="true"))
        await gate.reached()
        with pytest.raises(TooManyProcesses):
            await manager.launch(ProcessSpec(command="true"))
        gate.opened.set()


async def test_a_synchronous_start_of_a_key_being_spawned_is_told_to_retry(gate: Gate) -> None:
    """``start`` cannot wait for a launch of its key: a 409 that says to retry."""
    spec = ProcessSpec(command="true", idempotency_key="busy")
    async with ProcessManager(SETTINGS) as manager, anyio.create_task_group() as tg:
        tg.start_soon(manager.launch, spec)
        await gate.reached()
        with pytest.raises(StartInProgress, match='"busy" is in progress'):
            manager.start(spec)
        gate.opened.set()


async def test_a_shell_spawned_as_shutdown_begins_is_killed_and_refused(gate: Gate) -> None:
    """Shutdown told every running process to stop before this one existed: the start is
    refused (503) and its shell killed and reaped, not left running."""
    async with ProcessManager(SETTINGS) as manager:
        refused: list[BaseException] = []

        async def launch() -> None:
            try:
                await manager.launch(ProcessSpec(command="sleep 300"))
            except ShuttingDown as exc:
                refused.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(launch)
            await gate.reached()
            manager.begin_shutdown()
            gate.opened.set()
        assert len(refused) == 1
        (process,) = manager.list_processes()
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            await process.wait()
        assert process.exit_code == -1


async def test_a_start_cancelled_while_it_spawns_still_supervises_its_shell(gate: Gate) -> None:
    """Cancelling the caller cannot orphan the shell: it is registered and supervised."""
    async with ProcessManager(SETTINGS) as manager:
        async with anyio.create_task_group() as tg:
            tg.start_soon(manager.launch, ProcessSpec(command="sleep 300"))
            await gate.reached()
            tg.cancel_scope.cancel()
            gate.opened.set()
        (process,) = manager.list_processes()
        assert process.running
        manager.send_signal(process.id, "kill")
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            await process.wait()


async def test_a_shell_spawned_after_the_manager_closed_is_killed_and_reaped(gate: Gate) -> None:
    """A spawn that finishes once the manager is gone leaves nothing behind: no supervision
    would reap its shell, and custody has let go, so the start ends it itself."""
    manager = ProcessManager(SETTINGS)
    refused: list[BaseException] = []

    async def launch() -> None:
        try:
            await manager.launch(ProcessSpec(command="sleep 300"))
        except ShuttingDown as exc:
            refused.append(exc)

    async with anyio.create_task_group() as tg:
        await manager.__aenter__()
        tg.start_soon(launch)
        await gate.reached()
        await manager.aclose()
        gate.opened.set()
    assert len(refused) == 1
    (pid,) = gate.pids
    assert not await anyio.Path(f"/proc/{pid}").exists()


async def test_a_quiet_agent_spawns_on_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing running and nothing spawning, a launch forks at once, on the loop's own
    thread (the hop to a worker and back would cost more than the fork holds up), and a
    busier one in a worker thread."""
    threads: list[int] = []
    real = Spawner.spawn

    def spawn(self: Spawner, spec: ProcessSpec) -> Child:
        threads.append(threading.get_ident())
        return real(self, spec)

    monkeypatch.setattr(Spawner, "spawn", spawn)
    async with ProcessManager(SETTINGS) as manager:
        first = await manager.launch(ProcessSpec(command="sleep 300"))
        second = await manager.launch(ProcessSpec(command="sleep 300"))
        third = await manager.launch(ProcessSpec(command="sleep 300"))
        for result in (first, second, third):
            manager.send_signal(result.process.id, "kill")
    loop_thread = threading.get_ident()
    assert threads[:2] == [loop_thread, loop_thread]
    assert threads[2] != loop_thread
