"""The askpass program: the control-plane conversation, fallback, polling and command line."""

from __future__ import annotations

import io
import logging
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from agentproc.askpass.environment import find_askpass_program
from agentproc.askpass.program import (
    DEFAULT_LISTEN_SECONDS,
    INITIAL_POLL_DELAY,
    LISTEN_READ_MARGIN_SECONDS,
    MAX_POLL_DELAY,
    main,
    run,
)
from agentsdk import ControlPlaneClient
from agentsdk.wire import EXTERNAL_AUTH_PATH, LISTEN_HOLD_SECONDS
from tests.askpass._samples import GITHUB_TOKEN, GITLAB_TOKEN, git
from tests.askpass._servers import isolated_git_env
from tests.conftest import serve_in_thread

CHAT_ID = "6f0d8a52-3c1e-4b7a-9f41-2d5c0a9e7b13"
BASE_URL = "http://control-plane.test"
AUTH_URL = "https://cp.test/external-auth/github"
PROGRAM_TIMEOUT_SECONDS = 60.0
"""Safety net for one run of the installed program; it normally takes well under a second."""

Handler = Callable[[httpx.Request], httpx.Response]


# -- the control-plane conversation ---------------------------------------------------------


class FakeTime:
    """A clock and sleep that advance together without really waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Conversation:
    """One askpass run against a scripted control plane."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[httpx.Request] = []
        self._handler = handler
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.time = FakeTime()

    def _record(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._handler(request)

    def run(
        self,
        prompt: str,
        *,
        cwd: Path,
        listen_seconds: float = DEFAULT_LISTEN_SECONDS,
        environ: dict[str, str] | None = None,
        max_retries: int = 0,
    ) -> int:
        client = ControlPlaneClient(
            BASE_URL,
            token="agent-token",
            max_retries=max_retries,
            transport=httpx.MockTransport(self._record),
        )
        with client:
            return run(
                prompt,
                client=client,
                environ={"CODER_CHAT_ID": CHAT_ID} if environ is None else environ,
                stdout=self.stdout,
                stderr=self.stderr,
                cwd=cwd,
                listen_seconds=listen_seconds,
                sleep=self.time.sleep,
                clock=self.time.clock,
            )

    def queries(self) -> list[dict[str, list[str]]]:
        return [
            parse_qs(request.url.query.decode(), keep_blank_values=True)
            for request in self.requests
        ]


def answer(status: int, body: dict[str, Any]) -> Handler:
    """A control plane that always answers the same."""
    return lambda request: httpx.Response(status, json=body)


def test_username_prompt_prints_only_the_username_on_stdout(tmp_path: Path) -> None:
    """stdout gets exactly the answer and a newline; the exit status is 0."""
    talk = Conversation(answer(200, GITLAB_TOKEN))
    assert talk.run("Username for 'https://gitlab.com': ", cwd=tmp_path) == 0
    assert talk.stdout.getvalue() == "oauth2\n"
    assert talk.stderr.getvalue() == ""


def test_password_prompt_prints_the_password(tmp_path: Path) -> None:
    """A password prompt gets the password half of the credentials."""
    talk = Conversation(answer(200, GITLAB_TOKEN))
    assert talk.run("Password for 'https://oauth2@gitlab.com': ", cwd=tmp_path) == 0
    assert talk.stdout.getvalue() == "glpat\n"


def test_request_carries_host_branch_origin_and_the_chat_id_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control plane learns the host, the repository's branch and origin, and CODER_CHAT_ID."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "remote", "add", "origin", "https://github.com/o/r.git")
    talk = Conversation(answer(200, GITHUB_TOKEN))
    assert talk.run("Username for 'https://github.com': ", cwd=tmp_path) == 0
    (sent,) = talk.requests
    assert sent.url.query.decode() == (
        f"chat_id={CHAT_ID}&git_branch=main"
        "&git_remote_origin=https%3A%2F%2Fgithub.com%2Fo%2Fr.git&id=&match=https%3A%2F%2Fgithub.com"
    )
    assert sent.headers["Coder-Session-Token"] == "agent-token"


def test_without_a_chat_id_none_is_sent(tmp_path: Path) -> None:
    """Git run outside any chat sends no chat_id, so the control plane refreshes the workspace."""
    talk = Conversation(answer(200, GITHUB_TOKEN))
    assert talk.run("Username for 'https://github.com': ", cwd=tmp_path, environ={}) == 0
    assert "chat_id" not in talk.queries()[0]


def test_not_found_warns_on_stderr_and_exits_non_zero_so_git_falls_back(tmp_path: Path) -> None:
    """A 404 prints nothing on stdout, explains on stderr, and exits 1."""
    body = {"message": "No external auth provider matches.", "detail": "Configure a provider."}
    talk = Conversation(answer(404, body))
    assert talk.run("Username for 'https://example.com': ", cwd=tmp_path) == 1
    assert talk.stdout.getvalue() == ""
    stderr = talk.stderr.getvalue()
    assert "git falls back to its default behaviour" in stderr
    assert "No external auth provider matches." in stderr
    assert "Configure a provider." in stderr


def test_other_errors_are_reported_and_exit_non_zero(tmp_path: Path) -> None:
    """A 401 is written to stderr with its message; stdout stays empty."""
    talk = Conversation(answer(401, {"message": "Invalid agent token."}))
    assert talk.run("Username for 'https://github.com': ", cwd=tmp_path) == 1
    assert talk.stdout.getvalue() == ""
    assert "Invalid agent token." in talk.stderr.getvalue()


def test_an_unparsable_prompt_exits_non_zero_without_calling_the_control_plane(
    tmp_path: Path,
) -> None:
    """A prompt that is not git's fails before any request."""
    talk = Conversation(answer(200, GITHUB_TOKEN))
    assert talk.run("Enter passphrase for key: ", cwd=tmp_path) == 1
    assert talk.requests == []
    assert "unknown prompt type" in talk.stderr.getvalue()


def test_a_user_who_must_authenticate_is_told_the_url_then_polled_with_backoff(
    tmp_path: Path,
) -> None:
    """The URL goes to stderr; listen=true polls back off from 250 ms until the token arrives."""
    polls_before_token = 4
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) <= 1 + polls_before_token:
            return httpx.Response(200, json={"url": AUTH_URL})
        return httpx.Response(200, json=GITHUB_TOKEN)

    talk = Conversation(handler)
    assert talk.run("Username for 'https://github.com': ", cwd=tmp_path) == 0
    assert talk.stdout.getvalue() == "gho_x\n"
    assert AUTH_URL in talk.stderr.getvalue()
    queries = talk.queries()
    assert "listen" not in queries[0]
    assert all(query["listen"] == ["true"] for query in queries[1:])
    assert all(query["chat_id"] == [CHAT_ID] for query in queries)
    assert talk.time.sleeps == [0.25, 0.5, 1.0, 2.0]


