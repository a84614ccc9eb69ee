"""When a command overruns: the deadlines a start may set, ``timeout_ms`` and ``idle_timeout_ms``.

:func:`end_at_deadline` runs in the process's own supervision (its task group, so it ends with
the process). It sleeps until the nearest deadline and looks again, so a chatty command costs
the idle deadline nothing per write, only a wake-up each ``idle_timeout_ms`` at most. When one
passes, it ends the command with the agent's one way of ending processes,
:class:`~agentproc.escalation.Escalation` (SIGTERM to the group, the grace, SIGKILL), the one
shutdown uses too; the deadline's name is the exit reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import anyio

from agentproc.escalation import Escalation, Stoppable

__all__ = ["Deadlines", "Overrun", "end_at_deadline"]

logger = logging.getLogger(__name__)

Overrun = Literal["timeout", "idle_timeout"]
"""Which deadline passed, named as the exit reason it gives."""


@dataclass(frozen=True, slots=True)
class Deadlines:
    """A command's deadlines and the clocks they run from."""

    timeout_ms: int | None
    """The command's whole run time, from ``started_at``; None: no limit."""

    idle_timeout_ms: int | None
    """The longest time without output, from ``last_output()``; None: no limit."""

    started_at: float
    """``time.monotonic()`` when the command started."""

    last_output: Callable[[], float]
    """``time.monotonic()`` of the latest output (of the start, before any)."""

    async def overrun(self) -> Overrun:
        """Return once the first deadline passes; never, when there is none."""
        while True:
            due: list[tuple[float, Overrun]] = []
            if self.timeout_ms is not None:
                due.append((self.started_at + self.timeout_ms / 1000, "timeout"))
            if self.idle_timeout_ms is not None:
                due.append((self.last_output() + self.idle_timeout_ms / 1000, "idle_timeout"))
            if not due:
                await anyio.sleep_forever()
                continue
            at, reason = min(due)
            left = at - time.monotonic()
            if left <= 0:
                return reason
            # Output while asleep moves the idle deadline on; the next round reads it anew.
            await anyio.sleep(left)


async def end_at_deadline(process: Stoppable, deadlines: Deadlines, grace: float) -> None:
    """End ``process`` once one of its ``deadlines`` passes: SIGTERM, ``grace``, SIGKILL.

    Cancel it when the process exits by itself. Never raises: a failure is logged, and the
    command runs on as it would without a deadline.
    """
    try:
        reason = await deadlines.overrun()
        logger.info(
            "process %s passed its %s; ending it",
            process.id,
            reason.replace("_", " "),
            extra={"process_id": process.id},
        )
        escalation = Escalation([process], grace, reason)
        escalation.terminate()
        await escalation.finish()
    except Exception:
        logger.exception("ending process %s at its deadline failed", process.id)
