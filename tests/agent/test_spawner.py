"""Unit tests for the spawner: working directory, environment, argv, and a real spawn."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import anyio
import pytest

from agentproc import procfs
from agentproc.buffer import HeadTailBuffer
from agentproc.children import wait_child
from agentproc.errors import InvalidWorkdir
from agentproc.settings import Settings
from agentproc.spawner import PRIORITY_SCRIPT, Spawner, own_environment
from agentproc.spec import ProcessSpec, TerminalSize
from agentsdk.wire import CHAT_ID_VARIABLE, TOKEN_VARIABLE

SAFETY_TIMEOUT_SECONDS = 30.0
"""Safety net only: the spawned command ends long before this."""


def spawner(settings: Settings | None = None, **final: str) -> Spawner:
    """A spawner with ``final`` as its last-word variables."""
    return Spawner(settings or Settings(), final_env=final)


def test_a_requested_workdir_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative directory is taken from the agent's, and reported absolute."""
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    assert spawner().resolve_workdir("sub") == str(tmp_path / "sub")


def test_a_requested_workdir_must_be_an_existing_directory(tmp_path: Path) -> None:
    """Missing or a file: a 400-class error that names the directory and the reason."""
    with pytest.raises(InvalidWorkdir) as missing:
        spawner().resolve_workdir(str(tmp_path / "nowhere"))
    assert missing.value.message.endswith(" does not exist.")
    (tmp_path / "file").write_text("")
    with pytest.raises(InvalidWorkdir) as not_dir:
        spawner().resolve_workdir(str(tmp_path / "file"))
    assert not_dir.value.message.endswith(" is not a directory.")


def test_without_a_request_the_configured_directory_then_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The configured directory when it exists; else ``$HOME``."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    assert spawner(Settings(workdir=tmp_path)).resolve_workdir(None) == str(tmp_path)
    assert spawner(Settings(workdir=tmp_path / "gone")).resolve_workdir(None) == str(home)
    assert spawner().resolve_workdir("") == str(home)


def test_the_environment_layers_in_order_last_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Agent → configured → request → chat id → final variables; the agent's token is hidden."""
    monkeypatch.setenv(TOKEN_VARIABLE, "secret")
    monkeypatch.setenv("LAYER", "agent")
    monkeypatch.setenv("KEPT", "agent")
    chat = str(uuid.uuid4())
    built = spawner(
        Settings(env={"LAYER": "configured", "CONFIGURED": "1"}), MARKER="final"
    ).environment(
        ProcessSpec(
            command="true",
            env={"LAYER": "request", CHAT_ID_VARIABLE: "forged", "MARKER": "forged"},
            chat_id=chat,
        )
    )
    assert TOKEN_VARIABLE not in built
    assert TOKEN_VARIABLE not in own_environment()
    assert (built["KEPT"], built["CONFIGURED"], built["LAYER"]) == ("agent", "1", "request")
    assert (built[CHAT_ID_VARIABLE], built["MARKER"]) == (chat, "final")


def test_a_request_without_a_chat_keeps_its_own_chat_variable() -> None:
    """Only a chat context sets the chat variable; without one, the request's value stands."""
    built = spawner().environment(ProcessSpec(command="true", env={CHAT_ID_VARIABLE: "mine"}))
    assert built[CHAT_ID_VARIABLE] == "mine"


def test_without_a_priority_the_command_is_plain_sh_c() -> None:
    """No priority to apply: ``sh -c <command>``, with no script in between."""
    assert spawner().argv("echo hi") == ["sh", "-c", "echo hi"]
    assert PRIORITY_SCRIPT not in spawner().argv("echo hi")


@pytest.mark.anyio
async def test_a_spawned_command_runs_in_its_directory_and_session(tmp_path: Path) -> None:
    """The child leads its own session, in the resolved directory, with its output piped."""
    # Field 6 of /proc/<pid>/stat is the session id (the shell's name has no spaces).
    command = "pwd; read -r _ _ _ _ _ sid _ < /proc/$$/stat; echo $sid"
    child = spawner().spawn(ProcessSpec(command=command, workdir=str(tmp_path)))
    buffer = HeadTailBuffer()
    with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
        assert await child.io.pump_output(buffer) is True
        assert await wait_child(child.popen) == 0
    assert child.workdir == str(tmp_path)
    lines = buffer.bytes().decode().split()
    assert lines == [str(tmp_path), str(child.pid)]


@pytest.mark.anyio
@pytest.mark.parametrize("stdin", [False, True])
async def test_stdin_is_a_pipe_only_when_the_spec_asks(stdin: bool) -> None:
    """Without ``stdin`` the command reads /dev/null; with it, a pipe whose end the agent holds."""
    child = spawner().spawn(ProcessSpec(command="readlink /proc/$$/fd/0", stdin=stdin))
    buffer = HeadTailBuffer()
    try:
        with anyio.fail_after(SAFETY_TIMEOUT_SECONDS):
            assert await child.io.pump_output(buffer) is True
            assert await wait_child(child.popen) == 0
    finally:
        if child.io.stdin is not None:
            child.io.stdin.close()
    target = buffer.bytes().decode().strip()
    assert (child.io.stdin is not None) is stdin
    assert target.startswith("pipe:") if stdin else target == os.devnull


@pytest.mark.anyio
@pytest.mark.parametrize("tty", [None, TerminalSize(rows=24, cols=80)], ids=["pipe", "terminal"])
async def test_the_start_time_a_spawn_tells_is_the_one_proc_gives(
    tty: TerminalSize | None,
) -> None:
    """Where the clock around the fork tells the shell's start time (the fork stayed within
    one 10 ms tick), it is the very one ``/proc`` gives, by which custody claims the shell.
    A spawn on a pipe takes well under a tick, so some of them are told even on a loaded
    machine; one on a terminal takes a few milliseconds, and a loaded machine may stretch
    every one of them across a tick (they are then read from ``/proc``)."""
    told = 0
    for _ in range(200 if tty is None else 20):
        command = "read line" if tty is None else "sleep 5"
        child = spawner().spawn(ProcessSpec(command=command, stdin=tty is None, tty=tty))
        try:
            if child.start is not None:
                told += 1
                assert child.start == procfs.start_time(child.pid)
        finally:
            child.popen.kill()
            child.io.close()
            await wait_child(child.popen)
        if told == 5:
            break
    if tty is None:
        assert told, "every spawn on a pipe crossed a clock tick"


def test_a_start_time_is_not_told_once_the_tick_it_began_in_is_over() -> None:
    """A window that spans two ticks cannot tell which of them the fork fell in."""
    tick = procfs.boot_tick()
    assert procfs.forked_within(tick - 1) is None
    assert procfs.forked_within(tick) in (tick, None)
