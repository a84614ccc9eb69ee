"""The README's examples run as they are written: every Python and shell block.

The curl sessions run against a live agent and must answer as shown; the Python blocks run
against a live agent too, with the few names a fragment leaves to its reader (``agent``,
``process_id``, ``chat_id``, ...) defined for it; ``make`` lines run as dry runs, since one
is this very suite; ``agentproc serve`` blocks serve until ``/healthz`` answers. The install
example runs in ``tests/packaging/test_install.py``, from a built wheel. A block of any
other kind fails ``test_every_shell_and_python_block_is_run``: a new example must come with
the way to run it.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from agentproc.settings import Settings
from agentsdk import AgentConn, AsyncAgentConn
from chattool.gitauth import (
    ExternalAuthProvider,
    InMemoryChatStore,
    InMemoryTokenLookup,
    WorkspaceIdentity,
    create_external_auth_router,
)
from tests.conftest import LiveAgent, run_live_agent, serve_in_thread

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


# -- every block ------------------------------------------------------------------------------

ROOT = README.parent
README_URL = "http://127.0.0.1:7420"
README_TOKEN = "s3cret"

INSTALL_MARKER = "<!-- install example"
"""Above the install example, which tests/packaging/test_install.py runs from a built wheel."""

MAKE_MARKER = "<!-- make example"
INTEGRATION_MARKERS = ("<!-- openai loop", "<!-- anthropic loop", "<!-- frameworks")
"""Blocks that need an LLM provider: tests/integrations/test_docs.py runs each against the
fake provider."""
"""Above the make lines, run as dry runs: ``make test`` is this suite, and ``make run`` would
reinstall the environment the suite runs in."""

SERVE_COMMAND = "agentproc serve"

SERVE_TIMEOUT_SECONDS = 30.0
"""Safety net only: the agent answers /healthz within a second or two."""


@dataclass(frozen=True)
class Block:
    """One fenced block of the README."""

    language: str
    text: str
    line: int
    marker: str
    """The HTML comment right above the block, or ``""``."""

    @property
    def name(self) -> str:
        """How a test id shows it: its line and its first line of code."""
        first = next((line for line in self.text.splitlines() if line.strip()), "")
        return f"L{self.line}: {first[:48]}"


def readme_blocks(*languages: str) -> list[Block]:
    """The README's fenced blocks in ``languages``, in order."""
    text = README.read_text()
    found = []
    for match in re.finditer(r"^```(\w*)\n(.*?)^```$", text, re.DOTALL | re.MULTILINE):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = before if before.startswith("<!--") else ""
        if match.group(1) in languages:
            line = text.count("\n", 0, match.start()) + 1
            found.append(Block(match.group(1), match.group(2), line, marker))
    return found


def _kind(block: Block) -> str | None:
    """How a block is run, or ``None`` when nothing runs it."""
    if block.language == "python":
        if block.marker.startswith(INTEGRATION_MARKERS):
            return "integration"
        return "in-process" if block.marker.startswith(IN_PROCESS_MARKER) else "python"
    if block.text.startswith("$ curl"):
        return "curl"
    if block.marker.startswith(MAKE_MARKER):
        return "make"
    if block.marker.startswith(INSTALL_MARKER):
        return "install"
    if any(line.startswith(SERVE_COMMAND) for line in _commands(block.text)):
        return "serve"
    return None


def _commands(text: str) -> list[str]:
    """A shell block's commands, continuation lines joined, comments left out."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def test_every_shell_and_python_block_is_run() -> None:
    """Each ``sh`` and ``python`` block of the README is run by one of the tests here, or by
    tests/integrations/test_docs.py (the LLM loops) or tests/packaging/test_install.py (the
    install example)."""
    unrun = [block.name for block in readme_blocks("sh", "python") if _kind(block) is None]
    assert unrun == []
    installer = (ROOT / "tests" / "packaging" / "test_install.py").read_text()
    assert INSTALL_MARKER in installer
    integrations = (ROOT / "tests" / "integrations" / "test_docs.py").read_text()
    assert all(marker in integrations for marker in INTEGRATION_MARKERS)


def test_make_lines_name_real_targets() -> None:
    """``make run`` and ``make test`` exist: a dry run of each prints its commands."""
    (block,) = [b for b in readme_blocks("sh") if _kind(b) == "make"]
    for command in _commands(block.text):
        target = shlex.split(command.partition("#")[0])
        assert target[0] == "make", command
        dry = subprocess.run(
            ["make", "-n", *target[1:]],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=SERVE_TIMEOUT_SECONDS,
            check=False,
        )
        assert dry.returncode == 0, dry.stderr
        assert "agentproc" in dry.stdout or "pytest" in dry.stdout, dry.stdout


# -- serve blocks -----------------------------------------------------------------------------


def _serve_env(home: Path) -> dict[str, str]:
    # A private home, runtime and state directory; any free port; this environment's agent.
    runtime = home / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return {
        **os.environ,
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_STATE_HOME": str(home / "state"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "AGENTPROC_PORT": "0",  # where the block names no port
        "AGENT_TOKEN": "control-plane-token",
    }


@pytest.mark.e2e
@pytest.mark.parametrize(
    "block", [b for b in readme_blocks("sh") if _kind(b) == "serve"], ids=lambda b: b.name
)
def test_serve_block_serves(block: Block, tmp_path: Path) -> None:
    """The commands before ``agentproc serve`` run, then the agent it starts answers
    /healthz and stops cleanly on SIGTERM. It listens on 127.0.0.1 where the README says
    0.0.0.0, and on a free port (``AGENTPROC_PORT=0``) where it names none."""
    env = _serve_env(tmp_path)
    *setup, serve = _commands(block.text)
    assert serve.startswith(SERVE_COMMAND), block.text
    for command in setup:
        subprocess.run(["bash", "-euc", command], env=env, check=True, cwd=tmp_path)
    argv = _expand(shlex.split(serve.replace("0.0.0.0", "127.0.0.1")), env)
    if "--uds" in argv:
        del env["AGENTPROC_PORT"]  # a Unix socket has no port
    agent = subprocess.Popen(
        argv,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert agent.stderr is not None
        said = []
        for line in agent.stderr:
            said.append(line)
            if "process API" in line:
                break
        else:
            pytest.fail(f"{serve} did not start:\n{''.join(said)}")
        uds = _flag(argv, "--uds")
        if uds is None:
            port = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            assert port is not None, line
            client = httpx.Client(base_url=f"http://127.0.0.1:{port.group(1)}")
        else:
            client = httpx.Client(
                base_url="http://localhost", transport=httpx.HTTPTransport(uds=uds)
            )
        with client:
            assert client.get("/healthz").json() == {"status": "ok"}
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.communicate(timeout=SERVE_TIMEOUT_SECONDS)
    assert agent.returncode == 0


def _expand(argv: list[str], env: dict[str, str]) -> list[str]:
    """Variables and ``~`` of the block's command, as bash would expand them in ``env``."""
    expanded = []
    for arg in argv:
        arg = re.sub(r"^~(?=/)", env["HOME"], arg)
        expanded.append(re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), arg))
    return expanded


