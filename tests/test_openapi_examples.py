"""openapi.json as generators and Swagger UI users read it: no null defaults, typed query
parameters, an example of every request and answer, and examples that are what the agent says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jsonschema_rs
import pytest

from agentproc.api_examples import EXAMPLE_ID, SMALL_INPUT_QUEUE
from agentproc.cli import openapi_document
from agentproc.settings import Settings
from tests.conftest import LiveAgent, run_live_agent

DOCUMENT: dict[str, Any] = json.loads(openapi_document())

API = "/api/v0/processes"
TOKEN = "examples-token"

WAIT = {"wait": "true", "timeout_ms": "60000"}
"""Safety net for waits on processes that end at once."""


def _operations() -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in DOCUMENT["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def _media(operation: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every (where, media type, media object) of an operation: its body and its answers."""
    for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
        yield "request", media_type, media
    for status, response in operation["responses"].items():
        for media_type, media in response.get("content", {}).items():
            yield status, media_type, media


def _validator(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.validator_for({**schema, "components": DOCUMENT["components"]})


def test_no_schema_gives_an_optional_field_a_null_default() -> None:
    """A default makes openapi-typescript's field required; null defaults are gone."""
    assert '"default": null' not in json.dumps(DOCUMENT)


def test_answers_never_offer_null_requests_accept_it() -> None:
    """The agent leaves unset answer fields out, so an answer schema has no null; a request's
    optional field may be null, which the agent reads as not given (as Coder's agent does)."""
    schemas = DOCUMENT["components"]["schemas"]
    requests = {"StartProcessRequest", "SignalProcessRequest", "ProcessInputRequest"}
    for name, schema in schemas.items():
        text = json.dumps(schema)
        if name in requests:
            continue
        assert '"null"' not in text, name
    assert {"type": "null"} in schemas["StartProcessRequest"]["properties"]["workdir"]["anyOf"]


def test_query_parameters_have_the_types_clients_send() -> None:
    """wait is a boolean, timeout_ms and limit integers, since an offset or "last"."""
    output = DOCUMENT["paths"][f"{API}/{{id}}/output"]["get"]
    types = {p["name"]: p["schema"] for p in output["parameters"] if p["in"] == "query"}
    assert types["wait"]["type"] == "boolean"
    assert (types["timeout_ms"]["type"], types["timeout_ms"]["minimum"]) == ("integer", 0)
    assert (types["limit"]["type"], types["limit"]["minimum"]) == ("integer", 1)
    assert types["since"]["anyOf"] == [
        {"type": "integer", "minimum": 0},
        {"type": "string", "enum": ["last"]},
    ]


def test_every_request_and_answer_has_an_example() -> None:
    """Each body and each status of each operation shows at least one example."""
    missing = [
        f"{operation_name} {where} {media_type}"
        for operation_name, operation in _operations()
        for where, media_type, media in _media(operation)
        if not media.get("examples") and "example" not in media
    ]
    assert missing == []


def test_every_example_matches_its_schema() -> None:
    """The examples are valid instances of what the document says each body is."""
    wrong = []
    for operation_name, operation in _operations():
        for where, media_type, media in _media(operation):
            if media_type != "application/json":
                continue
            validator = _validator(media["schema"])
            for name, example in media["examples"].items():
                errors = [e.message for e in validator.iter_errors(example["value"])]
                if errors:
                    wrong.append((operation_name, where, name, errors))
    assert wrong == []


def test_each_error_status_of_an_operation_is_described_on_its_own() -> None:
    """No status shares a placeholder: each operation's 409 (and 400, 413, 429) says what it
    means for that operation, and every error answer is the ErrorResponse shape."""
    described: dict[str, set[str]] = {}
    for operation_name, operation in _operations():
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                continue
            assert response["description"], (operation_name, status)
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
            described.setdefault(status, set()).add(response["description"])
    # key reused, not running, no open stdin, no terminal or exited, no terminal
    assert len(described["409"]) == 5
    assert len(described["400"]) >= 5


def test_answers_with_retry_after_or_www_authenticate_document_the_header() -> None:
    """429 answers carry Retry-After and 401 answers WWW-Authenticate; the document says so."""
    for operation_name, operation in _operations():
        responses = operation["responses"]
        if "429" in responses:
            assert "Retry-After" in responses["429"]["headers"], operation_name
        if "401" in responses:
            assert "WWW-Authenticate" in responses["401"]["headers"], operation_name


# -- the error examples are what the agent answers ---------------------------------------------


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAgent]:
    """An agent with a token and an input queue smaller than a request body."""
    settings = Settings(
        token=TOKEN,
        workdir=tmp_path_factory.mktemp("examples-workdir"),
        max_input_bytes=SMALL_INPUT_QUEUE,
    )
    with run_live_agent(settings) as served:
        yield served


Provoke = Callable[[httpx.Client], tuple[httpx.Response, str]]
"""Sends the request that should answer with an example; returns the answer and the process
id that stands for the example's id."""


