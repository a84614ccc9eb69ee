"""Chat isolation fails closed (security §2), against the agent's app in process.

A request with a ``Coder-Chat-Id`` reaches only its own chat's processes: another chat's and
untagged ones are hidden from the list and answer 404 everywhere else, exactly as an unknown
id does. A header that is present but not one UUID is a 400 on every endpoint and runs
nothing. Requests without the header see everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from ._live_processes import PROCESSES, start
from .conftest import InProcessAgent

LONG_COMMAND = "sleep 300"
"""Runs until the fixture kills it."""

INVALID_CHAT_ID = {
    "message": "Invalid Coder-Chat-Id header.",
    "detail": "Coder-Chat-Id must be one UUID, such as 0b5f3a5e-8d0c-4d5e-9a3b-6c1f2e7d8a90; "
    "leave the header out to act for no chat.",
    "validations": [{"field": "Coder-Chat-Id", "detail": "must be one UUID"}],
}
"""The whole answer to a malformed chat header; it never repeats the value sent."""

MALFORMED_CHAT_IDS = [
    pytest.param("not-a-uuid", id="not-a-uuid"),
    pytest.param("", id="empty"),
    pytest.param(str(uuid.uuid4()) + "0", id="one-digit-too-many"),
    pytest.param(f"{uuid.uuid4()}, {uuid.uuid4()}", id="two-joined"),
    pytest.param("00000000-0000-0000-0000-00000000000g", id="not-hex"),
]


@dataclass(frozen=True)
class Scene:
    """A process of chat A and an untagged one, both running, and who looks at them."""

    chat_a: httpx.Client
    chat_b: httpx.Client
    anyone: httpx.Client
    a_process: str
    untagged_process: str


def chat_client(agent: InProcessAgent, chat_id: str | None = None) -> httpx.Client:
    """A client of ``agent`` whose every request carries ``chat_id`` (none when None)."""
    return agent.client({} if chat_id is None else {"Coder-Chat-Id": chat_id})


def listed(client: httpx.Client) -> set[str]:
    """The ids the list shows ``client``."""
    response = client.get(f"{PROCESSES}/list")
    assert response.status_code == 200, response.text
    return {process["id"] for process in response.json()["processes"]}


def is_running(client: httpx.Client, process_id: str) -> bool:
    """Whether the process is still running, as ``client`` reads it."""
    response = client.get(f"{PROCESSES}/{process_id}/output")
    assert response.status_code == 200, response.text
    running: bool = response.json()["running"]
    return running


def not_found(process_id: str) -> dict[str, str]:
    """The 404 body of an unknown id: a hidden process must look exactly like one."""
    return {"message": f'Process "{process_id}" not found.'}


@pytest.fixture
def scene(agent: InProcessAgent) -> Iterator[Scene]:
    """Chat A's process and an untagged one, running; both killed afterwards."""
    with (
        chat_client(agent, str(uuid.uuid4())) as chat_a,
        chat_client(agent, str(uuid.uuid4())) as chat_b,
        chat_client(agent) as anyone,
    ):
        a_process = start(chat_a, LONG_COMMAND)
        untagged_process = start(anyone, LONG_COMMAND)
        try:
            yield Scene(chat_a, chat_b, anyone, a_process, untagged_process)
        finally:
            for process_id in (a_process, untagged_process):
                anyone.post(f"{PROCESSES}/{process_id}/signal", json={"signal": "kill"})
                anyone.get(
                    f"{PROCESSES}/{process_id}/output",
                    params={"wait": "true", "timeout_ms": "30000"},
                )


# -- another chat's process and an untagged one are out of reach ------------------------------


def test_chat_lists_neither_another_chats_nor_an_untagged_process(scene: Scene) -> None:
    """Chat B's list shows neither; chat A's shows its own only; no header shows both."""
    assert scene.a_process not in listed(scene.chat_b)
    assert scene.untagged_process not in listed(scene.chat_b)
    assert listed(scene.chat_a) == {scene.a_process}
    assert {scene.a_process, scene.untagged_process} <= listed(scene.anyone)


@pytest.mark.parametrize("params", [{}, {"wait": "true", "timeout_ms": "60000"}])
def test_chat_cannot_read_another_chats_or_an_untagged_process(
    scene: Scene, params: dict[str, str]
) -> None:
    """Reading either, waiting or not, is a 404 identical to an unknown id's."""
    for process_id in (scene.a_process, scene.untagged_process):
        response = scene.chat_b.get(f"{PROCESSES}/{process_id}/output", params=params)
        assert response.status_code == 404
        assert response.json() == not_found(process_id)


