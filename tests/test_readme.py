"""The README's examples run as they are written: the Python ones and the curl sessions."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from agentproc.settings import Settings
from tests.conftest import run_live_agent

README = Path(__file__).resolve().parent.parent / "README.md"

IN_PROCESS_MARKER = "<!-- in-process example"
"""The comment right above the README's in-process example."""


def python_block_after(marker: str) -> str:
    """The text of the first fenced ``python`` block after ``marker`` in the README."""
    text = README.read_text()
    _, found, after = text.partition(marker)
    assert found, f"{marker!r} is not in README.md"
    block = re.search(r"^```python\n(.*?)^```$", after, re.DOTALL | re.MULTILINE)
    assert block is not None, f"no python block after {marker!r} in README.md"
    return block.group(1)


def test_in_process_example_runs_a_command_without_a_network(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The in-process recipe starts `echo hi` through agentproc.testing and prints its output."""
    code = compile(python_block_after(IN_PROCESS_MARKER), str(README), "exec")
    exec(code, {"__name__": "__readme__"})  # noqa: S102 - the README's own example
    assert capsys.readouterr().out == "hi\n"


# -- the curl sessions ------------------------------------------------------------------------

README_ADDRESS = "localhost:7420"
"""Where the README's sessions talk to: the address ``make run`` serves on."""

CURL_TIMEOUT_SECONDS = 30.0
"""Safety net only: every call of the sessions answers within moments."""


def curl_sessions() -> list[list[tuple[str, str]]]:
    """The README's curl sessions as (command, output) steps: each ``sh`` block of ``$ curl``
    commands that starts a process, with the blocks after it that go on with that process."""
    sessions = []
    for block in re.findall(r"^```sh\n(.*?)^```$", README.read_text(), re.DOTALL | re.MULTILINE):
        if not block.startswith("$ curl"):
            continue
        steps: list[tuple[str, str]] = []
        for chunk in re.split(r"\n(?=\$ )", block.strip()):
            lines = chunk.removeprefix("$ ").split("\n")
            command = lines.pop(0)
            while command.endswith("\\"):
                command = command[:-1] + lines.pop(0)
            steps.append((command, "\n".join(lines).strip()))
        if sessions and "/start" not in steps[0][0]:
            sessions[-1].extend(steps)  # goes on with the processes the block before started
        else:
            sessions.append(steps)
    return sessions


def events(text: str) -> list[tuple[str, str]]:
    """The ``(event, data)`` pairs of a server-sent-events text, comments left out."""
    found = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            found.append((fields["event"], fields.get("data", "")))
    return found


def same_stream(shown: str, got: str) -> bool:
    """Whether a stream carried the output shown, however it was cut into events, and the
    same exit."""

    def output_and_exit(text: str) -> tuple[str, list[str]]:
        pairs = events(text)
        output = "".join(json.loads(data)["output"] for name, data in pairs if name == "output")
        return output, [data for name, data in pairs if name == "exit"]

    return output_and_exit(shown) == output_and_exit(got)


def same_shape(shown: object, got: object) -> bool:
    """Whether ``got`` answers as ``shown`` does: the same fields, the same values once final.

    A running process's output depends on when it is read, so only its fields count; an
    exited one's answer, and every other answer, must be exactly the one shown.
    """
    if isinstance(shown, dict) and shown.get("running") is True:
        return isinstance(got, dict) and set(got) == set(shown)
    return shown == got


@pytest.mark.e2e
@pytest.mark.parametrize("session", curl_sessions(), ids=lambda steps: steps[0][0][:40])
def test_curl_session_answers_as_shown(session: list[tuple[str, str]]) -> None:
    """Each curl session of the README, run against a live agent, answers as it shows.

    The ids the agent makes up are put in place of the README's, call by call.
    """
    with run_live_agent(Settings()) as agent:
        address = agent.base_url.removeprefix("http://").replace("127.0.0.1", "localhost")
        ids: dict[str, str] = {}
        prelude = ""  # the session's variable assignments, for the commands after them
        for command, shown in session:
            for example, real in ids.items():
                command = command.replace(example, real)
            command = command.replace(README_ADDRESS, address)
            if not shown and not command.startswith("curl"):
                prelude += command + "\n"
                continue
            done = subprocess.run(
                ["bash", "-c", prelude + command],
                capture_output=True,
                text=True,
                timeout=CURL_TIMEOUT_SECONDS,
                check=True,
            )
            if shown.startswith("event:"):
                assert same_stream(shown, done.stdout), (command, done.stdout)
                continue
            answer = json.loads(done.stdout)
            expected = json.loads(shown)
            if isinstance(expected, dict) and "id" in expected and isinstance(answer, dict):
                ids[expected["id"]] = answer["id"]
            for example, real in ids.items():
                expected = json.loads(json.dumps(expected).replace(example, real))
            assert same_shape(expected, answer), (command, answer)
