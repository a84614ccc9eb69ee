"""The agent's ends of a child's streams (``agentproc.childio``) on real pipes and terminals."""

from __future__ import annotations

import os
import pty
from collections.abc import Callable

import anyio
import pytest

from agentproc.arrival import Arrival
from agentproc.buffer import HeadTailBuffer
from agentproc.childio import ChildIO

SAFETY_SECONDS = 30.0


@pytest.mark.parametrize("make_ends", [os.pipe, pty.openpty], ids=["pipe", "terminal"])
def test_output_is_unread_until_read_and_never_once_closed(
    make_ends: Callable[[], tuple[int, int]],
) -> None:
    """What the command wrote counts as unread until the agent reads it; nothing does once
    the agent's end is closed."""
    reader, writer = make_ends()
    io = ChildIO(os.fdopen(reader, "rb", buffering=0), pid=0)
    try:
        assert not io.output_unread()
        # Asked at once: the kernel hands a terminal's output to the agent's end from a work
        # queue, and the answer must not depend on whether that has run yet.
        os.write(writer, b">>> ")
        assert io.output_unread()
        assert os.read(reader, 100) == b">>> "
        assert not io.output_unread()
        os.write(writer, b"more")
        io.close()
        assert not io.output_unread()
    finally:
        io.close()
        os.close(writer)


class FailingBuffer(HeadTailBuffer):
    """A buffer whose every write fails."""

    def write(self, data: bytes | bytearray | memoryview) -> int:
        raise RuntimeError("no room")


@pytest.mark.anyio
async def test_a_failure_while_pumping_reaches_the_pumps_caller() -> None:
    """An error inside a read turn ends the pump with that error, not in the loop's log,
    and the output end is closed."""
    reader, writer = os.pipe()
    output = os.fdopen(reader, "rb", buffering=0)
    try:
        os.write(writer, b"anything")
        with anyio.fail_after(SAFETY_SECONDS), pytest.raises(RuntimeError, match="no room"):
            await ChildIO(output, pid=0).pump_output(FailingBuffer())
        assert output.closed
    finally:
        os.close(writer)


@pytest.mark.anyio
async def test_cancelling_the_pump_stops_reading_and_closes_the_output() -> None:
    """A cancelled pump leaves nothing registered and closes its end: the writer then finds
    no reader."""
    reader, writer = os.pipe()
    output = os.fdopen(reader, "rb", buffering=0)
    buffer = HeadTailBuffer()
    arrival = Arrival()
    try:
        os.write(writer, b"first\n")
        with anyio.fail_after(SAFETY_SECONDS):
            async with anyio.create_task_group() as pumping:
                pumping.start_soon(ChildIO(output, pid=0).pump_output, buffer, arrival)
                while not buffer.bytes():
                    await arrival.wait()
                pumping.cancel_scope.cancel()
        assert output.closed
        assert buffer.bytes() == b"first\n"
        with pytest.raises(BrokenPipeError):
            os.write(writer, b"second\n")
    finally:
        os.close(writer)
