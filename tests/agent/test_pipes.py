"""Output pipes: a fast writer's pipe is widened (within the cap on wide pipes), each wake-up
is one read and one buffer write, and every byte arrives, in order."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

import anyio
import pytest

import agentproc.pipes
from agentproc.buffer import HeadTailBuffer
from agentproc.children import wait_child
from agentproc.pipes import DEFAULT_PIPE_BYTES, READ_BYTES, WIDE_PIPE_BYTES, OutputPipes
from agentproc.settings import Settings
from agentproc.spawner import Spawner
from agentproc.spec import ProcessSpec

SAFETY_TIMEOUT_SECONDS = 30.0
F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)


def fill(write_fd: int) -> int:
    """Write into the pipe until it is full; how much it took."""
    os.set_blocking(write_fd, False)
    written = 0
    try:
        while True:
            written += os.write(write_fd, b"x" * 65536)
    except BlockingIOError:
        return written
    finally:
        os.set_blocking(write_fd, True)


def test_a_pipe_found_full_is_widened_and_its_slot_given_back(pipe: tuple[int, int]) -> None:
    """The first read that empties a full pipe widens it; releasing it frees the slot."""
    read_fd, write_fd = pipe
    pipes = OutputPipes(wide_pipes=1)
    slot = pipes.slot(read_fd)
    assert slot.capacity == DEFAULT_PIPE_BYTES == fill(write_fd)
    assert len(slot.read()) == DEFAULT_PIPE_BYTES
    assert slot.capacity == WIDE_PIPE_BYTES == fcntl.fcntl(read_fd, F_GETPIPE_SZ)
    other_read, other_write = os.pipe()
    try:
        other = pipes.slot(other_read)
        fill(other_write)
        other.read()
        assert other.capacity == DEFAULT_PIPE_BYTES, "only one pipe may be wide"
        slot.release()
        again = pipes.slot(other_read)
        fill(other_write)
        again.read()
        assert again.capacity == WIDE_PIPE_BYTES
    finally:
        os.close(other_read)
        os.close(other_write)


def test_a_wide_pipe_is_read_in_parts(pipe: tuple[int, int]) -> None:
    """A full wide pipe takes several reads, so the writer is never locked out of the pipe
    for the copy of all of it; together they bring every byte."""
    read_fd, write_fd = pipe
    pipes = OutputPipes(wide_pipes=1)
    slot = pipes.slot(read_fd)
    fill(write_fd)
    slot.read()
    assert slot.read_size == READ_BYTES < slot.capacity == WIDE_PIPE_BYTES
    written = fill(write_fd)
    sizes = []
    while len(sizes) < 100:
        try:
            sizes.append(len(slot.read()))
        except BlockingIOError:
            break
    assert max(sizes) == READ_BYTES
    assert sum(sizes) == written


def test_only_a_wide_pipe_takes_a_lane_and_only_while_one_is_free(
    pipe: tuple[int, int],
) -> None:
    """A narrow pipe never gets a thread of its own; wide ones get the free lanes, keep them
    until released, and a released lane goes to the next."""
    read_fd, write_fd = pipe
    pipes = OutputPipes(wide_pipes=2, lanes=1)
    first = pipes.slot(read_fd)
    assert not first.take_lane(), "a narrow pipe"
    fill(write_fd)
    first.read()
    assert first.take_lane()
    assert first.take_lane(), "kept, not taken twice"
    assert pipes.free_lanes == 0
    other_read, other_write = os.pipe()
    try:
        other = pipes.slot(other_read)
        fill(other_write)
        other.read()
        assert not other.take_lane()
        first.release()
        assert (pipes.free_lanes, pipes.free_slots) == (1, 1)
        assert other.take_lane()
        other.release()
        assert (pipes.free_lanes, pipes.free_slots) == (1, 2)
    finally:
        os.close(other_read)
        os.close(other_write)


def test_a_pipe_that_is_never_full_keeps_its_size(pipe: tuple[int, int]) -> None:
    """A command that writes a little at a time never costs a wide slot."""
    read_fd, write_fd = pipe
    slot = OutputPipes().slot(read_fd)
    os.write(write_fd, b"hello\n")
    assert bytes(slot.read()) == b"hello\n"
    assert fcntl.fcntl(read_fd, F_GETPIPE_SZ) == DEFAULT_PIPE_BYTES


def test_a_refused_widening_is_logged_once_and_reading_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Where the kernel refuses to widen a full pipe, it is read at its size, and the
    refusal is logged at warning level the first time only."""
    real_fcntl = fcntl.fcntl

    def refusing(fd: int, command: int, *args: int) -> int:
        if command == agentproc.pipes._F_SETPIPE_SZ:
            raise PermissionError(1, "Operation not permitted")
        result: int = real_fcntl(fd, command, *args)
        return result

    monkeypatch.setattr(agentproc.pipes.fcntl, "fcntl", refusing)
    pipes = OutputPipes()
    with caplog.at_level(logging.DEBUG, logger="agentproc.pipes"):
        for _ in range(2):
            read_fd, write_fd = os.pipe()
            try:
                os.write(write_fd, b"y" * DEFAULT_PIPE_BYTES)
                slot = pipes.slot(read_fd)
                assert len(slot.read()) == DEFAULT_PIPE_BYTES
                assert slot.capacity == DEFAULT_PIPE_BYTES
            finally:
                os.close(read_fd)
                os.close(write_fd)
    levels = [record.levelname for record in caplog.records]
    assert levels == ["WARNING", "DEBUG"]


def test_what_is_not_a_pipe_is_read_as_it_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A terminal (here: a file, as neither is a pipe) is never widened, and its short
    reads do not count as emptied."""
    data = tmp_path / "output"
    data.write_bytes(b"y" * (2 * DEFAULT_PIPE_BYTES))
    fd = os.open(data, os.O_RDONLY)
    try:
        with caplog.at_level(logging.DEBUG, logger="agentproc.pipes"):
            slot = OutputPipes().slot(fd)
            assert len(slot.read()) == DEFAULT_PIPE_BYTES
        assert (slot.capacity, slot.short_read_empties) == (DEFAULT_PIPE_BYTES, False)
        assert caplog.records == []
    finally:
        os.close(fd)


@pytest.mark.anyio
async def test_a_fast_writer_arrives_whole_and_in_order_through_a_wide_pipe() -> None:
    """Ten megabytes of numbered lines, read on the loop (no lane free): every byte
    counted, the end kept exactly, and the wide slot free again once the output ended."""
    lines = 1_000_000
    expected = "".join(f"{number}\n" for number in range(1, lines + 1)).encode()
    child = Spawner(Settings(), final_env={}).spawn(ProcessSpec(command=f"seq 1 {lines}"))
    pipes = OutputPipes(wide_pipes=1, lanes=0)
    buffer = HeadTailBuffer(window_capacity=WIDE_PIPE_BYTES)
    with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
        assert await child.io.pump_output(buffer, pipes=pipes) is True
        assert await wait_child(child.popen) == 0
    assert buffer.total_written == len(expected)
    tail = buffer.read(len(expected) - WIDE_PIPE_BYTES, WIDE_PIPE_BYTES)
    assert tail.data == expected[-WIDE_PIPE_BYTES:]
    assert buffer.read(0, 16384).data == expected[:16384]
    assert pipes.free_slots == 1
