"""Unit tests of ``process_output``, ``process_list`` and ``process_signal`` with a fake agent."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import pytest

from agentsdk.types import ListProcessesResponse, ProcessOutputResponse
from chattool import ProcessListTool, ProcessOutputTool, ProcessSignalTool, ToolResult
from chattool._results import MAX_OUTPUT_BYTES

from ._fakes import FakeAgent, OutputCall, exited, process_info, running

pytestmark = pytest.mark.anyio


def payload(result: ToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = json.loads(result.content)
    return data


async def output_of(agent: FakeAgent, **arguments: Any) -> ToolResult:
    return await ProcessOutputTool(agent).run(json.dumps(arguments))


# --- process_output ----------------------------------------------------------------------


async def test_process_output_waits_ten_seconds_by_default() -> None:
    """Without wait_timeout the tool asks the agent to wait up to 10 s for the exit."""
    agent = FakeAgent(output=exited("done\n"))
    data = payload(await output_of(agent, process_id="proc-1"))
    assert agent.output_calls == [OutputCall("proc-1", True, 10_000)]
    assert data == {"success": True, "output": "done\n", "exit_code": 0, "wall_duration_ms": 0}


async def test_process_output_reports_a_failed_exit() -> None:
    """An exited process with a non-zero code is reported as a failure with its code."""
    agent = FakeAgent(output=exited("boom\n", exit_code=2))
    data = payload(await output_of(agent, process_id="proc-1", wait_timeout="2s"))
    assert data["success"] is False
    assert data["exit_code"] == 2
    assert agent.output_calls == [OutputCall("proc-1", True, 2_000)]


async def test_process_output_of_a_running_process_says_so() -> None:
    """A process still running after the wait is reported as running with its output so far."""
    agent = FakeAgent(output=running("building...\n"))
    data = payload(await output_of(agent, process_id="proc-1", wait_timeout="1s"))
    assert data == {
        "success": True,
        "output": "building...\n",
        "exit_code": -1,
        "wall_duration_ms": 0,
        "note": "process is still running",
        "running": True,
    }


async def test_zero_wait_timeout_reads_a_snapshot_at_once() -> None:
    """wait_timeout 0s reads the output without waiting."""
    agent = FakeAgent(output=running("now"))
    payload(await output_of(agent, process_id="proc-1", wait_timeout="0s"))
    assert agent.output_calls == [OutputCall("proc-1", False, None)]


async def test_failed_wait_falls_back_to_a_snapshot() -> None:
    """When the waiting read fails, a plain read still returns the output."""

    async def handler(call: OutputCall) -> ProcessOutputResponse:
        if call.wait:
            raise RuntimeError("EOF")
        return exited("hello\n")

    data = payload(await output_of(FakeAgent(output=handler), process_id="proc-1"))
    assert data["success"] is True
    assert data["output"] == "hello\n"


async def test_failed_wait_recovered_by_a_snapshot_is_logged_at_error_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The failed wait a snapshot made up for is logged with the process and the step."""

    async def handler(call: OutputCall) -> ProcessOutputResponse:
        if call.wait:
            raise RuntimeError("connection reset")
        return running("partial")

    with caplog.at_level(logging.ERROR, logger="chattool"):
        payload(await output_of(FakeAgent(output=handler), process_id="proc-1"))
    (record,) = [record for record in caplog.records if record.name == "chattool"]
    assert record.levelno == logging.ERROR
    assert "waiting for process proc-1 failed" in record.getMessage()
    assert "connection reset" in record.getMessage()


async def test_failed_wait_and_snapshot_report_both_errors() -> None:
    """When the wait and the snapshot both fail, both errors are in the result."""

    async def handler(call: OutputCall) -> ProcessOutputResponse:
        raise RuntimeError("EOF" if call.wait else "agent disconnected")

    data = payload(await output_of(FakeAgent(output=handler), process_id="proc-1"))
    assert data["success"] is False
    assert data["error"] == "get process output: EOF\nfailed to get output: agent disconnected"


async def test_failed_snapshot_names_the_step() -> None:
    """A failed snapshot read is a result naming the step."""
    agent = FakeAgent(output=RuntimeError("Process not found"))
    data = payload(await output_of(agent, process_id="nope", wait_timeout="0s"))
    assert data == {
        "success": False,
        "exit_code": 0,
        "wall_duration_ms": 0,
        "error": "get process output: Process not found",
    }


async def test_wait_the_agent_never_answers_is_cut_short() -> None:
    """A wait the agent does not end by itself is abandoned and followed by a snapshot."""

    async def handler(call: OutputCall) -> ProcessOutputResponse:
        if call.wait:
            await anyio.sleep_forever()
        return running("partial")

    data = payload(
        await output_of(FakeAgent(output=handler), process_id="proc-1", wait_timeout="10ms")
    )
    assert data["running"] is True
    assert data["output"] == "partial"


