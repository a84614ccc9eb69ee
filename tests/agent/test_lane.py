"""The fast lane (``agentproc.lane``): a fast writer's widened pipe is read by a thread
straight into the ring; every byte arrives in order, readers on the loop never see a torn
copy and are woken as output comes, and a cancelled pump leaves no thread and no descriptor."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import pytest

import agentproc.buffer
import agentproc.lane
from agentproc.arrival import Arrival
from agentproc.buffer import DirectReads, HeadTailBuffer
from agentproc.childio import ChildIO
from agentproc.pipes import DEFAULT_PIPE_BYTES, OutputPipes

SAFETY_SECONDS = 30.0
WINDOW = 256 * 1024


def numbered_lines(count: int) -> bytes:
    """``seq 1 count``'s output."""
    return "".join(f"{number}\n" for number in range(1, count + 1)).encode()


@contextmanager
def fast_writer(command: str, first: bytes) -> Iterator[tuple[ChildIO, subprocess.Popen[bytes]]]:
    """``first`` in a full pipe, then ``command`` writing on into it: the pump's first read
    finds the pipe full, so it is widened, and the lane takes over once the ring wrapped."""
    assert len(first) == DEFAULT_PIPE_BYTES
    read_fd, write_fd = os.pipe()
    os.write(write_fd, first)
    popen = subprocess.Popen(["sh", "-c", command], stdout=write_fd)
    os.close(write_fd)
    try:
        yield ChildIO(os.fdopen(read_fd, "rb", buffering=0), popen.pid), popen
    finally:
        if popen.poll() is None:
            popen.kill()
        popen.wait()


def lane_threads() -> list[threading.Thread]:
    """The lanes' threads alive now."""
    return [thread for thread in threading.enumerate() if thread.name.startswith("output of")]