def test_polling_backoff_is_capped_at_ten_seconds(tmp_path: Path) -> None:
    """Pauses double from 250 ms and never exceed 10 s."""
    talk = Conversation(answer(200, {"url": AUTH_URL}))
    assert talk.run("Username for 'https://github.com': ", cwd=tmp_path, listen_seconds=60) == 1
    assert talk.time.sleeps[:7] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0]
    assert talk.time.sleeps[0] == INITIAL_POLL_DELAY
    assert max(talk.time.sleeps) == MAX_POLL_DELAY


def test_polling_gives_up_at_the_bound_and_says_so(tmp_path: Path) -> None:
    """When the user never authenticates, the wait ends at the bound with a message and exit 1."""
    talk = Conversation(answer(200, {"url": AUTH_URL}))
    assert talk.run("Username for 'https://github.com': ", cwd=tmp_path, listen_seconds=30) == 1
    assert sum(talk.time.sleeps) == pytest.approx(30)
    assert talk.stdout.getvalue() == ""
    assert "gave up after 30 s" in talk.stderr.getvalue()


def test_failed_polls_are_reported_and_polling_continues(tmp_path: Path) -> None:
    """A poll that fails is written to stderr and the next poll still happens."""
    answers = iter(
        [
            httpx.Response(200, json={"url": AUTH_URL}),
            httpx.Response(500, json={"message": "database is down"}),
        ]
    )
    talk = Conversation(lambda request: next(answers, httpx.Response(200, json=GITHUB_TOKEN)))
    assert talk.run("Username for 'https://github.com': ", cwd=tmp_path) == 0
    assert "database is down" in talk.stderr.getvalue()
    assert talk.stdout.getvalue() == "gho_x\n"


def test_a_not_found_while_polling_falls_back(tmp_path: Path) -> None:
    """If the provider disappears while waiting, git falls back at once."""
    answers = iter([httpx.Response(200, json={"url": AUTH_URL})])
    talk = Conversation(
        lambda request: next(answers, httpx.Response(404, json={"message": "gone"}))
    )
    assert talk.run("Username for 'https://github.com': ", cwd=tmp_path) == 1
    assert "git falls back" in talk.stderr.getvalue()
    assert talk.time.sleeps == []


def test_a_held_listen_poll_is_given_longer_than_the_control_planes_hold(tmp_path: Path) -> None:
    """A listen poll's read timeout outlasts the 30 s hold, so a held poll is answered, not cut."""
    timeouts: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if "listen" not in request.url.params:
            return httpx.Response(200, json={"url": AUTH_URL})
        timeouts.append(request.extensions["timeout"])
        return httpx.Response(200, json=GITHUB_TOKEN)

    talk = Conversation(handler)
    assert talk.run("Username for 'https://github.com': ", cwd=tmp_path) == 0
    (timeout,) = timeouts
    assert timeout["read"] == LISTEN_HOLD_SECONDS + LISTEN_READ_MARGIN_SECONDS
    assert timeout["read"] > LISTEN_HOLD_SECONDS


