"""The tools on terminals, driven as a model would, against a real agent on 127.0.0.1:
``execute`` with ``interactive``, ``process_input`` with text and keys, ``process_output``
showing a screen, and the agent's deadlines through ``execute``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from chattool import Tool
from tests.chattool.test_chattool_e2e import Chat, open_chat
from tests.conftest import LiveAgent

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

QUESTION = (
    'python3 -c \'import sys; answer = input("Ok to proceed? (y) "); sys.exit(answer != "y")\''
)
"""Asks, then exits 0 for "y" and 1 for anything else."""

LIVENESS_SECONDS = 30
"""A generous safety net: each call below returns within a second when the agent works."""


async def call(tool: Tool[Any], **arguments: Any) -> dict[str, Any]:
    """A tool call that must not be an error result; its JSON."""
    with anyio.fail_after(LIVENESS_SECONDS):
        result = await tool.run(arguments)
    assert not result.is_error, result.content
    data: dict[str, Any] = json.loads(result.content)
    return data


@pytest.fixture
async def chat(live_agent: LiveAgent) -> AsyncIterator[Chat]:
    """A fresh chat on the shared agent, its processes killed afterwards."""
    async with open_chat(live_agent) as opened:
        yield opened


async def test_interactive_execute_returns_at_the_question_and_input_finishes_it(
    chat: Chat,
) -> None:
    """The question is on the screen long before the timeout; y and Enter end it with 0."""
    asked = await call(chat.tools.execute, command=QUESTION, interactive=True, timeout="60s")
    assert asked["waiting_for_input"] is True, asked
    assert asked["success"] is True and asked["exit_code"] == -1, asked
    assert asked["output"] == "Ok to proceed? (y)\n", asked
    assert "process_input" in asked["note"], asked
    assert asked["wall_duration_ms"] < 30_000, asked
    done = await call(
        chat.tools.process_input,
        process_id=asked["background_process_id"],
        input="y",
        keys=["Enter"],
        wait="30s",
    )
    assert (done["running"], done["exit_code"], done["success"]) == (False, 0, True), done
    assert done["output"] == "Ok to proceed? (y) y\n", done


async def test_the_python_repl_answers_through_process_input(chat: Chat) -> None:
    """2+2 typed into the REPL shows 4 and a fresh prompt on the screen."""
    started = await call(chat.tools.execute, command="python3 -q", interactive=True)
    assert started["waiting_for_input"] is True and started["output"] == ">>>\n", started
    process_id = started["background_process_id"]
    answered = await call(
        chat.tools.process_input, process_id=process_id, input="2+2\n", wait="30s"
    )
    assert answered["output"] == ">>> 2+2\n4\n>>>\n", answered
    assert (answered["running"], answered["waiting_for_input"]) == (True, True), answered
    shown = await call(chat.tools.process_output, process_id=process_id, wait_timeout="0s")
    assert shown["output"] == answered["output"], shown
    ended = await call(chat.tools.process_input, process_id=process_id, keys=["C-d"], wait="30s")
    assert (ended["running"], ended["exit_code"]) == (False, 0), ended


async def test_ctrl_c_stops_the_foreground_job_and_the_shell_lives_on(chat: Chat) -> None:
    """C-c ends `sleep 100` in an interactive shell, which then prompts again."""
    shell = await call(
        chat.tools.execute,
        command="PS1='$ ' sh -i",
        interactive=True,
    )
    assert shell["waiting_for_input"] is True, shell
    process_id = shell["background_process_id"]
    sleeping = await call(
        chat.tools.process_input, process_id=process_id, input="sleep 100\n", wait="1s"
    )
    assert sleeping["running"] is True and not sleeping.get("waiting_for_input"), sleeping
    back = await call(chat.tools.process_input, process_id=process_id, keys=["C-c"], wait="30s")
    assert back["running"] is True and back["waiting_for_input"] is True, back
    assert back["output"].rstrip().endswith("$"), back


async def test_a_command_that_is_not_interactive_reads_end_of_file_at_once(chat: Chat) -> None:
    """Without interactive, stdin is /dev/null: `read` fails at once instead of waiting."""
    result = await call(chat.tools.execute, command="read x || echo no input", timeout="60s")
    assert (result["exit_code"], result["output"]) == (0, "no input\n"), result
    assert result["wall_duration_ms"] < 30_000, result


async def test_process_input_to_a_pipe_shows_the_new_output(chat: Chat) -> None:
    """A background command reading its input on a pipe: Enter is a newline there."""
    started = await call(
        chat.tools.execute,
        command='while read line; do echo "got $line"; done',
        interactive=True,
        run_in_background=True,
    )
    process_id = started["background_process_id"]
    answered = await call(
        chat.tools.process_input, process_id=process_id, input="one", keys=["Enter"], wait="30s"
    )
    assert answered["output"].endswith("got one\n"), answered
    closed = await call(
        chat.tools.process_input, process_id=process_id, close_stdin=True, wait="30s"
    )
    assert (closed["running"], closed["exit_code"]) == (False, 0), closed


async def test_the_agent_ends_a_command_at_the_deadline_execute_gives(chat: Chat) -> None:
    """timeout_ms is the agent's to enforce: the command ends, and says why."""
    result = await call(chat.tools.execute, command="sleep 60", timeout_ms=300, timeout="60s")
    assert (result["success"], result["exit_code"]) == (False, -1), result
    assert result["exit_reason"] == "timeout", result
    idle = await call(
        chat.tools.execute, command="echo start; sleep 60", idle_timeout_ms=300, timeout="60s"
    )
    assert idle["exit_reason"] == "idle_timeout" and idle["output"] == "start\n", idle


async def test_unknown_keys_and_empty_input_are_refused_before_anything_is_sent(
    chat: Chat,
) -> None:
    """The model learns the key names from the error; nothing reaches the process."""
    result = await chat.tools.process_input.run({"process_id": "x", "keys": ["Hyper"]})
    assert result.is_error and "unknown key 'Hyper'" in result.content, result.content
    nothing = await chat.tools.process_input.run({"process_id": "x"})
    assert nothing.is_error and "give input, keys or close_stdin" in nothing.content