async def test_process_output_cuts_long_output() -> None:
    """The output handed to the model is capped at 32 KiB."""
    agent = FakeAgent(output=exited("z" * (2 * MAX_OUTPUT_BYTES)))
    data = payload(await output_of(agent, process_id="proc-1"))
    assert len(data["output"].encode()) <= MAX_OUTPUT_BYTES
    assert "bytes here to fit the 32768-byte output limit" in data["output"]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"process_id": ""}, "invalid parameters: process_id is required"),
        (
            {"process_id": "p", "wait_timeout": "soon"},
            'invalid parameters: wait_timeout: time: invalid duration "soon"',
        ),
        (
            {"process_id": "p", "wait_timeout": "-1s"},
            'invalid parameters: wait_timeout: must not be negative, got "-1s"',
        ),
        ({}, "invalid parameters: process_id: Field required"),
    ],
)
async def test_process_output_argument_errors(arguments: dict[str, Any], expected: str) -> None:
    """Bad process_output arguments are error results and nothing is read."""
    agent = FakeAgent()
    result = await output_of(agent, **arguments)
    assert result.is_error
    assert result.content.startswith(expected), result.content
    assert agent.output_calls == []


# --- process_list ------------------------------------------------------------------------


async def test_process_list_keeps_the_agents_order_and_shows_ten() -> None:
    """The list keeps the agent's order (running first, newest first) and shows at most 10."""
    processes = [process_info("run", is_running=True, started=1)] + [
        process_info(f"p{index}", started=100 - index) for index in range(14)
    ]
    agent = FakeAgent(listing=ListProcessesResponse(processes=processes))
    data = payload(await ProcessListTool(agent).run(""))
    assert [entry["id"] for entry in data["processes"]] == ["run"] + [f"p{i}" for i in range(9)]
    assert data["note"] == "showing the first 10 of 15 processes"
    assert data["processes"][0] == {
        "id": "run",
        "command": "echo run",
        "background": False,
        "running": True,
        "started_at_unix": 1,
    }


async def test_process_list_when_empty() -> None:
    """An agent with no processes gives an empty array and no note."""
    data = payload(await ProcessListTool(FakeAgent()).run("{}"))
    assert data == {"processes": []}


async def test_process_list_failure_names_the_step() -> None:
    """A failed list is a result naming the step."""
    agent = FakeAgent(listing=RuntimeError("agent disconnected"))
    data = payload(await ProcessListTool(agent).run("{}"))
    assert data == {"success": False, "error": "list processes: agent disconnected"}


# --- process_signal ----------------------------------------------------------------------


@pytest.mark.parametrize("signal", ["terminate", "kill"])
async def test_process_signal_sends_the_signal(signal: str) -> None:
    """A valid signal reaches the agent and the result says what was sent where."""
    agent = FakeAgent()
    result = await ProcessSignalTool(agent).run(
        json.dumps({"process_id": "proc-1", "signal": signal})
    )
    assert agent.signals == [("proc-1", signal)]
    assert payload(result) == {
        "success": True,
        "message": f'signal "{signal}" sent to process proc-1',
    }


async def test_process_signal_failure_names_the_step() -> None:
    """A refused signal (e.g. the process already exited) is a result naming the step."""
    agent = FakeAgent(signal_error=RuntimeError('Process "proc-1" is not running.'))
    result = await ProcessSignalTool(agent).run('{"process_id": "proc-1", "signal": "kill"}')
    assert payload(result) == {
        "success": False,
        "error": 'signal process: Process "proc-1" is not running.',
    }


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"process_id": "", "signal": "kill"}', "invalid parameters: process_id is required"),
        ('{"process_id": "p", "signal": "SIGINT"}', "invalid parameters: signal:"),
        ('{"process_id": "p"}', "invalid parameters: signal: Field required"),
    ],
)
async def test_process_signal_argument_errors(arguments: str, expected: str) -> None:
    """Bad process_signal arguments are error results and nothing is sent."""
    agent = FakeAgent()
    result = await ProcessSignalTool(agent).run(arguments)
    assert result.is_error
    assert result.content.startswith(expected), result.content
    assert agent.signals == []


async def test_companions_report_a_missing_connection() -> None:
    """Every companion answers a missing connection with an error result."""
    for result in [
        await ProcessOutputTool(None).run('{"process_id": "p"}'),
        await ProcessListTool(None).run(""),
        await ProcessSignalTool(None).run('{"process_id": "p", "signal": "kill"}'),
    ]:
        assert result.is_error
        assert "not configured" in result.content
