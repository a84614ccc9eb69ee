"""What the agent writes to its log: enough to follow a request, never a secret."""

from __future__ import annotations

import pytest

from tests.conftest import serve_agent

pytestmark = pytest.mark.e2e

TOKEN = "token-that-must-not-be-logged"
ENV_VALUE = "env-value-that-must-not-be-logged"


def test_log_never_prints_the_token_or_env_values() -> None:
    """At debug level, access log included, the log names requests but no token or env value."""
    with serve_agent("--log-level", "debug", token=TOKEN) as agent, agent.client() as c:
        started = c.post(
            "/api/v0/processes/start", json={"command": "true", "env": {"SECRET": ENV_VALUE}}
        )
        process_id = started.json()["id"]
        output = c.get(f"/api/v0/processes/{process_id}/output", params={"wait": "true"})
        assert output.json()["exit_code"] == 0
    text = agent.log_text()
    assert '"POST /api/v0/processes/start HTTP/1.1" 200' in text
    assert f"process {process_id} exited with 0" in text
    assert TOKEN not in text
    assert ENV_VALUE not in text


def test_requests_and_processes_are_logged_only_when_asked() -> None:
    """At the default level the agent logs no line per request or process (a busy agent
    answers thousands a second); ``--access-log`` adds the request lines alone."""
    for flags, access_lines in (((), False), (("--access-log",), True)):
        with serve_agent(*flags) as agent, agent.client() as c:
            started = c.post("/api/v0/processes/start", json={"command": "true"})
            process_id = started.json()["id"]
            c.get(f"/api/v0/processes/{process_id}/output", params={"wait": "true"})
        text = agent.log_text()
        assert ('"POST /api/v0/processes/start HTTP/1.1" 200' in text) is access_lines, text
        assert f"process {process_id} exited" not in text, text
        assert f"started process {process_id}" not in text, text
