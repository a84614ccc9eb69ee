"""End to end: what commands cost the agent, and the limits it puts on them.

Memory stays flat however much a command prints, the event loop keeps answering under many
busy writers, the running-process cap holds, children get the configured niceness and OOM
score without noise in their output, and binary output never breaks a response.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from agentproc.settings import Settings
from tests.conftest import LiveAgent, serve_agent

from ._live_processes import PROCESSES, output, send, start

pytestmark = pytest.mark.e2e

TOKEN = "resources-token"

AgentFactory = Callable[[Settings], AbstractContextManager[LiveAgent]]

HEAD = TAIL = 16384
"""The buffer's head and tail capacities (spec: output-buffer.md)."""

FLOOD_BYTES = 200_000_000
"""Far more than the buffer keeps, so any per-byte retention would show in the agent's RSS."""

MEMORY_GROWTH_LIMIT_KIB = 50 * 1024
"""Generous: the buffer holds 32 KiB; what remains is allocator noise, not the output."""

BUSY_WRITERS = 20
HEALTH_CHECKS = 20


def marker(omitted: int) -> str:
    """The omission marker exactly as the buffer spec spells it."""
    return f"\n\n... [omitted {omitted} bytes] ...\n\n"


# -- memory and the event loop ---------------------------------------------------------------