def _start(client: httpx.Client, **body: Any) -> str:
    started = client.post(f"{API}/start", json=body)
    assert started.status_code == 200, started.text
    process_id: str = started.json()["id"]
    return process_id


def _exited(client: httpx.Client, **fields: Any) -> str:
    process_id = _start(client, command="true", **fields)
    assert client.get(f"{API}/{process_id}/output", params=WAIT).json()["running"] is False
    return process_id


def _key_reused(client: httpx.Client) -> tuple[httpx.Response, str]:
    key = "toolu_01A09q90qw90lq917835lq9"
    return _on(
        _start(client, command="true", idempotency_key=key),
        lambda _: client.post(f"{API}/start", json={"command": "false", "idempotency_key": key}),
    )


def _sent(response: httpx.Response) -> tuple[httpx.Response, str]:
    return response, EXAMPLE_ID


def _on(process_id: str, send: Callable[[str], httpx.Response]) -> tuple[httpx.Response, str]:
    return send(process_id), process_id


def _without_token(client: httpx.Client, url: str) -> httpx.Response:
    request = client.build_request("GET", url)
    del request.headers["Authorization"]
    return client.send(request)


PROVOKED: dict[tuple[str, str, str], Provoke] = {
    ("start_process", "400", "command_required"): lambda c: _sent(
        c.post(f"{API}/start", json={"command": ""})
    ),
    ("start_process", "400", "invalid_json"): lambda c: _sent(
        c.post(f"{API}/start", content=b"{", headers={"Content-Type": "application/json"})
    ),
    ("start_process", "400", "wrong_type"): lambda c: _sent(
        c.post(f"{API}/start", json={"command": 5})
    ),
    ("start_process", "400", "missing_workdir"): lambda c: _sent(
        c.post(f"{API}/start", json={"command": "true", "workdir": "/home/coder/missing"})
    ),
    ("start_process", "400", "chat_id"): lambda c: _sent(
        c.post(f"{API}/start", json={"command": "true"}, headers={"Coder-Chat-Id": "chat-1"})
    ),
    ("start_process", "400", "host"): lambda c: _sent(
        c.post(f"{API}/start", json={"command": "true"}, headers={"Host": "evil.example"})
    ),
    ("start_process", "401", "missing"): lambda c: _sent(_without_token(c, f"{API}/list")),
    ("start_process", "401", "wrong"): lambda c: _sent(
        c.post(f"{API}/start", json={"command": "true"}, headers={"Authorization": "Bearer x"})
    ),
    ("start_process", "403", "origin"): lambda c: _sent(
        c.post(f"{API}/start", json={"command": "true"}, headers={"Origin": "https://evil.example"})
    ),
    ("start_process", "409", "key_reused"): _key_reused,
    ("start_process", "413", "body"): lambda c: _sent(
        c.post(f"{API}/start", json={"command": "x" * (1 << 20)})
    ),
    ("start_process", "415", "form"): lambda c: _sent(
        c.post(f"{API}/start", data={"command": "true"})
    ),
    ("start_process", "400", "deadline"): lambda c: _sent(
        c.post(f"{API}/start", json={"command": "true", "timeout_ms": 604_800_001})
    ),
    ("start_process", "400", "tty"): lambda c: _sent(
        c.post(f"{API}/start", json={"command": "true", "tty": {"rows": 0, "cols": 80}})
    ),
    ("run_process", "400", "timeout_ms"): lambda c: _sent(
        c.post(f"{API}/run", json={"command": "true"}, params={"timeout_ms": "-1"})
    ),
    ("run_process", "400", "command_required"): lambda c: _sent(
        c.post(f"{API}/run", json={"command": ""})
    ),
    ("run_process", "409", "key_reused"): lambda c: _on(
        _start(c, command="true", idempotency_key="toolu_01A09q90qw90lq917835lq9"),
        lambda _: c.post(
            f"{API}/run",
            json={"command": "false", "idempotency_key": "toolu_01A09q90qw90lq917835lq9"},
        ),
    ),
    ("resize_terminal", "400", "too_small"): lambda c: _sent(
        c.post(f"{API}/{EXAMPLE_ID}/resize", json={"rows": 0, "cols": 80})
    ),
    ("resize_terminal", "400", "wrong_type"): lambda c: _sent(
        c.post(f"{API}/{EXAMPLE_ID}/resize", json={"rows": "a", "cols": 80})
    ),
    ("resize_terminal", "404", "unknown"): lambda c: _sent(
        c.post(f"{API}/{EXAMPLE_ID}/resize", json={"rows": 40, "cols": 120})
    ),
    ("resize_terminal", "409", "no_terminal"): lambda c: _on(
        _exited(c), lambda id_: c.post(f"{API}/{id_}/resize", json={"rows": 40, "cols": 120})
    ),
    ("resize_terminal", "409", "exited"): lambda c: _on(
        _exited(c, tty=True),
        lambda id_: c.post(f"{API}/{id_}/resize", json={"rows": 40, "cols": 120}),
    ),
    ("process_screen", "400", "scrollback"): lambda c: _sent(
        c.get(f"{API}/{_exited(c)}/screen", params={"scrollback": "-1"})
    ),
    ("process_screen", "404", "unknown"): lambda c: _sent(c.get(f"{API}/{EXAMPLE_ID}/screen")),
    ("process_screen", "409", "no_terminal"): lambda c: _on(
        _exited(c), lambda id_: c.get(f"{API}/{id_}/screen")
    ),
    ("process_output", "400", "timeout_ms"): lambda c: _sent(
        c.get(f"{API}/{_exited(c)}/output", params={"wait": "true", "timeout_ms": "-1"})
    ),
    ("process_output", "400", "since"): lambda c: _sent(
        c.get(f"{API}/{_exited(c)}/output", params={"since": "first"})
    ),
    ("process_output", "400", "limit"): lambda c: _sent(
        c.get(f"{API}/{_exited(c)}/output", params={"since": "0", "limit": "0"})
    ),
    ("process_output", "404", "unknown"): lambda c: _sent(c.get(f"{API}/{EXAMPLE_ID}/output")),
    ("stream_output", "400", "since"): lambda c: _sent(
        c.get(f"{API}/{_exited(c)}/stream", params={"since": "-1"})
    ),
    ("stream_output", "400", "last_event_id"): lambda c: _sent(
        c.get(f"{API}/{_exited(c)}/stream", headers={"Last-Event-ID": "x"})
    ),
    ("stream_output", "404", "unknown"): lambda c: _sent(c.get(f"{API}/{EXAMPLE_ID}/stream")),
    ("signal_process", "400", "required"): lambda c: _sent(
        c.post(f"{API}/{EXAMPLE_ID}/signal", json={})
    ),
    ("signal_process", "400", "unsupported"): lambda c: _sent(
        c.post(f"{API}/{EXAMPLE_ID}/signal", json={"signal": "hup"})
    ),
    ("signal_process", "404", "unknown"): lambda c: _sent(
        c.post(f"{API}/{EXAMPLE_ID}/signal", json={"signal": "kill"})
    ),
    ("signal_process", "409", "exited"): lambda c: _on(
        _exited(c), lambda id_: c.post(f"{API}/{id_}/signal", json={"signal": "kill"})
    ),
    ("process_input", "400", "both"): lambda c: _sent(
        c.post(f"{API}/{EXAMPLE_ID}/input", json={"data": "a", "data_base64": "YQ=="})
    ),
    ("process_input", "400", "not_base64"): lambda c: _sent(
        c.post(f"{API}/{EXAMPLE_ID}/input", json={"data_base64": "!!"})
    ),
    ("process_input", "409", "no_stdin"): lambda c: _on(
        _exited(c), lambda id_: c.post(f"{API}/{id_}/input", json={"data": "a"})
    ),
    ("process_input", "413", "input"): lambda c: _on(
        _start(c, command="sleep 60", stdin=True),
        lambda id_: c.post(f"{API}/{id_}/input", json={"data": "a" * (SMALL_INPUT_QUEUE + 1)}),
    ),
}
"""How to make the agent answer with each error example that a request can provoke. The
others (a full process table or input queue, a refusal of the operating system, a shutdown)
are built from the same domain errors the agent raises."""


