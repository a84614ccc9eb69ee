"""The process API's contract, against the agent's app in process (``agentproc.testing``).

Only what needs a server, a client that goes away mid-request, runs against a real agent on
127.0.0.1. Numbers in docstrings refer to the behaviour checklist of Coder's tests (section
6.2/6.3 of the Coder notes) where a test mirrors one.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentproc.settings import Settings
from tests.conftest import LiveAgent

from ._live_processes import start
from .conftest import InProcessAgent, MakeAgent

API = "/api/v0/processes"
WAIT = {"wait": "true", "timeout_ms": "60000"}
"""Waits are bounded by the server's cap anyway; 60 s is only a safety net."""


@pytest.fixture
def client(agent: InProcessAgent) -> Iterator[httpx.Client]:
    """An authenticated client of the shared in-process agent."""
    with agent.client() as c:
        yield c


def finish(client: httpx.Client, process_id: str) -> dict[str, Any]:
    """Block until the process exits; return its final output response."""
    response = client.get(f"{API}/{process_id}/output", params=WAIT)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["running"] is False
    return body


def kill(client: httpx.Client, process_id: str) -> None:
    """Kill a process and wait until it has exited."""
    response = client.post(f"{API}/{process_id}/signal", json={"signal": "kill"})
    assert response.status_code in (200, 409), response.text
    finish(client, process_id)


def run(client: httpx.Client, command: str, **fields: Any) -> dict[str, Any]:
    """Start a command and return its final output response."""
    return finish(client, start(client, command, **fields))


