"""``POST /run``: a start and an output read with ``wait=true`` in one request.

It is a start in every way (body, rules, idempotency, chat scoping, limits), then the wait of
an output read, then both answers together. Checked against the app in process; what needs a
server (a client that goes away mid-wait) against a real one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentproc.settings import Settings
from tests.conftest import LiveAgent

from .conftest import InProcessAgent, MakeAgent

API = "/api/v0/processes"
SAFETY_WAIT_MS = "60000"
"""Safety net for a wait on a command that exits at once."""


@pytest.fixture
def client(agent: InProcessAgent) -> Iterator[httpx.Client]:
    """An authenticated client of the shared in-process agent, in a fresh chat."""
    with agent.client(headers={"Coder-Chat-Id": str(uuid.uuid4())}) as c:
        yield c


def run(client: httpx.Client, body: dict[str, Any], timeout_ms: str | None = None) -> Any:
    """POST /run; the decoded answer of a 200."""
    params = {} if timeout_ms is None else {"timeout_ms": timeout_ms}
    response = client.post(f"{API}/run", json=body, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_run_answers_the_start_and_the_complete_output_at_exit(client: httpx.Client) -> None:
    """One request: the new id, started, the output, the exit code, and where output ends."""
    answer = run(client, {"command": "printf 'hi\\n'; exit 3"})
    assert answer == {
        "id": answer["id"],
        "started": True,
        "output": "hi\n",
        "running": False,
        "exit_code": 3,
        "exit_reason": "exit",
        "total_bytes": 3,
        "next_offset": 3,
    }
    uuid.UUID(answer["id"])
    listed = client.get(f"{API}/list").json()["processes"]
    assert [p["id"] for p in listed] == [answer["id"]]


def test_run_output_is_the_head_and_tail_snapshot(client: httpx.Client) -> None:
    """Long output comes as the output endpoint renders it, with its truncation."""
    answer = run(client, {"command": "head -c 100000 /dev/zero | tr '\\0' a"})
    truncated = answer["truncated"]
    assert truncated["original_bytes"] == answer["total_bytes"] == 100_000
    assert truncated["omitted_bytes"] == 100_000 - 2 * 16384
    snapshot = client.get(f"{API}/{answer['id']}/output").json()
    assert snapshot["output"] == answer["output"]


def test_a_run_that_outlasts_timeout_ms_answers_running_and_the_process_goes_on(
    client: httpx.Client,
) -> None:
    """At ``timeout_ms`` the answer says running, with what was written so far; the command
    keeps running, and a cursor read from ``next_offset`` gets what it writes next."""
    command = "echo first; read line < /dev/stdin; echo second"
    answer = run(client, {"command": command, "stdin": True}, timeout_ms="50")
    assert answer["running"] is True
    assert "exit_code" not in answer
    process_id, offset = answer["id"], answer["next_offset"]
    assert answer["output"] == "first\n"[:offset]
    client.post(f"{API}/{process_id}/input", json={"data": "go\n"}).raise_for_status()
    rest = client.get(
        f"{API}/{process_id}/output",
        params={"wait": "true", "timeout_ms": SAFETY_WAIT_MS},
    ).json()
    assert (rest["running"], rest["exit_code"], rest["output"]) == (False, 0, "first\nsecond\n")


def test_a_repeated_key_attaches_to_the_first_process_and_runs_nothing(
    client: httpx.Client, tmp_path: Path
) -> None:
    """The idempotency rules of a start: the same key answers the same process, attached."""
    marker = tmp_path / "runs"
    body = {"command": f"echo x >> {marker}; cat {marker}", "idempotency_key": "once"}
    first = run(client, body)
    again = run(client, body)
    assert (first["started"], again["started"], again["attached"]) == (True, False, True)
    assert again["id"] == first["id"]
    assert again["output"] == first["output"] == "x\n"
    by_start = client.post(f"{API}/start", json=body).json()
    assert by_start == {"id": first["id"], "started": False, "attached": True}
    conflict = client.post(f"{API}/run", json={**body, "command": "true"})
    assert conflict.status_code == 409


@pytest.mark.parametrize(
    ("body", "params", "message"),
    [
        ({"command": ""}, {}, "Command is required."),
        ({"workdir": "/tmp"}, {}, "Command is required."),
        ({"command": 7}, {}, "Request body must be valid JSON."),
        ({"command": "true", "workdir": "/nonexistent/dir"}, {}, "/nonexistent/dir"),
        ({"command": "true"}, {"timeout_ms": "-1"}, "timeout_ms"),
        ({"command": "true"}, {"timeout_ms": "soon"}, "timeout_ms"),
    ],
)
def test_a_bad_run_is_a_400_like_a_bad_start_and_starts_nothing(
    client: httpx.Client, body: dict[str, Any], params: dict[str, str], message: str
) -> None:
    """The start's checks, and a ``timeout_ms`` that is no whole number, refuse before
    anything runs."""
    response = client.post(f"{API}/run", json=body, params=params)
    assert response.status_code == 400, response.text
    assert message in response.text
    assert client.get(f"{API}/list").json() == {"processes": []}


def test_a_run_is_scoped_to_its_chat(agent: InProcessAgent) -> None:
    """Started with a chat, the process gets the chat's CODER_CHAT_ID and is hidden from
    other chats, as with a start."""
    chat, other = str(uuid.uuid4()), str(uuid.uuid4())
    with (
        agent.client(headers={"Coder-Chat-Id": chat}) as mine,
        agent.client(headers={"Coder-Chat-Id": other}) as theirs,
    ):
        answer = run(mine, {"command": 'echo "$CODER_CHAT_ID"'})
        assert answer["output"] == f"{chat}\n"
        assert theirs.get(f"{API}/{answer['id']}/output").status_code == 404


def test_a_run_beyond_the_running_cap_is_a_429(make_agent: MakeAgent) -> None:
    """The running cap holds for runs too."""
    with make_agent(Settings(max_running=1)) as capped, capped.client() as c:
        blocker = c.post(f"{API}/start", json={"command": "sleep 300"}).json()["id"]
        response = c.post(f"{API}/run", json={"command": "true"})
        c.post(f"{API}/{blocker}/signal", json={"signal": "kill"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"


@pytest.mark.e2e
def test_a_client_going_away_ends_the_run_and_the_process_goes_on(
    live_agent: LiveAgent,
) -> None:
    """A run whose client gives up frees its request; the process is the agent's, not the
    request's, and runs on."""
    chat = {"Coder-Chat-Id": str(uuid.uuid4())}
    with live_agent.client(headers=chat) as c:
        before = live_agent.open_requests()
        with (
            httpx.Client(
                base_url=live_agent.base_url, headers={**live_agent.headers, **chat}
            ) as gone,
            pytest.raises(httpx.ReadTimeout),
        ):
            gone.post(f"{API}/run", json={"command": "sleep 300"}, timeout=0.3)
        # The disconnect reaches the server asynchronously; nothing signals it to us.
        deadline = time.monotonic() + 30
        while live_agent.open_requests() > before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert live_agent.open_requests() <= before
        (process,) = c.get(f"{API}/list").json()["processes"]
        assert process["running"] is True
        c.post(f"{API}/{process['id']}/signal", json={"signal": "kill"}).raise_for_status()
