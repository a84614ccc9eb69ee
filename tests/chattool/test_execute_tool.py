"""Unit tests of the ``execute`` tool against a scripted connection (items 63-79 of the notes)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import anyio
import pytest

import chattool._execute
import chattool._reads
from agentsdk.types import (
    ProcessOutputResponse,
    ProcessTruncation,
    StartProcessRequest,
    StartProcessResponse,
)
from chattool import NON_INTERACTIVE_ENV, ExecuteTool, ToolConnection, ToolResult
from chattool._execute import POLL_INTERVAL_SECONDS, promote_trailing_ampersand
from chattool._results import FILE_DUMP_NOTE, MAX_OUTPUT_BYTES, file_dump_note, truncate_output

from ._fakes import CHAT_ID, FakeAgent, OutputCall, exited, running

pytestmark = pytest.mark.anyio


async def execute(agent: FakeAgent, **arguments: Any) -> ToolResult:
    return await ExecuteTool(agent).run(json.dumps(arguments))


def payload(result: ToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = json.loads(result.content)
    return data


def fail_waits_then(snapshot: ProcessOutputResponse | Exception, error: str = "EOF") -> Any:
    """A handler whose waiting polls fail and whose plain reads answer ``snapshot``."""

    async def handler(call: OutputCall) -> ProcessOutputResponse:
        if call.wait:
            raise RuntimeError(error)
        if isinstance(snapshot, Exception):
            raise snapshot
        return snapshot

    return handler


def test_fake_agent_satisfies_the_connection_protocol() -> None:
    """The test double is a ToolConnection, so the tests exercise the real interface."""
    assert isinstance(FakeAgent(), ToolConnection)


# --- 63, 70, 71: calls that are errors before anything runs ---------------------------------


async def test_empty_command_is_an_error_result() -> None:
    """Item 63: an empty command is refused as an error result and nothing is started."""
    agent = FakeAgent()
    result = await execute(agent, command="")
    assert result.is_error
    assert result.content == "invalid parameters: command is required"
    assert agent.starts == []


async def test_missing_resolver_is_an_error_result() -> None:
    """Item 70: a tool without a connection answers with an error naming the cause."""
    result = await ExecuteTool(None).run('{"command": "echo hi"}')
    assert result.is_error
    assert "not configured" in result.content


async def test_resolver_failure_is_an_error_result() -> None:
    """Item 71: a resolver that raises becomes an error result carrying its message."""

    async def offline() -> ToolConnection:
        raise RuntimeError("workspace offline")

    result = await ExecuteTool(offline).run('{"command": "echo hi"}')
    assert result.is_error
    assert "workspace offline" in result.content


async def test_resolver_connection_is_used_for_the_call() -> None:
    """A resolver is awaited at call time and its connection runs the command."""
    agent = FakeAgent(output=exited("hi\n"))

    async def resolve() -> ToolConnection:
        return agent

    result = await ExecuteTool(resolve).run('{"command": "echo hi"}')
    assert payload(result)["output"] == "hi\n"
    assert [start.command for start in agent.starts] == ["echo hi"]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"command": "sleep 1", "timeout": 30}', "invalid parameters: timeout:"),
        ('{"command": "x", "run_in_background": "yes"}', "invalid parameters: run_in_background:"),
        ("{not json", "invalid parameters: arguments are not valid JSON"),
        ("{}", "invalid parameters: command: Field required"),
    ],
)
async def test_malformed_arguments_are_invalid_parameters(arguments: str, expected: str) -> None:
    """Arguments of the wrong type or shape are refused, as Go's strict JSON decoding does."""
    agent = FakeAgent()
    result = await ExecuteTool(agent).run(arguments)
    assert result.is_error
    assert result.content.startswith(expected), result.content
    assert agent.starts == []


async def test_null_optional_arguments_mean_unset() -> None:
    """A null optional argument (as strict-mode models send) takes its default."""
    agent = FakeAgent()
    result = await ExecuteTool(agent).run(
        '{"command": "true", "timeout": null, "workdir": null, "run_in_background": null}'
    )
    assert payload(result)["success"] is True
    assert agent.starts[0].workdir is None


