"""The result documents: each tool's type holds its own fields and writes Coder's JSON."""

from __future__ import annotations

import dataclasses

from agentsdk.types import ProcessOutputResponse, ProcessTruncation
from chattool import CommandResult, ExecuteResult, ProcessOutputResult

TRUNCATION = ProcessTruncation(original_bytes=40_000, retained_bytes=32_800, omitted_bytes=7_200)


def field_names(result_type: type[CommandResult]) -> set[str]:
    """The dataclass fields of a result type."""
    return {field.name for field in dataclasses.fields(result_type)}


def test_each_tool_s_result_adds_only_its_own_fields_to_the_shared_ones() -> None:
    """execute may leave a process to follow; process_output says whether it still runs and
    how much new output the agent no longer kept."""
    shared = field_names(CommandResult)
    assert field_names(ExecuteResult) - shared == {"background_process_id"}
    assert field_names(ProcessOutputResult) - shared == {"running", "skipped_bytes"}


def test_execute_result_writes_a_timeout_byte_for_byte() -> None:
    """Coder's key order, empty fields left out, the process id last."""
    result = ExecuteResult(
        success=False,
        output="partial\n",
        exit_code=-1,
        wall_duration_ms=10_003,
        error="command timed out after 10s",
        truncated=TRUNCATION,
        background_process_id="p-1",
    )
    assert result.to_json() == (
        '{"success":false,"output":"partial\\n","exit_code":-1,"wall_duration_ms":10003,'
        '"error":"command timed out after 10s","truncated":{"original_bytes":40000,'
        '"retained_bytes":32800,"omitted_bytes":7200,"strategy":"head_tail"},'
        '"background_process_id":"p-1"}'
    )


def test_process_output_result_writes_a_running_process_byte_for_byte() -> None:
    """Coder's order, running stated, no exit_code while running, skipped_bytes last."""
    result = ProcessOutputResult(success=True, output="tick\n", running=True, skipped_bytes=7)
    assert result.to_json() == (
        '{"success":true,"output":"tick\\n","wall_duration_ms":0,"running":true,"skipped_bytes":7}'
    )


def test_process_output_result_of_an_exit_states_running_false_and_the_code() -> None:
    """Once exited, both running (false) and the exit code are written."""
    result = ProcessOutputResult(success=False, exit_code=3, running=False)
    assert result.to_json() == (
        '{"success":false,"exit_code":3,"wall_duration_ms":0,"running":false}'
    )


def test_process_output_result_of_a_failed_read_claims_no_state() -> None:
    """A read that failed knows neither running nor exit code, so it writes neither."""
    result = ProcessOutputResult(success=False, error="get process output: EOF")
    assert result.to_dict() == {
        "success": False,
        "wall_duration_ms": 0,
        "error": "get process output: EOF",
    }


def test_read_reports_a_running_process_as_a_success_whatever_its_code_field() -> None:
    """A running process is a success so far; its exit code is not written."""
    response = ProcessOutputResponse(output="x", running=True)
    result = ProcessOutputResult.read(response, output="x", skipped_bytes=3)
    assert result.to_dict() == {
        "success": True,
        "output": "x",
        "wall_duration_ms": 0,
        "running": True,
        "skipped_bytes": 3,
    }


def test_exited_builds_the_type_it_is_called_on() -> None:
    """Both tools read an exit the same way, each into its own result type (process_output's
    also states that the process is not running)."""
    response = ProcessOutputResponse(output="done\n", running=False, exit_code=3)
    shared = {"success": False, "output": "done\n", "exit_code": 3, "wall_duration_ms": 0}

    for result_type, extra in ((ExecuteResult, {}), (ProcessOutputResult, {"running": False})):
        result = result_type.exited(response)
        assert type(result) is result_type
        assert result.to_dict() == {**shared, **extra}
