"""``execute`` over a connection that runs a command in one call (``RunConnection``): the start
and the first tick's wait are one request, and a command still running is polled as usual."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentsdk import AsyncAgentConn
from chattool import ExecuteTool, RunConnection, ToolResult
from chattool._execute import POLL_INTERVAL_SECONDS

from ._fakes import CHAT_ID, FakeRunAgent, exited, running

pytestmark = pytest.mark.anyio


async def execute(agent: FakeRunAgent, chat_id: str | None = None, **arguments: Any) -> ToolResult:
    return await ExecuteTool(agent, chat_id=chat_id).run(json.dumps(arguments))


def test_the_sdk_connection_and_the_fake_run_commands() -> None:
    """``AsyncAgentConn`` and the test double both satisfy ``RunConnection``."""
    assert isinstance(AsyncAgentConn("http://127.0.0.1:1"), RunConnection)
    assert isinstance(FakeRunAgent(), RunConnection)


async def test_a_quick_command_is_one_call() -> None:
    """A command that exits within the first tick costs one call: the run, and nothing else."""
    agent = FakeRunAgent(run_output=exited("hi\n", exit_code=0))
    data = json.loads((await execute(agent, command="echo hi")).content)
    assert (data["success"], data["exit_code"], data["output"]) == (True, 0, "hi\n")
    assert [name for name, _ in agent.call_headers] == ["run_process"]
    ((request, wait_ms),) = agent.runs
    assert request.command == "echo hi"
    assert request.env is not None and request.env["CODER_CHAT_AGENT"] == "true"
    assert wait_ms is not None and 0 < wait_ms <= POLL_INTERVAL_SECONDS * 1000


async def test_a_command_still_running_after_the_first_tick_is_polled() -> None:
    """A run that answers running is followed with the usual waiting polls of its id."""
    agent = FakeRunAgent(run_output=running("so far"), output=exited("so far\ndone\n", 2))
    data = json.loads((await execute(agent, command="make")).content)
    assert (data["success"], data["exit_code"], data["output"]) == (False, 2, "so far\ndone\n")
    assert [call.process_id for call in agent.polls] == ["proc-1"]
    assert agent.starts == []


async def test_a_failed_run_names_the_start() -> None:
    """A run the agent refuses is reported as the failed start it is."""
    agent = FakeRunAgent(run_output=RuntimeError("429 Too many processes"))
    result = await execute(agent, command="true")
    assert json.loads(result.content)["error"] == "start process: 429 Too many processes"


async def test_a_chat_bound_run_carries_the_chat_header() -> None:
    """The chat's header goes on the run too, as on every call of a chat-bound tool."""
    agent = FakeRunAgent()
    await execute(agent, chat_id=CHAT_ID, command="true")
    ((name, headers),) = agent.call_headers
    assert name == "run_process"
    assert headers is not None and headers["Coder-Chat-Id"] == CHAT_ID


async def test_a_background_command_is_only_started() -> None:
    """run_in_background does not wait, so it starts as before."""
    agent = FakeRunAgent()
    await execute(agent, command="serve", run_in_background=True)
    assert [name for name, _ in agent.call_headers] == ["start_process"]
