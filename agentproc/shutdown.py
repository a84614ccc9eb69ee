"""The manager's shutdown: refusing new starts, then ending every process the agent has.

Shutdown is one :class:`~agentproc.escalation.Escalation` (terminate → grace → kill) over every
running command, with custody's SIGTERM to everything else of the agent's inside the same
grace; then custody kills and reaps whatever is left, so no process the agent started
survives it and none is left a zombie. :class:`ManagerShutdown` is mixed into
:class:`~agentproc.manager.ProcessManager`, which owns the state it reads.

It knows nothing of HTTP, of starting processes, or of how a process or custody ends anything.
"""

from __future__ import annotations

import contextlib
import logging

import anyio
import anyio.abc

from agentproc.custody import Custody
from agentproc.escalation import Escalation
from agentproc.settings import Settings
from agentproc.table import ProcessTable

__all__ = ["SHUTDOWN_SLACK_SECONDS", "ManagerShutdown"]

# Under the manager's name: its shutdown was logged there before it had a module of its own,
# and whoever filters the agent's logs by logger keeps seeing it.
logger = logging.getLogger("agentproc.manager")

SHUTDOWN_SLACK_SECONDS = 5.0
"""After the grace and the drain bound, how long shutdown waits before reporting survivors."""


class ManagerShutdown:
    """Shutdown of the processes of a :class:`~agentproc.manager.ProcessManager`, which sets
    every attribute declared here."""

    _settings: Settings
    _table: ProcessTable
    _custody: Custody
    _closing: bool
    _stopping: anyio.Event | None
    _task_group: anyio.abc.TaskGroup | None
    _exit_stack: contextlib.AsyncExitStack | None

    @property
    def closing(self) -> bool:
        """True once shutdown began: new starts are refused."""
        return self._closing

    async def wait_shutdown(self) -> None:
        """Return once shutdown began (at once if it has), so that what follows a process
        without waiting for its exit, such as an output stream, ends promptly then."""
        if self._closing:
            return
        if self._stopping is None:
            self._stopping = anyio.Event()
        await self._stopping.wait()

    def begin_shutdown(self) -> None:
        """Refuse new starts and SIGTERM every process group; SIGKILL follows after the grace.

        Idempotent and synchronous, so a server can call it the moment it is told to stop,
        before it waits for open requests (which may be waiting on these processes).
        """
        if self._closing:
            return
        self._closing = True
        if self._stopping is not None:
            self._stopping.set()
        running = self._table.running()
        logger.info("shutting down: terminating %d running process(es)", len(running))
        escalation = Escalation(running, self._settings.shutdown_grace_seconds, "shutdown")
        escalation.terminate()
        if self._task_group is not None:
            self._task_group.start_soon(self._end_everything, escalation)

    async def _end_everything(self, escalation: Escalation) -> None:
        # Children that outlived their shell or left its group get the same SIGTERM and grace
        # as the rest; the groups signalled already do not get it twice.
        signalled = frozenset(p.pid for p in self._table.running())
        await self._custody.terminate(skip_groups=signalled)
        await escalation.finish(also=self._custody.settle)

    async def aclose(self) -> None:
        """Shut down: terminate → grace → kill every process, reap them all, stop tasks."""
        if self._exit_stack is None:
            return
        self.begin_shutdown()
        settings = self._settings
        bound = settings.shutdown_grace_seconds + settings.drain_seconds + SHUTDOWN_SLACK_SECONDS
        with anyio.move_on_after(bound):
            for process in self._table.running():
                await process.wait()
        survivors = [p.id for p in self._table.running()]
        if survivors:
            logger.error("processes %s did not exit after SIGKILL; giving up on them", survivors)
        stack, self._exit_stack = self._exit_stack, None
        assert self._task_group is not None  # noqa: S101 - set together with the stack
        self._task_group.cancel_scope.cancel()
        await stack.aclose()
        self._task_group = None
