"""The process manager: the orchestration of starting, finding, signalling, feeding and ending
commands.

It knows nothing of HTTP, and holds no mechanism of its own. A start goes spec → table
(idempotency key) → running cap → :class:`~agentproc.spawner.Spawner` →
:class:`~agentproc.process.ManagedProcess`, whose supervision runs in the manager's task
group → :class:`~agentproc.custody.Custody`, which keeps what the command leaves behind.
Lookups go through the :class:`~agentproc.table.ProcessTable`, which applies chat visibility
and retention.

Shutdown is one :class:`~agentproc.process.Escalation` (terminate → grace → kill) over every
running command, with custody's SIGTERM to everything else of the agent's inside the same
grace; then custody kills and reaps whatever is left, so no process the agent started
survives it and none is left a zombie.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import anyio
import anyio.abc

from agentproc.budget import OutputBudget
from agentproc.buffer import DEFAULT_TAIL_BYTES, HeadTailBuffer
from agentproc.childinput import ProcessInput
from agentproc.custody import Custody
from agentproc.errors import ProcessNotRunning, ShuttingDown, SignalFailed, TooManyProcesses
from agentproc.process import Escalation, ManagedProcess, Supervision
from agentproc.screen import Screen
from agentproc.screenfeed import EMULATOR_THREADS, ScreenFeed
from agentproc.settings import Settings
from agentproc.spawner import Spawner, own_environment
from agentproc.spec import ProcessSpec
from agentproc.table import ProcessTable
from agentsdk.types import ProcessInputResponse, Signal

__all__ = ["SHUTDOWN_SLACK_SECONDS", "SIGNALS", "ProcessManager", "StartResult"]

logger = logging.getLogger(__name__)

SHUTDOWN_SLACK_SECONDS = 5.0
"""After the grace and the drain bound, how long shutdown waits before reporting survivors."""

SIGNALS: Mapping[Signal, signal.Signals] = {
    "terminate": signal.SIGTERM,
    "kill": signal.SIGKILL,
}
"""The signals the API can send, by their wire names."""


@dataclass(frozen=True, slots=True)
class StartResult:
    """The process a start produced or attached to."""

    process: ManagedProcess
    started: bool


class ProcessManager:
    """Starts, tracks, signals and cleans up the agent's processes.

    Use as an async context manager; leaving it shuts every process down::

        async with ProcessManager(settings) as manager:
            result = manager.start(ProcessSpec(command="echo hi"))
            await result.process.wait()

    Args:
        settings: limits, retention, environment and working-directory defaults.
        clock: monotonic clock for retention; tests inject a fake one.
    """

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._budget = OutputBudget(settings.output_budget_bytes, floor_bytes=DEFAULT_TAIL_BYTES)
        self._table = ProcessTable(
            retention_seconds=settings.retention_seconds,
            max_retained=settings.max_retained,
            clock=clock,
            on_forget=self._forgotten,
        )
        self._custody = Custody(settings, keeper_env=own_environment())
        self._spawner = Spawner(settings, final_env=self._custody.environment())
        self._closing = False
        self._stopping: anyio.Event | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._exit_stack: contextlib.AsyncExitStack | None = None
        self._supervision = Supervision(
            drain_seconds=settings.drain_seconds,
            limiter=anyio.CapacityLimiter(max(1, settings.max_running)),
            on_exit=self._exited,
        )
        self._emulation = anyio.CapacityLimiter(EMULATOR_THREADS)

    async def __aenter__(self) -> Self:
        await self._spawner.check_priority()
        stack = contextlib.AsyncExitStack()
        # Entered first, so it is left last: after every supervisor has finished.
        await stack.enter_async_context(self._custody)
        self._task_group = await stack.enter_async_context(anyio.create_task_group())
        self._exit_stack = stack
        self._task_group.start_soon(self._table.forget_periodically)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

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

    def start(self, spec: ProcessSpec) -> StartResult:
        """Start ``sh -c <command>``, or attach to the process of a repeated idempotency key.

        Synchronous on purpose: with no await between the key lookup and the registration,
        concurrent starts with one key cannot both run the command.

        Raises:
            ShuttingDown: the manager is closing.
            IdempotencyConflict: the key was used with different parameters.
            TooManyProcesses: the running-process cap is reached.
            InvalidWorkdir: the working directory is missing or not a directory.
            SpawnFailed: the OS could not start the shell.
        """
        if self._closing or self._task_group is None:
            raise ShuttingDown()
        attached = self._table.attach(spec)
        if attached is not None:
            return StartResult(attached, started=False)
        if self._table.running_count >= self._settings.max_running:
            raise TooManyProcesses(self._settings.max_running)
        with self._custody.spawning():
            child = self._spawner.spawn(spec)
            self._custody.started(child.pid)
        buffer = HeadTailBuffer(
            window_capacity=self._settings.output_window_bytes, budget=self._budget
        )
        process_id = str(uuid.uuid4())
        screen = None
        if child.terminal is not None:
            emulator = Screen(child.terminal.size, self._settings.scrollback_lines)
            screen = ScreenFeed(emulator, buffer, self._emulation, name=process_id)
        process = ManagedProcess(process_id, spec, child, buffer=buffer, screen=screen)
        self._table.add(process)
        self._task_group.start_soon(process.supervise, self._supervision)
        logger.info(
            "started process %s (pid %d) in %s",
            process.id,
            process.pid,
            process.workdir,
            extra={"process_id": process.id, "chat_id": spec.chat_id},
        )
        return StartResult(process, started=True)

    def _exited(self, process: ManagedProcess) -> None:
        self._table.exited(process)
        self._budget.exited(process.buffer)
        # Descendants may outlive the shell; custody watches them until they are gone.
        self._custody.exited(process.pid)

    def _forgotten(self, process: ManagedProcess) -> None:
        self._budget.release(process.buffer)

    def get(self, process_id: str, chat_id: str | None = None) -> ManagedProcess:
        """The process with ``process_id`` as seen from ``chat_id``'s context.

        Raises:
            ProcessNotFound: unknown, forgotten after retention, or not visible to ``chat_id``
                (another chat's, or untagged while ``chat_id`` is set).
        """
        return self._table.get(process_id, chat_id)

    def list_processes(self, chat_id: str | None = None) -> list[ManagedProcess]:
        """Every known process (only ``chat_id``'s with a chat), running first, newest first."""
        return self._table.visible(chat_id)

    def send_signal(self, process_id: str, sig: Signal, chat_id: str | None = None) -> None:
        """Send ``terminate`` or ``kill`` to the process's whole process group.

        Raises:
            ProcessNotFound: see :meth:`get`.
            ProcessNotRunning: the process has exited.
            SignalFailed: the OS refused.
        """
        process = self.get(process_id, chat_id)
        if not process.running:
            raise ProcessNotRunning(process_id)
        try:
            delivered = process.send_signal(SIGNALS[sig])
        except OSError as exc:
            raise SignalFailed(f"{sig} process: {exc}") from exc
        if not delivered:
            # The whole group is gone; only its exit has not been recorded yet.
            raise ProcessNotRunning(process_id)

    def write_input(
        self, process_id: str, given: ProcessInput, chat_id: str | None = None
    ) -> ProcessInputResponse:
        """Queue ``given`` for the process's stdin; it is written as the command reads.

        Raises:
            ProcessNotFound: see :meth:`get`.
            NoOpenStdin: started without ``stdin``, stdin closed, or exited.
            InputTooLarge: the data is larger than the whole input queue.
            InputQueueFull: the queue has no room for the data now; nothing was queued.
        """
        return self.get(process_id, chat_id).write_input(given)

    # -- shutdown -----------------------------------------------------------------------

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
        escalation = Escalation(running, self._settings.shutdown_grace_seconds)
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
