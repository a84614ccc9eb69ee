"""The process manager: starts shell commands, pumps their output, tracks and ends them.

It owns every child process and knows nothing of HTTP. Each command runs as
``sh -c <command>`` in a new session with stdin from /dev/null and stdout and stderr on one
pipe, pumped into a :class:`~agentproc.buffer.HeadTailBuffer`. One task per process, owned by
the manager's task group, waits for the shell (through a pidfd, so no thread and no
SIGCHLD handler), drains the pipe, and only then records the exit, so that a reader who sees
``running: false`` always sees the complete output.

What the commands leave behind — background children, orphans, daemons that left the
session — is in the custody of :class:`~agentproc.custody.Custody`, which the manager tells
of every shell it starts and reaps. Shutdown is terminate → grace → kill for every process
group, then custody kills and reaps everything else of the agent's, so no process the agent
started survives it and none is left a zombie.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import anyio
import anyio.abc

from agentproc import sessions
from agentproc.buffer import HeadTailBuffer
from agentproc.children import wait_child
from agentproc.custody import Custody
from agentproc.errors import (
    IdempotencyConflict,
    InvalidWorkdir,
    ProcessNotFound,
    ProcessNotRunning,
    ShuttingDown,
    SignalFailed,
    SpawnFailed,
    TooManyProcesses,
)
from agentproc.settings import Settings
from agentproc.spec import ProcessSpec
from agentsdk.types import (
    ProcessInfo,
    ProcessOutputResponse,
    ProcessTruncation,
    Signal,
)
from agentsdk.wire import CHAT_ID_VARIABLE, HIDDEN_VARIABLES

__all__ = ["ManagedProcess", "ProcessManager", "StartResult"]

logger = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
"""One pipe read: the pipe's own capacity, so a fast writer costs few wakeups."""

SWEEP_INTERVAL_SECONDS = 30.0
"""How often exited processes past retention are forgotten when nobody asks the agent."""

SHUTDOWN_SLACK_SECONDS = 5.0
"""After the grace and the drain bound, how long shutdown waits before reporting survivors."""

SIGNALS: Mapping[Signal, signal.Signals] = {
    "terminate": signal.SIGTERM,
    "kill": signal.SIGKILL,
}

PRIORITY_SCRIPT = (
    'if [ -n "$1" ]; then echo "$1" 2>/dev/null >/proc/self/oom_score_adj; fi; '
    'if [ "$2" != 0 ]; then exec nice -n "$2" sh -c "$3"; fi; exec sh -c "$3"'
)
"""Applies OOM score and niceness inside the child before it runs the command: the shell
may fork at once, and a setting applied from outside afterwards would miss its children."""

PRIORITY_PROBE_SECONDS = 10.0
"""The startup check of niceness and OOM score runs two tiny commands; this only stops a hang."""


@dataclass(frozen=True, slots=True)
class StartResult:
    """The process a start produced or attached to."""

    process: ManagedProcess
    started: bool