async def test_invalid_timeout_is_an_error_result_in_go_words() -> None:
    """A timeout that is not a Go duration is refused with Go's parse error."""
    result = await execute(FakeAgent(), command="true", timeout="abc")
    assert result.is_error
    assert result.content == 'invalid parameters: timeout: time: invalid duration "abc"'


@pytest.mark.parametrize("duration", ["0s", "-5s", "0"])
async def test_non_positive_timeout_is_an_error_result(duration: str) -> None:
    """A timeout that would expire before the command starts is refused up front."""
    agent = FakeAgent()
    result = await execute(agent, command="true", timeout=duration)
    assert result.is_error
    assert result.content == f'invalid parameters: timeout: must be positive, got "{duration}"'
    assert agent.starts == []


# --- 64, 65: foreground exits -------------------------------------------------------------


async def test_foreground_success_reports_output_and_exit_code() -> None:
    """Item 64: an exit 0 gives success, the output, and no background id."""
    agent = FakeAgent(output=exited("hello world"))
    data = payload(await execute(agent, command="echo hello world"))
    assert data["success"] is True
    assert data["exit_code"] == 0
    assert data["output"] == "hello world"
    assert "background_process_id" not in data
    assert isinstance(data["wall_duration_ms"], int)
    assert agent.starts[0].env is not None
    assert agent.starts[0].env["CODER_CHAT_AGENT"] == "true"


async def test_every_start_carries_the_non_interactive_environment() -> None:
    """The start request sets every variable that keeps editors, pagers and prompts away."""
    agent = FakeAgent()
    await execute(agent, command="true")
    assert agent.starts[0].env == {
        "CODER_CHAT_AGENT": "true",
        "GIT_EDITOR": "true",
        "GIT_SEQUENCE_EDITOR": "true",
        "EDITOR": "true",
        "VISUAL": "true",
        "GIT_TERMINAL_PROMPT": "0",
        "NO_COLOR": "1",
        "TERM": "dumb",
        "PAGER": "cat",
        "GIT_PAGER": "cat",
    }
    assert dict(NON_INTERACTIVE_ENV) == agent.starts[0].env


async def test_chat_bound_tool_sends_coder_chat_id() -> None:
    """A tool bound to a chat adds CODER_CHAT_ID to the command's environment."""
    agent = FakeAgent()
    await ExecuteTool(agent, chat_id=CHAT_ID.upper()).run('{"command": "true"}')
    assert agent.starts[0].env is not None
    assert agent.starts[0].env["CODER_CHAT_ID"] == CHAT_ID


def test_chat_id_that_is_not_a_uuid_is_rejected() -> None:
    """A chat id the agent would ignore is refused, since isolation would silently be lost."""
    with pytest.raises(ValueError, match="UUID"):
        ExecuteTool(FakeAgent(), chat_id="chat-1")


async def test_workdir_is_passed_and_empty_workdir_is_omitted() -> None:
    """The workdir argument reaches the start request; an empty one lets the agent choose."""
    agent = FakeAgent()
    await execute(agent, command="pwd", workdir="/srv/app")
    await execute(agent, command="pwd", workdir="")
    assert [start.workdir for start in agent.starts] == ["/srv/app", None]


async def test_nonzero_exit_is_a_failure_with_its_code_and_output() -> None:
    """Item 65: exit code 42 gives success false, the code, and the output."""
    agent = FakeAgent(output=exited("something failed", exit_code=42))
    data = payload(await execute(agent, command="exit 42"))
    assert data["success"] is False
    assert data["exit_code"] == 42
    assert data["output"] == "something failed"
    assert "error" not in data


async def test_truncation_metadata_is_passed_through() -> None:
    """The agent's truncation record reaches the model unchanged."""
    truncated = ProcessTruncation(original_bytes=73998, retained_bytes=32801, omitted_bytes=41230)
    agent = FakeAgent(output=exited("head...tail", truncated=truncated))
    data = payload(await execute(agent, command="make"))
    assert data["truncated"] == {
        "original_bytes": 73998,
        "retained_bytes": 32801,
        "omitted_bytes": 41230,
        "strategy": "head_tail",
    }


