"""The chat tools end to end: the real SDK connection against a real agent on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import shlex
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import agentsdk
from chattool import NON_INTERACTIVE_ENV, ChatTools, Tool, chat_connection, chat_tools
from tests.conftest import LiveAgent

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

LONG_SLEEP = "sleep 60"
"""Outlives every test; the fixture kills it afterwards."""


@dataclass(frozen=True)
class Chat:
    """One chat's id, its tools, and the connection they share."""

    chat_id: str
    tools: ChatTools
    connection: agentsdk.AsyncAgentConn


async def call(tool: Tool[Any], **arguments: Any) -> dict[str, Any]:
    """Run a tool call that must not be an error result; return its JSON."""
    result = await tool.run(json.dumps(arguments))
    assert not result.is_error, result.content
    data: dict[str, Any] = json.loads(result.content)
    return data


@contextlib.asynccontextmanager
async def open_chat(live_agent: LiveAgent) -> AsyncIterator[Chat]:
    """A new chat's tools over a chat-scoped SDK connection; its processes die afterwards."""
    chat_id = str(uuid.uuid4())
    async with chat_connection(live_agent.base_url, chat_id, token=live_agent.token) as conn:
        yield Chat(chat_id, chat_tools(conn, chat_id=chat_id), conn)
        # Leave nothing running on the shared agent.
        for process in (await conn.list_processes()).processes:
            if process.running:
                # It may exit between the list and the signal.
                with contextlib.suppress(agentsdk.ConflictError):
                    await conn.signal_process(process.id, "kill")
                await conn.process_output(process.id, wait=True, timeout_ms=30_000)


@pytest.fixture
async def chat(live_agent: LiveAgent) -> AsyncIterator[Chat]:
    """A fresh chat on the shared agent, its processes killed afterwards."""
    async with open_chat(live_agent) as opened:
        yield opened


@pytest.fixture
async def other_chat(live_agent: LiveAgent) -> AsyncIterator[Chat]:
    """A second chat on the same agent."""
    async with open_chat(live_agent) as opened:
        yield opened


def listed_ids(listing: dict[str, Any]) -> list[str]:
    return [process["id"] for process in listing["processes"]]


async def test_echo_succeeds(chat: Chat) -> None:
    """A foreground echo exits 0 with its output."""
    data = await call(chat.tools.execute, command="echo hello")
    assert data["success"] is True
    assert data["exit_code"] == 0
    assert data["output"] == "hello\n"
    assert "background_process_id" not in data


async def test_exit_42_fails_with_its_code(chat: Chat) -> None:
    """A command exiting 42 is a failure carrying 42 and its output."""
    data = await call(chat.tools.execute, command="echo something failed; exit 42")
    assert data["success"] is False
    assert data["exit_code"] == 42
    assert data["output"] == "something failed\n"


async def test_timed_out_command_is_followed_to_completion_with_process_output(
    chat: Chat, tmp_path: Path
) -> None:
    """A command outliving its timeout keeps running, and process_output sees it finish."""
    gate = tmp_path / "gate"
    # The command cannot finish before the test opens the gate, however slow the machine.
    command = f"while [ ! -e {shlex.quote(str(gate))} ]; do sleep 0.05; done; echo finished"
    data = await call(chat.tools.execute, command=command, timeout="100ms")
    assert data["success"] is False
    assert data["exit_code"] == -1
    assert data["error"] == "command timed out after 100ms"
    process_id = data["background_process_id"]

    gate.touch()

    followed = await call(chat.tools.process_output, process_id=process_id, wait_timeout="30s")
    assert followed["success"] is True
    assert followed["exit_code"] == 0
    assert followed["output"] == "finished\n"
    assert followed["running"] is False


async def test_run_in_background_returns_a_tracked_process_id(chat: Chat) -> None:
    """run_in_background returns at once with an id the process list shows running."""
    data = await call(chat.tools.execute, command=LONG_SLEEP, run_in_background=True)
    assert data["success"] is True
    process_id = data["background_process_id"]
    listing = await call(chat.tools.process_list)
    entry = next(p for p in listing["processes"] if p["id"] == process_id)
    assert entry["running"] is True
    assert entry["background"] is True


async def test_trailing_ampersand_returns_a_tracked_process_id(chat: Chat) -> None:
    """A command ending in & is started as a tracked background process, without the &."""
    data = await call(chat.tools.execute, command=f"{LONG_SLEEP} &")
    process_id = data["background_process_id"]
    listing = await call(chat.tools.process_list)
    entry = next(p for p in listing["processes"] if p["id"] == process_id)
    assert entry["command"] == LONG_SLEEP
    assert entry["running"] is True