@pytest.mark.anyio
async def test_a_fast_writer_is_read_by_a_thread_and_arrives_whole_and_in_order(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A million numbered lines: the lane reads them, every byte is counted, the head and the
    newest window are exact, and the thread and the wide slot are gone once it ended."""
    expected = numbered_lines(1_000_000)
    first = expected[:DEFAULT_PIPE_BYTES]
    command = f"seq 1 1000000 | tail -c +{DEFAULT_PIPE_BYTES + 1}"
    pipes = OutputPipes(wide_pipes=1, lanes=1)
    buffer = HeadTailBuffer(window_capacity=WINDOW)
    with (
        caplog.at_level(logging.DEBUG, logger="agentproc.lane"),
        fast_writer(command, first) as (
            io,
            popen,
        ),
    ):
        with anyio.fail_after(SAFETY_SECONDS):
            assert await io.pump_output(buffer, Arrival(), pipes) is True
        assert popen.wait() == 0
    assert f"reading the output of pid {popen.pid} from a thread" in caplog.messages
    assert buffer.total_written == len(expected)
    newest = buffer.read(len(expected) - WINDOW, WINDOW)
    assert (newest.data, newest.skipped) == (expected[-WINDOW:], 0)
    assert buffer.read(0, 16384).data == expected[:16384]
    assert (pipes.free_slots, pipes.free_lanes) == (1, 1)
    assert lane_threads() == []


def consecutive(chunk: bytes) -> bool:
    """Whether the whole lines of a piece of ``seq``'s output count up by one."""
    lines = chunk.split(b"\n")[1:-1]
    numbers = [int(line) for line in lines]
    return all(later == earlier + 1 for earlier, later in itertools.pairwise(numbers))


@pytest.mark.anyio
async def test_readers_on_the_loop_are_woken_and_never_see_a_torn_copy() -> None:
    """While the lane fills the ring, a reader waiting on the bell is woken as output comes,
    and each read of the newest window it makes holds consecutive lines: never bytes the
    thread was overwriting."""
    count = 3_000_000
    first = numbered_lines(20_000)[:DEFAULT_PIPE_BYTES]
    command = f"seq 1 {count} | tail -c +{DEFAULT_PIPE_BYTES + 1}"
    buffer = HeadTailBuffer(window_capacity=WINDOW)
    arrival = Arrival()
    reads = 0
    with fast_writer(command, first) as (io, _), anyio.fail_after(SAFETY_SECONDS):
        async with anyio.create_task_group() as pumping:
            ended = anyio.Event()

            async def pump() -> None:
                assert await io.pump_output(buffer, arrival, OutputPipes()) is True
                ended.set()
                arrival.ring()  # the reader may be waiting again since the last ring

            pumping.start_soon(pump)
            while not ended.is_set():
                total = buffer.total_written
                if total > DEFAULT_PIPE_BYTES + WINDOW:
                    chunk = buffer.read(total - WINDOW, WINDOW)
                    assert consecutive(chunk.data), f"torn read at {chunk.start}"
                    reads += 1
                await arrival.wait()
    assert buffer.read(buffer.total_written - 8, 8).data == f"{count}\n".encode()[-8:]
    # A bell rung only at the end would wake the reader once or twice; how many more times
    # depends on how busy the machine is, so the bar is low.
    assert reads > 3, "the reader was woken only at the end of the lane's reading"


@pytest.mark.anyio
async def test_cancelling_the_pump_stops_the_thread_and_closes_every_end() -> None:
    """A writer that never stops: once the lane reads it, cancelling the pump returns with
    the thread gone, and the writer finds no reader left (its duplicate end closed too)."""
    buffer = HeadTailBuffer(window_capacity=WINDOW)
    arrival = Arrival()
    with fast_writer("exec yes", b"y\n" * (DEFAULT_PIPE_BYTES // 2)) as (io, popen):
        with anyio.fail_after(SAFETY_SECONDS):
            async with anyio.create_task_group() as pumping:
                pumping.start_soon(io.pump_output, buffer, arrival, OutputPipes())
                while not lane_threads():
                    await arrival.wait()
                pumping.cancel_scope.cancel()
            assert lane_threads() == []
            assert await anyio.to_thread.run_sync(popen.wait) == -signal.SIGPIPE


def failing_reads(error: BaseException, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the lane's reads fail with ``error`` once the ring has wrapped twice more."""
    real_read = DirectReads.read_from

    def read_from(self: DirectReads, fd: int) -> int:
        if self._buffer.total_written > DEFAULT_PIPE_BYTES + 3 * WINDOW:
            raise error
        return real_read(self, fd)

    monkeypatch.setattr(agentproc.buffer.DirectReads, "read_from", read_from)


@pytest.mark.anyio
async def test_a_failed_read_in_the_lane_is_logged_and_ends_the_pump(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A read that fails ends the output as a failure, logged at error level with the pid,
    like a failed read on the loop."""
    failing_reads(OSError(5, "Input/output error"), monkeypatch)
    with fast_writer("exec yes", b"y\n" * (DEFAULT_PIPE_BYTES // 2)) as (io, popen):
        with anyio.fail_after(SAFETY_SECONDS):
            ended = await io.pump_output(
                HeadTailBuffer(window_capacity=WINDOW), None, OutputPipes()
            )
    assert ended is False
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert [record.getMessage() for record in errors] == [
        f"reading the output of pid {popen.pid} failed: [Errno 5] Input/output error"
    ]
    assert lane_threads() == []


@pytest.mark.anyio
async def test_an_error_in_the_lane_reaches_the_pumps_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unexpected error in the thread is raised by the pump, not printed by the thread."""
    failing_reads(RuntimeError("ring trouble"), monkeypatch)
    with (
        fast_writer("exec yes", b"y\n" * (DEFAULT_PIPE_BYTES // 2)) as (io, _),
        anyio.fail_after(SAFETY_SECONDS),
        pytest.raises(RuntimeError, match="ring trouble"),
    ):
        await io.pump_output(HeadTailBuffer(window_capacity=WINDOW), None, OutputPipes())
    assert lane_threads() == []


@pytest.mark.anyio
async def test_without_a_thread_to_be_had_the_pipe_is_read_on_the_loop(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Where no thread can be started (a process limit reached), the command loses nothing:
    its pipe is read on the event loop to the end, the refusal is a warning, and the lane and
    the descriptors opened for it are given back."""

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(agentproc.lane.threading.Thread, "start", refuse)
    expected = numbered_lines(1_000_000)
    command = f"seq 1 1000000 | tail -c +{DEFAULT_PIPE_BYTES + 1}"
    pipes = OutputPipes(wide_pipes=1, lanes=1)
    buffer = HeadTailBuffer(window_capacity=WINDOW)
    descriptors = len(os.listdir("/proc/self/fd"))
    with fast_writer(command, expected[:DEFAULT_PIPE_BYTES]) as (io, popen):
        with anyio.fail_after(SAFETY_SECONDS):
            assert await io.pump_output(buffer, Arrival(), pipes) is True
        assert popen.wait() == 0
    assert buffer.total_written == len(expected)
    newest = buffer.read(len(expected) - WINDOW, WINDOW)
    assert newest.data == expected[-WINDOW:]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"reading the output of pid {popen.pid} on the event loop, no thread: "
        "can't start new thread"
    ]
    assert (pipes.free_slots, pipes.free_lanes) == (1, 1)
    assert len(os.listdir("/proc/self/fd")) == descriptors
