"""How soon a waiting caller learns that a command asks a question, and what a look costs.

``make bench`` includes it (``--only question``); alone: ``.venv/bin/python bench/prompts.py
[--runs N]``.
It starts a real agent (``python -m agentproc serve`` on 127.0.0.1, any free port) and, N
times, a command that stamps the wall clock, prints a question and reads its stdin, while
the client already waits with ``wait=true&wake_on_input=true``. It prints:

- question → answer: from the stamp to the wait's answer with ``waiting_for_input``
  (median, 95th percentile, worst), against the 10 s timeout a caller without
  ``wake_on_input`` waits out; the floor is the 200 ms quiet the agent requires first;
- question → ``execute(interactive)``'s result: the same, through the tool as a model calls it;
- one look: a walk of this machine's ``/proc`` for one watched command, the work each look
  does in a worker thread (why it is not done on the event loop).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from dataclasses import dataclass

import anyio
from harness import TOKEN, Baseline, Bench, Context, Row, agent_server

from agentproc.blockedreads import InputIdentity, waiting_sessions
from agentsdk import AgentConn, AsyncAgentConn
from chattool import ExecuteTool

TIMEOUT_MS = 10_000
"""What a caller without ``wake_on_input`` waits before it looks: ``execute``'s timeout."""

QUESTION = (
    "python3 -c 'import sys, time; "
    'sys.stdout.write("%.6f Ok? " % time.time()); sys.stdout.flush(); input()\''
)
"""Stamps the wall clock just before it asks, then waits for the answer."""

DEFAULT_RUNS = 20
"""Enough for a stable median in a few seconds."""


@dataclass(frozen=True)
class PromptTimes:
    """What :func:`measure` found, in milliseconds."""

    median_ms: float
    """Question printed → the wait's answer, the median."""

    p95_ms: float
    """The same, 95th percentile."""

    max_ms: float
    """The same, the worst run."""

    look_ms: float
    """One walk of ``/proc`` for one watched command, the median."""

    processes: int
    """How many processes that walk read."""


def measure(base_url: str, token: str | None, runs: int) -> PromptTimes:
    """Ask ``runs`` questions through the agent at ``base_url`` and time the answers; time a
    look at this machine's ``/proc``."""
    latencies = []
    with AgentConn(base_url, token=token, timeout=60) as agent:
        for _ in range(runs):
            started = agent.start_process(command=QUESTION, stdin=True)
            answer = agent.process_output(
                started.id, wait=True, wake_on_input=True, timeout_ms=60_000
            )
            received = time.time()
            assert answer.waiting_for_input, answer
            asked = float(answer.output.split()[0])
            latencies.append((received - asked) * 1000)
            agent.close_input(started.id)
            agent.process_output(started.id, wait=True)
    latencies.sort()
    look_ms, processes = _look()
    return PromptTimes(
        median_ms=statistics.median(latencies),
        p95_ms=latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))],
        max_ms=latencies[-1],
        look_ms=look_ms,
        processes=processes,
    )


def _look(samples: int = 50) -> tuple[float, int]:
    """The median time of one ``/proc`` walk watching one real command, and the process count."""
    with subprocess.Popen(
        ["sh", "-c", "read x"], stdin=subprocess.PIPE, start_new_session=True
    ) as reader:
        assert reader.stdin is not None
        watched = {reader.pid: frozenset({InputIdentity.of_descriptor(reader.stdin.fileno())})}
        times = []
        for _ in range(samples):
            began = time.perf_counter()
            waiting_sessions(watched)
            times.append((time.perf_counter() - began) * 1000)
        reader.stdin.close()
    processes = sum(1 for name in os.listdir("/proc") if name.isdigit())
    return statistics.median(times), processes


def execute_latencies(base_url: str, token: str | None, runs: int) -> list[float]:
    """Milliseconds from a question printed to ``execute``'s interactive result, ``runs``
    times: the tool as a model calls it."""

    async def measure_all() -> list[float]:
        latencies = []
        async with AsyncAgentConn(base_url, token=token, timeout=60) as agent:
            execute = ExecuteTool(agent)
            for _ in range(runs):
                result = json.loads(
                    (
                        await execute.run(
                            {"command": QUESTION, "interactive": True, "timeout": "10s"}
                        )
                    ).content
                )
                received = time.time()
                assert result["waiting_for_input"], result
                latencies.append((received - float(result["output"].split()[0])) * 1000)
                await agent.signal_process(result["background_process_id"], "kill")
        return sorted(latencies)

    return anyio.run(measure_all)


def question_latency(ctx: Context) -> list[Row]:
    """A question printed → the wake_on_input answer, and → execute's interactive result,
    vs waiting out execute's timeout."""
    runs = ctx.pick(DEFAULT_RUNS, 5)
    times = measure(ctx.base_url, TOKEN, runs)
    note = f"p95 {times.p95_ms:.0f} ms; one /proc look {times.look_ms:.2f} ms"
    floor = Baseline("a 10 s timeout waited out", TIMEOUT_MS)
    executed = execute_latencies(ctx.base_url, TOKEN, runs)
    return [
        Row("question -> wake_on_input answer", times.median_ms, "ms", floor, note=note),
        Row(
            "question -> execute(interactive) result",
            statistics.median(executed),
            "ms",
            floor,
            note=f"worst {executed[-1]:.0f} ms of {runs}",
        ),
    ]


BENCHES = (Bench("question", question_latency, order=60),)


def main(runs: int) -> None:
    """Start an agent, measure, and print the figures."""
    with agent_server() as ctx:
        times = measure(ctx.base_url, TOKEN, runs)
    print(f"question -> wake_on_input answer, {runs} runs")
    print(
        f"  median {times.median_ms:7.1f} ms   ({TIMEOUT_MS / times.median_ms:.0f}x sooner", end=""
    )
    print(f" than a {TIMEOUT_MS / 1000:g} s timeout)")
    print(f"  p95    {times.p95_ms:7.1f} ms")
    print(f"  worst  {times.max_ms:7.1f} ms")
    print(f"one look at /proc: {times.look_ms:.2f} ms for {times.processes} processes")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="questions asked")
    main(parser.parse_args().runs)
