"""What the agent writes to its log: enough to follow a request, never a secret."""

from __future__ import annotations

import re
import subprocess
import sys
import threading

import httpx

SAFETY_TIMEOUT_SECONDS = 30.0
TOKEN = "token-that-must-not-be-logged"
ENV_VALUE = "env-value-that-must-not-be-logged"
LISTENING = re.compile(r"process API at (http://\S+?)/api/v0/processes")


def test_log_never_prints_the_token_or_env_values() -> None:
    """At debug level, access log included, the log names requests but no token or env value."""
    argv = [sys.executable, "-m", "agentproc", "serve", "--port", "0", "--token", TOKEN]
    agent = subprocess.Popen(
        [*argv, "--log-level", "debug"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert agent.stdout is not None
    lines: list[str] = []
    base_url = None
    for line in agent.stdout:  # until the agent says where it listens
        lines.append(line)
        match = LISTENING.search(line)
        if match:
            base_url = match.group(1)
            break
    # Keep draining so the agent never blocks on a full pipe.
    drain = threading.Thread(target=lambda: lines.extend(agent.stdout or ()), daemon=True)
    drain.start()
    try:
        assert base_url is not None, "".join(lines)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=SAFETY_TIMEOUT_SECONDS) as c:
            started = c.post(
                "/api/v0/processes/start", json={"command": "true", "env": {"SECRET": ENV_VALUE}}
            )
            process_id = started.json()["id"]
            output = c.get(f"/api/v0/processes/{process_id}/output", params={"wait": "true"})
            assert output.json()["exit_code"] == 0
    finally:
        agent.terminate()
        agent.wait(SAFETY_TIMEOUT_SECONDS)
        drain.join(SAFETY_TIMEOUT_SECONDS)
        agent.stdout.close()
    text = "".join(lines)
    assert '"POST /api/v0/processes/start HTTP/1.1" 200' in text
    assert f"process {process_id} exited with 0" in text
    assert TOKEN not in text
    assert ENV_VALUE not in text