async def test_long_output_is_cut_to_32_kib() -> None:
    """Output beyond 32 KiB is cut before it reaches the model, with a marker saying so."""
    agent = FakeAgent(output=exited("x" * (MAX_OUTPUT_BYTES + 1024)))
    data = payload(await execute(agent, command="yes"))
    assert len(data["output"].encode()) <= MAX_OUTPUT_BYTES
    assert "bytes here to fit the 32768-byte output limit" in data["output"]


async def test_result_fields_are_in_go_order_and_empty_ones_omitted() -> None:
    """The JSON keys follow Coder's ExecuteResult order, and empty optional fields are absent."""
    agent = FakeAgent(output=running("partial"))
    data = payload(await execute(agent, command="cat big.log", timeout="50ms"))
    assert list(data) == [
        "success",
        "output",
        "exit_code",
        "wall_duration_ms",
        "error",
        "note",
        "background_process_id",
    ]
    quiet = payload(await execute(FakeAgent(), command="true"))
    assert list(quiet) == ["success", "exit_code", "wall_duration_ms"]


# --- polling cadence ---------------------------------------------------------------------


async def test_first_poll_is_a_bounded_wait_right_after_start() -> None:
    """The tool polls at once with a server-side wait bounded by the 200 ms tick."""
    agent = FakeAgent(output=exited("done"))
    await execute(agent, command="true")
    assert len(agent.output_calls) == 1
    call = agent.output_calls[0]
    assert call.process_id == "proc-1"
    assert call.wait is True
    assert call.timeout_ms is not None
    assert 0 < call.timeout_ms <= POLL_INTERVAL_SECONDS * 1000


async def test_exit_during_a_wait_is_reported_by_that_same_poll() -> None:
    """An exit while the agent holds the wait ends the call on that poll, with no second one."""
    waiting = anyio.Event()
    finished = anyio.Event()

    async def agent_that_waits(call: OutputCall) -> ProcessOutputResponse:
        assert call.timeout_ms is not None
        waiting.set()
        with anyio.move_on_after(call.timeout_ms / 1000):
            await finished.wait()
        return exited("done\n") if finished.is_set() else running()

    agent = FakeAgent(output=agent_that_waits)
    results: list[ToolResult] = []

    async def call_tool() -> None:
        results.append(await execute(agent, command="sleep 0.05"))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(call_tool)
        await waiting.wait()
        finished.set()
    assert payload(results[0])["output"] == "done\n"
    assert len(agent.output_calls) == 1


async def test_agent_that_ignores_wait_is_polled_at_most_once_per_tick() -> None:
    """Against an agent that answers at once, the tool keeps to one poll per 200 ms tick."""
    agent = FakeAgent(output=running("still going"))
    data = payload(await execute(agent, command="sleep 60", timeout="1s"))
    assert data["error"] == "command timed out after 1s"
    # Ticks 0..4 fit in one second; each may hold one poll.
    assert 1 <= len(agent.polls) <= 5
    assert all(
        call.timeout_ms is not None and call.timeout_ms <= POLL_INTERVAL_SECONDS * 1000
        for call in agent.polls
    )


# --- 66, 74: background ------------------------------------------------------------------


async def test_background_start_returns_the_process_id_at_once() -> None:
    """Item 66: run_in_background starts with background true and returns the id unpolled."""
    agent = FakeAgent(start_response=StartProcessResponse(id="bg-42", started=True))
    data = payload(await execute(agent, command="sleep 999", run_in_background=True))
    assert agent.starts[0].background is True
    assert data == {
        "success": True,
        "exit_code": 0,
        "wall_duration_ms": 0,
        "background_process_id": "bg-42",
    }
    assert agent.output_calls == []


async def test_background_ignores_an_invalid_timeout() -> None:
    """The timeout only matters in the foreground, so a bad one does not stop a background start."""
    agent = FakeAgent()
    data = payload(await execute(agent, command="serve", run_in_background=True, timeout="abc"))
    assert data["success"] is True


