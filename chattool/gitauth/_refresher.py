"""The background refresh of chats' git status after a token answer, on a backoff schedule."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

import anyio
import anyio.abc

from chattool.gitauth._protocols import ChatStore, GitRef

__all__ = ["REFRESH_SCHEDULE", "GitRefresher", "RefreshReport"]

REFRESH_SCHEDULE: tuple[float, ...] = (1.0, 3.0, 5.0, 10.0, 20.0)
"""Pauses before each refresh, each counted from the end of the previous round (Coder's
delays between refreshes): the rounds run about 1, 4, 9, 19 and 39 s after the token answer,
so a push lands by the first or second, and a pull request opened right after it is found
within about 40 s."""

# The package's one logger: a host configures "chattool.gitauth", not each module.
logger = logging.getLogger(__package__)


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """How one refresh job went, for ``GitRefresher(on_done=...)``."""

    ref: GitRef
    """What the askpass call reported."""

    chats: tuple[str, ...]
    """The chats the job marked stale and refreshed."""

    rounds: int
    """How many rounds of the schedule ran before every chat was final or it ran out."""

    settled: tuple[str, ...]
    """The chats whose status became final."""

    errors: tuple[str, ...]
    """Every failure, in order; each was also logged at error level."""


class GitRefresher:
    """Runs refresh jobs in a task group of its own, for as long as it is entered.

    Enter it in the host app's lifespan (``async with refresher:``); jobs still running when
    it exits are cancelled. A job marks its chats stale, then refreshes them after each pause
    of ``schedule``, stopping early once all are final. Every failure is logged at error
    level with what failed, and the job goes on with the other chats.

    Args:
        chat_store: Where chats and their git status live.
        schedule: Pauses, in seconds, before each refresh round.
        sleep: Waits between rounds; tests pass one that does not really sleep.
        on_done: Called with the report of every finished job (errors in it are logged).
    """

    def __init__(
        self,
        chat_store: ChatStore,
        *,
        schedule: Sequence[float] = REFRESH_SCHEDULE,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        on_done: Callable[[RefreshReport], object] | None = None,
    ) -> None:
        pauses = tuple(schedule)
        if any(not math.isfinite(pause) or pause < 0 for pause in pauses):
            raise ValueError(f"Expected finite pauses >= 0 but received {pauses!r}")
        self.chat_store = chat_store
        self.schedule = pauses
        self._sleep = sleep
        self._on_done = on_done
        self._task_group: anyio.abc.TaskGroup | None = None

    @property
    def running(self) -> bool:
        """True while entered: jobs can be submitted."""
        return self._task_group is not None

    async def __aenter__(self) -> GitRefresher:
        if self._task_group is not None:
            raise RuntimeError("This GitRefresher is already running")
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            return None
        # A refresh only keeps a status fresh; nothing is lost by abandoning it at shutdown.
        task_group.cancel_scope.cancel()
        return await task_group.__aexit__(exc_type, exc, traceback)

    def submit(self, ref: GitRef) -> None:
        """Start a refresh job for ``ref`` in the background.

        Raises:
            RuntimeError: The refresher is not entered.
        """
        if self._task_group is None:
            raise RuntimeError(
                "GitRefresher is not running: enter it (async with) in the app's lifespan"
            )
        self._task_group.start_soon(self._guarded_run, ref, name=f"git refresh {ref}")

    async def run(self, ref: GitRef) -> RefreshReport:
        """Run one refresh job to its end, in the caller's task.

        Never raises for a failing store: every failure is logged and listed in the report.
        """
        errors: list[str] = []
        chats = await self._target_chats(ref, errors)
        for chat_id in chats:
            try:
                await self.chat_store.mark_stale(chat_id, branch=ref.branch, origin=ref.origin)
            except Exception as exc:
                _log_failure(errors, f"mark chat {chat_id} stale", exc)
        pending = list(chats)
        settled: list[str] = []
        rounds = 0
        for pause in self.schedule if pending else ():
            await self._sleep(pause)
            rounds += 1
            for chat_id in tuple(pending):
                try:
                    final = await self.chat_store.refresh_diff_status(chat_id)
                except Exception as exc:
                    _log_failure(errors, f"refresh the git status of chat {chat_id}", exc)
                    continue
                if final:
                    pending.remove(chat_id)
                    settled.append(chat_id)
            if not pending:
                break
        return RefreshReport(
            ref=ref,
            chats=tuple(chats),
            rounds=rounds,
            settled=tuple(settled),
            errors=tuple(errors),
        )

    async def _target_chats(self, ref: GitRef, errors: list[str]) -> list[str]:
        try:
            chats = list(await self.chat_store.workspace_chats(ref.workspace_id))
        except Exception as exc:
            _log_failure(errors, f"list the chats of workspace {ref.workspace_id}", exc)
            return []
        if ref.chat_id is None:
            return chats
        if ref.chat_id not in chats:
            # An agent token must not reach into another workspace's chats.
            logger.warning(
                "Chat %s is not a chat of workspace %s; no git status refreshed",
                ref.chat_id,
                ref.workspace_id,
            )
            return []
        return [ref.chat_id]

    async def _guarded_run(self, ref: GitRef) -> None:
        # An escaping exception would cancel every other job and end the host's lifespan.
        try:
            report = await self.run(ref)
        except Exception:
            logger.exception("Git status refresh for %s failed", ref)
            return
        if self._on_done is None:
            return
        try:
            self._on_done(report)
        except Exception:
            logger.exception("The on_done callback failed for the refresh of %s", ref)


def _log_failure(errors: list[str], what: str, exc: Exception) -> None:
    logger.error("Failed to %s: %s", what, exc, exc_info=exc)
    errors.append(f"{what}: {exc}")
