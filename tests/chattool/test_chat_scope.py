"""A tool bound to a chat sends that chat's ``Coder-Chat-Id`` on every request it makes, over
whatever connection it was given, and refuses a connection scoped to another chat (security
§2). Against the scripted connection, and against the real SDK over httpx.MockTransport.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agentsdk import AsyncAgentConn
from agentsdk.types import ListProcessesResponse
from chattool import Tool, ToolConnection, ToolResult, chat_tools

from ._fakes import CHAT_ID, FakeAgent, OutputCall, exited, process_info, running

pytestmark = pytest.mark.anyio

OTHER_CHAT_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
CHAT_HEADER = {"Coder-Chat-Id": CHAT_ID}

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("execute", {"command": "echo hi"}),
    ("execute", {"command": "sleep 300", "run_in_background": True}),
    ("process_output", {"process_id": "proc-1"}),
    ("process_output", {"process_id": "proc-1", "wait_timeout": "0s"}),
    ("process_output", {"process_id": "proc-1", "full": True}),
    ("process_list", {}),
    ("process_signal", {"process_id": "proc-1", "signal": "kill"}),
]
"""One call of every tool and path that talks to the agent."""


async def run(tool: Tool[Any], arguments: dict[str, Any]) -> ToolResult:
    return await tool.run(json.dumps(arguments))


def by_name(
    connection: ToolConnection | Callable[[], Awaitable[ToolConnection]] | None,
    chat_id: str | None,
) -> dict[str, Tool[Any]]:
    return {tool.name: tool for tool in chat_tools(connection, chat_id=chat_id)}


# -- the header goes on every call --------------------------------------------------------


@pytest.mark.parametrize(("name", "arguments"), CALLS)
async def test_chat_bound_tool_sends_the_chat_header_on_every_call(
    name: str, arguments: dict[str, Any]
) -> None:
    """start, every poll and read, list and signal each carry the chat's header."""
    agent = FakeAgent(listing=ListProcessesResponse(processes=[process_info("proc-1")]))
    result = await run(by_name(agent, CHAT_ID.upper())[name], arguments)
    assert not result.is_error, result.content
    assert agent.calls > 0
    assert [headers for _, headers in agent.call_headers] == [CHAT_HEADER] * agent.calls


async def test_timed_out_execute_sends_the_header_on_its_polls_and_salvage_read() -> None:
    """A command outliving its timeout: start, each poll and the salvage read are scoped."""

    async def still_running(call: OutputCall) -> Any:
        return running("partial")

    agent = FakeAgent(output=still_running)
    result = await run(by_name(agent, CHAT_ID)["execute"], {"command": "x", "timeout": "300ms"})
    assert json.loads(result.content)["error"] == "command timed out after 300ms"
    methods = [method for method, _ in agent.call_headers]
    assert methods[0] == "start_process"
    assert methods.count("process_output") >= 2
    assert all(headers == CHAT_HEADER for _, headers in agent.call_headers)


@pytest.mark.parametrize(("name", "arguments"), CALLS)
async def test_tool_without_a_chat_sends_no_chat_header(
    name: str, arguments: dict[str, Any]
) -> None:
    """A tool bound to no chat leaves the connection's headers alone."""
    agent = FakeAgent(headers=CHAT_HEADER, output=exited("hi\n"))
    result = await run(by_name(agent, None)[name], arguments)
    assert not result.is_error, result.content
    assert [headers for _, headers in agent.call_headers] == [None] * agent.calls


@pytest.mark.parametrize("name", ["Coder-Chat-Id", "coder-chat-id", "CODER-CHAT-ID"])
async def test_connection_scoped_to_the_tools_own_chat_is_accepted(name: str) -> None:
    """The same chat, in any spelling of the header name or the id, is no conflict."""
    agent = FakeAgent(headers={name: CHAT_ID.upper()})
    result = await run(by_name(agent, CHAT_ID)["process_list"], {})
    assert not result.is_error, result.content
    assert agent.call_headers == [("list_processes", CHAT_HEADER)]


# -- a connection of another chat is refused -------------------------------------------------


@pytest.mark.parametrize(("name", "arguments"), CALLS)
async def test_tool_bound_to_another_chat_than_its_connection_does_nothing(
    name: str, arguments: dict[str, Any]
) -> None:
    """Every tool answers is_error naming both chat ids, and sends nothing."""
    agent = FakeAgent(headers={"coder-chat-id": OTHER_CHAT_ID})
    result = await run(by_name(agent, CHAT_ID)[name], arguments)
    assert result.is_error
    assert OTHER_CHAT_ID in result.content
    assert CHAT_ID in result.content
    assert agent.calls == 0


async def test_connection_with_a_malformed_chat_header_is_refused_too() -> None:
    """A value that is no chat id at all is not this chat's either: refused, named."""
    agent = FakeAgent(headers={"Coder-Chat-Id": "chat-1"})
    result = await run(by_name(agent, CHAT_ID)["process_list"], {})
    assert result.is_error
    assert "chat-1" in result.content
    assert CHAT_ID in result.content
    assert agent.calls == 0


async def test_resolved_connection_of_another_chat_is_refused() -> None:
    """The check applies to a connection from a resolver, at call time."""
    agent = FakeAgent(headers={"Coder-Chat-Id": OTHER_CHAT_ID})

    async def resolve() -> ToolConnection:
        return agent

    result = await run(by_name(resolve, CHAT_ID)["execute"], {"command": "true"})
    assert result.is_error
    assert OTHER_CHAT_ID in result.content
    assert agent.calls == 0


# -- with the real SDK -----------------------------------------------------------------------


class Recorder:
    """Answers the list route and remembers what was sent."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"processes": []})


async def test_sdk_connection_without_headers_sends_exactly_the_tools_chat() -> None:
    """Over a plain AsyncAgentConn, the request carries one Coder-Chat-Id: the tool's."""
    recorder = Recorder()
    async with AsyncAgentConn(
        "http://agent.test", token="t", transport=httpx.MockTransport(recorder)
    ) as conn:
        result = await run(by_name(conn, CHAT_ID)["process_list"], {})
    assert not result.is_error, result.content
    sent = recorder.requests[0].headers
    assert sent.get_list("coder-chat-id") == [CHAT_ID]
    assert sent["authorization"] == "Bearer t"


async def test_sdk_connection_scoped_to_another_chat_sends_nothing() -> None:
    """The tool reads conn.headers, sees chat A, and refuses to act for chat B."""
    recorder = Recorder()
    async with AsyncAgentConn(
        "http://agent.test",
        headers={"Coder-Chat-Id": OTHER_CHAT_ID},
        transport=httpx.MockTransport(recorder),
    ) as conn:
        results = [await run(by_name(conn, CHAT_ID)[name], args) for name, args in CALLS]
    for result in results:
        assert result.is_error
        assert OTHER_CHAT_ID in result.content
        assert CHAT_ID in result.content
    assert recorder.requests == []
