"""The MCP server, driven by the ``mcp`` SDK's own client: over stdio (``agentproc mcp``) and
over streamable HTTP (``agentproc serve --mcp``, at ``/mcp`` behind the agent's guards).

The SDK is imported where it is used: every test worker collects this module while only one
runs it.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import httpx2
import pytest

from agentproc.settings import Settings
from chattool import CHAT_ID_HEADER, chat_tools
from tests.conftest import LiveAgent, run_live_agent
from tests.fakeprovider import Answer, Call

from ._session import STEPS, check_answers

if TYPE_CHECKING:
    from mcp import Client

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

TOKEN = "mcp-test-token"


@pytest.fixture(scope="module")
def agent() -> Iterator[LiveAgent]:
    """One agent for the module, serving MCP at /mcp, with a token."""
    with run_live_agent(Settings(token=TOKEN, mcp=True)) as served:
        yield served


@asynccontextmanager
async def http_client(
    agent: LiveAgent, headers: dict[str, str] | None = None, **options: Any
) -> AsyncIterator[Client]:
    """The mcp SDK's client on the agent's /mcp, with the token (and ``headers``)."""
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    auth = {"Authorization": f"Bearer {TOKEN}", **(headers or {})}
    async with (
        httpx2.AsyncClient(headers=auth, timeout=30) as http,
        Client(
            streamable_http_client(f"{agent.base_url}/mcp", http_client=http), **options
        ) as client,
    ):
        yield client


def stdio_client(agent: LiveAgent, token_file: Path, *flags: str) -> Client:
    """The mcp SDK's client on an ``agentproc mcp`` it starts, as a host's config would."""
    from mcp import Client, StdioServerParameters

    argv = ["-m", "agentproc", "mcp", "--agent-url", agent.base_url, "--token-file"]
    return Client(
        StdioServerParameters(command=sys.executable, args=[*argv, str(token_file), *flags])
    )


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    """The agent's token in a file, for ``--token-file``."""
    path = tmp_path / "token"
    path.write_text(f"{TOKEN}\n")
    return path


def text_of(result: Any) -> str:
    """The text blocks of a CallToolResult, joined."""
    return "".join(block.text for block in result.content if block.type == "text")


async def play(client: Client, steps: Sequence[Any] = STEPS) -> list[Answer]:
    """Play the scripted session's tool calls through the client, as an MCP host's model."""
    answers: list[Answer] = []
    for step in steps:
        turn: list[Call] | str = step(answers)
        if isinstance(turn, str):
            return answers
        for call in turn:
            result = await client.call_tool(call.name, call.arguments)
            text = text_of(result)
            if not result.is_error:
                assert result.structured_content == json.loads(text)
            else:
                assert result.structured_content is None
            answer = Answer(call.name, f"mcp-{len(answers)}", call.arguments, text, result.is_error)
            answers.append(answer)
    return answers


async def run(client: Client, command: str, **arguments: Any) -> dict[str, Any]:
    """Run ``execute`` through the client; return its JSON result."""
    result = await client.call_tool("execute", {"command": command, **arguments})
    assert not result.is_error, text_of(result)
    data: dict[str, Any] = json.loads(text_of(result))
    return data


async def test_http_lists_the_tools_and_plays_the_session(agent: LiveAgent) -> None:
    """Over streamable HTTP: the tools are listed with their schemas, every tool runs, and
    the bad call comes back with isError."""
    async with http_client(agent) as client:
        listed = (await client.list_tools()).tools
        assert [(tool.name, tool.input_schema) for tool in listed] == [
            (tool.name, tool.parameters) for tool in chat_tools(None)
        ]
        check_answers(await play(client))


async def test_stdio_command_plays_the_session(agent: LiveAgent, token_file: Path) -> None:
    """``agentproc mcp --agent-url URL --token-file F`` serves the tools over stdio."""
    async with stdio_client(agent, token_file) as client:
        assert [tool.name for tool in (await client.list_tools()).tools] == [
            tool.name for tool in chat_tools(None)
        ]
        check_answers(await play(client))


