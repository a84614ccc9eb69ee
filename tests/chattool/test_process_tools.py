"""Unit tests of ``process_output``, ``process_list`` and ``process_signal`` with a fake agent."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import pytest

from agentsdk.types import ListProcessesResponse, ProcessOutputResponse, ProcessTruncation
from agentsdk.wire import MAX_CURSOR_LIMIT_BYTES, omission_marker
from chattool import ProcessListTool, ProcessOutputTool, ProcessSignalTool, ToolResult
from chattool._process import MORE_OUTPUT_NOTE, NO_NEW_OUTPUT_NOTE
from chattool._reads import MAX_CATCH_UP_READS
from chattool._results import MAX_OUTPUT_BYTES

from ._fakes import FakeAgent, OutputCall, ProcessLog, exited, process_info, running

pytestmark = pytest.mark.anyio


def payload(result: ToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = json.loads(result.content)
    return data


async def output_of(agent: FakeAgent, **arguments: Any) -> ToolResult:
    return await ProcessOutputTool(agent).run(json.dumps(arguments))


# --- process_output ----------------------------------------------------------------------


def cursor_read(process_id: str = "proc-1") -> OutputCall:
    """The read from the chat's mark that process_output makes after its wait."""
    return OutputCall(process_id, False, None, since="last", limit=MAX_CURSOR_LIMIT_BYTES)


WAIT_10S = OutputCall("proc-1", True, 10_000)


def exited_log(text: str, code: int = 0) -> ProcessLog:
    """A process that wrote ``text`` and exited with ``code``."""
    log = ProcessLog()
    log.write(text)
    log.exit(code)
    return log


async def test_process_output_waits_for_the_exit_then_reads_what_is_new() -> None:
    """By default the tool waits up to 10 s for the exit, then reads from the chat's mark."""
    agent = FakeAgent(output=exited_log("done\n"))
    data = payload(await output_of(agent, process_id="proc-1"))
    assert agent.output_calls == [WAIT_10S, cursor_read()]
    assert data == {
        "success": True,
        "output": "done\n",
        "exit_code": 0,
        "wall_duration_ms": 0,
        "running": False,
    }


async def test_process_output_reports_a_failed_exit() -> None:
    """An exited process with a non-zero code is reported as a failure with its code."""
    agent = FakeAgent(output=exited_log("boom\n", 2))
    data = payload(await output_of(agent, process_id="proc-1", wait_timeout="2s"))
    assert data["success"] is False
    assert data["exit_code"] == 2
    assert agent.output_calls == [OutputCall("proc-1", True, 2_000), cursor_read()]


async def test_a_running_process_is_stated_as_running_without_an_exit_code() -> None:
    """While it runs: running true, and no exit_code (a -1 would read as "killed")."""
    log = ProcessLog()
    log.write("building...\n")
    data = payload(await output_of(FakeAgent(output=log), process_id="p", wait_timeout="1s"))
    assert data == {
        "success": True,
        "output": "building...\n",
        "wall_duration_ms": 0,
        "running": True,
    }


async def test_running_is_stated_every_time_and_the_exit_code_once_exited() -> None:
    """The same process, read while running and after its exit: running is always there,
    exit_code only in the second answer."""
    log = ProcessLog()
    agent = FakeAgent(output=log)
    log.write("step 1\n")
    before = payload(await output_of(agent, process_id="p", wait_timeout="0s"))
    log.write("step 2\n")
    log.exit(0)
    after = payload(await output_of(agent, process_id="p", wait_timeout="0s"))
    assert (before["running"], "exit_code" in before) == (True, False)
    assert (after["running"], after["exit_code"]) == (False, 0)


async def test_each_call_shows_only_the_output_not_seen_before() -> None:
    """A second call shows what came after the first; a third with nothing new says so."""
    log = ProcessLog()
    agent = FakeAgent(output=log)
    log.write("one\n")
    first = payload(await output_of(agent, process_id="p", wait_timeout="0s"))
    log.write("two\n")
    second = payload(await output_of(agent, process_id="p", wait_timeout="0s"))
    third = payload(await output_of(agent, process_id="p", wait_timeout="0s"))
    assert (first["output"], second["output"]) == ("one\n", "two\n")
    assert "output" not in third
    assert third["note"] == NO_NEW_OUTPUT_NOTE
    assert "note" not in first


async def test_a_process_that_printed_nothing_gets_no_note() -> None:
    """No output at all is not "nothing new": the note is only for output seen before."""
    data = payload(await output_of(FakeAgent(output=exited_log("")), process_id="p"))
    assert data == {"success": True, "exit_code": 0, "wall_duration_ms": 0, "running": False}


async def test_output_the_agent_no_longer_kept_is_reported_as_skipped() -> None:
    """When the window moved past the chat's mark, the lost bytes are counted, not hidden."""
    log = ProcessLog()
    log.write("old line\n" * 100 + "recent\n")
    log.kept_from = 900
    data = payload(await output_of(FakeAgent(output=log), process_id="p", wait_timeout="0s"))
    assert data["output"] == "recent\n"
    assert data["skipped_bytes"] == 900


