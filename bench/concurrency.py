"""Many commands at once: 100 concurrent ``sleep 0.5`` through ``AsyncAgentConn``, against
the ideal (one sleep: they all overlap) and against the same through SWE-ReX."""

from __future__ import annotations

import statistics
import time

import anyio
import httpx
from harness import TOKEN, Baseline, Bench, Context, Row

from agentsdk import AsyncAgentConn

CONCURRENT = 100
SLEEP_SECONDS = 0.5


async def _ours(base_url: str, count: int, *, one_request: bool) -> float:
    async with AsyncAgentConn(base_url, token=TOKEN, timeout=120) as agent:

        async def one() -> None:
            command = f"sleep {SLEEP_SECONDS}"
            if one_request:
                assert (await agent.run_process(command=command)).exit_code == 0
                return
            started = await agent.start_process(command=command)
            assert (await agent.process_output(started.id, wait=True)).exit_code == 0

        began = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(one)
        return time.perf_counter() - began


async def _swerex(base_url: str, count: int) -> float:
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(
        base_url=base_url, headers={"X-API-Key": TOKEN}, timeout=600, limits=limits
    ) as peer:

        async def one() -> None:
            body = {"command": f"sleep {SLEEP_SECONDS}", "shell": True}
            assert (await peer.post("/execute", json=body)).json()["exit_code"] == 0

        began = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(one)
        return time.perf_counter() - began


def concurrent_sleeps(ctx: Context) -> list[Row]:
    """100 concurrent ``sleep 0.5``: ``run_process`` and start + wait, rounds interleaved;
    SWE-ReX once in between (its ``/execute`` blocks its event loop: they run one by one, so
    it takes about 50 s, and is left out in quick mode)."""
    rounds = ctx.pick(3, 1)
    run: list[float] = []
    two: list[float] = []
    peer: float | None = None
    for round_number in range(rounds):
        run.append(anyio.run(lambda: _ours(ctx.base_url, CONCURRENT, one_request=True)))
        two.append(anyio.run(lambda: _ours(ctx.base_url, CONCURRENT, one_request=False)))
        if round_number == 0 and ctx.swerex is not None and not ctx.quick:
            peer = anyio.run(_swerex, ctx.swerex, CONCURRENT)
    ideal = Baseline("one sleep alone", SLEEP_SECONDS)
    peer_base = None if peer is None else Baseline("/execute", peer)
    name = f"{CONCURRENT} concurrent `sleep {SLEEP_SECONDS}`, AsyncAgentConn"
    return [
        Row(f"{name} run_process", statistics.median(run), "s", ideal, peer_base),
        Row(f"{name} start + output?wait", statistics.median(two), "s", ideal, peer_base),
    ]


BENCHES = (Bench("concurrent sleeps", concurrent_sleeps, order=30, needs_peer=True),)
