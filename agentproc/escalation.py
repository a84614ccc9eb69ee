"""How the agent ends processes that must stop: terminate → grace → kill, written once.

Shutdown ends every running command with one :class:`Escalation`; a deadline ends its command
with another. SIGTERM to each process group first, so programs can clean up; SIGKILL after the
grace to those still running (trio's subprocess cancel policy). Each process is told why it is
ended before it is signalled, so its exit reason says so.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import anyio

from agentsdk.types import ExitReason

__all__ = ["Escalation", "Stoppable"]

logger = logging.getLogger(__name__)


class Stoppable(Protocol):
    """What an escalation needs of a process (:class:`~agentproc.process.ManagedProcess`)."""

    @property
    def id(self) -> str:
        """The process id, for the log."""
        ...

    @property
    def running(self) -> bool:
        """True until the process exited and its output was drained."""
        ...

    def ending(self, reason: ExitReason, kill_at: float) -> None:
        """Told why it is ended, and when what is left is SIGKILLed (``time.monotonic()``)."""
        ...

    def signal_or_log(self, sig: signal.Signals) -> None:
        """Signal the process group; a refusal is logged."""
        ...

    async def wait(self) -> None:
        """Return once the process exited and its output is complete."""
        ...


class Escalation:
    """Terminate → grace → kill, for processes that must stop.

    :meth:`terminate` is synchronous, so it can be sent the moment the stop is decided;
    :meth:`finish` waits out the grace and kills what is left.

    Args:
        processes: the processes to end.
        grace: seconds between SIGTERM and SIGKILL.
        reason: why they are ended: their exit reason, unless their shell exited first.
    """

    def __init__(
        self, processes: Sequence[Stoppable], grace: float, reason: ExitReason = "shutdown"
    ) -> None:
        self._processes = tuple(processes)
        self._grace = grace
        self._reason: ExitReason = reason

    def terminate(self) -> None:
        """SIGTERM every process group; a refusal is logged."""
        kill_at = time.monotonic() + self._grace
        for process in self._processes:
            process.ending(self._reason, kill_at)
            process.signal_or_log(signal.SIGTERM)

    async def finish(self, also: Callable[[], Awaitable[object]] | None = None) -> None:
        """Wait until every process exited (and ``also`` returned), at most the grace; then
        SIGKILL every group still running."""
        with anyio.move_on_after(self._grace):
            for process in self._processes:
                await process.wait()
            if also is not None:
                await also()
        for process in self._processes:
            if process.running:
                logger.warning("process %s ignored SIGTERM; killing it", process.id)
                process.signal_or_log(signal.SIGKILL)
