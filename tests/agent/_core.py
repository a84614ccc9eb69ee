"""A process core without the manager: a real spawner, real children, a table and a clock.

For the unit tests of :mod:`agentproc.spawner`, :mod:`agentproc.process` and
:mod:`agentproc.table`; what the manager adds (custody, shutdown) is tested end to end.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import anyio.abc

from agentproc.process import ManagedProcess, Supervision
from agentproc.settings import Settings
from agentproc.spawner import Spawner
from agentproc.spec import ProcessSpec
from agentproc.table import ProcessTable

__all__ = ["Core", "FakeClock", "open_core", "wait_for_output"]

POLL_SECONDS = 0.01
"""Cadence of the bounded poll for a first line of output: short, so tests stay fast."""


@dataclass
class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Core:
    """Starts real commands into a table, supervised in a task group the test owns."""

    spawner: Spawner
    table: ProcessTable
    task_group: anyio.abc.TaskGroup
    drain_seconds: float = 5.0
    exits: list[ManagedProcess] = field(default_factory=list)

    def start(self, spec: ProcessSpec) -> ManagedProcess:
        """Spawn ``spec``, register it and supervise it, as the manager does."""
        process = ManagedProcess(str(uuid.uuid4()), spec, self.spawner.spawn(spec))
        self.table.add(process)
        supervision = Supervision(
            drain_seconds=self.drain_seconds,
            limiter=anyio.CapacityLimiter(1),
            on_exit=self._exited,
        )
        self.task_group.start_soon(process.supervise, supervision)
        return process

    async def run(self, spec: ProcessSpec) -> ManagedProcess:
        """Start ``spec`` and wait for its recorded exit."""
        process = self.start(spec)
        await process.wait()
        return process

    def _exited(self, process: ManagedProcess) -> None:
        self.exits.append(process)
        self.table.exited(process)


async def wait_for_output(process: ManagedProcess, text: bytes) -> None:
    """Return once ``text`` is in the process's output; bound it with ``anyio.fail_after``."""
    # No event tells of new output (the buffer is pure): a short poll, as the end-to-end
    # tests poll for a first line.
    while text not in process.buffer.bytes():  # noqa: ASYNC110
        await anyio.sleep(POLL_SECONDS)


@asynccontextmanager
async def open_core(
    settings: Settings | None = None,
    *,
    clock: FakeClock | None = None,
    drain_seconds: float = 5.0,
) -> AsyncIterator[Core]:
    """A core whose commands are killed and reaped when the block ends."""
    settings = settings or Settings(reap_orphans=False, retention_seconds=10, max_retained=10)
    table = ProcessTable(
        retention_seconds=settings.retention_seconds,
        max_retained=settings.max_retained,
        clock=clock or FakeClock(),
    )
    async with anyio.create_task_group() as tg:
        yield Core(Spawner(settings, final_env={}), table, tg, drain_seconds)
        # Supervision cancelled before a shell exited kills its group and reaps the shell.
        tg.cancel_scope.cancel()