async def test_child_sees_the_non_interactive_environment_and_chat_id(chat: Chat) -> None:
    """Every non-interactive variable and CODER_CHAT_ID reach the command's environment."""
    data = await call(chat.tools.execute, command="env")
    assert data["success"] is True
    seen = dict(line.split("=", 1) for line in data["output"].splitlines() if "=" in line)
    for name, value in NON_INTERACTIVE_ENV.items():
        assert seen.get(name) == value, name
    assert seen["CODER_CHAT_ID"] == chat.chat_id


async def test_a_chat_cannot_see_or_signal_another_chats_process(
    chat: Chat, other_chat: Chat
) -> None:
    """Another chat's list omits the process, and its output and signal calls fail."""
    data = await call(chat.tools.execute, command=LONG_SLEEP, run_in_background=True)
    process_id = data["background_process_id"]

    assert process_id not in listed_ids(await call(other_chat.tools.process_list))
    peek = await call(other_chat.tools.process_output, process_id=process_id, wait_timeout="0s")
    assert peek["success"] is False
    assert peek["error"].startswith("get process output: ")
    assert "404" in peek["error"]
    stop = await call(other_chat.tools.process_signal, process_id=process_id, signal="kill")
    assert stop["success"] is False
    assert stop["error"].startswith("signal process: ")
    assert "404" in stop["error"]

    assert process_id in listed_ids(await call(chat.tools.process_list))
    still = await call(chat.tools.process_output, process_id=process_id, wait_timeout="0s")
    assert still["running"] is True


async def test_process_signal_stops_a_background_process(chat: Chat) -> None:
    """terminate ends a background process, which then reports exit code -1."""
    data = await call(chat.tools.execute, command=LONG_SLEEP, run_in_background=True)
    process_id = data["background_process_id"]
    sent = await call(chat.tools.process_signal, process_id=process_id, signal="terminate")
    assert sent == {"success": True, "message": f'signal "terminate" sent to process {process_id}'}
    ended = await call(chat.tools.process_output, process_id=process_id, wait_timeout="30s")
    assert ended["success"] is False
    assert ended["exit_code"] == -1
    assert ended["running"] is False


async def test_failed_start_names_the_step_and_the_cause(chat: Chat, tmp_path: Any) -> None:
    """A workdir that does not exist fails the start step with the agent's explanation."""
    missing = str(tmp_path / "missing")
    data = await call(chat.tools.execute, command="true", workdir=missing)
    assert data["success"] is False
    assert data["error"].startswith("start process: ")
    assert missing in data["error"]


async def test_long_output_is_capped_with_the_agents_truncation_record(chat: Chat) -> None:
    """Output over the agent's head+tail budget arrives capped, with its truncation record."""
    data = await call(chat.tools.execute, command="seq 1 100000")
    assert data["success"] is True
    assert len(data["output"].encode()) <= 32 * 1024
    assert data["output"].startswith("1\n2\n")
    assert data["output"].endswith("\n99999\n100000\n")
    assert "... [omitted " in data["output"]
    assert data["truncated"]["strategy"] == "head_tail"
    assert data["truncated"]["omitted_bytes"] > 0


async def test_binary_output_over_the_cap_is_cut_with_a_marker_and_keeps_the_agents_note(
    chat: Chat,
) -> None:
    """Invalid bytes render three times larger; the cut stays within 32 KiB and says so."""
    # 0xFF is never valid UTF-8, so every byte renders as U+FFFD (three bytes); short lines
    # keep the agent's per-line cap out of the way, as with random data.
    command = "head -c 40000 /dev/zero | tr '\\000' '\\377' | fold -b -w 99; echo; echo END"
    data = await call(chat.tools.execute, command=command)
    assert data["success"] is True
    output = data["output"]
    assert len(output.encode()) <= 32 * 1024
    assert output.startswith("\ufffd" * 99 + "\n")
    assert output.endswith("\ufffd\nEND\n")
    assert "bytes here to fit the 32768-byte output limit] ...\n\n" in output
    assert f"\n\n... [omitted {data['truncated']['omitted_bytes']} bytes] ...\n\n" in output


async def test_resolver_returning_the_sdk_connection_runs_commands(chat: Chat) -> None:
    """A resolver that returns the SDK connection works like the connection itself."""

    async def resolve() -> agentsdk.AsyncAgentConn:
        return chat.connection

    tools = chat_tools(resolve, chat_id=chat.chat_id)
    data = await call(tools.execute, command="printf resolved")
    assert data["output"] == "resolved"