class TestStart:
    def test_start_returns_a_uuid_and_started(self, client: httpx.Client) -> None:
        """17. A start answers 200 with a UUID id and started=true, and nothing else."""
        response = client.post(f"{API}/start", json={"command": "echo hello"})
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"id", "started"}
        assert str(uuid.UUID(body["id"])) == body["id"]
        finish(client, body["id"])

    def test_background_flag_is_stored_and_reported(self, client: httpx.Client) -> None:
        """18. background=true starts the same way and is reported by list."""
        process_id = start(client, "sleep 300", background=True)
        listed = {p["id"]: p for p in client.get(f"{API}/list").json()["processes"]}
        assert listed[process_id]["background"] is True
        kill(client, process_id)

    def test_empty_command_is_rejected(self, client: httpx.Client) -> None:
        """19. An empty command answers 400 Command is required."""
        response = client.post(f"{API}/start", json={"command": ""})
        assert response.status_code == 400
        assert response.json()["message"] == "Command is required."

    @pytest.mark.parametrize("body", [b"{}", b"null", b'{"command": null}', b'{"workdir": "/"}'])
    def test_missing_command_is_rejected(self, client: httpx.Client, body: bytes) -> None:
        """A missing or null command, or a null body, is Go's zero value: Command is required."""
        response = client.post(f"{API}/start", content=body)
        assert response.status_code == 400
        assert response.json()["message"] == "Command is required."

    @pytest.mark.parametrize(
        "body", [b"{invalid json", b"", b"   ", b"[1, 2]", b'"x"', b"\xff\xfe"]
    )
    def test_malformed_body_is_a_400_in_the_error_shape(
        self, client: httpx.Client, body: bytes
    ) -> None:
        """20. A body that is not a JSON object answers 400 'must be valid JSON' with detail."""
        response = client.post(f"{API}/start", content=body)
        assert response.status_code == 400
        error = response.json()
        assert error["message"] == "Request body must be valid JSON."
        assert error["detail"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"command": 123}, "command"),
            ({"command": "true", "env": {"A": 1}}, "env.A"),
            ({"command": "true", "env": ["A=1"]}, "env"),
            ({"command": "true", "background": "yes"}, "background"),
            ({"command": "true", "workdir": 7}, "workdir"),
            ({"command": "true", "idempotency_key": 5}, "idempotency_key"),
        ],
    )
    def test_wrong_field_types_name_the_field(
        self, client: httpx.Client, body: dict[str, Any], field: str
    ) -> None:
        """A wrong type is a 400 whose validations name the field; never a 422."""
        response = client.post(f"{API}/start", json=body)
        assert response.status_code == 400
        error = response.json()
        assert error["message"] == "Request body must be valid JSON."
        assert [v["field"] for v in error["validations"]] == [field]
        assert field in error["detail"]

    def test_body_without_content_type_is_accepted(self, client: httpx.Client) -> None:
        """Coder's Go client sends JSON with no Content-Type; it must still parse."""
        request = client.build_request(
            "POST", f"{API}/start", content=b'{"command":"echo no-content-type"}\n'
        )
        assert "Content-Type" not in request.headers
        response = client.send(request)
        assert response.status_code == 200, response.text
        assert "no-content-type" in finish(client, response.json()["id"])["output"]

    def test_unknown_fields_are_ignored(self, client: httpx.Client) -> None:
        """Fields the agent does not know are ignored, as a newer client may send them."""
        process_id = start(client, "echo ok", shiny_new_field={"x": 1})
        assert finish(client, process_id)["exit_code"] == 0

    def test_workdir_is_used(self, client: httpx.Client, tmp_path: Path) -> None:
        """21. The command runs in the requested working directory."""
        body = run(client, "touch marker.txt && ls marker.txt", workdir=str(tmp_path))
        assert body["exit_code"] == 0
        assert "marker.txt" in body["output"]
        assert (tmp_path / "marker.txt").exists()

    def test_missing_workdir_is_a_400_naming_it(self, client: httpx.Client, tmp_path: Path) -> None:
        """A workdir that does not exist is the caller's mistake: 400 naming the path."""
        missing = tmp_path / "nope"
        response = client.post(f"{API}/start", json={"command": "true", "workdir": str(missing)})
        assert response.status_code == 400
        error = response.json()
        assert str(missing) in error["message"]
        assert error["validations"][0]["field"] == "workdir"

    def test_workdir_that_is_a_file_is_a_400(self, client: httpx.Client, tmp_path: Path) -> None:
        """A workdir that is a file, not a directory, answers 400."""
        file = tmp_path / "file"
        file.write_text("x")
        response = client.post(f"{API}/start", json={"command": "true", "workdir": str(file)})
        assert response.status_code == 400
        assert "not a directory" in response.json()["message"]

    def test_request_env_reaches_the_child(self, client: httpx.Client) -> None:
        """22. A request variable is visible to the command."""
        body = run(client, "printenv UNIQUE_KEY", env={"UNIQUE_KEY": "custom_value_12345"})
        assert body["exit_code"] == 0
        assert "custom_value_12345" in body["output"]

    @pytest.mark.parametrize(
        ("env", "field"),
        [({"": "x"}, "env."), ({"A=B": "x"}, "env.A=B"), ({"A": "x\0y"}, "env.A")],
    )
    def test_unusable_env_is_rejected(
        self, client: httpx.Client, env: dict[str, str], field: str
    ) -> None:
        """Names with '=' or NUL, empty names and NUL values answer 400, not a spawn 500."""
        response = client.post(f"{API}/start", json={"command": "true", "env": env})
        assert response.status_code == 400
        assert response.json()["validations"][0]["field"] == field

    def test_env_string_too_long_for_exec_is_a_400(self, client: httpx.Client) -> None:
        """A variable exec could not pass (over 128 KiB with its name) is a 400, not a 500."""
        response = client.post(
            f"{API}/start", json={"command": "true", "env": {"BIG": "x" * (128 * 1024)}}
        )
        assert response.status_code == 400
        assert response.json()["validations"][0]["field"] == "env.BIG"

    def test_command_with_nul_is_rejected(self, client: httpx.Client) -> None:
        """A NUL byte cannot reach exec; it is a 400, not a 500."""
        response = client.post(f"{API}/start", json={"command": "echo a\0b"})
        assert response.status_code == 400
        assert response.json()["validations"][0]["field"] == "command"

    def test_agent_token_is_hidden_from_children(
        self, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The agent's own token never reaches a command's environment (or a model's context)."""
        monkeypatch.setenv("AGENTPROC_TOKEN", "agent-secret")
        monkeypatch.setenv("AGENTPROC_CONTROL_PLANE_TOKEN", "control-plane-secret")
        monkeypatch.setenv("AGENTPROC_VISIBLE_PROBE", "inherited")
        body = run(client, "env")
        assert "agent-secret" not in body["output"]
        assert "control-plane-secret" not in body["output"]
        assert "AGENTPROC_VISIBLE_PROBE=inherited" in body["output"]

    def test_default_workdir_is_home(self, client: httpx.Client) -> None:
        """42. With no workdir and none configured, the command runs in $HOME and says so."""
        process_id = start(client, "pwd")
        body = finish(client, process_id)
        home = os.environ["HOME"]
        assert body["output"].strip() == os.path.realpath(home)
        listed = {p["id"]: p for p in client.get(f"{API}/list").json()["processes"]}
        assert listed[process_id]["workdir"] == home


class TestConfiguredAgent:
    def test_configured_workdir_is_the_default(self, make_agent: MakeAgent, tmp_path: Path) -> None:
        """43. A configured working directory that exists is used when the request names none."""
        with make_agent(Settings(workdir=tmp_path)) as agent, agent.client() as c:
            body = run(c, "pwd")
        assert body["output"].strip() == str(tmp_path.resolve())

    def test_missing_configured_workdir_falls_back_to_home(
        self, make_agent: MakeAgent, tmp_path: Path
    ) -> None:
        """44. A configured directory that does not exist falls back to $HOME."""
        with make_agent(Settings(workdir=tmp_path / "gone")) as agent, agent.client() as c:
            body = run(c, "pwd")
        assert body["output"].strip() == os.path.realpath(os.environ["HOME"])

    def test_injected_env_is_visible_and_request_env_wins(self, make_agent: MakeAgent) -> None:
        """23, 24. Configured variables reach the child; the request's value wins over them."""
        settings = Settings(env={"KEY": "from_hook", "ONLY_HOOK": "injected_by_hook"})
        with make_agent(settings) as agent, agent.client() as c:
            hooked = run(c, "printenv ONLY_HOOK")
            overridden = run(c, "printenv KEY", env={"KEY": "from_request"})
        assert hooked["output"].strip() == "injected_by_hook"
        assert overridden["output"].strip() == "from_request"

    def test_open_agent_needs_no_token(self, make_agent: MakeAgent) -> None:
        """Without a configured token the API is open (the CLI then binds loopback only)."""
        with make_agent(Settings()) as agent, agent.anonymous() as c:
            assert c.get(f"{API}/list").status_code == 200

    def test_oversized_body_is_a_413(self, make_agent: MakeAgent) -> None:
        """A body over the configured limit answers 413 in the error shape, read or declared."""
        with make_agent(Settings(max_body_bytes=1024)) as agent, agent.client() as c:
            response = c.post(f"{API}/start", json={"command": "x" * 2048})
            assert response.status_code == 413
            assert "1024" in response.json()["message"]

            def chunks() -> Iterator[bytes]:
                yield b'{"command": "'
                yield b"y" * 4096
                yield b'"}'

            streamed = c.post(f"{API}/start", content=chunks())
            assert streamed.status_code == 413

    def test_exited_processes_beyond_the_cap_are_forgotten_oldest_first(
        self, make_agent: MakeAgent
    ) -> None:
        """With max_retained=2, a third exit makes the oldest exited process a 404."""
        with make_agent(Settings(max_retained=2)) as agent, agent.client() as c:
            ids = []
            for _ in range(3):
                ids.append(start(c, "true"))
                finish(c, ids[-1])
            listed = [p["id"] for p in c.get(f"{API}/list").json()["processes"]]
            assert listed == [ids[2], ids[1]]
            assert c.get(f"{API}/{ids[0]}/output").status_code == 404

    def test_overlong_command_is_a_400(self, make_agent: MakeAgent) -> None:
        """A command longer than the configured limit answers 400 naming the limit."""
        with make_agent(Settings(max_command_bytes=10)) as agent, agent.client() as c:
            response = c.post(f"{API}/start", json={"command": "echo 0123456789"})
        assert response.status_code == 400
        assert "limit is 10" in response.json()["message"]


class TestList:
    def test_list_is_an_array(self, agent: InProcessAgent) -> None:
        """25. The list is always an array; an unrelated chat sees an empty one."""
        with agent.client({"Coder-Chat-Id": str(uuid.uuid4())}) as c:
            response = c.get(f"{API}/list")
        assert response.status_code == 200
        assert response.json() == {"processes": []}

    def test_list_shows_running_and_exited(self, client: httpx.Client) -> None:
        """26, 54. Both processes are listed; the running one first, whatever the start order."""
        chat = {"Coder-Chat-Id": str(uuid.uuid4())}
        done = start(client, "echo done")
        finish(client, done)
        client.headers.update(chat)
        done_in_chat = start(client, "echo done")
        finish(client, done_in_chat)
        running = start(client, "sleep 300", background=True)
        newer_done = start(client, "true")
        finish(client, newer_done)
        processes = client.get(f"{API}/list").json()["processes"]
        assert [p["id"] for p in processes] == [running, newer_done, done_in_chat]
        by_id = {p["id"]: p for p in processes}
        assert by_id[running]["running"] is True
        assert "exit_code" not in by_id[running]
        assert "exited_at_unix" not in by_id[running]
        assert by_id[done_in_chat]["exit_code"] == 0
        assert by_id[done_in_chat]["exited_at_unix"] >= by_id[done_in_chat]["started_at_unix"]
        kill(client, running)

    def test_list_is_scoped_by_chat(self, agent: InProcessAgent) -> None:
        """51, 52. A chat lists only its processes; without the header everything is listed."""
        chat_a, chat_b = str(uuid.uuid4()), str(uuid.uuid4())
        with (
            agent.client({"Coder-Chat-Id": chat_a}) as a,
            agent.client({"Coder-Chat-Id": chat_b}) as b,
            agent.client() as anyone,
        ):
            a_ids = {finish(a, i) and i for i in (start(a, "true"), start(a, "true"))}
            b_id = start(b, "true")
            finish(b, b_id)
            assert {p["id"] for p in a.get(f"{API}/list").json()["processes"]} == a_ids
            assert [p["id"] for p in b.get(f"{API}/list").json()["processes"]] == [b_id]
            everything = {p["id"] for p in anyone.get(f"{API}/list").json()["processes"]}
            assert a_ids | {b_id} <= everything

    def test_invalid_chat_header_is_a_400(self, agent: InProcessAgent) -> None:
        """A chat header that is not a UUID is refused, not read as "no chat" (security §2)."""
        with agent.client({"Coder-Chat-Id": "not-a-uuid"}) as c:
            listed = c.get(f"{API}/list")
            started = c.post(f"{API}/start", json={"command": "echo end"})
        for response in (listed, started):
            assert response.status_code == 400
            assert response.json()["message"] == "Invalid Coder-Chat-Id header."


class TestOutput:
    def test_output_of_an_exited_process(self, client: httpx.Client) -> None:
        """27. An exited process reports running=false, exit code 0 and its output."""
        body = run(client, "echo hello-output")
        assert body == {
            "output": "hello-output\n",
            "running": False,
            "exit_code": 0,
            "exit_reason": "exit",
        }

    def test_output_of_a_running_process(self, client: httpx.Client) -> None:
        """28. A running process reports running=true and no exit code."""
        process_id = start(client, "echo partial; sleep 300")
        body = client.get(f"{API}/{process_id}/output").json()
        assert body["running"] is True
        assert "exit_code" not in body
        kill(client, process_id)

    def test_unknown_id_is_a_404(self, client: httpx.Client) -> None:
        """29. An unknown id answers 404 with the contract's message."""
        response = client.get(f"{API}/nonexistent-id-12345/output")
        assert response.status_code == 404
        assert response.json() == {"message": 'Process "nonexistent-id-12345" not found.'}

    def test_stdout_and_stderr_share_one_buffer(self, client: httpx.Client) -> None:
        """36, 40. Lines from stdout and stderr both appear, in the order written."""
        body = run(client, "echo stdout-msg && echo stderr-msg >&2 && echo second-line")
        assert body["output"] == "stdout-msg\nstderr-msg\nsecond-line\n"

    def test_exit_code_is_reported(self, client: httpx.Client) -> None:
        """37. The shell's status is the exit code."""
        assert run(client, "exit 42")["exit_code"] == 42

    def test_stdin_is_empty(self, client: httpx.Client) -> None:
        """stdin is /dev/null: a command reading it sees end of file at once."""
        body = run(client, "cat; echo after-cat")
        assert body == {
            "output": "after-cat\n",
            "running": False,
            "exit_code": 0,
            "exit_reason": "exit",
        }

    def test_large_output_is_truncated_head_tail(self, client: httpx.Client) -> None:
        """39. Output over 32 KiB keeps head and tail with truncation metadata."""
        pad = "-padding" * 6
        body = run(client, f"i=0; while [ $i -lt 1155 ]; do echo line-$i{pad}; i=$((i+1)); done")
        truncated = body["truncated"]
        assert truncated["strategy"] == "head_tail"
        assert truncated["omitted_bytes"] > 0
        assert truncated["original_bytes"] > truncated["retained_bytes"]
        assert truncated["retained_bytes"] == len(body["output"].encode())
        assert "... [omitted" in body["output"]
        assert body["output"].startswith("line-0-")
        assert body["output"].endswith(
            "line-1154-padding-padding-padding-padding-padding-padding\n"
        )

    def test_invalid_utf8_is_replaced(self, client: httpx.Client) -> None:
        """Binary and invalid UTF-8 output never breaks the response: U+FFFD stands in."""
        body = run(client, r"printf 'ok \377\376 end'")
        assert body["output"] == "ok \ufffd\ufffd end"

    def test_chat_isolation_on_output(self, agent: InProcessAgent) -> None:
        """55. Another chat's process is a 404; without a chat header it is visible."""
        with (
            agent.client({"Coder-Chat-Id": str(uuid.uuid4())}) as a,
            agent.client({"Coder-Chat-Id": str(uuid.uuid4())}) as b,
            agent.client() as anyone,
        ):
            process_id = start(a, "echo mine")
            finish(a, process_id)
            assert b.get(f"{API}/{process_id}/output").status_code == 404
            assert anyone.get(f"{API}/{process_id}/output").status_code == 200

    def test_untagged_process_is_hidden_from_every_chat(self, agent: InProcessAgent) -> None:
        """A process started without a chat is a 404 to any chat, as the list hides it."""
        with (
            agent.client() as anyone,
            agent.client({"Coder-Chat-Id": str(uuid.uuid4())}) as chat,
        ):
            process_id = start(anyone, "echo shared")
            finish(anyone, process_id)
            assert chat.get(f"{API}/{process_id}/output").status_code == 404
            assert anyone.get(f"{API}/{process_id}/output").status_code == 200

    def test_chat_id_reaches_the_child(self, agent: InProcessAgent) -> None:
        """The chat id of the header is CODER_CHAT_ID in the child, over any request value."""
        chat = str(uuid.uuid4())
        with agent.client({"Coder-Chat-Id": chat.upper()}) as c:
            body = run(c, "printenv CODER_CHAT_ID", env={"CODER_CHAT_ID": "spoofed"})
        assert body["output"].strip() == chat


class TestWait:
    def test_wait_returns_after_exit(self, client: httpx.Client) -> None:
        """56. wait=true on a short command returns once it exited, with its output."""
        process_id = start(client, "echo hello-wait && sleep 0.1")
        response = client.get(f"{API}/{process_id}/output", params=WAIT)
        assert response.json() == {
            "output": "hello-wait\n",
            "running": False,
            "exit_code": 0,
            "exit_reason": "exit",
        }

    def test_wait_on_an_exited_process_returns_at_once(self, client: httpx.Client) -> None:
        """57. wait=true on an exited process answers immediately with the final output."""
        process_id = start(client, "echo done")
        finish(client, process_id)
        response = client.get(f"{API}/{process_id}/output", params={"wait": "true"})
        assert response.json()["output"] == "done\n"

    def test_wait_timeout_returns_a_running_snapshot(self, client: httpx.Client) -> None:
        """58. When the wait cap passes first, the answer is 200 with running=true."""
        process_id = start(client, "echo still-going; sleep 300")
        response = client.get(
            f"{API}/{process_id}/output", params={"wait": "true", "timeout_ms": "50"}
        )
        assert response.status_code == 200
        assert response.json()["running"] is True
        kill(client, process_id)

    @pytest.mark.e2e
    def test_client_going_away_ends_the_wait(self, live_agent: LiveAgent) -> None:
        """A waiter whose client gives up is released by the server; the process runs on."""
        with live_agent.client() as c:
            process_id = start(c, "sleep 300")
            # The start's own request task is removed a moment after its answer: let it go.
            before = settled_open_requests(live_agent)
            gone = httpx.Client(base_url=live_agent.base_url, headers=live_agent.headers)
            with gone, pytest.raises(httpx.ReadTimeout):
                gone.get(f"{API}/{process_id}/output", params={"wait": "true"}, timeout=0.2)
            # The disconnect reaches the server asynchronously; nothing signals it to us.
            deadline = time.monotonic() + 30
            while live_agent.open_requests() > before and time.monotonic() < deadline:
                time.sleep(0.01)
            assert live_agent.open_requests() == before
            assert c.get(f"{API}/{process_id}/output").json()["running"] is True
            kill(c, process_id)

    @pytest.mark.parametrize("value", ["yes", "1", "TRUE", "false"])
    def test_only_wait_true_blocks(self, client: httpx.Client, value: str) -> None:
        """As in Coder's agent, any wait value but exactly `true` answers at once."""
        process_id = start(client, "sleep 300")
        response = client.get(f"{API}/{process_id}/output", params={"wait": value})
        assert response.status_code == 200
        assert response.json()["running"] is True
        kill(client, process_id)

    @pytest.mark.parametrize("value", ["-1", "soon", "1.5", "1.0", "+50", "5_0", " 50", ""])
    def test_bad_timeout_ms_is_a_400(self, client: httpx.Client, value: str) -> None:
        """timeout_ms must be a non-negative integer; anything else is a 400 naming it."""
        process_id = start(client, "true")
        response = client.get(
            f"{API}/{process_id}/output", params={"wait": "true", "timeout_ms": value}
        )
        assert response.status_code == 400
        assert response.json()["validations"][0]["field"] == "timeout_ms"
        finish(client, process_id)


class TestSignal:
    def test_kill_ends_a_running_process(self, client: httpx.Client) -> None:
        """30, 38. kill answers 200 with the contract's message; the exit code is -1."""
        process_id = start(client, "sleep 300")
        response = client.post(f"{API}/{process_id}/signal", json={"signal": "kill"})
        assert response.status_code == 200
        assert response.json() == {"message": f'Signal "kill" sent to process "{process_id}".'}
        assert finish(client, process_id)["exit_code"] == -1

    def test_terminate_ends_a_running_process(self, client: httpx.Client) -> None:
        """31. terminate (SIGTERM) ends a sleeping command."""
        process_id = start(client, "sleep 300")
        response = client.post(f"{API}/{process_id}/signal", json={"signal": "terminate"})
        assert response.status_code == 200
        assert finish(client, process_id)["exit_code"] == -1

    def test_signal_reaches_the_whole_pipeline(self, client: httpx.Client) -> None:
        """The signal goes to the process group: a pipeline's every stage stops."""
        process_id = start(client, "sleep 300 | sleep 300 | cat")
        client.post(f"{API}/{process_id}/signal", json={"signal": "terminate"})
        assert finish(client, process_id)["running"] is False

    def test_unknown_id_is_a_404(self, client: httpx.Client) -> None:
        """32. Signalling an unknown id answers 404."""
        response = client.post(f"{API}/nonexistent-id-12345/signal", json={"signal": "kill"})
        assert response.status_code == 404

    def test_exited_process_is_a_409(self, client: httpx.Client) -> None:
        """33. Signalling an exited process answers 409 with the contract's message."""
        process_id = start(client, "true")
        finish(client, process_id)
        response = client.post(f"{API}/{process_id}/signal", json={"signal": "kill"})
        assert response.status_code == 409
        assert response.json() == {"message": f'Process "{process_id}" is not running.'}

    def test_empty_signal_is_a_400(self, client: httpx.Client) -> None:
        """34. An empty or missing signal answers 400 Signal is required."""
        for body in ({"signal": ""}, {}):
            response = client.post(f"{API}/any/signal", json=body)
            assert response.status_code == 400
            assert response.json()["message"] == "Signal is required."

    @pytest.mark.parametrize("sig", ["SIGFOO", "KILL", "int", "9"])
    def test_unsupported_signal_is_a_400(self, client: httpx.Client, sig: str) -> None:
        """35. Anything but exactly kill/terminate answers 400, before the id is looked up."""
        response = client.post(f"{API}/nonexistent/signal", json={"signal": sig})
        assert response.status_code == 400
        assert (
            response.json()["message"] == f'Unsupported signal "{sig}". Use "kill" or "terminate".'
        )

    @pytest.mark.parametrize("body", [b"{nope", b'{"signal": 9}', b"[]"])
    def test_malformed_signal_body_is_a_400(self, client: httpx.Client, body: bytes) -> None:
        """A signal body that is not valid answers 400 'must be valid JSON'."""
        response = client.post(f"{API}/any/signal", content=body)
        assert response.status_code == 400
        assert response.json()["message"] == "Request body must be valid JSON."

    def test_chat_isolation_on_signal(self, agent: InProcessAgent) -> None:
        """Another chat cannot signal a process: 404, and the process keeps running."""
        with (
            agent.client({"Coder-Chat-Id": str(uuid.uuid4())}) as owner,
            agent.client({"Coder-Chat-Id": str(uuid.uuid4())}) as other,
        ):
            process_id = start(owner, "sleep 300")
            response = other.post(f"{API}/{process_id}/signal", json={"signal": "kill"})
            assert response.status_code == 404
            assert owner.get(f"{API}/{process_id}/output").json()["running"] is True
            kill(owner, process_id)


class TestIdempotency:
    def test_repeated_key_attaches(self, client: httpx.Client) -> None:
        """A repeated key returns the same id with started=false, attached=true; runs once."""
        key = str(uuid.uuid4())
        first = client.post(f"{API}/start", json={"command": "echo once", "idempotency_key": key})
        again = client.post(f"{API}/start", json={"command": "echo once", "idempotency_key": key})
        assert first.json()["started"] is True
        assert again.json() == {"id": first.json()["id"], "started": False, "attached": True}
        assert finish(client, first.json()["id"])["output"] == "once\n"

    @pytest.mark.parametrize(
        "change",
        [{"command": "echo twice"}, {"workdir": "/"}, {"env": {"A": "1"}}, {"background": True}],
    )
    def test_same_key_different_parameters_is_a_409(
        self, client: httpx.Client, change: dict[str, Any]
    ) -> None:
        """The same key with another command, workdir, env or background answers 409."""
        key = str(uuid.uuid4())
        base = {"command": "echo once", "idempotency_key": key}
        process_id = client.post(f"{API}/start", json=base).json()["id"]
        response = client.post(f"{API}/start", json={**base, **change})
        assert response.status_code == 409
        assert key in response.json()["message"]
        finish(client, process_id)

    def test_same_key_in_two_chats_starts_twice(self, agent: InProcessAgent) -> None:
        """Keys are per chat: the same key in another chat starts its own process."""
        key = str(uuid.uuid4())
        ids = []
        for _ in range(2):
            with agent.client({"Coder-Chat-Id": str(uuid.uuid4())}) as c:
                ids.append(start(c, "true", idempotency_key=key))
                finish(c, ids[-1])
        assert ids[0] != ids[1]


class TestHttp:
    def test_missing_token_is_a_401(self, agent: InProcessAgent) -> None:
        """Every /api/ path needs the bearer token: 401 in the error shape without it."""
        with agent.anonymous() as c:
            for method, path in [("GET", "/list"), ("POST", "/start"), ("GET", "/x/output")]:
                response = c.request(method, f"{API}{path}")
                assert response.status_code == 401
                assert response.headers["WWW-Authenticate"] == "Bearer"
                assert "token" in response.json()["message"]

    @pytest.mark.parametrize(
        ("method", "path"),
        [("GET", "/api/v1/nothing"), ("GET", f"{API}/nothing"), ("DELETE", f"{API}/list")],
    )
    def test_unmatched_api_paths_need_the_token_too(
        self, agent: InProcessAgent, method: str, path: str
    ) -> None:
        """Without the token every /api/ path is a 401, so unknown paths reveal nothing."""
        with agent.anonymous() as anonymous:
            response = anonymous.request(method, path)
        assert response.status_code == 401
        assert "token" in response.json()["message"]
        with agent.client() as c:
            authenticated = c.request(method, path)
        assert authenticated.status_code in (404, 405)
        assert "message" in authenticated.json()

    def test_wrong_token_is_a_401(self, agent: InProcessAgent) -> None:
        """A wrong token answers 401 too."""
        with agent.anonymous({"Authorization": "Bearer no"}) as c:
            assert c.get(f"{API}/list").status_code == 401

    def test_open_paths_need_no_token(self, agent: InProcessAgent) -> None:
        """Liveness, the OpenAPI document and the docs page with its assets are open."""
        with agent.anonymous() as c:
            assert c.get("/healthz").json() == {"status": "ok"}
            assert c.get("/openapi.json").status_code == 200
            page = c.get("/docs")
            assert page.status_code == 200
            assert "/docs/assets/swagger-ui-bundle.js" in page.text
            assert "cdn" not in page.text.lower()
            for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
                assert c.get(f"/docs/assets/{asset}").status_code == 200

    def test_unknown_path_is_a_404_in_the_error_shape(self, client: httpx.Client) -> None:
        """Framework errors use the error shape too."""
        response = client.get("/api/v0/nothing-here")
        assert response.status_code == 404
        assert response.json() == {"message": "Not Found"}

    def test_openapi_declares_bearer_and_no_422(self, client: httpx.Client) -> None:
        """The document declares the bearer scheme and never a 422."""
        document = client.get("/openapi.json").json()
        assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        assert "422" not in json.dumps(document)
        start_op = document["paths"][f"{API}/start"]["post"]
        assert start_op["operationId"] == "start_process"
        assert "StartProcessRequest" in json.dumps(start_op["requestBody"])


def settled_open_requests(agent: LiveAgent) -> int:
    """The agent's open requests once those just answered are gone (bounded; no event tells)."""
    deadline = time.monotonic() + 30
    count = agent.open_requests()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = agent.open_requests()
        if now == count:
            return count
        count = now
    return count
