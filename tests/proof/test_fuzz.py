"""Property-based fuzzing of the process API from the committed openapi.json.

schemathesis generates requests from the document, valid and invalid, and sends them to a
real agent on 127.0.0.1; every answer must be no 5xx, a documented status, the documented
content type and match the documented schema. Runs are bounded and derandomized, so a
failure reproduces on the next run.

How the fuzzer is kept harmless: a generated ``command`` is never run as a command. Every
non-empty string command is rewritten, before it is sent, into ``printf '%s' <the string,
shell-quoted>``, so the shell prints the generated text and exits (``printf`` is a builtin
of ``sh``, so not even a generated ``PATH`` can change what runs). The request still carries
every generated field around it (workdir, env, background, idempotency key, chat header),
and a NUL byte or an oversized string still reaches the agent's validation. Non-string and
empty commands are sent unchanged: the agent rejects them before anything runs. The agent's
default working directory is a fresh temporary directory.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agentproc.settings import Settings
from tests.conftest import LiveAgent, run_live_agent

OPENAPI = Path(__file__).resolve().parents[2] / "openapi.json"
TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
"""What every answer must satisfy; the same four for single calls and for workflows."""

MAX_EXAMPLES = 50
"""Generated cases per operation (schemathesis adds the document's examples and edge
cases of each parameter on top): enough to cover every field, small enough for every run."""

WORKFLOW_EXAMPLES = 25
"""Workflows: a start, then output reads and signals of the returned id, and so on."""

WORKFLOW_STEPS = 10
"""Calls per workflow at most; longer ones only repeat reads of processes that have exited."""

CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {"enabled": False, **{check.__name__: {"enabled": True} for check in CHECKS}},
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
    }
)

FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,  # the same cases on every run, so failures reproduce
    database=None,  # no .hypothesis/ directory in the work tree
    deadline=None,  # a real server's latency varies with the machine's load
    suppress_health_check=list(HealthCheck),  # slow generation is expected over HTTP
)

schema = schemathesis.openapi.from_path(OPENAPI, config=CONFIG)


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAgent]:
    """An agent with a token whose default working directory is a fresh temporary one."""
    workdir = tmp_path_factory.mktemp("fuzz-workdir")
    with run_live_agent(Settings(token=TOKEN, workdir=workdir)) as served:
        yield served


def make_harmless(case: schemathesis.Case[Any]) -> None:
    """Turn a generated command into one that only prints it (see the module docstring)."""
    body = case.body
    if isinstance(body, dict):
        command = body.get("command")
        if isinstance(command, str) and command:
            body["command"] = "printf '%s' " + shlex.quote(command)


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_answers_as_documented(
    case: schemathesis.Case[Any], agent: LiveAgent
) -> None:
    """Generated calls of each operation get no 5xx and documented statuses, types, bodies."""
    make_harmless(case)
    case.call_and_validate(base_url=agent.base_url, headers=AUTH, checks=CHECKS)


def test_workflows_through_the_documented_links_answer_as_documented(agent: LiveAgent) -> None:
    """Starts followed by output reads and signals of the started ids answer as documented."""

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]  # built at runtime
        def before_call(self, case: schemathesis.Case[Any]) -> None:
            make_harmless(case)

        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            return {"base_url": agent.base_url, "headers": AUTH}

    run_state_machine_as_test(
        Workflow,
        settings=settings(
            FUZZ_SETTINGS, max_examples=WORKFLOW_EXAMPLES, stateful_step_count=WORKFLOW_STEPS
        ),
    )


def test_a_request_path_cannot_hide_the_shell(agent: LiveAgent) -> None:
    """A request's own PATH is for its command: the agent still finds sh on its own PATH."""
    with agent.client() as client:
        started = client.post(
            "/api/v0/processes/start",
            json={"command": "echo $PATH", "env": {"PATH": "/nonexistent"}},
        )
        assert started.status_code == 200, started.text
        output = client.get(
            f"/api/v0/processes/{started.json()['id']}/output",
            params={"wait": "true", "timeout_ms": "60000"},
        )
    assert output.json() == {"output": "/nonexistent\n", "running": False, "exit_code": 0}