async def test_background_start_failure_names_the_step() -> None:
    """A failed background start is a result naming the step."""
    agent = FakeAgent(start_response=RuntimeError("connection lost"))
    data = payload(await execute(agent, command="serve", run_in_background=True))
    assert data["success"] is False
    assert data["error"] == "start background process: connection lost"


@pytest.mark.parametrize(
    ("command", "in_background", "sent", "background"),
    [
        ("cmd &", False, "cmd", True),
        ("cmd &&", False, "cmd &&", False),
        ("cmd", False, "cmd", False),
        ("cmd1 && cmd2 &", False, "cmd1 && cmd2", True),
        ("cmd |&", False, "cmd |&", False),
        ("cmd &", True, "cmd &", True),
        ("cmd&  ", False, "cmd", True),
        ("echo \\&", False, "echo \\&", False),
    ],
)
async def test_trailing_ampersand_is_promoted_to_background(
    command: str, in_background: bool, sent: str, background: bool
) -> None:
    """Item 74: a lone trailing & becomes a tracked background start; && and |& do not."""
    agent = FakeAgent()
    data = payload(await execute(agent, command=command, run_in_background=in_background))
    assert agent.starts[0].command == sent
    assert agent.starts[0].background is background
    assert ("background_process_id" in data) is background


def test_lone_ampersand_promotes_to_an_empty_command() -> None:
    """A command that is only & has nothing left to run after promotion."""
    assert promote_trailing_ampersand(" & ") == ""


async def test_lone_ampersand_command_is_required() -> None:
    """A command that is only & is refused rather than started empty."""
    result = await execute(FakeAgent(), command="&")
    assert result.is_error
    assert "command is required" in result.content


# --- 67, 75: timeouts --------------------------------------------------------------------


async def test_timeout_leaves_process_running_with_partial_output() -> None:
    """Item 67: at the timeout the result carries the partial output and the process id."""
    agent = FakeAgent(output=running("partial output"))
    result = await execute(agent, command="sleep 999", timeout="50ms")
    data = payload(result)
    assert data["success"] is False
    assert data["exit_code"] == -1
    assert data["error"] == "command timed out after 50ms"
    assert data["output"] == "partial output"
    assert data["background_process_id"] == "proc-1"
    assert agent.signals == []
    assert agent.output_calls[-1].wait is False


async def test_timeout_error_uses_go_duration_formatting() -> None:
    """The timeout in the error is printed the way Go prints durations."""
    agent = FakeAgent(output=running())
    data = payload(await execute(agent, command="sleep 999", timeout="0.3s"))
    assert data["error"] == "command timed out after 300ms"


async def test_timeout_with_failed_salvage_joins_both_errors() -> None:
    """When the salvage read fails too, the error reports the timeout and the read failure."""

    async def handler(call: OutputCall) -> ProcessOutputResponse:
        if call.wait:
            return running("seen while polling")
        raise RuntimeError("agent disconnected")

    agent = FakeAgent(output=handler)
    data = payload(await execute(agent, command="sleep 999", timeout="50ms"))
    assert data["error"] == "command timed out after 50ms\nfailed to get output: agent disconnected"
    assert data["output"] == "seen while polling"
    assert data["background_process_id"] == "proc-1"


async def test_exit_seen_by_the_salvage_read_is_reported_as_completed() -> None:
    """A process that exits just as the timeout passes is reported with its real exit."""

    async def handler(call: OutputCall) -> ProcessOutputResponse:
        return running("almost") if call.wait else exited("finished", exit_code=3)

    agent = FakeAgent(output=handler)
    data = payload(await execute(agent, command="sleep 0.05", timeout="50ms"))
    assert data["exit_code"] == 3
    assert data["output"] == "finished"
    assert "background_process_id" not in data


async def test_poll_that_outlives_the_deadline_becomes_a_timeout() -> None:
    """Item 75: a wait the agent never answers is cut at the deadline and salvaged."""

    async def handler(call: OutputCall) -> ProcessOutputResponse:
        if call.wait:
            await anyio.sleep_forever()
        return running("partial output")

    agent = FakeAgent(output=handler)
    data = payload(await execute(agent, command="sleep 999", timeout="50ms"))
    assert data["success"] is False
    assert data["exit_code"] == -1
    assert "timed out" in data["error"]
    assert data["output"] == "partial output"