async def test_long_new_output_keeps_its_head_and_tail_within_the_cap() -> None:
    """New output over 32 KiB is cut in the middle, with the usual marker."""
    log = exited_log("first line\n" + "z" * (2 * MAX_OUTPUT_BYTES) + "\nlast line\n")
    data = payload(await output_of(FakeAgent(output=log), process_id="p"))
    assert len(data["output"].encode()) <= MAX_OUTPUT_BYTES
    assert data["output"].startswith("first line\n")
    assert data["output"].endswith("last line\n")
    assert "bytes here to fit the 32768-byte output limit" in data["output"]


async def test_new_output_over_one_read_is_read_to_its_end() -> None:
    """Reads go on to the end, so the model sees the latest output, and the bytes between
    the first read and the last are counted in the agent's marker."""
    log = exited_log("start\n" + "x" * (2 * MAX_CURSOR_LIMIT_BYTES) + "the end\n")
    agent = FakeAgent(output=log)
    data = payload(await output_of(agent, process_id="p", wait_timeout="0s"))
    assert agent.output_calls == [cursor_read("p")] * 3
    assert log.mark == len(log.written)
    assert data["output"].startswith("start\n")
    assert data["output"].endswith("the end\n")
    assert omission_marker(MAX_CURSOR_LIMIT_BYTES) in data["output"]
    assert "note" not in data


async def test_reading_on_stops_where_the_output_ended_at_the_first_read() -> None:
    """A process that keeps writing cannot keep the call reading: the rest is for later."""
    log = ProcessLog()
    log.write("x" * (MAX_CURSOR_LIMIT_BYTES + 10))

    async def keeps_writing(call: OutputCall) -> ProcessOutputResponse:
        answer = await log(call)
        log.write("y" * MAX_CURSOR_LIMIT_BYTES)
        return answer

    agent = FakeAgent(output=keeps_writing)
    data = payload(await output_of(agent, process_id="p", wait_timeout="0s"))
    assert len(agent.output_calls) == 2
    assert data["running"] is True
    assert "note" not in data


async def test_an_exit_seen_while_reading_on_is_read_to_the_final_end() -> None:
    """Once a read shows the exit, the reads go on to the final end, past where the first
    read saw the output end: an exited process never hides output behind running: false."""
    log = ProcessLog()
    log.write("x" * (MAX_CURSOR_LIMIT_BYTES + 10))

    async def exits_after_the_first_read(call: OutputCall) -> ProcessOutputResponse:
        answer = await log(call)
        if log.running:
            log.write("y" * MAX_CURSOR_LIMIT_BYTES + "final words\n")
            log.exit(0)
        return answer

    agent = FakeAgent(output=exits_after_the_first_read)
    data = payload(await output_of(agent, process_id="p", wait_timeout="0s"))
    assert len(agent.output_calls) == 3
    assert data["running"] is False
    assert data["output"].endswith("final words\n")
    assert log.mark == len(log.written)


async def test_reading_on_is_bounded_and_the_rest_is_announced() -> None:
    """At most MAX_CATCH_UP_READS reads per call; the note counts the bytes still to come."""
    extra = 5_000
    log = exited_log("x" * (MAX_CATCH_UP_READS * MAX_CURSOR_LIMIT_BYTES + extra))
    agent = FakeAgent(output=log)
    data = payload(await output_of(agent, process_id="p", wait_timeout="0s"))
    assert len(agent.output_calls) == MAX_CATCH_UP_READS
    assert data["note"] == MORE_OUTPUT_NOTE.format(count=extra)


async def test_a_character_not_yet_complete_ends_the_reads_quietly() -> None:
    """A read that makes no progress (the end holds half a character) stops the reads,
    without a note about bytes to come."""
    answers = [
        ProcessOutputResponse(
            output="x" * 10, running=True, offset=0, next_offset=10, total_bytes=12
        ),
        ProcessOutputResponse(output="", running=True, offset=10, next_offset=10, total_bytes=12),
    ]

    async def half_a_character(call: OutputCall) -> ProcessOutputResponse:
        return answers.pop(0)

    agent = FakeAgent(output=half_a_character)
    data = payload(await output_of(agent, process_id="p", wait_timeout="0s"))
    assert len(agent.output_calls) == 2
    assert data == {"success": True, "output": "x" * 10, "wall_duration_ms": 0, "running": True}


async def test_a_failed_read_on_keeps_what_was_read_and_logs_the_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first read's output is shown, the rest announced, the failure logged."""
    log = exited_log("a" * (MAX_CURSOR_LIMIT_BYTES + 10))

    async def fails_second(call: OutputCall) -> ProcessOutputResponse:
        if log.mark:
            raise RuntimeError("connection reset")
        return await log(call)

    with caplog.at_level(logging.ERROR, logger="chattool"):
        data = payload(await output_of(FakeAgent(output=fails_second), process_id="p"))
    assert data["note"] == MORE_OUTPUT_NOTE.format(count=10)
    (record,) = [record for record in caplog.records if record.name == "chattool"]
    assert "connection reset" in record.getMessage()
    assert "process p" in record.getMessage()