def test_chat_cannot_signal_another_chats_or_an_untagged_process(scene: Scene) -> None:
    """Signalling either is a 404, and both keep running."""
    for process_id in (scene.a_process, scene.untagged_process):
        response = scene.chat_b.post(f"{PROCESSES}/{process_id}/signal", json={"signal": "kill"})
        assert response.status_code == 404
        assert response.json() == not_found(process_id)
    assert is_running(scene.chat_a, scene.a_process)
    assert is_running(scene.anyone, scene.untagged_process)


def test_untagged_process_is_hidden_even_from_the_chat_that_knows_its_id(scene: Scene) -> None:
    """Chat A, which has processes of its own, cannot reach the untagged one either."""
    response = scene.chat_a.get(f"{PROCESSES}/{scene.untagged_process}/output")
    assert response.status_code == 404
    assert scene.untagged_process not in listed(scene.chat_a)


def test_request_without_chat_header_reaches_every_process(scene: Scene) -> None:
    """The control plane's own view: no header reads both processes."""
    assert is_running(scene.anyone, scene.a_process)
    assert is_running(scene.anyone, scene.untagged_process)


# -- a malformed header is refused everywhere -------------------------------------------------


@pytest.mark.parametrize("value", MALFORMED_CHAT_IDS)
def test_malformed_chat_header_is_a_400_on_every_endpoint(
    agent: InProcessAgent, scene: Scene, value: str
) -> None:
    """start, list, output and signal answer 400 in the error shape and do nothing."""
    marker = f"echo {uuid.uuid4()}"
    with chat_client(agent, value) as bad:
        responses = {
            "start": bad.post(f"{PROCESSES}/start", json={"command": marker}),
            "list": bad.get(f"{PROCESSES}/list"),
            "output": bad.get(f"{PROCESSES}/{scene.untagged_process}/output"),
            "signal": bad.post(
                f"{PROCESSES}/{scene.untagged_process}/signal", json={"signal": "kill"}
            ),
        }
    for endpoint, response in responses.items():
        assert response.status_code == 400, endpoint
        assert response.json() == INVALID_CHAT_ID, endpoint
    commands = [p["command"] for p in scene.anyone.get(f"{PROCESSES}/list").json()["processes"]]
    assert marker not in commands
    assert is_running(scene.anyone, scene.untagged_process)


@pytest.mark.parametrize("same", [True, False], ids=["same-id-twice", "two-ids"])
def test_chat_header_sent_twice_is_a_400(agent: InProcessAgent, same: bool) -> None:
    """Two Coder-Chat-Id headers are not one chat id, even when they agree."""
    first = str(uuid.uuid4())
    second = first if same else str(uuid.uuid4())
    headers = httpx.Headers([("Coder-Chat-Id", first), ("Coder-Chat-Id", second)])
    with agent.client() as c:
        response = c.get(f"{PROCESSES}/list", headers=headers)
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid Coder-Chat-Id header."
    assert response.json()["detail"] == "Coder-Chat-Id must be sent once, but it was sent 2 times."


def test_token_is_checked_before_the_chat_header(agent: InProcessAgent) -> None:
    """Without the token a malformed header still answers 401: nothing is learnt first."""
    with agent.anonymous() as c:
        response = c.get(f"{PROCESSES}/list", headers={"Coder-Chat-Id": "not-a-uuid"})
    assert response.status_code == 401


def test_liveness_ignores_the_chat_header(agent: InProcessAgent) -> None:
    """/healthz is not part of the API: any header answers 200."""
    with chat_client(agent, "not-a-uuid") as bad:
        assert bad.get("/healthz").status_code == 200


def test_any_uuid_spelling_scopes_to_the_canonical_chat(agent: InProcessAgent) -> None:
    """Upper case, no hyphens or braces name the same chat as the canonical form."""
    chat = uuid.uuid4()
    with chat_client(agent, str(chat)) as canonical:
        process_id = start(canonical, "true")
        for spelling in (str(chat).upper(), chat.hex, f"{{{chat}}}"):
            with chat_client(agent, spelling) as other_spelling:
                assert listed(other_spelling) == {process_id}, spelling
