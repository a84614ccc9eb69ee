"""The agent's end of its keeper: a keeper that stops reading never holds up the agent."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from agentproc import procfs
from agentproc.keeperlink import BACKLOG_BYTES, KeeperLink

SAFETY_TIMEOUT_SECONDS = 30.0

STUCK_THEN_LISTENING = """
import pathlib, sys, time
heard = pathlib.Path(sys.argv[1])
if not heard.exists():
    heard.write_text("")
    time.sleep(300)  # never reads: the agent's end of the pipe fills up
for line in sys.stdin:
    if line.strip() == "release":
        break
    with heard.open("a") as file:
        file.write(line)
"""
"""A stand-in keeper: the first one started never reads, the ones after it write down what
they are sent and exit when released."""


def _wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (no event tells of another process's progress), bounded."""
    deadline = time.monotonic() + SAFETY_TIMEOUT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _running_keeper(link: KeeperLink) -> int:
    pid = link.pid
    assert pid is not None, "no keeper runs"
    return pid


@pytest.mark.anyio
async def test_a_keeper_that_stops_reading_never_blocks_a_send_and_is_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Sends return at once while the pipe is full; past the backlog the keeper is killed,
    and its successor is sent every current claim first."""
    heard = tmp_path / "heard"
    argv = [sys.executable, "-c", STUCK_THEN_LISTENING, str(heard)]
    link = KeeperLink(argv, os.environ, lambda: ["+S 10 100\n"])
    line = "+P 12345 67890\n"
    with caplog.at_level(logging.ERROR, logger="agentproc.keeperlink"):
        async with anyio.create_task_group() as tg:
            await tg.start(link.run)
            stuck = _running_keeper(link)
            stuck_start = procfs.start_time(stuck)
            assert stuck_start is not None
            not_replaced = (None, stuck)
            await anyio.to_thread.run_sync(_wait_until, heard.exists)
            began = time.monotonic()
            for _ in range(2 * BACKLOG_BYTES // len(line)):
                link.send(line)  # without an await: a blocking write would hang here
            sending = time.monotonic() - began

            def replaced_and_replayed() -> bool:
                return link.pid not in not_replaced and "+S 10 100" in heard.read_text()

            await anyio.to_thread.run_sync(_wait_until, replaced_and_replayed)
            await link.release()
    assert "killing the keeper" in caplog.text
    assert f"the keeper (pid {stuck}) exited" in caplog.text
    assert procfs.start_time(stuck) != stuck_start  # gone, and reaped
    assert heard.read_text().splitlines()[0] == "+S 10 100"
    # A generous bound: about 140,000 sends, none of which may wait for the keeper.
    assert sending < SAFETY_TIMEOUT_SECONDS / 3
