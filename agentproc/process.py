"""One command the agent started, from spawn to recorded exit, and how the agent ends it.

A :class:`ManagedProcess` owns its child (the shell, leader of its own session and process
group), the agent's ends of its streams, its output buffer and its supervision: one task,
in the manager's task group, pumps the output into the buffer (and its input queue into its
stdin, when it has one), waits for the shell through a pidfd (no thread, no SIGCHLD
handler), gives the pipe a bounded time to drain, and only then records the exit, so that a
reader who sees ``running: false`` always sees the complete output. When the start set
deadlines, the same supervision ends the command once one passes.

Each process records why it ended (``exit_reason``): the reason of the
:class:`~agentproc.escalation.Escalation` (shutdown, a deadline) that began ending it while its
shell still ran, else ``signal`` or ``exit`` from the shell's status. ``Escalation`` is
importable from here too, where it lived first.

Its reading side (cursor reads, each chat's ``since=last``, streams) is
:mod:`agentproc.process_reads`' and its terminal side (resize, screen)
:mod:`agentproc.process_terminal`'s, both mixed into :class:`ManagedProcess`. It knows nothing
of the table, HTTP or custody.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

import anyio

from agentproc import sessions
from agentproc.arrival import Arrival
from agentproc.buffer import HeadTailBuffer
from agentproc.childinput import ProcessInput
from agentproc.children import wait_child
from agentproc.deadlines import Deadlines, end_at_deadline
from agentproc.errors import NoOpenStdin
from agentproc.escalation import Escalation
from agentproc.pipes import OutputPipes
from agentproc.process_reads import ProcessReads
from agentproc.process_terminal import ProcessTerminal
from agentproc.prompts import PromptState
from agentproc.screenfeed import ScreenFeed
from agentproc.settings import DEFAULT_SHUTDOWN_GRACE_SECONDS
from agentproc.spawner import Child
from agentproc.spec import ProcessSpec
from agentsdk.types import (
    ExitReason,
    ProcessInfo,
    ProcessInputResponse,
    ProcessOutputResponse,
    ProcessTruncation,
)

__all__ = ["Escalation", "ManagedProcess", "Supervision"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Supervision:
    """What the supervision of every process shares."""

    drain_seconds: float
    """How long the output may stay open after the shell exited."""

    limiter: anyio.CapacityLimiter
    """Bounds the worker threads that wait for a shell where the kernel has no pidfd."""

    on_exit: Callable[[ManagedProcess], None]
    """Told of each exit, once it is recorded."""

    pipes: OutputPipes = field(default_factory=OutputPipes)
    """The output pipes' shared reading state: which may be widened, and the scratch buffer."""

    grace_seconds: float = DEFAULT_SHUTDOWN_GRACE_SECONDS
    """Between SIGTERM and SIGKILL when a deadline ends a command: shutdown's grace."""


