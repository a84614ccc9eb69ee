"""Unit tests of the terminal's ends: spawning on a terminal, its input, its size and its
identity, without the HTTP layer."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import anyio
import pytest

from agentproc.arrival import Arrival
from agentproc.blockedreads import InputIdentity
from agentproc.buffer import HeadTailBuffer
from agentproc.children import wait_child
from agentproc.errors import FieldError, InvalidRequest
from agentproc.settings import Settings
from agentproc.spec import ProcessSpec, TerminalSize
from agentproc.terminal import (
    DEFAULT_END_OF_FILE,
    TerminalChild,
    TerminalInput,
    spawn_on_terminal,
)
from agentsdk.types import StartProcessRequest
from agentsdk.types import TerminalSize as WireTerminalSize

SAFETY_TIMEOUT_SECONDS = 30.0
"""Safety net only: every wait below ends on an event long before this."""


def own_fds() -> set[str]:
    """The descriptors this test process has open."""
    return set(os.listdir("/proc/self/fd"))


# -- the size, validated in the domain --------------------------------------------------------


@pytest.mark.parametrize(("rows", "cols"), [(0, 80), (24, 0), (1001, 80), (24, 1001), (-1, -1)])
def test_a_side_outside_one_to_a_thousand_is_refused(rows: int, cols: int) -> None:
    """Each side is 1 to 1000; the refusal names every side at fault."""
    with pytest.raises(InvalidRequest) as refused:
        TerminalSize(rows, cols)
    wrong = [name for name, side in (("rows", rows), ("cols", cols)) if not 1 <= side <= 1000]
    assert [v.field for v in refused.value.validations] == wrong


def test_the_extremes_are_accepted() -> None:
    """1 x 1 and 1000 x 1000 are terminals."""
    assert TerminalSize(1, 1000) == TerminalSize(rows=1, cols=1000)
    assert TerminalSize(1000, 1).to_wire() == WireTerminalSize(rows=1000, cols=1)


def test_a_start_names_the_tty_field_at_fault() -> None:
    """Through a start, the refusal names ``tty.rows``, as the request holds it."""
    request = StartProcessRequest(command="true", tty=WireTerminalSize(rows=5000, cols=80))
    with pytest.raises(InvalidRequest) as refused:
        ProcessSpec.from_request(request, chat_id=None, settings=Settings())
    assert refused.value.message == 'Invalid field "tty.rows": must be between 1 and 1000.'
    assert refused.value.validations == (FieldError("tty.rows", "must be between 1 and 1000"),)


@pytest.mark.parametrize(
    ("tty", "expected"),
    [
        (True, TerminalSize(24, 80)),
        (False, None),
        (None, None),
        (WireTerminalSize(rows=5, cols=7), TerminalSize(5, 7)),
    ],
)
def test_tty_true_is_24_by_80_and_false_is_none(
    tty: WireTerminalSize | bool | None, expected: TerminalSize | None
) -> None:
    """``true`` is the VT100's 24 x 80; ``false``, like leaving it out, is no terminal."""
    request = StartProcessRequest(command="true", tty=tty)
    assert ProcessSpec.from_request(request, chat_id=None, settings=Settings()).tty == expected


def test_the_terminal_is_part_of_what_a_repeated_key_must_match() -> None:
    """An idempotency key reused with another terminal size is a different start."""
    first = ProcessSpec(command="top", tty=TerminalSize(24, 80), idempotency_key="k")
    second = ProcessSpec(command="top", tty=TerminalSize(50, 80), idempotency_key="k")
    assert first.differences(second) == ["tty"]


# -- spawning ------------------------------------------------------------------------------------


@pytest.fixture
def on_terminal() -> Iterator[TerminalChild]:
    """``cat`` on a 5 x 20 terminal, killed and reaped at the end."""
    child = spawn_on_terminal(["cat"], TerminalSize(5, 20), max_input_bytes=1024)
    try:
        yield child
    finally:
        child.popen.kill()
        child.popen.wait(SAFETY_TIMEOUT_SECONDS)
        anyio.run(child.io.pump_output, HeadTailBuffer())  # to the end, which closes it
        assert child.io.stdin is not None
        child.io.stdin.close()
        child.terminal.close()