def test_printing_200_mb_keeps_the_agent_memory_flat() -> None:
    """A command printing 200 MB grows the agent's peak RSS by far less than 50 MB."""
    with serve_agent() as agent, agent.client() as client:
        # One full round first, so code loaded lazily on the first request is resident.
        warm_up = start(client, "yes | head -c 100000")
        assert output(client, warm_up, wait=True)["exit_code"] == 0
        rss_before = agent.memory_kib("VmRSS")

        flood = start(client, f"yes | head -c {FLOOD_BYTES}")
        body = output(client, flood, wait=True)
        peak_after = agent.memory_kib("VmHWM")

    omitted = FLOOD_BYTES - HEAD - TAIL
    assert (body["running"], body["exit_code"]) == (False, 0)
    assert body["output"] == "y\n" * (HEAD // 2) + marker(omitted) + "y\n" * (TAIL // 2)
    assert body["truncated"] == {
        "original_bytes": FLOOD_BYTES,
        "retained_bytes": HEAD + TAIL + len(marker(omitted)),
        "omitted_bytes": omitted,
        "strategy": "head_tail",
    }
    assert peak_after - rss_before < MEMORY_GROWTH_LIMIT_KIB, (rss_before, peak_after)


def test_liveness_answers_while_many_commands_flood_their_pipes(
    chat_client: httpx.Client,
) -> None:
    """Every /healthz request succeeds while 20 commands write as fast as they can."""
    writers = [start(chat_client, "yes") for _ in range(BUSY_WRITERS)]
    try:
        for _ in range(HEALTH_CHECKS):
            response = chat_client.get("/healthz")
            assert response.status_code == 200
        # Still running afterwards: the checks above were answered under the full load.
        assert all(output(chat_client, w)["running"] is True for w in writers)
    finally:
        for writer in writers:
            send(chat_client, writer, "kill")
    for writer in writers:
        body = output(chat_client, writer, wait=True)
        assert (body["running"], body["exit_code"]) == (False, -1)
        assert body["truncated"] is not None


# -- the running-process cap -------------------------------------------------------------------


def test_running_process_cap_answers_429_until_a_process_ends(
    make_live_agent: AgentFactory,
) -> None:
    """At the cap a start answers 429 with the error body; after one process ends it works."""
    with (
        make_live_agent(Settings(token=TOKEN, max_running=2)) as agent,
        agent.client() as client,
    ):
        first = start(client, "sleep 300")
        second = start(client, "sleep 300", idempotency_key="second")

        refused = client.post(f"{PROCESSES}/start", json={"command": "sleep 300"})
        assert refused.status_code == 429
        body = refused.json()
        assert set(body) <= {"message", "detail", "validations"}
        assert body["message"].startswith("Too many running processes (2)")

        # A retry of a start that already happened runs nothing, so the cap does not apply.
        retry = client.post(
            f"{PROCESSES}/start", json={"command": "sleep 300", "idempotency_key": "second"}
        )
        assert retry.status_code == 200
        assert retry.json() == {"id": second, "started": False, "attached": True}

        send(client, first, "kill")
        assert output(client, first, wait=True)["running"] is False
        third = start(client, "sleep 300")
        assert third not in {first, second}
        for process_id in (second, third):
            send(client, process_id, "kill")


def test_a_429_says_when_to_retry(make_live_agent: AgentFactory) -> None:
    """A start refused at the cap carries Retry-After, as every 429 does."""
    with (
        make_live_agent(Settings(token=TOKEN, max_running=1)) as agent,
        agent.client() as client,
    ):
        running = start(client, "sleep 300")
        refused = client.post(f"{PROCESSES}/start", json={"command": "sleep 300"})
        send(client, running, "kill")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"


# -- niceness and OOM score ----------------------------------------------------------------


PRIORITY_REPORT = (
    "cat /proc/self/oom_score_adj; "
    # Field 19 of stat is the niceness: the 17th after the ') ' that ends the command name.
    "sed 's/.*) //' /proc/self/stat | cut -d' ' -f17; "
    # Field 6, the session, must still be the shell's own pid: the adjustment execs.
    "sed 's/.*) //' /proc/$$/stat | cut -d' ' -f4; echo $$; "
    "echo to-stderr >&2; exit 7"
)
"""What a child reports about itself: OOM score, niceness, session and pid; then stderr and
a distinctive exit code, both of which the adjustment must leave alone."""


def test_children_get_the_configured_niceness_and_oom_score(
    make_live_agent: AgentFactory,
) -> None:
    """With nice=10 and oom_score_adj=500 a child reports both, and its own output is intact."""
    settings = Settings(token=TOKEN, nice=10, oom_score_adj=500)
    with make_live_agent(settings) as agent, agent.client() as client:
        body = output(client, start(client, PRIORITY_REPORT), wait=True)
    oom, nice, session, pid, stderr_line, rest = str(body["output"]).split("\n")
    assert (oom, nice) == ("500", "10")
    assert session == pid
    assert (stderr_line, rest) == ("to-stderr", "")
    assert body["exit_code"] == 7


def test_an_adjustment_the_agent_may_not_make_leaves_no_noise_in_the_output() -> None:
    """An agent not allowed to lower niceness or OOM score still runs commands cleanly."""
    wrapper = unprivileged_wrapper()
    current_nice = os.getpriority(os.PRIO_PROCESS, 0)
    current_oom = Path("/proc/self/oom_score_adj").read_text().strip()
    flags = ("--nice", str(current_nice - 5), "--oom-score-adj", str(int(current_oom) - 500))
    with serve_agent(*flags, wrapper=wrapper) as agent, agent.client() as client:
        body = output(client, start(client, PRIORITY_REPORT), wait=True)
        log = agent.log_text()
    oom, nice, session, pid, *rest = str(body["output"]).split("\n")
    # The agent's own values, inherited from this process: the adjustment could not apply.
    assert (oom, nice) == (current_oom, str(current_nice)), log
    assert session == pid
    assert rest == ["to-stderr", ""], body
    assert body["exit_code"] == 7
    # Said once, where the operator looks, instead of in every command's output.
    errors = [line for line in agent.log if " ERROR " in line]
    assert any("niceness" in line for line in errors), log
    assert any("oom_score_adj" in line for line in errors), log


def unprivileged_wrapper() -> tuple[str, ...]:
    """A prefix that runs the agent without the right to lower niceness or OOM score."""
    if os.geteuid() != 0:
        return ()  # unprivileged already
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("needs setpriv (util-linux) to drop root's capabilities")
    # Root keeps its file access but loses CAP_SYS_NICE and CAP_SYS_RESOURCE, the two
    # capabilities that lowering niceness and oom_score_adj require.
    return (setpriv, "--bounding-set=-sys_nice,-sys_resource")


# -- binary and invalid UTF-8 output ---------------------------------------------------------


def test_invalid_utf8_is_replaced_not_an_error(chat_client: httpx.Client) -> None:
    """Bytes that are not UTF-8 come back as U+FFFD in a valid JSON response."""
    process_id = start(chat_client, r"printf '\377\376abc'")
    body = output(chat_client, process_id, wait=True)
    assert body["output"] == "\ufffd\ufffdabc"
    assert body["exit_code"] == 0


def test_random_binary_output_yields_valid_json(chat_client: httpx.Client) -> None:
    """Random bytes never break the response: it is JSON, with replacement characters."""
    process_id = start(chat_client, "head -c 4096 /dev/urandom")
    response = chat_client.get(f"{PROCESSES}/{process_id}/output", params={"wait": "true"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["exit_code"] == 0
    assert "\ufffd" in body["output"]


def test_multibyte_characters_cut_at_head_and_tail_render_as_replacements(
    chat_client: httpx.Client,
) -> None:
    """A euro sign split by the head's end and another by the tail's start decode cleanly."""
    # Head: 16383 newlines + the first byte of a euro sign; omitted: its other two bytes and
    # the first byte of the second one; tail: that one's last two bytes + 16382 newlines.
    command = (
        f"head -c {HEAD - 1} /dev/zero | tr '\\0' '\\n'; "
        r"printf '\342\202\254\342\202\254'; "
        f"head -c {TAIL - 2} /dev/zero | tr '\\0' '\\n'"
    )
    body = output(chat_client, start(chat_client, command), wait=True)
    assert body["exit_code"] == 0
    assert body["output"] == (
        "\n" * (HEAD - 1) + "\ufffd" + marker(3) + "\ufffd\ufffd" + "\n" * (TAIL - 2)
    )
    assert body["truncated"] == {
        "original_bytes": HEAD + TAIL + 3,
        "retained_bytes": HEAD + TAIL + len(marker(3)),
        "omitted_bytes": 3,
        "strategy": "head_tail",
    }
