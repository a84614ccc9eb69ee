"""Unit tests for a managed process: supervision, exit codes, and the one escalation."""

from __future__ import annotations

import logging
import signal

import anyio
import pytest

from agentproc.childinput import ProcessInput
from agentproc.errors import NoOpenStdin
from agentproc.process import Escalation
from agentproc.spec import ProcessSpec

from ._core import open_core, wait_for_output

pytestmark = pytest.mark.anyio

SAFETY_TIMEOUT_SECONDS = 30.0
"""Safety net only: every wait below ends on an exit long before this."""

IGNORES_SIGTERM = "trap '' TERM; echo ready; sleep 300"
"""A command whose whole group ignores SIGTERM (an ignored signal stays ignored across exec)."""


async def test_the_exit_is_recorded_only_after_all_output_is_read() -> None:
    """Once ``wait`` returns, every byte is in the buffer and the shell's status is kept."""
    async with open_core() as core:
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            process = await core.run(ProcessSpec(command="head -c 1000000 /dev/zero; exit 3"))
        assert process.buffer.total_written == 1_000_000
        snapshot = process.snapshot()
        assert (snapshot.running, snapshot.exit_code) == (False, 3)
        assert core.exits == [process]


async def test_a_running_process_reports_no_exit() -> None:
    """While it runs, info and snapshot say running and carry no exit code or exit time."""
    async with open_core() as core:
        process = core.start(ProcessSpec(command="sleep 300", background=True))
        info = process.info()
        assert (info.running, info.exit_code, info.exited_at_unix) == (True, None, None)
        assert (info.command, info.background) == ("sleep 300", True)
        assert process.snapshot().running is True


async def test_a_process_ended_by_a_signal_exits_with_minus_one() -> None:
    """Coder's rule: a shell killed by a signal reports -1, with its exit time."""
    async with open_core() as core:
        process = core.start(ProcessSpec(command="sleep 300"))
        assert process.send_signal(signal.SIGKILL) is True
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            await process.wait()
        info = process.info()
        assert (info.running, info.exit_code) == (False, -1)
        assert info.exited_at_unix is not None


async def test_cancelled_supervision_kills_the_group_and_records_the_exit() -> None:
    """A supervisor cancelled while its shell runs kills it, reaps it and records the exit."""
    async with open_core() as core:
        process = core.start(ProcessSpec(command="sleep 300"))
    assert process.exit_code == -1
    assert core.exits == [process]


async def test_escalation_stops_at_sigterm_when_the_group_obeys(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Terminate, then the grace: a group that exits on SIGTERM is never killed."""
    async with open_core() as core:
        process = core.start(ProcessSpec(command="sleep 300"))
        escalation = Escalation([process], grace=SAFETY_TIMEOUT_SECONDS)
        with caplog.at_level(logging.WARNING, logger="agentproc.process"):
            escalation.terminate()
            with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
                await escalation.finish()
        assert process.exit_code == -1
        assert "ignored SIGTERM" not in caplog.text


async def test_escalation_kills_what_ignores_sigterm_after_the_grace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A group that outlives the grace gets SIGKILL, and the log says which process."""
    async with open_core() as core:
        process = core.start(ProcessSpec(command=IGNORES_SIGTERM))
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            await wait_for_output(process, b"ready\n")
        escalation = Escalation([process], grace=0.2)
        with caplog.at_level(logging.WARNING, logger="agentproc.process"):
            escalation.terminate()
            with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
                await escalation.finish()
                await process.wait()
        assert process.exit_code == -1
        assert f"process {process.id} ignored SIGTERM; killing it" in caplog.text


async def test_escalation_waits_for_its_companion_within_the_grace() -> None:
    """What ``finish`` is also given is awaited inside the grace, after the processes."""
    done: list[str] = []

    async def companion() -> None:
        done.append("companion")

    async with open_core() as core:
        process = core.start(ProcessSpec(command="sleep 300"))
        escalation = Escalation([process], grace=SAFETY_TIMEOUT_SECONDS)
        escalation.terminate()
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            await escalation.finish(also=companion)
        assert done == ["companion"]
        assert not process.running


# -- input ----------------------------------------------------------------------------------


async def test_a_command_with_stdin_reads_what_is_written_then_end_of_file() -> None:
    """``cat`` echoes the exact bytes, text or not, and exits 0 once end-of-file follows."""
    async with open_core() as core:
        process = core.start(ProcessSpec(command="cat", stdin=True))
        assert (process.stdin_open, process.info().stdin_open) == (True, True)
        answer = process.write_input(ProcessInput(b"text\n"))
        assert (answer.queued, answer.stdin_open) == (5, True)
        answer = process.write_input(ProcessInput(b"\xff\x00\xfe", close=True))
        assert (answer.queued, answer.stdin_open) == (3, False)
        assert process.info().stdin_open is None
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            await process.wait()
        assert process.buffer.bytes() == b"text\n\xff\x00\xfe"
        assert process.exit_code == 0


async def test_input_needs_an_open_stdin() -> None:
    """Started without stdin, after end-of-file, or exited: refused, naming the process."""
    async with open_core() as core:
        without = core.start(ProcessSpec(command="sleep 300"))
        with pytest.raises(NoOpenStdin) as refused:
            without.write_input(ProcessInput(b"x"))
        assert refused.value.message == f'Process "{without.id}" has no open stdin.'
        assert (without.stdin_open, without.info().stdin_open) == (False, None)

        closed = core.start(ProcessSpec(command="sleep 300", stdin=True))
        closed.write_input(ProcessInput(close=True))
        with pytest.raises(NoOpenStdin):
            closed.write_input(ProcessInput(b"x"))

        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            exited = await core.run(ProcessSpec(command="true", stdin=True))
        assert (exited.stdin_open, exited.info().stdin_open) == (False, None)
        with pytest.raises(NoOpenStdin):
            exited.write_input(ProcessInput(b"x"))


async def test_input_left_at_exit_is_dropped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A command that exits without reading: what waits is dropped with a count, not raised."""
    async with open_core() as core:
        process = core.start(ProcessSpec(command="sleep 300", stdin=True))
        process.write_input(ProcessInput(b"x" * (256 * 1024)))
        with caplog.at_level(logging.INFO, logger="agentproc.childinput"):
            process.send_signal(signal.SIGKILL)
            with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
                await process.wait()
        assert process.exit_code == -1
    dropped = [r for r in caplog.records if r.getMessage().startswith("dropped ")]
    assert len(dropped) == 1
    assert dropped[0].levelno == logging.INFO