async def test_full_returns_the_wait_s_snapshot_and_leaves_the_mark() -> None:
    """full: true answers with the head+tail snapshot, from the wait itself: one call, and
    the chat's mark stays where it was."""
    log = exited_log("everything\n")
    agent = FakeAgent(output=log)
    data = payload(await output_of(agent, process_id="proc-1", full=True))
    assert agent.output_calls == [WAIT_10S]
    assert data["output"] == "everything\n"
    assert log.mark == 0
    again = payload(await output_of(agent, process_id="proc-1", wait_timeout="0s"))
    assert again["output"] == "everything\n"


async def test_full_passes_the_agent_s_truncation_through() -> None:
    """A snapshot keeps its truncated metadata, as before."""
    truncation = ProcessTruncation(original_bytes=50_000, retained_bytes=32_800, omitted_bytes=1)
    agent = FakeAgent(output=exited("head...tail", truncated=truncation))
    data = payload(await output_of(agent, process_id="p", full=True, wait_timeout="0s"))
    assert agent.output_calls == [OutputCall("p", False, None)]
    assert data["truncated"] == truncation.model_dump(mode="json")


async def test_an_agent_without_cursor_reads_gets_its_snapshot_shown() -> None:
    """An agent that ignores since= (Coder's) answers with its snapshot, shown as such."""
    agent = FakeAgent(output=running("all of it\n"))
    data = payload(await output_of(agent, process_id="p", wait_timeout="0s"))
    assert data == {
        "success": True,
        "output": "all of it\n",
        "wall_duration_ms": 0,
        "running": True,
    }


async def test_zero_wait_timeout_reads_at_once() -> None:
    """wait_timeout 0s reads the new output without waiting."""
    agent = FakeAgent(output=ProcessLog())
    payload(await output_of(agent, process_id="proc-1", wait_timeout="0s"))
    assert agent.output_calls == [cursor_read()]


async def test_failed_wait_still_reads_the_output() -> None:
    """When the wait fails, the read that follows still returns the output."""
    log = exited_log("hello\n")

    async def handler(call: OutputCall) -> ProcessOutputResponse:
        if call.wait:
            raise RuntimeError("EOF")
        return await log(call)

    data = payload(await output_of(FakeAgent(output=handler), process_id="proc-1"))
    assert data["success"] is True
    assert data["output"] == "hello\n"


@pytest.mark.parametrize("full", [False, True])
async def test_failed_wait_recovered_by_a_read_is_logged_at_error_level(
    full: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The failed wait a later read made up for is logged with the process and the step."""
    log = ProcessLog()
    log.write("partial")

    async def handler(call: OutputCall) -> ProcessOutputResponse:
        if call.wait:
            raise RuntimeError("connection reset")
        return await log(call)

    with caplog.at_level(logging.ERROR, logger="chattool"):
        payload(await output_of(FakeAgent(output=handler), process_id="proc-1", full=full))
    (record,) = [record for record in caplog.records if record.name == "chattool"]
    assert record.levelno == logging.ERROR
    assert "waiting for process proc-1 failed" in record.getMessage()
    assert "connection reset" in record.getMessage()


@pytest.mark.parametrize("full", [False, True])
async def test_failed_wait_and_read_report_both_errors(full: bool) -> None:
    """When the wait and the read after it both fail, both errors are in the result, and
    the result claims no state it does not know."""

    async def handler(call: OutputCall) -> ProcessOutputResponse:
        raise RuntimeError("EOF" if call.wait else "agent disconnected")

    data = payload(await output_of(FakeAgent(output=handler), process_id="proc-1", full=full))
    assert data == {
        "success": False,
        "wall_duration_ms": 0,
        "error": "get process output: EOF\nfailed to get output: agent disconnected",
    }


async def test_failed_read_names_the_step() -> None:
    """A failed read is a result naming the step, without running or exit_code."""
    agent = FakeAgent(output=RuntimeError("Process not found"))
    data = payload(await output_of(agent, process_id="nope", wait_timeout="0s"))
    assert data == {
        "success": False,
        "wall_duration_ms": 0,
        "error": "get process output: Process not found",
    }


async def test_wait_the_agent_never_answers_is_cut_short() -> None:
    """A wait the agent does not end by itself is abandoned and followed by a read."""
    log = ProcessLog()
    log.write("partial")

    async def handler(call: OutputCall) -> ProcessOutputResponse:
        if call.wait:
            await anyio.sleep_forever()
        return await log(call)

    data = payload(
        await output_of(FakeAgent(output=handler), process_id="proc-1", wait_timeout="10ms")
    )
    assert data["running"] is True
    assert data["output"] == "partial"


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