# --- 68, 69, 76-78: failures -------------------------------------------------------------


async def test_start_failure_is_a_result_naming_the_step() -> None:
    """Item 68: a failed start is a JSON failure, not an error result."""
    agent = FakeAgent(start_response=RuntimeError("connection lost"))
    result = await execute(agent, command="echo hi")
    data = payload(result)
    assert data == {
        "success": False,
        "exit_code": 0,
        "wall_duration_ms": 0,
        "error": "start process: connection lost",
    }


async def test_poll_failure_is_a_result_naming_the_step() -> None:
    """Item 69: a failed output read is a JSON failure that carries the agent's error."""
    agent = FakeAgent(output=RuntimeError("agent disconnected"))
    data = payload(await execute(agent, command="echo hi"))
    assert data["success"] is False
    assert data["error"].startswith("get process output: agent disconnected")


async def test_poll_and_recovery_read_both_failing_report_both() -> None:
    """Item 76: when the poll and the recovery read fail, both errors and the id are reported."""
    agent = FakeAgent(output=fail_waits_then(RuntimeError("agent disconnected"), "EOF"))
    data = payload(await execute(agent, command="make"))
    assert data["success"] is False
    assert data["error"] == "get process output: EOF\nfailed to get output: agent disconnected"
    assert data["background_process_id"] == "proc-1"


async def test_poll_failure_recovered_by_an_exited_snapshot_is_a_success() -> None:
    """Item 77: a failed poll whose recovery read shows the exit is reported transparently."""
    agent = FakeAgent(output=fail_waits_then(exited("hello\n")))
    data = payload(await execute(agent, command="echo hello"))
    assert data["success"] is True
    assert data["output"] == "hello\n"
    assert "background_process_id" not in data
    assert "error" not in data


async def test_poll_failure_recovered_by_an_exited_snapshot_is_logged_at_error_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The failed poll a recovery read made up for is logged with the process and the step."""
    agent = FakeAgent(output=fail_waits_then(exited("hello\n"), "connection reset"))
    with caplog.at_level(logging.ERROR, logger="chattool"):
        payload(await execute(agent, command="echo hello"))
    (record,) = [record for record in caplog.records if record.name == "chattool"]
    assert record.levelno == logging.ERROR
    assert "polling the output of process proc-1 failed" in record.getMessage()
    assert "connection reset" in record.getMessage()


async def test_a_clean_run_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """Only failures are logged: a command that simply exits leaves the log alone."""
    with caplog.at_level(logging.DEBUG, logger="chattool"):
        payload(await execute(FakeAgent(output=exited("hi\n")), command="echo hi"))
    assert [record for record in caplog.records if record.name.startswith("chattool")] == []


async def test_poll_failure_with_process_still_running_points_to_process_output() -> None:
    """Item 78: a failed poll while the process runs returns the id to follow it with."""
    agent = FakeAgent(output=fail_waits_then(running("partial output")))
    data = payload(await execute(agent, command="make"))
    assert data["success"] is False
    assert "process still running" in data["error"]
    assert "process_output" in data["error"]
    assert data["output"] == "partial output"
    assert data["background_process_id"] == "proc-1"


class HangingStart(FakeAgent):
    """An agent that accepts the start request and never answers it."""

    async def start_process(self, request: StartProcessRequest, /) -> StartProcessResponse:
        self.starts.append(request)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


async def test_start_the_agent_never_answers_is_a_failure_naming_the_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A start with no answer within the timeout (or the start floor) fails the start step."""
    monkeypatch.setattr(chattool._execute, "MIN_START_SECONDS", 0.01)
    data = payload(await execute(HangingStart(), command="true", timeout="50ms"))
    assert data["success"] is False
    assert data["error"] == "start process: no answer from the agent within 50ms"


