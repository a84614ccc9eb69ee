"""Property-based fuzzing of the process API from the committed openapi.json.

schemathesis generates requests from the document, valid (positive) and invalid
(negative: wrong types, missing fields, values outside the schema), and sends them to a
real agent on 127.0.0.1; every answer must be no 5xx, a documented status, the documented
content type and match the documented schema, invalid data must be refused with a 4xx, and
a method the document does not list must be refused too. Beyond the document, hypothesis
writes raw bodies schemathesis cannot: lone surrogate escapes, integers of thousands of
digits, nesting 100,000 deep. Runs are bounded and derandomized, so a failure reproduces on
the next run.

How the fuzzer is kept harmless: a generated ``command`` is never run as a command. Every
non-empty string command is rewritten, before it is sent, into ``printf '%s' <the string,
shell-quoted>``, so the shell prints the generated text and exits (``printf`` is a builtin
of ``sh``, so not even a generated ``PATH`` can change what runs). The request still carries
every generated field around it (workdir, env, background, idempotency key, chat header),
and a NUL byte or an oversized string still reaches the agent's validation. Non-string and
empty commands are sent unchanged: the agent rejects them before anything runs. The raw
bodies follow the same rule: their command is such a printf, or not a string at all. The
agent's default working directory is a fresh temporary directory.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
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
    negative_data_rejection,
    unsupported_method,
]
"""What every answer must satisfy, for single calls and for workflows. (Auth has its own
tests; schemathesis's ``ignored_auth`` would double every run for nothing new.)"""

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
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "mode": "all",  # positive and negative
            # Unknown query parameters are ignored by design, as Coder's agent does.
            "allow-extra-parameters": False,
            # The token is sent by the test itself; a generated one would be overwritten.
            "with-security-parameters": False,
        },
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
            # A new body, not an edit of this one: an example of the document is one object
            # shared by every case drawn from it (/start and /run share theirs), and editing
            # it in place would wrap its command again on each draw, doubling it every time.
            case.body = {**body, "command": "printf '%s' " + shlex.quote(command)}


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_answers_as_documented(
    case: schemathesis.Case[Any], agent: LiveAgent
) -> None:
    """Generated calls of each operation get no 5xx and documented statuses, types, bodies."""
    make_harmless(case)
    case.call_and_validate(base_url=agent.base_url, headers=AUTH, checks=CHECKS)


def test_workflows_through_the_documented_links_answer_as_documented(agent: LiveAgent) -> None:
    """Starts followed by output reads and signals of the started ids answer as documented.

    The stream is left out of the workflows: schemathesis's stateful generation draws its
    two optional headers inconsistently between runs of one case (hypothesis then fails the
    test as a flaky strategy, not the agent). Every stream call is still fuzzed on its own
    above, and tests/agent/test_stream.py drives streams of started processes.
    """

    class Workflow(schema.exclude(operation_id="stream_output").as_state_machine()):  # type: ignore[misc]  # built at runtime
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
    assert output.json() == {
        "output": "/nonexistent\n",
        "running": False,
        "exit_code": 0,
        "exit_reason": "exit",
    }


# -- raw bodies: what schemathesis cannot write -----------------------------------------------

RAW_EXAMPLES = 100
"""Raw start and signal bodies per test; each is one request, so this stays under a second."""

FIELDS = frozenset({"command", "signal", "workdir", "env", "background", "idempotency_key"})
"""Generated member names never repeat one: a duplicate would replace the harmless command."""

NO_SUCH_PROCESS = "00000000-0000-4000-8000-000000000000"
"""Signals go here: a valid body answers 404, so nothing is ever signalled."""

ANY_CHARACTER = st.one_of(
    st.characters(exclude_categories=()), st.characters(categories=["Cs"]), st.just("\0")
)
"""Every code point, with lone surrogates and NUL made likely (hypothesis's own text has no
surrogates at all)."""

json_strings = st.text(ANY_CHARACTER, max_size=12).map(json.dumps)
"""Any text as a JSON string; ``json.dumps`` writes a lone surrogate as its escape."""