def test_the_terminal_identity_is_the_command_s_stdin(on_terminal: TerminalChild) -> None:
    """The device the agent records is the one behind the command's fd 0, 1 and 2."""
    for fd in (0, 1, 2):
        status = os.stat(f"/proc/{on_terminal.popen.pid}/fd/{fd}")
        identity = InputIdentity(status.st_dev, status.st_ino, status.st_rdev)
        assert identity == on_terminal.terminal.device
    assert on_terminal.terminal.size == TerminalSize(5, 20)


def test_a_closed_terminal_cannot_be_resized(on_terminal: TerminalChild) -> None:
    """After close (idempotent), a resize is an OSError, never a write to a reused fd."""
    on_terminal.terminal.close()
    on_terminal.terminal.close()
    with pytest.raises(OSError, match="closed"):
        on_terminal.terminal.resize(TerminalSize(9, 9))


def test_a_spawn_that_fails_leaves_no_descriptor_open() -> None:
    """A command that cannot start: the error is raised and every end of the terminal is
    closed again."""
    before = own_fds()
    with pytest.raises(OSError):
        spawn_on_terminal(
            ["sh"], TerminalSize(24, 80), max_input_bytes=1, executable="/nonexistent/sh"
        )
    assert own_fds() == before


@pytest.mark.anyio
async def test_the_output_ends_cleanly_when_the_terminal_is_let_go() -> None:
    """EIO on the master once the command is gone is the end of the output, not a failure."""
    child = spawn_on_terminal(["sh", "-c", "echo hi; exit 5"], TerminalSize(), max_input_bytes=1)
    buffer = HeadTailBuffer()
    try:
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            assert await child.io.pump_output(buffer, Arrival()) is True
            assert await wait_child(child.popen) == 5
    finally:
        assert child.io.stdin is not None
        child.io.stdin.close()
        child.terminal.close()
    assert buffer.bytes() == b"hi\r\n"


# -- input ---------------------------------------------------------------------------------------


@pytest.fixture
def terminal_input() -> Iterator[tuple[TerminalInput, int]]:
    """A terminal input writing into a pipe, and the pipe's read end."""
    read_end, write_end = os.pipe()
    given = TerminalInput(os.fdopen(write_end, "wb", buffering=0), 0, 64, DEFAULT_END_OF_FILE)
    try:
        yield given, read_end
    finally:
        given.close()
        os.close(read_end)


async def written(given: TerminalInput, read_end: int) -> bytes:
    """What ``given`` writes of its queue, once it is empty."""
    with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
        async with anyio.create_task_group() as tg:
            tg.start_soon(given.run)
            while given.pending:
                await anyio.wait_readable(read_end)
                await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()
    return os.read(read_end, 1024)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("sends", "expected"),
    [
        ([("", True)], b"\x04"),
        ([("line\n", True)], b"line\n\x04"),
        ([("half", True)], b"half\x04\x04"),
        ([("half", False), ("", True)], b"half\x04\x04"),
        ([("done\r", False), ("", True)], b"done\r\x04"),
    ],
)
async def test_close_sends_the_end_of_file_key_as_a_person_would(
    terminal_input: tuple[TerminalInput, int], sends: list[tuple[str, bool]], expected: bytes
) -> None:
    """Ctrl-D once at the start of a line, twice after unfinished text; input stays open."""
    given, read_end = terminal_input
    queued = sum(given.send(data.encode(), close=close) for data, close in sends)
    assert queued == len(expected)
    assert given.open
    assert await written(given, read_end) == expected


def test_input_stays_open_until_closed_for_good(terminal_input: tuple[TerminalInput, int]) -> None:
    """Only the process's exit (``close()``) ends a terminal's input."""
    given, _ = terminal_input
    given.send(b"x", close=True)
    given.send(b"y", close=True)
    assert given.open
    given.close()
    assert not given.open


def test_spawn_on_terminal_refuses_what_popen_refuses() -> None:
    """An argument Popen refuses is raised as it is, and nothing stays open."""
    before = own_fds()
    with pytest.raises((ValueError, subprocess.SubprocessError, OSError)):
        spawn_on_terminal(["true"], TerminalSize(), max_input_bytes=1, env={"A\0": "b"})
    assert own_fds() == before
