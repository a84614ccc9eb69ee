"""The scripted session every integration plays: one model turn per step, then the checks.

The model runs a command in the foreground, starts one in the background and waits for it
with ``process_output``, starts a long one and kills it with ``process_signal`` (and, in the
same turn, makes a bad call: a duration that is none), waits for the killed one to end, runs
an interactive command that asks a question and answers it with ``process_input``, and lists
the processes to see that the bad call ran nothing.

Each step is a function of the answers so far. To drive another tool, add its steps to
``STEPS`` (before the ``process_list`` step, so the listing covers it) and their checks to
``check_answers``: every integration (each SDK, each framework, MCP) then plays them at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tests.fakeprovider import Answer, Call, Step

__all__ = ["BAD_COMMAND", "FINAL_TEXT", "STEPS", "check_answers"]

FINAL_TEXT = "All done: hello printed, the background job finished, the sleeper was killed."

BAD_COMMAND = "echo the-bad-call-ran"
"""The command of the bad call: its timeout is no duration, so it must never run."""

BACKGROUND = "sleep 0.2; echo background done"
SLEEPER = "sleep 60"
QUESTION = "printf 'Ok to proceed? (y) '; read answer; test \"$answer\" = y"
"""Asks on its terminal, then exits 0 for the answer y."""


def _result(answers: Sequence[Answer], index: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(answers[index].content)
    return data


STEPS: list[Step] = [
    lambda answers: [Call("execute", {"command": "echo hello"})],
    lambda answers: [Call("execute", {"command": BACKGROUND, "run_in_background": True})],
    lambda answers: [
        Call(
            "process_output",
            {"process_id": _result(answers, 1)["background_process_id"], "wait_timeout": "20s"},
        )
    ],
    lambda answers: [Call("execute", {"command": SLEEPER, "run_in_background": True})],
    # Two calls in one turn: each must be answered by its own call id.
    lambda answers: [
        Call(
            "process_signal",
            {"process_id": _result(answers, 3)["background_process_id"], "signal": "kill"},
        ),
        Call("execute", {"command": BAD_COMMAND, "timeout": "soon"}),
    ],
    lambda answers: [
        Call(
            "process_output",
            {"process_id": _result(answers, 3)["background_process_id"], "wait_timeout": "20s"},
        )
    ],
    lambda answers: [Call("execute", {"command": QUESTION, "interactive": True, "timeout": "30s"})],
    lambda answers: [
        Call(
            "process_input",
            {
                "process_id": _result(answers, 7)["background_process_id"],
                "input": "y",
                "keys": ["Enter"],
                "wait": "20s",
            },
        )
    ],
    lambda answers: [Call("process_list", {})],
    lambda answers: FINAL_TEXT,
]
"""The model's turns, in order."""


def check_answers(answers: Sequence[Answer]) -> None:
    """The answers the model received are those of a working agent, in the script's order.

    An error answer's text may carry what a framework adds around the tool's own (pydantic-ai
    asks the model to fix its call); its flag is checked where the API has one.
    """
    names = [answer.name for answer in answers]
    assert names == [
        "execute",
        "execute",
        "process_output",
        "execute",
        "process_signal",
        "execute",
        "process_output",
        "execute",
        "process_input",
        "process_list",
    ], names
    hello = answers[0].json()
    assert hello["success"] is True and hello["output"] == "hello\n", hello
    started = answers[1].json()
    assert started["success"] is True and started["background_process_id"], started
    waited = answers[2].json()
    assert waited["running"] is False and waited["exit_code"] == 0, waited
    assert waited["output"] == "background done\n", waited
    signalled = answers[4].json()
    assert signalled["success"] is True, signalled
    bad = answers[5]
    assert "invalid parameters: timeout" in bad.content, bad
    assert bad.is_error in (None, True), bad
    assert all(answer.is_error in (None, False) for answer in answers if answer is not bad)
    killed = answers[6].json()
    assert killed["running"] is False and killed["success"] is False, killed
    asked = answers[7].json()
    assert asked["waiting_for_input"] is True, asked
    assert asked["output"] == "Ok to proceed? (y)\n", asked
    answered = answers[8].json()
    assert (answered["running"], answered["exit_code"]) == (False, 0), answered
    listed = answers[9].json()["processes"]
    commands = {process["command"]: process for process in listed}
    assert BAD_COMMAND not in commands, listed
    assert commands[SLEEPER]["running"] is False, listed
    assert commands[BACKGROUND]["exit_code"] == 0, listed
    assert commands[QUESTION]["exit_code"] == 0 and "tty" in commands[QUESTION], listed