async def test_salvage_read_the_agent_never_answers_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A salvage read that hangs is abandoned, and the result says so beside the timeout."""
    monkeypatch.setattr(chattool._reads, "SNAPSHOT_TIMEOUT_SECONDS", 0.01)

    async def handler(call: OutputCall) -> ProcessOutputResponse:
        if call.wait:
            return running("so far")
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    data = payload(await execute(FakeAgent(output=handler), command="sleep 9", timeout="50ms"))
    assert data["error"] == (
        "command timed out after 50ms\nfailed to get output: no answer from the agent within 10ms"
    )
    assert data["output"] == "so far"


async def test_exception_without_message_is_named_by_its_type() -> None:
    """A failure whose exception has no text still tells the model what happened."""
    agent = FakeAgent(start_response=TimeoutError())
    data = payload(await execute(agent, command="true"))
    assert data["error"] == "start process: TimeoutError"


# --- 72, 73: file-dump note and output cap ---------------------------------------------


@pytest.mark.parametrize(
    ("command", "noted"),
    [
        ("cat foo.txt", True),
        ("concatenate foo", False),
        ("grep --include-all pattern", True),
        ("rg -l pattern", True),
        ("grep -r pattern", False),
        ("  cat foo.txt", False),
    ],
)
async def test_file_dump_commands_get_the_read_file_note(command: str, noted: bool) -> None:
    """Item 72: commands that dump files are nudged toward read_file; others are not."""
    assert (file_dump_note(command) == FILE_DUMP_NOTE) is noted
    data = payload(await execute(FakeAgent(output=exited("x")), command=command))
    assert ("read_file" in data.get("note", "")) is noted


async def test_background_start_gets_no_file_dump_note() -> None:
    """The note is advice about a result the model reads, so a background start has none."""
    data = payload(await execute(FakeAgent(), command="cat foo.txt", run_in_background=True))
    assert "note" not in data


@pytest.mark.parametrize("output", ["", "short", "a" * MAX_OUTPUT_BYTES, "\u2603" * 10922])
def test_output_within_32_kib_is_kept_whole(output: str) -> None:
    """Item 73: output of at most 32 KiB, exactly 32768 bytes included, is returned unchanged."""
    assert truncate_output(output) == output


def cut_count(text: str) -> int:
    """The byte count the single cut marker in ``text`` reports."""
    (count,) = re.findall(r"\n\n\.\.\. \[cut (\d+) bytes here to fit the 32768-byte", text)
    return int(count)


def kept_bytes(text: str) -> int:
    """How many bytes of the original survive in ``text``: all of it but the cut marker."""
    match = re.search(r"\n\n\.\.\. \[cut \d+ bytes [^]]*\] \.\.\.\n\n", text)
    assert match is not None, text[:200]
    return len(text.encode()) - len(match.group().encode())


@pytest.mark.parametrize(
    "size", [MAX_OUTPUT_BYTES + 1, MAX_OUTPUT_BYTES + 1024, 4 * MAX_OUTPUT_BYTES]
)
def test_output_over_32_kib_is_cut_with_a_marker_counting_every_cut_byte(size: int) -> None:
    """Item 73, in spirit: longer output fits 32 KiB, and the marker accounts for each byte cut."""
    cut = truncate_output("b" * size)
    assert len(cut.encode()) <= MAX_OUTPUT_BYTES
    assert cut.startswith("b" * 16_000)
    assert cut.endswith("b" * 16_000)
    assert cut_count(cut) == size - kept_bytes(cut)


def test_output_cut_never_splits_a_character() -> None:
    """Item 73: a multi-byte character at the end survives and the result stays in budget."""
    cut = truncate_output("x" * (MAX_OUTPUT_BYTES - 1) + "\u2603")
    assert len(cut.encode()) <= MAX_OUTPUT_BYTES
    assert cut.endswith("x\u2603")


def test_output_cut_drops_characters_straddling_the_gap_whole_and_counts_them() -> None:
    """Characters the cut's edges fall inside vanish whole, and their bytes are in the count."""
    text = "\u2603" * (MAX_OUTPUT_BYTES // 2)
    cut = truncate_output(text)
    cut.encode().decode("utf-8")  # valid UTF-8 throughout
    assert len(cut.encode()) <= MAX_OUTPUT_BYTES
    assert cut_count(cut) == len(text.encode()) - kept_bytes(cut)
    assert cut_count(cut) % 3 == 0


def test_binary_output_rendered_as_replacement_characters_is_cut_with_both_notes() -> None:
    """The reported case: 40000 random bytes render far over 32 KiB; the cut says so, the
    agent's own note survives, and the head and the end are kept."""
    # Bytes cycling through every value, as random data does: most are not valid UTF-8.
    raw = bytes((index * 167 + 13) % 256 for index in range(40000))
    agent_note = f"\n\n... [omitted {40000 - MAX_OUTPUT_BYTES} bytes] ...\n\n"
    head = raw[: MAX_OUTPUT_BYTES // 2].decode("utf-8", "replace")
    tail = raw[-MAX_OUTPUT_BYTES // 2 :].decode("utf-8", "replace")
    rendering = head + agent_note + tail
    assert len(rendering.encode()) > 50_000

    cut = truncate_output(rendering)
    assert len(cut.encode()) <= MAX_OUTPUT_BYTES
    assert agent_note in cut
    assert cut.startswith(head[:4000])
    assert cut.endswith(tail[-4000:])
    kept = kept_bytes(cut) - len(agent_note)
    assert cut_count(cut) == len(rendering.encode()) - len(agent_note) - kept


def test_output_cut_keeps_the_end_and_the_agents_omission_note() -> None:
    """An agent rendering just over the cap keeps its note and its last line, beside the cut."""
    half = MAX_OUTPUT_BYTES // 2
    agent_note = "\n\n... [omitted 41230 bytes] ...\n\n"
    rendering = "h" * half + agent_note + "t" * (half - 10) + "LAST LINE\n"
    cut = truncate_output(rendering)
    assert len(cut.encode()) <= MAX_OUTPUT_BYTES
    assert cut.endswith("t" * 1000 + "LAST LINE\n")
    assert cut.startswith("h" * (half - 100))
    before, marker_and_rest = cut.split("\n\n... [cut ", 1)
    assert set(before) == {"h"}
    assert marker_and_rest.split(" ...\n\n", 1)[1].startswith(agent_note)


def test_output_far_over_the_cap_keeps_both_ends() -> None:
    """Output far beyond the cap keeps nearly 16 KiB of each end around the marker."""
    half = MAX_OUTPUT_BYTES // 2
    text = "s" * half + "m" * (4 * MAX_OUTPUT_BYTES) + "e" * half
    cut = truncate_output(text)
    head, rest = cut.split("\n\n... [cut ", 1)
    tail = rest.split("] ...\n\n", 1)[1]
    assert head == "s" * len(head)
    assert tail == "e" * len(tail)
    assert len(head) > half - 100
    assert len(tail) > half - 100


def test_a_limit_too_small_for_the_marker_is_refused() -> None:
    """A cap that cannot hold the marker is an error, not a silent cut."""
    with pytest.raises(ValueError, match="limit must be at least"):
        truncate_output("x" * 1000, limit=20)


# --- 79: schema --------------------------------------------------------------------------


def test_schema_requires_command_and_offers_optional_model_intent() -> None:
    """Item 79: command is required; model_intent is an optional string."""
    schema = ExecuteTool(None).parameters
    assert schema["type"] == "object"
    assert schema["required"] == ["command"]
    assert schema["properties"]["model_intent"]["type"] == "string"
    assert set(schema["properties"]) == {
        "command",
        "timeout",
        "workdir",
        "run_in_background",
        "interactive",
        "timeout_ms",
        "idle_timeout_ms",
        "model_intent",
    }
    assert schema["properties"]["timeout"]["default"] == "10s"


async def test_model_intent_is_accepted_and_not_sent_to_the_agent() -> None:
    """model_intent is a label for the user; the command runs the same with it."""
    agent = FakeAgent()
    payload(await execute(agent, command="true", model_intent="check the build"))
    assert agent.starts[0].command == "true"
