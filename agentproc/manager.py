"""The process manager: the orchestration of starting, finding, signalling, feeding and ending
commands.

It knows nothing of HTTP, and holds no mechanism of its own. A start goes spec → table
(idempotency key) → running cap → :class:`~agentproc.spawner.Spawner` →
:class:`~agentproc.process.ManagedProcess`, whose supervision runs in the manager's task
group → :class:`~agentproc.custody.Custody`, which keeps what the command leaves behind.
Lookups go through the :class:`~agentproc.table.ProcessTable`, which applies chat visibility
and retention.

Shutdown (:mod:`agentproc.shutdown`, mixed into :class:`ProcessManager`) is one escalation
over every running command and custody's sweep of everything else.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import anyio
import anyio.abc

from agentproc import sessions
from agentproc.budget import OutputBudget
from agentproc.buffer import DEFAULT_TAIL_BYTES, HeadTailBuffer
from agentproc.childinput import ProcessInput
from agentproc.children import wait_child
from agentproc.custody import Custody
from agentproc.errors import (
    ProcessNotRunning,
    ShuttingDown,
    SignalFailed,
    StartInProgress,
    TooManyProcesses,
)
from agentproc.process import ManagedProcess, Supervision
from agentproc.prompts import PromptWatch
from agentproc.screen import Screen
from agentproc.screenfeed import EMULATOR_THREADS, ScreenFeed
from agentproc.settings import Settings
from agentproc.shutdown import SHUTDOWN_SLACK_SECONDS, ManagerShutdown
from agentproc.spawner import Child, Spawner, own_environment
from agentproc.spec import ProcessSpec
from agentproc.table import ProcessTable
from agentsdk.types import ProcessInputResponse, Signal

__all__ = [
    "QUIET_RUNNING",
    "SHUTDOWN_SLACK_SECONDS",
    "SIGNALS",
    "SPAWN_THREADS",
    "ProcessManager",
    "StartResult",
]

logger = logging.getLogger(__name__)

SPAWN_THREADS = 4
"""Shells spawned at once, each in a worker thread waiting for its child's exec: on a busy
machine a child waits for a core to exec, and a burst of starts need not queue behind it."""

QUIET_RUNNING = 2
"""Below this many running processes, with no other start spawning, a launch spawns on the
event loop: too little is going on for a fork to hold anything up, and a command that
waits on its own start (a round trip of ``true``) is spared two thread hops."""

SIGNALS: Mapping[Signal, signal.Signals] = {
    "terminate": signal.SIGTERM,
    "kill": signal.SIGKILL,
}
"""The signals the API can send, by their wire names."""


def _key_of(spec: ProcessSpec) -> tuple[str | None, str] | None:
    """The idempotency key of ``spec`` in its chat, as the table scopes keys."""
    return None if spec.idempotency_key is None else (spec.chat_id, spec.idempotency_key)


async def _discard(child: Child) -> None:
    """Kill and reap a shell that will never be supervised, and close the agent's ends."""
    try:
        sessions.signal_group(child.pid, signal.SIGKILL)
    except OSError as exc:
        logger.error("killing the process group %d failed: %s", child.pid, exc)
    await wait_child(child.popen)
    child.io.close()


@dataclass(frozen=True, slots=True)
class StartResult:
    """The process a start produced or attached to."""

    process: ManagedProcess
    started: bool