def test_listen_polls_end_with_the_budget_and_are_not_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Against a control plane that stalls every poll until it times out, no poll may outlive
    the budget, no timeout exceeds the time left, and the SDK never retries a poll."""
    # Two full polls, then a last one cut to what is left of the budget.
    budget = 100.0
    polls: list[tuple[float, dict[str, float]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if "listen" not in request.url.params:
            return httpx.Response(200, json={"url": AUTH_URL})
        timeout = request.extensions["timeout"]
        polls.append((talk.time.now, timeout))
        # The poll stalls for exactly as long as it allows, then times out.
        talk.time.now += timeout["read"]
        raise httpx.ReadTimeout("stalled", request=request)

    talk = Conversation(handler)
    with caplog.at_level(logging.DEBUG, logger="agentsdk"):
        exit_status = talk.run(
            "Username for 'https://github.com': ",
            cwd=tmp_path,
            listen_seconds=budget,
            max_retries=2,
        )
    assert exit_status == 1
    assert "gave up after 100 s" in talk.stderr.getvalue()
    assert talk.time.now <= budget
    assert [timeout["read"] for _, timeout in polls] == [45.0, 45.0, pytest.approx(9.25)]
    for started, timeout in polls:
        assert 0 < max(timeout.values()) <= budget - started
    assert [record for record in caplog.records if record.name == "agentsdk"] == []


def test_sdk_log_records_never_reach_gits_stderr(tmp_path: Path) -> None:
    """The installed program, talking to a control plane that fails once, prints the answer and
    nothing else: the SDK's retry notice stays out of the stderr git shows the user."""
    calls: list[str] = []
    app = FastAPI()

    @app.get(EXTERNAL_AUTH_PATH)
    async def external_auth() -> Any:
        calls.append("call")
        if len(calls) == 1:
            return JSONResponse({"message": "restarting"}, status_code=503)
        return GITHUB_TOKEN

    with serve_in_thread(app) as control_plane:
        done = subprocess.run(
            [find_askpass_program(), "Username for 'https://github.com': "],
            cwd=tmp_path,
            env={
                "PATH": os.environ.get("PATH", ""),
                **isolated_git_env(),
                "CODER_AGENT_URL": control_plane.base_url,
                "CODER_AGENT_TOKEN": "agent-token",
            },
            capture_output=True,
            text=True,
            timeout=PROGRAM_TIMEOUT_SECONDS,
            check=False,
        )
    assert len(calls) == 2, "the first request must have been retried"
    assert (done.returncode, done.stdout, done.stderr) == (0, "gho_x\n", "")


# -- the console script's command line ------------------------------------------------------


def test_main_without_a_prompt_prints_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Git always passes one argument; anything else is a usage error."""
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_main_without_the_control_plane_variables_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Missing CODER_AGENT_URL and CODER_AGENT_TOKEN are named on stderr; stdout stays empty."""
    monkeypatch.delenv("CODER_AGENT_URL", raising=False)
    monkeypatch.delenv("CODER_AGENT_TOKEN", raising=False)
    assert main(["Username for 'https://github.com': "]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "CODER_AGENT_URL and CODER_AGENT_TOKEN must be set" in captured.err


def test_main_rejects_a_listen_bound_that_is_not_a_number(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed AGENTPROC_ASKPASS_LISTEN_SECONDS is reported instead of ignored."""
    monkeypatch.setenv("CODER_AGENT_URL", BASE_URL)
    monkeypatch.setenv("CODER_AGENT_TOKEN", "agent-token")
    monkeypatch.setenv("AGENTPROC_ASKPASS_LISTEN_SECONDS", "soon")
    assert main(["Username for 'https://github.com': "]) == 1
    assert "is not a number" in capsys.readouterr().err


def test_credentials_in_the_control_plane_url_never_reach_stderr(tmp_path: Path) -> None:
    """Against an unreachable CODER_AGENT_URL carrying user:password, the installed program
    fails naming the URL without them."""
    done = subprocess.run(
        [find_askpass_program(), "Username for 'https://github.com': "],
        cwd=tmp_path,
        env={
            "PATH": os.environ.get("PATH", ""),
            **isolated_git_env(),
            "CODER_AGENT_URL": "http://user:s3cret@127.0.0.1:1/",
            "CODER_AGENT_TOKEN": "agent-token",
        },
        capture_output=True,
        text=True,
        timeout=PROGRAM_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 1
    assert "http://127.0.0.1:1/" in done.stderr
    assert "s3cret" not in done.stderr
    assert "user" not in done.stderr


def test_credentials_in_a_malformed_control_plane_url_never_reach_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A URL the client refuses to parse is named without its credentials too."""
    monkeypatch.setenv("CODER_AGENT_URL", "http://user:s3cret@[::1")
    monkeypatch.setenv("CODER_AGENT_TOKEN", "agent-token")
    assert main(["Username for 'https://github.com': "]) == 1
    err = capsys.readouterr().err
    assert "CODER_AGENT_URL" in err
    assert "s3cret" not in err
