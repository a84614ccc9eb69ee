"""Following a process's output (``ManagedProcess.follow``, ``wait_output``, cursor reads):
the core of streams and long polls, with real commands and no HTTP."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path

import anyio
import pytest

from agentproc.cursor import TextChunk
from agentproc.spec import ProcessSpec
from agentsdk.types import ExitEvent

from ._core import open_core

pytestmark = pytest.mark.anyio

SAFETY_TIMEOUT_SECONDS = 30.0
"""Safety net only: every wait below ends on an event long before this."""

QUIET_SECONDS = 3600.0
"""A heartbeat interval no test reaches, where heartbeats are not the point."""

Item = TextChunk | ExitEvent | None


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A named pipe: ``cat`` on it prints what the test writes, when the test writes it."""
    path = tmp_path / "feed"
    os.mkfifo(path)
    yield path


async def next_item(items: AsyncGenerator[Item, None]) -> Item:
    """The next thing a follower yields, bounded by the safety net."""
    with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
        return await anext(items)


async def test_a_follower_gets_output_as_it_comes_then_the_exit(fifo: Path) -> None:
    """Each write is followed at once, a character split over two writes comes out whole,
    and the exit closes the stream."""
    async with open_core() as core:
        process = core.start(ProcessSpec(command=f"cat {fifo}"))
        items = process.follow(0, 65536, QUIET_SECONDS)
        # Opening for writing waits for cat to open for reading: run it beside the follower.
        writer = await anyio.to_thread.run_sync(os.open, fifo, os.O_WRONLY)
        try:
            os.write(writer, b"hello ")
            assert await next_item(items) == TextChunk("hello ", 0, 6, 0, 6)
            os.write(writer, "€".encode()[:2])
            os.write(writer, "€".encode()[2:])
            assert await next_item(items) == TextChunk("€", 6, 9, 0, 9)
        finally:
            os.close(writer)
        assert await next_item(items) == ExitEvent(exit_code=0)
        with pytest.raises(StopAsyncIteration):
            await next_item(items)


async def test_a_quiet_spell_yields_a_heartbeat() -> None:
    """No output for ``quiet_seconds``: the follower says so with ``None``, and goes on."""
    async with open_core() as core:
        process = core.start(ProcessSpec(command="sleep 300"))
        items = process.follow(0, 65536, quiet_seconds=0.01)
        assert await next_item(items) is None
        assert await next_item(items) is None
        process.signal_or_log(signal.SIGKILL)
        while (item := await next_item(items)) is None:
            pass
        assert item == ExitEvent(exit_code=-1)


async def test_a_follower_behind_the_window_is_told_what_it_missed() -> None:
    """The head, then the newest bytes with the gap counted, then the exit."""
    async with open_core() as core:
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            process = await core.run(ProcessSpec(command="head -c 100000 /dev/zero | tr '\\0' x"))
        items = process.follow(0, 65536, QUIET_SECONDS)
        assert await next_item(items) == TextChunk("x" * 16384, 0, 16384, 0, 100_000)
        assert await next_item(items) == TextChunk(
            "x" * 16384, 100_000 - 16384, 100_000, 100_000 - 32768, 100_000
        )
        assert await next_item(items) == ExitEvent(exit_code=0)


async def test_wait_output_returns_for_new_output_or_the_exit(fifo: Path) -> None:
    """A long poll's wait ends as soon as a byte is there, and at the exit when none comes."""
    async with open_core() as core:
        process = core.start(ProcessSpec(command=f"cat {fifo}"))
        writer = await anyio.to_thread.run_sync(os.open, fifo, os.O_WRONLY)
        try:
            os.write(writer, b"x")
            with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
                await process.wait_output(0)
            assert process.running
            assert process.cursor_read(0, 10, None).output == "x"
        finally:
            os.close(writer)
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            await process.wait_output(1)
        assert not process.running


async def test_since_last_is_kept_per_chat_context() -> None:
    """Each context continues where its own last read ended; the first starts at 0."""
    chat = "4b8e3d7a-6f3c-4d0e-9a51-2f0e6c1d7b90"
    async with open_core() as core:
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            process = await core.run(ProcessSpec(command="printf 0123456789", chat_id=chat))
        assert process.cursor_read(process.cursor_start(None, chat), 4, chat).output == "0123"
        assert process.cursor_read(process.cursor_start(None, None), 2, None).output == "01"
        assert process.cursor_read(process.cursor_start(None, chat), 4, chat).output == "4567"
        assert process.cursor_read(process.cursor_start(None, None), 2, None).output == "23"
        assert process.cursor_start(None, chat) == 8
