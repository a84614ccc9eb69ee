"""The README's chattool snippets and ``examples/chat_agent.py`` run as written, against the
fake provider and a live agent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentproc.cli import build_parser
from tests.conftest import LiveAgent
from tests.fakeprovider import Call, FakeProvider, Step
from tests.test_readme import README, python_block_after

pytestmark = pytest.mark.e2e

README_AGENT = "http://127.0.0.1:7420"
"""Where the README's snippets reach the agent: the address ``make run`` serves on."""

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chat_agent.py"

ANSWER = "Python 3 is installed."

SHORT: list[Step] = [
    lambda answers: [Call("execute", {"command": "python3 --version"})],
    lambda answers: ANSWER if answers[0].json()["output"].startswith("Python 3") else "wrong",
]
"""A model that asks for the Python version, and answers once it has seen it."""


@pytest.fixture
def provider_env(
    fake: FakeProvider, live_agent: LiveAgent, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The environment a user would set, pointed at the fake provider and the live agent."""
    env = {
        "OPENAI_BASE_URL": f"{fake.base_url}/v1",
        "OPENAI_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": fake.base_url,
        "ANTHROPIC_API_KEY": "sk-test",
        "AGENTPROC_URL": live_agent.base_url,
        "AGENTPROC_TOKEN": live_agent.token or "",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def run_snippet(marker: str, live_agent: LiveAgent) -> None:
    """Run the README's python block after ``marker``, on the live agent."""
    code = python_block_after(marker).replace(README_AGENT, live_agent.base_url)
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})  # noqa: S102


@pytest.mark.parametrize("marker", ["<!-- openai loop", "<!-- anthropic loop"])
def test_readme_loop_runs_a_command_for_the_model(
    fake: FakeProvider,
    live_agent: LiveAgent,
    provider_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    marker: str,
) -> None:
    """The README's complete loops, on the openai and the anthropic SDK, run the model's
    command on the agent and print the model's answer."""
    conversation = fake.play(SHORT)
    run_snippet(marker, live_agent)
    assert capsys.readouterr().out == f"{ANSWER}\n"
    assert conversation.answers[0].json()["exit_code"] == 0


def test_readme_framework_snippet_builds_each_frameworks_tools(live_agent: LiveAgent) -> None:
    """The README's adapters snippet runs: one line per framework."""
    run_snippet("<!-- frameworks", live_agent)


def test_readme_mcp_config_is_a_valid_command_line() -> None:
    """The host configuration in the README names a command line agentproc accepts."""
    text = README.read_text()
    block = text[text.index("<!-- mcp config -->") :].split("```json\n", 1)[1].split("```")[0]
    server = json.loads(block)["mcpServers"]["workspace"]
    assert server["command"] == "agentproc"
    args = build_parser().parse_args(server["args"])
    assert (args.command, args.agent_url) == ("mcp", README_AGENT)


def test_example_chat_agent_answers_with_the_models_text(
    fake: FakeProvider, provider_env: dict[str, str]
) -> None:
    """examples/chat_agent.py, run as a user would, shows each call and prints the answer."""
    conversation = fake.play(SHORT)
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "Which Python version is installed here?"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **provider_env},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{ANSWER}\n"
    assert "> execute " in done.stderr
    assert conversation.answers[0].json()["exit_code"] == 0