async def test_http_sessions_without_a_chat_id_cannot_see_each_other(agent: LiveAgent) -> None:
    """Two HTTP sessions that name no chat each get a chat of their own: neither lists nor
    reads the other's process."""
    async with http_client(agent) as first, http_client(agent) as second:
        started = await run(first, "sleep 60", run_in_background=True)
        process_id = started["background_process_id"]
        one = await run(first, "echo $CODER_CHAT_ID")
        other = await run(second, "echo $CODER_CHAT_ID")
        assert one["output"] != other["output"]
        listed = json.loads(text_of(await second.call_tool("process_list", {})))
        assert process_id not in [process["id"] for process in listed["processes"]]
        read = json.loads(
            text_of(await second.call_tool("process_output", {"process_id": process_id}))
        )
        assert read["success"] is False and "not found" in read["error"].lower(), read
        killed = await first.call_tool(
            "process_signal", {"process_id": process_id, "signal": "kill"}
        )
        assert json.loads(text_of(killed))["success"] is True


async def test_stdio_sessions_get_chats_of_their_own(agent: LiveAgent, token_file: Path) -> None:
    """Each ``agentproc mcp`` is a new chat, unless ``--chat-id`` names one."""
    chat_id = str(uuid.uuid4())
    seen = []
    for flags in [(), (), ("--chat-id", chat_id)]:
        async with stdio_client(agent, token_file, *flags) as client:
            seen.append((await run(client, "echo $CODER_CHAT_ID"))["output"].strip())
    assert seen[0] != seen[1]
    assert all(uuid.UUID(chat) for chat in seen)
    assert seen[2] == chat_id


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_coder_chat_id_header_binds_the_session_to_that_chat(
    agent: LiveAgent, mode: str
) -> None:
    """A Coder-Chat-Id header on the MCP requests makes them act for that chat, whichever
    protocol era the client settles on."""
    chat_id = str(uuid.uuid4())
    async with http_client(agent, {CHAT_ID_HEADER: chat_id}, mode=mode) as client:
        assert (await run(client, "echo $CODER_CHAT_ID"))["output"] == f"{chat_id}\n"
    with agent.client({CHAT_ID_HEADER: chat_id}) as api:
        commands = [p["command"] for p in api.get("/api/v0/processes/list").json()["processes"]]
    assert commands == ["echo $CODER_CHAT_ID"]


async def test_a_stateless_request_naming_no_chat_is_refused(agent: LiveAgent) -> None:
    """A 2026-07-28 request has no session: without Coder-Chat-Id it is refused, not run
    for no chat (which would see every process)."""
    from mcp import MCPError

    async with http_client(agent, mode="2026-07-28") as client:
        with pytest.raises(MCPError, match=CHAT_ID_HEADER):
            await client.call_tool("execute", {"command": "echo never"})


def mcp_post(agent: LiveAgent, path: str = "/mcp", **headers: str) -> httpx.Response:
    """One raw POST of an initialize request, with ``headers``."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        },
    }
    with httpx.Client(base_url=agent.base_url, timeout=30) as raw:
        return raw.post(
            path,
            json=body,
            headers={"Accept": "application/json, text/event-stream", **headers},
        )


@pytest.mark.parametrize("path", ["/mcp", "/mcp/", "/mcp/anything"])
async def test_mcp_needs_the_token_before_any_redirect(agent: LiveAgent, path: str) -> None:
    """Without the token, /mcp and every path under it answer 401 in the error shape."""
    for headers in [{}, {"Authorization": "Bearer wrong"}]:
        response = mcp_post(agent, path, **headers)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "message" in response.json()


async def test_mcp_keeps_the_browser_rules(agent: LiveAgent) -> None:
    """A foreign Origin (403), a foreign Host (400) and a malformed Coder-Chat-Id (400) are
    refused at /mcp as on the API; the right token does not let a page in."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    response = mcp_post(agent, Origin="http://evil.example", **auth)
    assert response.status_code == 403, response.text
    assert response.json()["message"] == "Cross-origin requests are not allowed."
    response = mcp_post(agent, Host="evil.example", **auth)
    assert response.status_code == 400, response.text
    response = mcp_post(agent, **{CHAT_ID_HEADER: "not-a-uuid"}, **auth)
    assert response.status_code == 400, response.text
    assert response.json()["message"] == f"Invalid {CHAT_ID_HEADER} header."
    assert mcp_post(agent, **auth).status_code == 200
