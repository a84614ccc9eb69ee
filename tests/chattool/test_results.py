"""The result documents: each tool's type holds its own fields and writes Coder's JSON."""

from __future__ import annotations

import dataclasses

from agentsdk.types import ProcessOutputResponse, ProcessTruncation
from chattool import CommandResult, ExecuteResult, ProcessOutputResult

TRUNCATION = ProcessTruncation(original_bytes=40_000, retained_bytes=32_800, omitted_bytes=7_200)


def field_names(result_type: type[CommandResult]) -> set[str]:
    """The dataclass fields of a result type."""
    return {field.name for field in dataclasses.fields(result_type)}


def test_each_tool_s_result_adds_only_its_own_field_to_the_shared_ones() -> None:
    """execute may leave a process to follow; process_output says whether it still runs."""
    shared = field_names(CommandResult)
    assert field_names(ExecuteResult) - shared == {"background_process_id"}
    assert field_names(ProcessOutputResult) - shared == {"running"}


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
    """The same shape as execute's, wall_duration_ms included, and running last."""
    result = ProcessOutputResult(
        success=True, output="tick\n", exit_code=-1, note="process is still running", running=True
    )
    assert result.to_json() == (
        '{"success":true,"output":"tick\\n","exit_code":-1,"wall_duration_ms":0,'
        '"note":"process is still running","running":true}'
    )


def test_exited_builds_the_type_it_is_called_on() -> None:
    """Both tools read an exit the same way, each into its own result type."""
    response = ProcessOutputResponse(output="done\n", running=False, exit_code=3)

    for result_type in (ExecuteResult, ProcessOutputResult):
        result = result_type.exited(response)
        assert type(result) is result_type
        assert result.to_dict() == {
            "success": False,
            "output": "done\n",
            "exit_code": 3,
            "wall_duration_ms": 0,
        }