class ProcessManager(ManagerShutdown):
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
        # Launches spawning their shell now: how many, and the keyed ones by key, so that
        # another start of a key waits for its process rather than spawning a second.
        self._launches = 0
        self._launching: dict[tuple[str | None, str], anyio.Event] = {}
        self._spawn_limiter = anyio.CapacityLimiter(SPAWN_THREADS)
        self._stopping: anyio.Event | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._exit_stack: contextlib.AsyncExitStack | None = None
        self._supervision = Supervision(
            drain_seconds=settings.drain_seconds,
            limiter=anyio.CapacityLimiter(max(1, settings.max_running)),
            on_exit=self._exited,
            grace_seconds=settings.shutdown_grace_seconds,
        )
        self._prompts = PromptWatch()
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

    def start(self, spec: ProcessSpec) -> StartResult:
        """Start ``sh -c <command>``, or attach to the process of a repeated idempotency key.

        Synchronous: the shell is spawned on the calling thread (about a millisecond when
        the machine is idle, far longer when it is busy: the fork waits for the child's
        exec), and with no await between the key lookup and the registration, concurrent
        starts with one key cannot both run the command. A server uses :meth:`launch`.

        Raises:
            ShuttingDown: the manager is closing.
            IdempotencyConflict: the key was used with different parameters.
            StartInProgress: a :meth:`launch` of the same key is spawning its process now.
            TooManyProcesses: the running-process cap is reached.
            InvalidWorkdir: the working directory is missing or not a directory.
            SpawnFailed: the OS could not start the shell.
        """
        admitted = self._admit(spec)
        if isinstance(admitted, StartResult):
            return admitted
        if admitted is not None:
            raise StartInProgress(spec.idempotency_key or "")
        return self._spawn_here(spec)

    async def launch(self, spec: ProcessSpec) -> StartResult:
        """:meth:`start`, with the shell spawned in a worker thread, so the event loop serves
        other requests (``/healthz`` among them) meanwhile; or at once on a quiet agent
        (:data:`QUIET_RUNNING`).

        A start of a key another launch is spawning waits for it, then attaches to its
        process; launches in progress count toward the running cap. Once spawning began
        it is finished, whatever cancels the caller, so no shell is left unsupervised.

        Raises:
            ShuttingDown: the manager is closing, or began to while the shell was spawned
                (the shell is killed then, and reaped as every process is).
            IdempotencyConflict: the key was used with different parameters.
            TooManyProcesses: the running-process cap is reached.
            InvalidWorkdir: the working directory is missing or not a directory.
            SpawnFailed: the OS could not start the shell.
        """
        while isinstance(admitted := self._admit(spec), anyio.Event):
            await admitted.wait()
        if admitted is not None:
            return admitted
        if self._launches == 0 and self._table.running_count < QUIET_RUNNING:
            # A quiet agent: the fork holds up nothing else, and costs less than the hop to
            # a thread and back would cost this start.
            return self._spawn_here(spec)
        key = _key_of(spec)
        done = anyio.Event()
        if key is not None:
            self._launching[key] = done
        self._launches += 1
        try:
            with anyio.CancelScope(shield=True):
                child = await anyio.to_thread.run_sync(
                    self._spawn, spec, limiter=self._spawn_limiter
                )
                if self._task_group is None:
                    # The manager closed while the shell was spawned: nothing would supervise
                    # it, and custody has let go, so it is ended here.
                    await _discard(child)
                    raise ShuttingDown()
                self._custody.started(child.pid)
                process = self._register(spec, child)
        finally:
            self._launches -= 1
            if key is not None:
                del self._launching[key]
            done.set()
        if self._closing:
            # Shutdown began while the shell was spawned, after every running process was
            # told to stop: this one never ran a command anyone is waiting for.
            process.signal_or_log(signal.SIGKILL)
            raise ShuttingDown()
        return StartResult(process, started=True)

    def _admit(self, spec: ProcessSpec) -> StartResult | anyio.Event | None:
        """Whether ``spec`` may be spawned (None), attaches to its key's process (the
        result), or must wait for the launch of its key in progress (that launch's event).

        Raises:
            ShuttingDown: the manager is closing.
            IdempotencyConflict: the key was used with different parameters.
            TooManyProcesses: the running-process cap is reached.
        """
        if self._closing or self._task_group is None:
            raise ShuttingDown()
        attached = self._table.attach(spec)
        if attached is not None:
            return StartResult(attached, started=False)
        key = _key_of(spec)
        if key is not None and key in self._launching:
            return self._launching[key]
        if self._table.running_count + self._launches >= self._settings.max_running:
            raise TooManyProcesses(self._settings.max_running)
        return None

    def _spawn_here(self, spec: ProcessSpec) -> StartResult:
        # On the calling thread, with no await from the admission to the registration.
        with self._custody.spawning():
            child = self._spawner.spawn(spec)
            self._custody.started(child.pid, child.start)
        return StartResult(self._register(spec, child), started=True)

    def _spawn(self, spec: ProcessSpec) -> Child:
        # In a worker thread: the fork waits for the child's exec, and the loop must not.
        with self._custody.spawning():
            child = self._spawner.spawn(spec)
            self._custody.spawned(child.pid, child.start)
        return child

    def _register(self, spec: ProcessSpec, child: Child) -> ManagedProcess:
        """Make a spawned shell one of the manager's processes, supervised from now on."""
        assert self._task_group is not None  # noqa: S101 - admitted only while open
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
        logger.debug(
            "started process %s (pid %d) in %s",
            process.id,
            process.pid,
            process.workdir,
            extra={"process_id": process.id, "chat_id": spec.chat_id},
        )
        return process

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

    async def look_for_prompts(self, processes: Iterable[ManagedProcess]) -> None:
        """Find out which of ``processes`` wait for input now, before their state is read
        (``waiting_for_input``); a look is made only for those that could be waiting."""
        await self._prompts.look(p.prompt for p in processes)

    async def wait_for_prompt(self, process: ManagedProcess) -> None:
        """Return once ``process`` waits for input (at once if it does); never for one that
        cannot, so race it against its exit."""
        await self._prompts.wait(process.prompt)