class ManagedProcess:
    """One command the agent started: its identity, output buffer and exit state."""

    def __init__(
        self,
        *,
        process_id: str,
        request: ProcessSpec,
        workdir: str,
        pid: int,
        buffer: HeadTailBuffer,
    ) -> None:
        self.id = process_id
        self.request = request
        self.workdir = workdir
        self.pid = pid
        self.buffer = buffer
        self.started_at = time.time()
        self.exited_at: float | None = None
        self.exit_code: int | None = None
        self.exited_monotonic: float | None = None
        self._exited = anyio.Event()

    @property
    def running(self) -> bool:
        """True until the shell exited and its output was drained."""
        return self.exit_code is None

    @property
    def chat_id(self) -> str | None:
        """The chat that started the process, if any."""
        return self.request.chat_id

    def visible_to(self, chat_id: str | None) -> bool:
        """Whether a request in ``chat_id``'s context may list, read or signal this process.

        Without a chat, everything is visible (the control plane's own view). With one, only
        that chat's processes are: an untagged process belongs to no chat, so it is hidden
        from every chat rather than shared by all of them.
        """
        return chat_id is None or self.chat_id == chat_id

    def info(self) -> ProcessInfo:
        """The process as the list endpoint reports it."""
        return ProcessInfo(
            id=self.id,
            command=self.request.command,
            workdir=self.workdir,
            background=self.request.background,
            running=self.running,
            exit_code=self.exit_code,
            started_at_unix=int(self.started_at),
            exited_at_unix=None if self.exited_at is None else int(self.exited_at),
        )

    def snapshot(self) -> ProcessOutputResponse:
        """The output and exit state, read in that order: exit state first.

        The exit is recorded only after the pipe is drained, so ``running: false`` here
        guarantees the rendered output below is complete.
        """
        exit_code = self.exit_code
        text, truncation = self.buffer.render()
        return ProcessOutputResponse(
            output=text,
            truncated=None
            if truncation is None
            else ProcessTruncation.model_validate(truncation, from_attributes=True),
            running=exit_code is None,
            exit_code=exit_code,
        )

    async def wait(self) -> None:
        """Wait until the process exited and its output is complete.

        Bound it with ``anyio.move_on_after``; many tasks may wait on one process.
        """
        await self._exited.wait()

    def _finish(self, exit_code: int, now_monotonic: float) -> None:
        self.exit_code = exit_code
        self.exited_at = time.time()
        self.exited_monotonic = now_monotonic
        self._exited.set()


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
        self._clock = clock
        self._processes: dict[str, ManagedProcess] = {}
        # The exited subset of _processes, in the order they exited (oldest first).
        self._exited: dict[str, ManagedProcess] = {}
        self._keys: dict[tuple[str | None, str], str] = {}
        self._custody = Custody(settings, keeper_env=_own_environment())
        self._running = 0
        self._all_exited = anyio.Event()
        self._all_exited.set()
        self._closing = False
        self._task_group: anyio.abc.TaskGroup | None = None
        self._exit_stack: contextlib.AsyncExitStack | None = None
        self._nice_delta = 0
        self._oom_text = ""
        self._wait_limiter = anyio.CapacityLimiter(max(1, settings.max_running))
        # Found once on the agent's PATH, as Go's exec.Command does: a request's own PATH is
        # for the command and must not make the shell itself unfindable.
        self._shell = shutil.which("sh") or "sh"

    async def __aenter__(self) -> Self:
        self._nice_delta, self._oom_text = await anyio.to_thread.run_sync(
            _usable_priority, self._settings
        )
        stack = contextlib.AsyncExitStack()
        # Entered first, so it is left last: after every supervisor has finished.
        await stack.enter_async_context(self._custody)
        self._task_group = await stack.enter_async_context(anyio.create_task_group())
        self._exit_stack = stack
        self._task_group.start_soon(self._sweep_expired)
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

    # -- start ------------------------------------------------------------------------

    def start(self, request: ProcessSpec) -> StartResult:
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
        self._forget_expired()
        if request.idempotency_key is not None:
            attached = self._attach(request, request.idempotency_key)
            if attached is not None:
                return StartResult(attached, started=False)
        if self._running >= self._settings.max_running:
            raise TooManyProcesses(self._settings.max_running)

        workdir = self._resolve_workdir(request.workdir)
        buffer = HeadTailBuffer()
        popen = self._spawn(request, workdir)
        self._custody.started(popen.pid)
        process = ManagedProcess(
            process_id=str(uuid.uuid4()),
            request=request,
            workdir=workdir,
            pid=popen.pid,
            buffer=buffer,
        )
        self._processes[process.id] = process
        if request.idempotency_key is not None:
            self._keys[(request.chat_id, request.idempotency_key)] = process.id
        self._running += 1
        self._all_exited = anyio.Event() if self._running == 1 else self._all_exited
        self._task_group.start_soon(self._supervise, process, popen)
        logger.info(
            "started process %s (pid %d) in %s",
            process.id,
            popen.pid,
            workdir,
            extra={"process_id": process.id, "chat_id": request.chat_id},
        )
        return StartResult(process, started=True)

    def _attach(self, request: ProcessSpec, key: str) -> ManagedProcess | None:
        process_id = self._keys.get((request.chat_id, key))
        if process_id is None:
            return None
        process = self._processes[process_id]
        if process.request.fingerprint() != request.fingerprint():
            raise IdempotencyConflict(key, process_id)
        return process

    def _resolve_workdir(self, requested: str | None) -> str:
        if requested:
            path = os.path.abspath(requested)
            if not os.path.exists(path):
                raise InvalidWorkdir(requested, "does not exist")
            if not os.path.isdir(path):
                raise InvalidWorkdir(requested, "is not a directory")
            return path
        configured = self._settings.workdir
        if configured is not None and configured.is_dir():
            return str(configured.absolute())
        home = os.environ.get("HOME") or str(Path.home())
        if os.path.isdir(home):
            return home
        return os.getcwd()

    def _environment(self, request: ProcessSpec) -> dict[str, str]:
        # Last wins: the agent's own, then configured injection, then the request, then the
        # chat id (a caller must not be able to impersonate another chat through env), then
        # the instance marker (nor hide a process from the agent's custody).
        env = _own_environment()
        env.update(self._settings.env)
        env.update(request.env)
        if request.chat_id is not None:
            env[CHAT_ID_VARIABLE] = request.chat_id
        env.update(self._custody.environment())
        return env

    def _argv(self, command: str) -> list[str]:
        delta, oom_text = self._nice_delta, self._oom_text
        if delta == 0 and not oom_text:
            return ["sh", "-c", command]
        return ["sh", "-c", PRIORITY_SCRIPT, "agentproc", oom_text, str(delta), command]

    def _spawn(self, request: ProcessSpec, workdir: str) -> subprocess.Popen[bytes]:
        # Popen forks and execs synchronously; that takes about a millisecond and lets us
        # reap the child ourselves through a pidfd instead of asyncio's watcher threads.
        try:
            return subprocess.Popen(
                self._argv(request.command),
                executable=self._shell,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                env=self._environment(request),
                start_new_session=True,
                close_fds=True,
            )
        except (OSError, ValueError) as exc:
            raise SpawnFailed(f"start process: {exc}") from exc

    # -- supervision --------------------------------------------------------------------

    async def _supervise(self, process: ManagedProcess, popen: subprocess.Popen[bytes]) -> None:
        status: int | None = None
        abandoned = False
        try:
            async with anyio.create_task_group() as tg:
                drained = anyio.Event()
                pump_scope = anyio.CancelScope()
                tg.start_soon(self._pump, popen, process.buffer, pump_scope, drained)
                status = await wait_child(popen, self._wait_limiter)
                with anyio.move_on_after(self._settings.drain_seconds):
                    await drained.wait()
                if not drained.is_set():
                    # A backgrounded grandchild still holds the pipe; stop reading.
                    abandoned = True
                    pump_scope.cancel()
        except Exception:
            # One broken process must not take the manager's task group, and with it every
            # other process, down; it is recorded as exited below.
            logger.exception("supervising process %s (pid %d) failed", process.id, popen.pid)
        finally:
            with anyio.CancelScope(shield=True):
                if status is None:
                    # Cancelled or failed before the shell exited: do not leave it behind.
                    _signal_or_log(popen.pid, signal.SIGKILL)
                    status = await wait_child(popen, self._wait_limiter)
                self._record_exit(process, status, abandoned)

    async def _pump(
        self,
        popen: subprocess.Popen[bytes],
        buffer: HeadTailBuffer,
        scope: anyio.CancelScope,
        drained: anyio.Event,
    ) -> None:
        assert popen.stdout is not None  # noqa: S101 - Popen was given stdout=PIPE
        pipe = popen.stdout
        fd = pipe.fileno()
        os.set_blocking(fd, False)
        try:
            with scope:
                while True:
                    try:
                        chunk = os.read(fd, READ_CHUNK)
                    except BlockingIOError:
                        await anyio.wait_readable(fd)
                        continue
                    except OSError as exc:
                        logger.error("reading the output of pid %d failed: %s", popen.pid, exc)
                        return
                    if not chunk:
                        drained.set()
                        return
                    buffer.write(chunk)
        finally:
            anyio.notify_closing(fd)
            pipe.close()

    def _record_exit(self, process: ManagedProcess, status: int, abandoned: bool) -> None:
        # Coder's rule: -1 when killed by a signal, or when output was cut off after a
        # clean exit (the command's result cannot be trusted complete).
        exit_code = -1 if status < 0 or (abandoned and status == 0) else status
        process._finish(exit_code, self._clock())
        self._exited[process.id] = process
        self._running -= 1
        if self._running == 0:
            self._all_exited.set()
        # Descendants may outlive the shell; custody watches them until they are gone.
        self._custody.exited(process.pid)
        logger.info(
            "process %s exited with %d%s",
            process.id,
            exit_code,
            " (output abandoned)" if abandoned else "",
            extra={"process_id": process.id, "chat_id": process.chat_id},
        )

    # -- queries and signals ------------------------------------------------------------

    def get(self, process_id: str, chat_id: str | None = None) -> ManagedProcess:
        """The process with ``process_id`` as seen from ``chat_id``'s context.

        Raises:
            ProcessNotFound: unknown, forgotten after retention, or not visible to ``chat_id``
                (another chat's, or untagged while ``chat_id`` is set).
        """
        self._forget_expired()
        process = self._processes.get(process_id)
        if process is None or not process.visible_to(chat_id):
            raise ProcessNotFound(process_id)
        return process

    def list_processes(self, chat_id: str | None = None) -> list[ManagedProcess]:
        """Every known process (only ``chat_id``'s with a chat), running first, newest first."""
        self._forget_expired()
        found = [p for p in self._processes.values() if p.visible_to(chat_id)]
        found.sort(key=lambda p: (not p.running, -p.started_at))
        return found

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
            delivered = sessions.signal_group(process.pid, SIGNALS[sig])
        except OSError as exc:
            raise SignalFailed(f"{sig} process: {exc}") from exc
        if not delivered:
            # The whole group is gone; only its exit has not been recorded yet.
            raise ProcessNotRunning(process_id)

    # -- retention ----------------------------------------------------------------------

    def _forget_expired(self) -> None:
        # Exits are recorded in clock order, so the oldest exited process is always first:
        # forget from the front while it is past retention or beyond the cap.
        horizon = self._clock() - self._settings.retention_seconds
        while self._exited:
            oldest = next(iter(self._exited.values()))
            assert oldest.exited_monotonic is not None  # noqa: S101 - set before it is added
            if (
                len(self._exited) <= self._settings.max_retained
                and oldest.exited_monotonic > horizon
            ):
                return
            del self._exited[oldest.id]
            del self._processes[oldest.id]
            key = oldest.request.idempotency_key
            if key is not None:
                self._keys.pop((oldest.chat_id, key), None)

    async def _sweep_expired(self) -> None:
        while True:
            await anyio.sleep(SWEEP_INTERVAL_SECONDS)
            try:
                self._forget_expired()
            except Exception:
                logger.exception("forgetting expired processes failed")

    # -- shutdown -----------------------------------------------------------------------

    def begin_shutdown(self) -> None:
        """Refuse new starts and SIGTERM every process group; SIGKILL follows after the grace.

        Idempotent and synchronous, so a server can call it the moment it is told to stop,
        before it waits for open requests (which may be waiting on these processes).
        """
        if self._closing:
            return
        self._closing = True
        running = [p for p in self._processes.values() if p.running]
        logger.info("shutting down: terminating %d running process(es)", len(running))
        for process in running:
            _signal_or_log(process.pid, signal.SIGTERM)
        if self._task_group is not None:
            self._task_group.start_soon(self._escalate)

    async def _escalate(self) -> None:
        grace = self._settings.shutdown_grace_seconds
        # Children that outlived their shell or left its group get the same SIGTERM and grace
        # as the rest; the groups signalled above do not get it twice.
        signalled = frozenset(p.pid for p in self._processes.values() if p.running)
        await self._custody.terminate(skip_groups=signalled)
        with anyio.move_on_after(grace):
            await self._all_exited.wait()
            await self._custody.settle()
        for process in self._processes.values():
            if process.running:
                logger.warning("process %s ignored SIGTERM; killing it", process.id)
                _signal_or_log(process.pid, signal.SIGKILL)

    async def aclose(self) -> None:
        """Shut down: terminate → grace → kill every process, reap them all, stop tasks."""
        if self._exit_stack is None:
            return
        self.begin_shutdown()
        settings = self._settings
        bound = settings.shutdown_grace_seconds + settings.drain_seconds + SHUTDOWN_SLACK_SECONDS
        with anyio.move_on_after(bound):
            await self._all_exited.wait()
        survivors = [p.id for p in self._processes.values() if p.running]
        if survivors:
            logger.error("processes %s did not exit after SIGKILL; giving up on them", survivors)
        stack, self._exit_stack = self._exit_stack, None
        assert self._task_group is not None  # noqa: S101 - set together with the stack
        self._task_group.cancel_scope.cancel()
        await stack.aclose()
        self._task_group = None


