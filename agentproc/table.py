"""The process table: every process the agent knows, by id, chat and idempotency key.

The table knows which processes run and which exited (in the order they exited), answers
lookups as a chat sees them, and forgets exited processes past retention or beyond the cap,
their idempotency keys with them. It is synchronous and holds no child: spawning and
supervision are elsewhere, so it can be tested with a fake clock and nothing running.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio

from agentproc.errors import IdempotencyConflict, ProcessNotFound
from agentproc.process import ManagedProcess
from agentproc.spec import ProcessSpec

__all__ = ["SWEEP_INTERVAL_SECONDS", "ProcessTable"]

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 30.0
"""How often exited processes past retention are forgotten when nobody asks the agent."""


class ProcessTable:
    """The agent's processes, running and recently exited.

    Args:
        retention_seconds: how long an exited process stays known.
        max_retained: how many exited processes are kept at most; the oldest go first.
        clock: monotonic clock for retention; tests inject a fake one.
        on_forget: told of each process as it is forgotten, to free what it held.
    """

    def __init__(
        self,
        *,
        retention_seconds: float,
        max_retained: int,
        clock: Callable[[], float] = time.monotonic,
        on_forget: Callable[[ManagedProcess], None] | None = None,
    ) -> None:
        self._retention = retention_seconds
        self._max_retained = max_retained
        self._clock = clock
        self._on_forget = on_forget
        self._processes: dict[str, ManagedProcess] = {}
        # The exited subset of _processes with the clock at their exit, oldest exit first.
        self._exited: dict[str, float] = {}
        self._keys: dict[tuple[str | None, str], str] = {}

    @property
    def running_count(self) -> int:
        """How many known processes have not exited."""
        return len(self._processes) - len(self._exited)

    def running(self) -> list[ManagedProcess]:
        """The processes that have not exited, in the order they started."""
        return [p for p in self._processes.values() if p.id not in self._exited]

    def add(self, process: ManagedProcess) -> None:
        """Register a process just started, and its idempotency key."""
        self._processes[process.id] = process
        key = process.spec.idempotency_key
        if key is not None:
            self._keys[(process.chat_id, key)] = process.id

    def exited(self, process: ManagedProcess) -> None:
        """Record that ``process`` exited: retention counts from now."""
        self._exited[process.id] = self._clock()

    def attach(self, spec: ProcessSpec) -> ManagedProcess | None:
        """The process an earlier start with ``spec``'s key (in its chat) produced, if any.

        Expired processes are forgotten first, so a key past retention attaches to nothing.

        Raises:
            IdempotencyConflict: the key was used with a different
                :meth:`ProcessSpec.fingerprint`; the error names the fields that differ.
        """
        self.forget_expired()
        key = spec.idempotency_key
        if key is None:
            return None
        process_id = self._keys.get((spec.chat_id, key))
        if process_id is None:
            return None
        process = self._processes[process_id]
        differences = process.spec.differences(spec)
        if differences:
            raise IdempotencyConflict(key, process_id, differences)
        return process

    def get(self, process_id: str, chat_id: str | None = None) -> ManagedProcess:
        """The process with ``process_id`` as seen from ``chat_id``'s context.

        Raises:
            ProcessNotFound: unknown, forgotten after retention, or not visible to ``chat_id``
                (another chat's, or untagged while ``chat_id`` is set).
        """
        self.forget_expired()
        process = self._processes.get(process_id)
        if process is None or not process.visible_to(chat_id):
            raise ProcessNotFound(process_id)
        return process

    def visible(self, chat_id: str | None = None) -> list[ManagedProcess]:
        """Every known process (only ``chat_id``'s with a chat), running first, newest first."""
        self.forget_expired()
        found = [p for p in self._processes.values() if p.visible_to(chat_id)]
        found.sort(key=lambda p: (not p.running, -p.started_at))
        return found

    def forget_expired(self) -> None:
        """Forget exited processes past retention, and the oldest beyond the cap."""
        # Exits are recorded in clock order, so the oldest exited process is always first:
        # forget from the front while it is past retention or beyond the cap.
        horizon = self._clock() - self._retention
        while self._exited:
            oldest_id, exited_at = next(iter(self._exited.items()))
            if len(self._exited) <= self._max_retained and exited_at > horizon:
                return
            del self._exited[oldest_id]
            oldest = self._processes.pop(oldest_id)
            key = oldest.spec.idempotency_key
            if key is not None:
                self._keys.pop((oldest.chat_id, key), None)
            if self._on_forget is not None:
                self._on_forget(oldest)

    async def forget_periodically(self) -> None:
        """Forget expired processes every :data:`SWEEP_INTERVAL_SECONDS`, until cancelled,
        so memory is returned when nobody asks the agent."""
        while True:
            await anyio.sleep(SWEEP_INTERVAL_SECONDS)
            try:
                self.forget_expired()
            except Exception:
                logger.exception("forgetting expired processes failed")
