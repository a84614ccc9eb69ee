"""Whether a command waits for input: what ``/proc`` shows, under the quiet rule.

A command waits for input (``waiting_for_input``) when some process of it is blocked reading
the command's own stdin (:mod:`agentproc.blockedreads`) and the command has been quiet for
:data:`~agentsdk.wire.INPUT_QUIET_MS`: no output, and no input sent either, so that the
answer to a question is not taken for the question still waiting while the command has yet
to read it.

Looking walks ``/proc``, a few milliseconds on a busy machine, so it runs in a worker thread,
one look at a time for every command that needs one, and only when someone asks and a
command could be waiting (it takes input, and has been quiet long enough):

- a reader (the list, an output read) looks before it answers, unless a look that began after
  it asked has covered the command;
- a waiter (``wait=true&wake_on_input=true``) looks every :data:`POLL_SECONDS` once the
  command has been quiet long enough; every look covers every command a waiter waits on, so
  many waiters cost one look a round.

A look's finding holds only while nothing happens after it began: output or input since voids
it, and the command waits again only once another look, after the quiet, finds it blocked.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable

import anyio

from agentproc.arrival import Arrival
from agentproc.blockedreads import InputIdentity, Scan, waiting_sessions
from agentsdk.wire import INPUT_QUIET_MS

__all__ = ["POLL_SECONDS", "QUIET_SECONDS", "PromptState", "PromptWatch"]

logger = logging.getLogger(__name__)

QUIET_SECONDS = INPUT_QUIET_MS / 1000
"""How long a command must be quiet before a blocked read counts as waiting for input."""

POLL_SECONDS = 0.1
"""How often a waiter looks again while a quiet command is not (yet) blocked on its input: a
question is noticed at most this long after the quiet, at a few milliseconds of one worker
thread a round."""


class PromptState:
    """What is known of one command's waiting for input.

    Args:
        session: the command's session id (its shell's pid).
        inputs: the files that are its input; none for a command whose stdin is /dev/null.
        output: the bell its output rings, which remembers the last output.
        accepts_input: whether input can be sent now (a pipe closed, an exit: no more).
        output_unread: whether output the agent has yet to read waits in the kernel (asked
            in the look's worker thread); a blocked read counts only once everything written
            before it is in the buffer, so that an answer never shows a question's wait
            without the question.
    """

    def __init__(
        self,
        session: int,
        inputs: Collection[InputIdentity],
        output: Arrival,
        accepts_input: Callable[[], bool],
        *,
        output_unread: Callable[[], bool],
    ) -> None:
        self.session = session
        self.inputs = frozenset(inputs)
        self._output = output
        self._accepts_input = accepts_input
        self.output_unread = output_unread
        """Whether output the agent has yet to read waits in the kernel; may block briefly."""
        self._input_at = -math.inf
        self._blocked = False
        self._looked_at = -math.inf
        """When the last look that covered the command began."""

    @property
    def active_at(self) -> float:
        """``time.monotonic()`` of the last output or input."""
        return max(self._output.rung_at, self._input_at)

    def can_wait(self) -> bool:
        """Whether the command could wait for input at all: it has one, and it is open."""
        return bool(self.inputs) and self._accepts_input()

    def quiet_left(self, now: float) -> float:
        """Seconds until the command has been quiet long enough (0 or less: it has)."""
        return self.active_at + QUIET_SECONDS - now

    def input_sent(self) -> None:
        """Input was queued: what the last look found no longer holds."""
        self._input_at = time.monotonic()
        self._blocked = False

    def needs_look(self, since: float, now: float) -> bool:
        """Whether a look is due: the command could be waiting, and no look covered it since
        ``since``."""
        return self._looked_at < since and self.can_wait() and self.quiet_left(now) <= 0

    def observed(self, blocked: bool, looked_at: float) -> None:
        """Record what the look that began at ``looked_at`` found."""
        self._blocked = blocked
        self._looked_at = looked_at

    def waiting(self) -> bool:
        """Whether the command waits for input, as the last look found it: blocked on its
        input, with nothing happening since that look began, and quiet long enough."""
        return (
            self._blocked
            and self._looked_at > self.active_at
            and self.quiet_left(time.monotonic()) <= 0
            and self.can_wait()
        )


class PromptWatch:
    """Looks for commands waiting for input, for readers and for waiters alike.

    Args:
        scan: what a look runs in the worker thread (the real ``/proc`` walk by default).
    """

    def __init__(
        self, scan: Callable[[dict[int, frozenset[InputIdentity]]], Scan] = waiting_sessions
    ) -> None:
        self._scan = scan
        self._lock: anyio.Lock | None = None
        self._limiter = anyio.CapacityLimiter(1)
        self._waited: Counter[PromptState] = Counter()
        self._problem_reported = False

    async def look(self, states: Iterable[PromptState], *, since: float | None = None) -> None:
        """Bring ``states`` up to date: look for those that could be waiting and that no look
        covered since ``since`` (by default, now: a reader's answer reflects the moment it
        asked). Failures are logged; the states then keep what they knew."""
        asked = time.monotonic() if since is None else since
        states = list(states)
        if not any(s.needs_look(asked, time.monotonic()) for s in states):
            return  # the common case: no input, or output just now; no lock, no thread
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            now = time.monotonic()
            due = {s for s in states if s.needs_look(asked, now)}
            if not due:
                return  # a look that began after this one asked covered them
            # Waiters ride along, so that they share this walk instead of each running one.
            due.update(s for s in self._waited if s.needs_look(now - POLL_SECONDS, now))
            began = time.monotonic()
            try:
                scan, asking = await anyio.to_thread.run_sync(
                    self._look, due, limiter=self._limiter
                )
            except Exception:
                logger.exception("looking for commands waiting for input failed")
                return
            for state in due:
                state.observed(state in asking, began)
            if scan.problem is not None and not self._problem_reported:
                self._problem_reported = True
                logger.error(
                    "cannot always tell whether a command waits for input: %s (reported once)",
                    scan.problem,
                )

    def _look(self, due: Collection[PromptState]) -> tuple[Scan, set[PromptState]]:
        """In the worker thread: the scan, and the commands it found blocked whose output is
        all read. Output still unread voids a finding: the read that blocked came after the
        output was written, and an answer now would lack it; the pump rings the bell once it
        reads it, and a later look decides. Asked after the scan, so that whatever the
        command wrote before it blocked has reached the agent's end by then."""
        scan = self._scan({s.session: s.inputs for s in due})
        return scan, {s for s in due if s.session in scan.waiting and not s.output_unread()}

    async def wait(self, state: PromptState) -> None:
        """Return once the command waits for input, at once if it does already; never for a
        command that cannot (no input, or it closed): bound it, or race it against the
        exit."""
        self._waited[state] += 1
        try:
            while state.can_wait():
                now = time.monotonic()
                left = state.quiet_left(now)
                if left > 0:
                    await anyio.sleep(left)
                    continue
                await self.look([state], since=now - POLL_SECONDS)
                if state.waiting():
                    return
                await anyio.sleep(POLL_SECONDS)
        finally:
            self._waited[state] -= 1
            if self._waited[state] <= 0:
                del self._waited[state]
        await anyio.sleep_forever()