class ManagedProcess(ProcessReads, ProcessTerminal):
    """One command the agent started: its identity, child, output and exit state.

    Args:
        process_id: the id the API names it by.
        spec: what was asked for.
        child: the spawned shell and the agent's ends of its streams.
        buffer: where its output goes; a head and tail of the default sizes when omitted.
        screen: the screen of its terminal, fed from ``buffer``; for a command on one.
    """

    def __init__(
        self,
        process_id: str,
        spec: ProcessSpec,
        child: Child,
        *,
        buffer: HeadTailBuffer | None = None,
        screen: ScreenFeed | None = None,
    ) -> None:
        self.id = process_id
        self.spec = spec
        self.workdir = child.workdir
        self.buffer = HeadTailBuffer() if buffer is None else buffer
        self.started_at = time.time()
        self.exited_at: float | None = None
        self.exit_code: int | None = None
        self.exit_reason: ExitReason | None = None
        """Why the process ended; None while it runs."""
        self._child = child
        self._screen = screen
        self._exited = anyio.Event()
        self._arrival = Arrival()
        self._started = time.monotonic()
        self._shell_exited = False
        self._end_reason: ExitReason | None = None
        self._kill_at = -math.inf
        self.prompt = PromptState(
            child.pid,
            child.inputs,
            self._arrival,
            lambda: self.stdin_open,
            output_unread=child.io.output_unread,
        )
        """Whether the command waits for input, as far as the last look found."""
        # Where the last cursor read of each chat context ended, for since=last. Only the
        # process's own chat and the context without a chat can see it, so this holds at
        # most two entries, and goes with the process.
        self._read_ends: dict[str | None, int] = {}

    @property
    def pid(self) -> int:
        """The shell's pid, which is also its session and process group id."""
        return self._child.pid

    @property
    def running(self) -> bool:
        """True until the shell exited and its output was drained."""
        return self.exit_code is None

    @property
    def chat_id(self) -> str | None:
        """The chat that started the process, if any."""
        return self.spec.chat_id

    @property
    def stdin_open(self) -> bool:
        """True while input can be sent: started with ``stdin`` or on a terminal, not
        closed, not exited."""
        stdin = self._child.io.stdin
        return stdin is not None and stdin.open and self.running

    def write_input(self, given: ProcessInput) -> ProcessInputResponse:
        """Queue ``given`` for the command's stdin; it is written as the command reads.

        Raises:
            NoOpenStdin: started without ``stdin``, stdin closed, or exited.
            InputTooLarge: the data is larger than the whole input queue.
            InputQueueFull: the queue has no room for the data now; nothing was queued.
        """
        stdin = self._child.io.stdin
        if stdin is None or not self.stdin_open:
            raise NoOpenStdin(self.id)
        queued = stdin.send(given.data, close=given.close)
        self.prompt.input_sent()
        return ProcessInputResponse(queued=queued, stdin_open=stdin.open)

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
            command=self.spec.command,
            workdir=self.workdir,
            background=self.spec.background,
            running=self.running,
            exit_code=self.exit_code,
            started_at_unix=int(self.started_at),
            exited_at_unix=None if self.exited_at is None else int(self.exited_at),
            stdin_open=True if self.stdin_open else None,
            waiting_for_input=True if self.prompt.waiting() else None,
            exit_reason=self.exit_reason,
            tty=None if self.terminal is None else self.terminal.size.to_wire(),
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
            waiting_for_input=True if self.prompt.waiting() else None,
            exit_reason=self.exit_reason,
        )

    async def wait(self) -> None:
        """Wait until the process exited and its output is complete.

        Bound it with ``anyio.move_on_after``; many tasks may wait on one process.
        """
        await self._exited.wait()

    def send_signal(self, sig: signal.Signals) -> bool:
        """Send ``sig`` to the process's whole group; False when no member is left.

        Raises:
            OSError: the OS refused (see :func:`agentproc.sessions.signal_group`).
        """
        return sessions.signal_group(self.pid, sig)

    def signal_or_log(self, sig: signal.Signals) -> None:
        """:meth:`send_signal` where no caller can be handed a refusal: it is logged."""
        try:
            self.send_signal(sig)
        except OSError as exc:
            logger.error("sending %s to process group %d failed: %s", sig.name, self.pid, exc)

    def ending(self, reason: ExitReason, kill_at: float) -> None:
        """The agent is ending the process for ``reason``, and SIGKILLs what is left at
        ``kill_at`` (``time.monotonic()``).

        The first reason given while the shell still runs is the exit reason; the output is
        drained at least until the kill, so a child that ignores SIGTERM cannot outlive it by
        holding the output open.
        """
        if self._end_reason is None and not self._shell_exited:
            self._end_reason = reason
        if self._kill_at == -math.inf:
            self._kill_at = kill_at

    async def supervise(self, supervision: Supervision) -> None:
        """Pump the output, wait for the shell, drain, then record the exit; end the command
        at its deadlines, if it has any.

        Never raises for the process's own failures (they are logged and the process
        recorded as exited), so one broken process cannot take others down. Cancelled
        before the shell exited, it kills the group and reaps the shell first.
        """
        async with anyio.create_task_group() as deadlines:
            if self.spec.timeout_ms is not None or self.spec.idle_timeout_ms is not None:
                deadlines.start_soon(
                    end_at_deadline,
                    self,
                    Deadlines(
                        self.spec.timeout_ms,
                        self.spec.idle_timeout_ms,
                        started_at=self._started,
                        last_output=lambda: self._arrival.rung_at,
                    ),
                    supervision.grace_seconds,
                )
            await self._run(supervision)
            # Exited on its own, or the escalation saw the exit: nothing left to end.
            deadlines.cancel_scope.cancel()

    async def _run(self, supervision: Supervision) -> None:
        status: int | None = None
        abandoned = False
        popen = self._child.popen
        stdin = self._child.io.stdin
        writer_scope = anyio.CancelScope()
        screen_scope = anyio.CancelScope()
        try:
            async with anyio.create_task_group() as tg:
                drained = anyio.Event()
                pump_scope = anyio.CancelScope()

                async def pump() -> None:
                    with pump_scope:
                        io = self._child.io
                        if await io.pump_output(self.buffer, self._arrival, supervision.pipes):
                            drained.set()

                tg.start_soon(pump)
                if stdin is not None:
                    tg.start_soon(_run_in, writer_scope, stdin.run)
                if self._screen is not None:
                    # Whatever it has not fed at the exit is fed when the screen is read.
                    tg.start_soon(_run_in, screen_scope, partial(self._screen.run, self._arrival))
                status = await wait_child(popen, supervision.limiter)
                self._shell_exited = True
                await self._drain(drained, supervision.drain_seconds)
                if not drained.is_set():
                    # A backgrounded grandchild still holds the pipe; stop reading.
                    abandoned = True
                    pump_scope.cancel()
                # The process is over: input still queued has no reader left to wait for,
                # and the screen needs no feeding ahead of its readers any more. (Only the
                # scopes in use: anyio formats the task's repr on every cancel.)
                if stdin is not None:
                    writer_scope.cancel()
                if self._screen is not None:
                    screen_scope.cancel()
        except Exception:
            # One broken process must not take the manager's task group, and with it every
            # other process, down; it is recorded as exited below.
            logger.exception("supervising process %s (pid %d) failed", self.id, self.pid)
        finally:
            with anyio.CancelScope(shield=True):
                if status is None:
                    # Cancelled or failed before the shell exited: do not leave it behind.
                    self.signal_or_log(signal.SIGKILL)
                    status = await wait_child(popen, supervision.limiter)
                if stdin is not None:
                    # Only now: the writer has ended, so nothing waits on the descriptor.
                    stdin.close()
                if self.terminal is not None:
                    self.terminal.close()
                self._record_exit(status, abandoned)
                supervision.on_exit(self)

    async def _drain(self, drained: anyio.Event, drain_seconds: float) -> None:
        """Wait for the end of the output: ``drain_seconds`` after the shell's exit, and while
        the agent ends the process, until that long after its SIGKILL."""
        shell_exit = time.monotonic()
        while not drained.is_set():
            # Read anew each round: a deadline may begin ending the process meanwhile.
            left = max(shell_exit, self._kill_at) + drain_seconds - time.monotonic()
            if left <= 0:
                return
            with anyio.move_on_after(left):
                await drained.wait()

    def _record_exit(self, status: int, abandoned: bool) -> None:
        # Coder's rule: -1 when killed by a signal, or when output was cut off after a
        # clean exit (the command's result cannot be trusted complete).
        self.exit_code = -1 if status < 0 or (abandoned and status == 0) else status
        if self._end_reason is not None:
            self.exit_reason = self._end_reason
        else:
            self.exit_reason = "signal" if status < 0 else "exit"
        self.exited_at = time.time()
        self._exited.set()
        self._arrival.ring()
        logger.debug(
            "process %s exited with %d (%s)%s",
            self.id,
            self.exit_code,
            self.exit_reason,
            " (output abandoned)" if abandoned else "",
            extra={"process_id": self.id, "chat_id": self.chat_id},
        )


async def _run_in(scope: anyio.CancelScope, work: Callable[[], Awaitable[object]]) -> None:
    with scope:
        await work()
