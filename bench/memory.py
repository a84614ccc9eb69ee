"""The agent's memory: flat however much its commands print.

Each process keeps a head and a window of its newest output; the windows of all processes
together stay within the output budget (``--output-budget-bytes``), so 500 commands of 10 MB
each must grow the agent by no more than the budget and a small constant (30 MiB: the
interpreter's own arenas and the processes' bookkeeping). The row's ratio is the growth over
that bound: below 1 holds it.
"""

from __future__ import annotations

from harness import PROCESSES, Baseline, Bench, Context, Row, agent_server, status_kib
from output import MIB, WAIT, agent_client

from agentproc.settings import DEFAULT_OUTPUT_BUDGET_BYTES

CONSTANT_MIB = 30
"""What the agent may grow by besides the budget (spec: live-io.md, issue's bound)."""


def _growth(ctx: Context, count: int, size: int) -> float:
    """MiB the agent grew by after ``count`` commands of ``size`` bytes each, all at once."""
    with agent_client(ctx) as client:
        warm = client.post(f"{PROCESSES}/start", json={"command": "head -c 100000 /dev/zero"})
        client.get(f"{PROCESSES}/{warm.json()['id']}/output", params=WAIT)
        before = status_kib(ctx.pid, "VmRSS")
        ids = [
            client.post(f"{PROCESSES}/start", json={"command": f"head -c {size} /dev/zero"}).json()[
                "id"
            ]
            for _ in range(count)
        ]
        for process_id in ids:
            assert (
                client.get(f"{PROCESSES}/{process_id}/output", params=WAIT).json()["exit_code"] == 0
            )
        return (status_kib(ctx.pid, "VmRSS") - before) / 1024


def many_outputs(ctx: Context) -> list[Row]:
    """500 commands of 10 MB each, on a fresh agent with the default budget, and on one with
    a budget smaller than their windows (4 MiB), each against budget + 30 MiB."""
    count = ctx.pick(500, 100)
    size = 10_000_000
    rows = []
    for budget, flags in (
        (DEFAULT_OUTPUT_BUDGET_BYTES, ()),
        (4 * MIB, ("--output-budget-bytes", str(4 * MIB))),
    ):
        with agent_server("--max-retained", str(count + 10), *flags) as fresh:
            growth = _growth(fresh, count, size)
        bound = budget / MIB + CONSTANT_MIB
        rows.append(
            Row(
                f"agent RSS growth, {count} x 10 MB outputs, budget {budget / MIB:g} MiB",
                growth,
                "MiB",
                Baseline("budget + 30 MiB", bound),
            )
        )
    return rows


BENCHES = (Bench("memory under many outputs", many_outputs, order=60),)
