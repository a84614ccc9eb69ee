"""Chat isolation through the tools, end to end: one plain SDK connection, no chat header.

Every chat's tools share one ``AsyncAgentConn`` that carries no ``Coder-Chat-Id`` at all,
against a real agent on 127.0.0.1. The tools send their chat's header themselves, so chat B
can neither see, read nor signal chat A's process, nor one started without a chat.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

import agentsdk
from chattool import ChatTools, Tool, chat_tools
from tests.conftest import LiveAgent

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

LONG_SLEEP = "sleep 60"
"""Outlives every test; the fixture kills it afterwards."""


@dataclass(frozen=True)
class Scene:
    """Chat A's background process and an untagged one, and both chats' tools."""

    conn: agentsdk.AsyncAgentConn
    chat_a: ChatTools
    chat_b: ChatTools
    a_process: str
    untagged_process: str


async def call(tool: Tool[Any], **arguments: Any) -> dict[str, Any]:
    """Run a tool call that must not be an error result; return its JSON."""
    result = await tool.run(json.dumps(arguments))
    assert not result.is_error, result.content
    data: dict[str, Any] = json.loads(result.content)
    return data


def listed_ids(listing: dict[str, Any]) -> set[str]:
    return {process["id"] for process in listing["processes"]}


@pytest.fixture
async def scene(live_agent: LiveAgent) -> AsyncIterator[Scene]:
    """Two chats' tools over one header-less connection; their processes killed afterwards."""
    async with agentsdk.AsyncAgentConn(live_agent.base_url, token=live_agent.token) as conn:
        assert dict(conn.headers) == {}
        chat_a = chat_tools(conn, chat_id=str(uuid.uuid4()))
        chat_b = chat_tools(conn, chat_id=str(uuid.uuid4()))
        started = await call(chat_a.execute, command=LONG_SLEEP, run_in_background=True)
        a_process = started["background_process_id"]
        untagged_process = (await conn.start_process(command=LONG_SLEEP)).id
        try:
            yield Scene(conn, chat_a, chat_b, a_process, untagged_process)
        finally:
            for process_id in (a_process, untagged_process):
                # It may have been stopped by the test.
                with contextlib.suppress(agentsdk.ConflictError):
                    await conn.signal_process(process_id, "kill")
                await conn.process_output(process_id, wait=True, timeout_ms=30_000)


async def test_chat_list_shows_only_the_chats_own_process(scene: Scene) -> None:
    """A's list holds exactly its process; B's holds neither A's nor the untagged one."""
    assert listed_ids(await call(scene.chat_a.process_list)) == {scene.a_process}
    b_listing = listed_ids(await call(scene.chat_b.process_list))
    assert scene.a_process not in b_listing
    assert scene.untagged_process not in b_listing


async def test_chat_cannot_read_another_chats_or_an_untagged_process(scene: Scene) -> None:
    """B's process_output on either fails with the agent's not found."""
    for process_id in (scene.a_process, scene.untagged_process):
        peek = await call(scene.chat_b.process_output, process_id=process_id, wait_timeout="0s")
        assert peek["success"] is False
        assert peek["error"].startswith("get process output: ")
        assert f'Process "{process_id}" not found.' in peek["error"]


async def test_chat_cannot_signal_another_chats_or_an_untagged_process(scene: Scene) -> None:
    """B's process_signal on either fails with not found, and both keep running."""
    for process_id in (scene.a_process, scene.untagged_process):
        stop = await call(scene.chat_b.process_signal, process_id=process_id, signal="kill")
        assert stop["success"] is False
        assert stop["error"].startswith("signal process: ")
        assert f'Process "{process_id}" not found.' in stop["error"]

    still = await call(scene.chat_a.process_output, process_id=scene.a_process, wait_timeout="0s")
    assert still["running"] is True
    assert (await scene.conn.process_output(scene.untagged_process)).running is True


async def test_chat_reaches_its_own_process_over_the_shared_connection(scene: Scene) -> None:
    """A's tools read and stop A's process; the connection itself was never scoped."""
    stop = await call(scene.chat_a.process_signal, process_id=scene.a_process, signal="kill")
    assert stop["success"] is True
    ended = await call(scene.chat_a.process_output, process_id=scene.a_process, wait_timeout="30s")
    assert ended["exit_code"] == -1
    assert ended["running"] is False


async def test_tools_of_one_chat_over_a_connection_of_another_do_nothing(
    live_agent: LiveAgent, scene: Scene
) -> None:
    """Tools bound to B over a connection scoped to A answer is_error and start nothing."""
    chat_a_id = str(uuid.uuid4())
    chat_b_id = str(uuid.uuid4())
    marker = f"echo {uuid.uuid4()}"
    async with agentsdk.AsyncAgentConn(
        live_agent.base_url, token=live_agent.token, headers={"Coder-Chat-Id": chat_a_id}
    ) as scoped_to_a:
        result = await chat_tools(scoped_to_a, chat_id=chat_b_id).execute.run(
            json.dumps({"command": marker})
        )
    assert result.is_error
    assert chat_a_id in result.content
    assert chat_b_id in result.content
    everything = (await scene.conn.list_processes()).processes
    assert marker not in {process.command for process in everything}