def _error_examples() -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for _, operation in _operations():
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                continue
            examples = response["content"]["application/json"]["examples"]
            for name, example in examples.items():
                yield operation["operationId"], status, name, example["value"]


def test_every_provoked_example_is_documented() -> None:
    """The table below names only examples that exist, so none of it is dead."""
    documented = {(op, status, name) for op, status, name, _ in _error_examples()}
    assert set(PROVOKED) <= documented, set(PROVOKED) - documented


@pytest.mark.e2e
@pytest.mark.parametrize("key", sorted(PROVOKED), ids="-".join)
def test_error_example_is_what_the_agent_answers(
    agent: LiveAgent, key: tuple[str, str, str]
) -> None:
    """Sent for real, the request behind an example gets exactly the example's status and
    body (the example's process id stands for the one the agent made)."""
    status = key[1]
    shown = next(value for *found, value in _error_examples() if tuple(found) == key)
    with agent.client() as client:
        response, process_id = PROVOKED[key](client)
    assert response.status_code == int(status), response.text
    assert response.json() == json.loads(json.dumps(shown).replace(EXAMPLE_ID, process_id))


def test_common_examples_are_merged_into_each_operation_400() -> None:
    """A start's 400 shows its own cases and the header cases every call has."""
    start = DOCUMENT["paths"][f"{API}/start"]["post"]["responses"]["400"]
    names = set(start["content"]["application/json"]["examples"])
    assert {"command_required", "missing_workdir", "chat_id", "host"} <= names
    assert re.search(r"Coder-Chat-Id", start["description"])
