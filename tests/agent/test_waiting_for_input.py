"""``waiting_for_input`` and ``wake_on_input`` (terminals.md, "Waiting for input"), end to end.

Against a real uvicorn server: real commands ask real questions and the long polls are real
requests. A command that must not count as waiting first says ``ready`` once it is about to
block on what it reads, then a ``wake_on_input`` wait must run to its cap without waking,
several times the quiet and the poll interval long.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentproc.prompts import POLL_SECONDS, QUIET_SECONDS
from tests.conftest import LiveAgent

from ._live_processes import PROCESSES, start

WAKE_BOUND_SECONDS = 1.0
"""Generous: a question is noticed about the quiet (0.2 s) plus one poll after it is printed."""

NOT_WOKEN_MS = round((QUIET_SECONDS + 6 * POLL_SECONDS) * 1000)
"""The cap of a wait that must not wake: the quiet and six looks after it."""

SAFETY_MS = "60000"
"""Safety net for waits that end on an event."""


@pytest.fixture
def client(live_agent: LiveAgent) -> Iterator[httpx.Client]:
    """A client of the shared live agent in a fresh chat; what a test leaves running is
    killed after it."""
    with live_agent.client(headers={"Coder-Chat-Id": str(uuid.uuid4())}) as c:
        yield c
        for process in c.get(f"{PROCESSES}/list").json()["processes"]:
            if process["running"]:
                c.post(f"{PROCESSES}/{process['id']}/signal", json={"signal": "kill"})


def read(client: httpx.Client, process_id: str, **params: str) -> dict[str, Any]:
    """The output endpoint's 200 body for ``params``."""
    response = client.get(f"{PROCESSES}/{process_id}/output", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def listed(client: httpx.Client, process_id: str) -> dict[str, Any]:
    """The process as the list shows it."""
    processes = client.get(f"{PROCESSES}/list").json()["processes"]
    found: dict[str, Any] = next(p for p in processes if p["id"] == process_id)
    return found


def until_output(client: httpx.Client, process_id: str, text: str) -> float:
    """Wait (long polls, no sleeping) until the output is ``text``; when it was seen."""
    while True:
        body = read(client, process_id, since="0", wait="true", timeout_ms=SAFETY_MS)
        if body["output"] == text:
            return time.monotonic()
        assert body["running"], body
        assert text.startswith(body["output"]), body


def wake(client: httpx.Client, process_id: str, **params: str) -> dict[str, Any]:
    """``wait=true&wake_on_input=true``: the answer when the command asks or exits."""
    return read(
        client, process_id, wait="true", wake_on_input="true", timeout_ms=SAFETY_MS, **params
    )


# -- a command asking a question -----------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "question"),
    [
        ("printf 'Name? '; read x; echo \"hello $x\"", "Name? "),
        ('python3 -c \'print("hello", input("Name? "))\'', "Name? "),
    ],
    ids=["sh-read", "python-input"],
)
def test_a_question_wakes_the_wait_and_the_answer_finishes_the_command(
    client: httpx.Client, command: str, question: str
) -> None:
    """wake_on_input returns within a second of the question, with ``waiting_for_input``;
    the list says so too; the answer is read and the command exits as usual."""
    process_id = start(client, command, stdin=True)
    asked = until_output(client, process_id, question)
    answer = wake(client, process_id)
    woke_after = time.monotonic() - asked
    assert answer == {"output": question, "running": True, "waiting_for_input": True}
    assert woke_after < WAKE_BOUND_SECONDS
    assert listed(client, process_id)["waiting_for_input"] is True
    client.post(f"{PROCESSES}/{process_id}/input", json={"data": "Ada\n"}).raise_for_status()
    final = read(client, process_id, wait="true", timeout_ms=SAFETY_MS)
    assert final == {
        "output": f"{question}hello Ada\n",
        "running": False,
        "exit_code": 0,
        "exit_reason": "exit",
    }
    assert "waiting_for_input" not in listed(client, process_id)


def test_each_question_of_a_dialogue_wakes_its_own_wait(client: httpx.Client) -> None:
    """After an answer the command is not waiting until it asks again: the answer sent is
    not mistaken for the first question still waiting."""
    command = "printf 'First? '; read a; printf 'Second? '; read b; echo \"$a $b\""
    process_id = start(client, command, stdin=True)
    assert wake(client, process_id)["output"] == "First? "
    client.post(f"{PROCESSES}/{process_id}/input", json={"data": "one\n"}).raise_for_status()
    second = wake(client, process_id)
    assert second == {"output": "First? Second? ", "running": True, "waiting_for_input": True}
    client.post(
        f"{PROCESSES}/{process_id}/input", json={"data": "two\n", "close": True}
    ).raise_for_status()
    final = read(client, process_id, wait="true", timeout_ms=SAFETY_MS)
    assert final["output"] == "First? Second? one two\n"


