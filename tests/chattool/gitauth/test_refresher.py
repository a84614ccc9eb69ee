"""The refresher: which chats a job marks and refreshes, its failures, and its lifetime."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import anyio
import pytest

from chattool.gitauth import GitRef, GitRefresher, InMemoryChatStore
from tests.chattool.gitauth._data import CHAT_A, CHAT_B, make_store, no_sleep

pytestmark = pytest.mark.anyio


class FailingStore(InMemoryChatStore):
    """Chat A cannot be marked stale and chat B cannot be refreshed."""

    async def mark_stale(self, chat_id: str, *, branch: str, origin: str) -> None:
        if chat_id == CHAT_A:
            raise ConnectionError("event write failed")
        await super().mark_stale(chat_id, branch=branch, origin=origin)

    async def refresh_diff_status(self, chat_id: str) -> bool:
        if chat_id == CHAT_B:
            raise ConnectionError("provider API down")
        return await super().refresh_diff_status(chat_id)


async def test_store_failures_are_logged_at_error_level_and_the_job_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Both failures are logged with what failed; the other chat's work still happens."""
    store = FailingStore()
    store.add_chat(CHAT_A, "ws-1")
    store.add_chat(CHAT_B, "ws-1")
    refresher = GitRefresher(store, schedule=(0.0, 0.0), sleep=no_sleep)
    with caplog.at_level(logging.ERROR, logger="chattool.gitauth"):
        report = await refresher.run(GitRef("ws-1", "main", "o", None))
    assert report.errors == (
        f"mark chat {CHAT_A} stale: event write failed",
        f"refresh the git status of chat {CHAT_B}: provider API down",
        f"refresh the git status of chat {CHAT_B}: provider API down",
    )
    messages = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert f"Failed to mark chat {CHAT_A} stale: event write failed" in messages
    assert store.status(CHAT_B).stale_marks == 1
    assert store.status(CHAT_A).refreshes == 2


class UnlistableStore(InMemoryChatStore):
    """The chat list itself cannot be read."""

    async def workspace_chats(self, workspace_id: str) -> Sequence[str]:
        raise TimeoutError("database timeout")


async def test_a_failing_chat_list_is_logged_and_ends_the_job(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing can be refreshed without the list; the failure is logged at error level."""
    refresher = GitRefresher(UnlistableStore(), sleep=no_sleep)
    with caplog.at_level(logging.ERROR, logger="chattool.gitauth"):
        report = await refresher.run(GitRef("ws-1", chat_id=CHAT_A))
    assert report.errors == ("list the chats of workspace ws-1: database timeout",)
    assert "Failed to list the chats of workspace ws-1" in caplog.text


async def test_refresher_exit_cancels_unfinished_jobs() -> None:
    """Leaving the refresher abandons a job still waiting in its schedule."""
    store = make_store()
    async with GitRefresher(store, schedule=(3600.0,)) as refresher:
        refresher.submit(GitRef("ws-1", chat_id=CHAT_A))
        await anyio.wait_all_tasks_blocked()
        assert store.status(CHAT_A).stale_marks == 1
    assert not refresher.running
    assert store.status(CHAT_A).refreshes == 0


def test_refresher_rejects_a_negative_pause() -> None:
    """A schedule must be made of finite, non-negative pauses."""
    with pytest.raises(ValueError, match="finite pauses"):
        GitRefresher(InMemoryChatStore(), schedule=(1.0, -1.0))