def _usable_priority(settings: Settings) -> tuple[int, str]:
    """The niceness change and OOM score children can really be given, checked once.

    An agent without the privilege cannot lower either below its own. ``nice`` would then
    print a warning into every command's output (or, in busybox, refuse to run it), so a
    setting that cannot apply is logged once here and left off instead.
    """
    delta = 0
    if settings.nice is not None:
        delta = settings.nice - os.getpriority(os.PRIO_PROCESS, 0)
        problem = _probe(["nice", "-n", str(delta), "true"]) if delta != 0 else ""
        if problem:
            logger.error(
                "cannot run processes at niceness %d (%s); they run at the agent's own",
                settings.nice,
                problem,
            )
            delta = 0
    oom_text = ""
    if settings.oom_score_adj is not None:
        oom_text = str(settings.oom_score_adj)
        script = 'echo "$1" >/proc/self/oom_score_adj'
        problem = _probe(["sh", "-c", script, "agentproc", oom_text])
        if problem:
            logger.error(
                "cannot give processes oom_score_adj %s (%s); they keep the agent's own",
                oom_text,
                problem,
            )
            oom_text = ""
    return delta, oom_text


def _probe(argv: list[str]) -> str:
    """Run a short check command; returns what went wrong, or "" when it worked silently."""
    try:
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PRIORITY_PROBE_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if result.returncode != 0 or result.stderr.strip():
        return result.stderr.strip() or f"exit status {result.returncode}"
    return ""


def _own_environment() -> dict[str, str]:
    """The agent's environment without its secrets: what children start from."""
    return {k: v for k, v in os.environ.items() if k not in HIDDEN_VARIABLES}


def _signal_or_log(pgid: int, sig: signal.Signals) -> None:
    # For shutdown and cleanup, where there is no caller to hand a refusal to.
    try:
        sessions.signal_group(pgid, sig)
    except OSError as exc:
        logger.error("sending %s to process group %d failed: %s", sig.name, pgid, exc)