def test_a_cursor_wait_wakes_on_a_question_without_new_output(client: httpx.Client) -> None:
    """``since`` past the question: no output comes, yet the wait ends as the command asks."""
    process_id = start(client, "printf 'Ok? '; read x", stdin=True)
    until_output(client, process_id, "Ok? ")
    answer = wake(client, process_id, since="4")
    assert answer["output"] == ""
    assert answer["waiting_for_input"] is True
    assert answer["next_offset"] == 4


def test_wake_on_input_still_returns_at_the_exit(client: httpx.Client) -> None:
    """A command that never asks ends the wait by exiting, as a plain wait does."""
    process_id = start(client, "echo done", stdin=True)
    answer = wake(client, process_id)
    assert answer == {"output": "done\n", "running": False, "exit_code": 0, "exit_reason": "exit"}


@pytest.mark.parametrize(
    ("command", "question"),
    [
        ('python3 -c \'print("hello", input("Name? "))\'', "Name? "),
        # getpass reads /dev/tty with echo off, as sudo and ssh ask for a password.
        (
            'python3 -c \'import getpass; print("hello", getpass.getpass("Password: "))\'',
            "Password: ",
        ),
    ],
    ids=["input", "password"],
)
def test_a_question_on_a_terminal_wakes_the_wait(
    client: httpx.Client, command: str, question: str
) -> None:
    """On a terminal too: the program blocked reading its terminal (or /dev/tty) asks."""
    process_id = start(client, command, tty=True)
    answer = wake(client, process_id)
    assert (answer["output"], answer["waiting_for_input"]) == (question, True), answer
    assert listed(client, process_id)["waiting_for_input"] is True
    client.post(f"{PROCESSES}/{process_id}/input", json={"data": "Ada\r"}).raise_for_status()
    final = read(client, process_id, wait="true", timeout_ms=SAFETY_MS)
    assert (final["exit_code"], final["output"].endswith("hello Ada\r\n")) == (0, True), final


def test_sleep_on_a_terminal_is_not_waiting_for_input(client: httpx.Client) -> None:
    """A terminal is always open for input; only a read of it counts."""
    assert_not_waiting_on_terminal(client, start(client, "echo ready; sleep 10", tty=True))


def assert_not_waiting_on_terminal(client: httpx.Client, process_id: str) -> None:
    """As ``assert_not_waiting``, for a terminal's ``\r\n``."""
    until_output(client, process_id, "ready\r\n")
    answer = read(
        client, process_id, wait="true", wake_on_input="true", timeout_ms=str(NOT_WOKEN_MS)
    )
    assert answer == {"output": "ready\r\n", "running": True}


# -- commands that read something else ------------------------------------------------------


def assert_not_waiting(client: httpx.Client, process_id: str) -> None:
    """Once the command said ``ready``, a wake_on_input wait runs to its cap, and neither the
    answer nor the list says waiting."""
    until_output(client, process_id, "ready\n")
    answer = read(
        client, process_id, wait="true", wake_on_input="true", timeout_ms=str(NOT_WOKEN_MS)
    )
    assert answer == {"output": "ready\n", "running": True}
    assert "waiting_for_input" not in listed(client, process_id)


def test_sleep_is_not_waiting_for_input(client: httpx.Client) -> None:
    """``sleep`` with a stdin pipe reads nothing."""
    assert_not_waiting(client, start(client, "echo ready; sleep 10", stdin=True))


def test_a_pipeline_reading_its_own_pipe_is_not_waiting(client: httpx.Client) -> None:
    """``sleep | grep``: grep is blocked reading the pipe from sleep, not the command's stdin."""
    assert_not_waiting(client, start(client, "echo ready; sleep 30 | grep x", stdin=True))


def test_a_program_reading_a_fifo_is_not_waiting(client: httpx.Client, tmp_path: Path) -> None:
    """A read of a named pipe is the program's own business."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    command = 'exec 3<>"$FIFO"; echo ready; read x <&3'
    assert_not_waiting(client, start(client, command, stdin=True, env={"FIFO": str(fifo)}))


def test_a_program_reading_a_socket_is_not_waiting(client: httpx.Client) -> None:
    """A read of a socket is the program's own business."""
    command = (
        "python3 -c 'import os, socket; a, b = socket.socketpair(); "
        'print("ready", flush=True); os.read(a.fileno(), 1)\''
    )
    assert_not_waiting(client, start(client, command, stdin=True))


def test_a_command_with_stdin_from_dev_null_never_waits(
    client: httpx.Client, tmp_path: Path
) -> None:
    """Without ``stdin`` a command has no input to wait for, whatever it reads."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    command = 'read x; exec 3<>"$FIFO"; echo ready; read x <&3'
    assert_not_waiting(client, start(client, command, env={"FIFO": str(fifo)}))


def test_wake_on_input_must_be_a_boolean(client: httpx.Client) -> None:
    """Anything but a boolean is a 400 in the error shape."""
    process_id = start(client, "true")
    response = client.get(
        f"{PROCESSES}/{process_id}/output", params={"wait": "true", "wake_on_input": "maybe"}
    )
    assert response.status_code == 400
    assert response.json()["validations"][0]["field"] == "wake_on_input"