long_integers = st.tuples(
    st.sampled_from(["", "-"]), st.sampled_from([1, 19, 640, 641, 4300, 5001])
).map(lambda sign_digits: sign_digits[0] + "9" * sign_digits[1])

deep_nests = st.sampled_from([10, 900, 1000, 100_000]).flatmap(
    lambda depth: st.sampled_from(["[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth])
)

json_scalars = st.one_of(
    json_strings,
    long_integers,
    deep_nests,
    st.sampled_from(["true", "false", "null", "0", "-0", "1.5", "1e999", "-1e-999"]),
)

member_names = st.text(ANY_CHARACTER, max_size=8).filter(lambda name: name not in FIELDS)

json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(member_names.map(json.dumps), inner), max_size=3).map(
            lambda members: "{" + ",".join(f"{k}:{v}" for k, v in members) + "}"
        ),
    ),
    max_leaves=6,
)
"""JSON text of any shape, built as text so that the hostile parts survive serialization."""

env_objects = st.lists(st.tuples(json_strings, json_strings), max_size=3).map(
    lambda members: "{" + ",".join(f"{k}:{v}" for k, v in members) + "}"
)
"""An ``env`` of the right shape, so that hostile names and values reach the spawn."""

FIELD_VALUES = {
    "workdir": st.one_of(json_strings, json_values),
    "env": st.one_of(env_objects, json_values),
    "background": st.one_of(st.sampled_from(["true", "false"]), json_values),
    "idempotency_key": st.one_of(json_strings, json_values),
}
"""Start fields: mostly the right type with hostile content, else any value at all."""

harmless_commands = st.text(ANY_CHARACTER, max_size=12).map(
    lambda text: json.dumps("printf '%s' " + shlex.quote(text))
)
"""Commands that only print their generated text (see the module docstring)."""

non_string_values = json_values.filter(lambda value: not value.startswith('"'))


def _object(members: list[tuple[str, str]]) -> bytes:
    return ("{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in members) + "}").encode(
        "utf-8", "surrogatepass"
    )


@st.composite
def start_bodies(draw: st.DrawFn) -> bytes:
    """A start body: a harmless or non-string command, and hostile values around it."""
    members = [("command", draw(st.one_of(harmless_commands, non_string_values)))]
    optional = draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), unique=True))
    members += [(name, draw(FIELD_VALUES[name])) for name in optional]
    members += draw(st.lists(st.tuples(member_names, json_values), max_size=2))
    return _object(members)


@st.composite
def signal_bodies(draw: st.DrawFn) -> bytes:
    """A signal body: a real signal name or any value, and hostile values around it."""
    sig = draw(st.one_of(st.sampled_from(['"kill"', '"terminate"']), json_values))
    members = [("signal", sig), *draw(st.lists(st.tuples(member_names, json_values), max_size=2))]
    return _object(members)


RAW_SETTINGS = settings(FUZZ_SETTINGS, max_examples=RAW_EXAMPLES)


@pytest.fixture(scope="module")
def api(agent: LiveAgent) -> Iterator[httpx.Client]:
    """One authenticated client for the raw-body tests: its connection must survive them."""
    with agent.client() as client:
        yield client


def assert_a_4xx_or_success(response: httpx.Response) -> None:
    """No 5xx; a refusal is in the error shape."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert isinstance(response.json()["message"], str), response.text


@given(body=start_bodies())
@RAW_SETTINGS
def test_no_raw_start_body_is_a_server_error(api: httpx.Client, body: bytes) -> None:
    """Lone surrogates, long integers and deep nesting in any start field are never a 5xx."""
    assert_a_4xx_or_success(api.post("/api/v0/processes/start", content=body))


@given(body=signal_bodies())
@RAW_SETTINGS
def test_no_raw_signal_body_is_a_server_error(api: httpx.Client, body: bytes) -> None:
    """The same for signals, sent to an id that exists nowhere, so nothing is ever signalled."""
    response = api.post(f"/api/v0/processes/{NO_SUCH_PROCESS}/signal", content=body)
    assert_a_4xx_or_success(response)