def _flag(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


# -- Python blocks ----------------------------------------------------------------------------

PYTHON_TIMEOUT_SECONDS = 60.0
"""Safety net only: the slowest block waits for commands of a few seconds."""

CONTROL_PLANE_TOKEN = "agent-token-at-the-control-plane"


@pytest.fixture(scope="module")
def readme_agent() -> Iterator[LiveAgent]:
    """An agent with the README's token, for its Python blocks."""
    with run_live_agent(Settings(token=README_TOKEN)) as agent:
        yield agent


@pytest.fixture(scope="module")
def control_plane() -> Iterator[str]:
    """A control plane that knows the agent token and has a GitHub token for its owner."""
    lookup = InMemoryTokenLookup(
        agents={CONTROL_PLANE_TOKEN: WorkspaceIdentity("workspace-1", owner_id="owner-1")},
        providers=[ExternalAuthProvider(id="github", url_pattern=r"^https://github\.com")],
        tokens={("owner-1", "github"): "gho_readme"},
    )
    app = FastAPI()
    app.include_router(create_external_auth_router(lookup, InMemoryChatStore()))
    with serve_in_thread(app) as served:
        yield served.base_url


def _names(agent: LiveAgent, control_plane_url: str, asynchronous: bool) -> dict[str, Any]:
    """What a fragment of the README leaves to its reader, as a reader would define it."""
    with httpx.Client(base_url=agent.base_url, headers=agent.headers) as client:
        started = client.post("/api/v0/processes/start", json={"command": "echo ready"})
        process_id = started.json()["id"]
        client.get(f"/api/v0/processes/{process_id}/output", params={"wait": "true"})
    connection = AsyncAgentConn if asynchronous else AgentConn
    return {
        "__name__": "__readme__",
        "agent": connection(agent.base_url, token=README_TOKEN),
        "agent_url": agent.base_url,
        "token": README_TOKEN,
        "process_id": process_id,
        "chat_id": str(uuid.uuid4()),
        "log": logging.getLogger("readme"),
        "call": SimpleNamespace(name="process_list", arguments="{}", id="toolu_readme"),
        "control_plane_url": control_plane_url,
        "agent_token": CONTROL_PLANE_TOKEN,
        "db": None,
        "MyTokenLookup": lambda db: InMemoryTokenLookup(),
        "MyChatStore": lambda db: InMemoryChatStore(),
    }


def _connections(*namespaces: dict[str, Any]) -> list[Any]:
    # The connections a block was given or made and left open.
    found: dict[int, Any] = {}
    for names in namespaces:
        for value in names.values():
            if isinstance(value, AgentConn | AsyncAgentConn):
                found[id(value)] = value
    return list(found.values())


@pytest.mark.e2e
@pytest.mark.parametrize(
    "block", [b for b in readme_blocks("python") if _kind(b) == "python"], ids=lambda b: b.name
)
def test_python_block_runs(
    block: Block,
    readme_agent: LiveAgent,
    control_plane: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The block runs to its end against a live agent (its address put in place of the
    README's). A block that awaits at top level runs as the body of an async function, with
    an ``AsyncAgentConn`` as its ``agent``; any other block as a script, with an
    ``AgentConn``."""
    source = block.text.replace(README_URL, readme_agent.base_url)
    code = compile(source, f"README.md:{block.line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    awaits = bool(code.co_flags & inspect.CO_COROUTINE)
    given = _names(readme_agent, control_plane, asynchronous=awaits)
    names = dict(given)
    if awaits:

        async def run() -> None:
            try:
                with anyio.fail_after(PYTHON_TIMEOUT_SECONDS):
                    await eval(code, names)  # noqa: S307 - the README's own example
            finally:
                for connection in _connections(given, names):
                    await connection.aclose()

        asyncio.run(run())
    else:
        try:
            exec(code, names)  # noqa: S102 - the README's own example
        finally:
            for connection in _connections(given, names):
                connection.close()
    if "print(" in source:
        assert capsys.readouterr().out, block.name
