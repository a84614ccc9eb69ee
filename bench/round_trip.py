"""Round trips: what one short command costs a client, from the SDK and from the ``execute``
tool, against running it in this process (the floor) and SWE-ReX's ``/execute`` (the peer).

Every sample runs the floor, our variants and the peer one after another, round-robin, so
the machine's load at any moment weighs on each alike; each row is the median.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import ExitStack

import anyio
import httpx
from harness import TOKEN, Baseline, Bench, Context, Row, interleaved, swerex_execute

from agentsdk import AgentConn, AsyncAgentConn
from agentsdk.types import (
    ListProcessesResponse,
    ProcessOutputResponse,
    Signal,
    StartProcessRequest,
    StartProcessResponse,
)
from chattool import ExecuteTool

SLEEP_COMMAND = "sleep 0.05"
"""Exits after about 50 ms: well inside one of ``execute``'s 200 ms ticks."""


def sdk_round_trips(ctx: Context) -> list[Row]:
    """``true`` through ``AgentConn``: start + waiting output (Coder's two calls), and
    ``run_process`` (one ``/run``)."""
    samples = ctx.pick(200, 30)
    with ExitStack() as stack:
        agent = stack.enter_context(AgentConn(ctx.base_url, token=TOKEN))

        def two_calls() -> None:
            started = agent.start_process(command="true")
            assert agent.process_output(started.id, wait=True).exit_code == 0

        def one_run() -> None:
            assert agent.run_process(command="true").exit_code == 0

        actions: dict[str, Callable[[], object]] = {
            "floor": lambda: subprocess.run(["sh", "-c", "true"], check=True),
            "two": two_calls,
            "run": one_run,
        }
        if ctx.swerex is not None:
            peer = stack.enter_context(
                httpx.Client(base_url=ctx.swerex, headers={"X-API-Key": TOKEN})
            )
            actions["peer"] = lambda: swerex_execute(peer, "true")
        median = interleaved(actions, samples)
    floor = Baseline("subprocess.run", median["floor"])
    peer_base = Baseline("/execute", median["peer"]) if "peer" in median else None
    return [
        Row("`true`, SDK start + output?wait (2 requests)", median["two"], "ms", floor, peer_base),
        Row("`true`, SDK run_process (1 request)", median["run"], "ms", floor, peer_base),
    ]


async def _interleaved_async(
    actions: Mapping[str, Callable[[], Awaitable[object]]], samples: int, warmup: int = 3
) -> dict[str, float]:
    """:func:`harness.interleaved` for coroutines, on one event loop."""
    for action in actions.values():
        for _ in range(warmup):
            await action()
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(samples):
        for name, action in actions.items():
            began = time.perf_counter()
            await action()
            times[name].append((time.perf_counter() - began) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


class IgnoresWait:
    """The same agent, minus ``wait`` and ``/run``: every read answers at once, as an agent
    that does not hold requests does, so ``execute`` falls back to its 200 ms ticks."""

    def __init__(self, inner: AsyncAgentConn) -> None:
        self._inner = inner

    @property
    def headers(self) -> Mapping[str, str]:
        return self._inner.headers

    async def start_process(
        self, request: StartProcessRequest, /, *, extra_headers: Mapping[str, str] | None = None
    ) -> StartProcessResponse:
        return await self._inner.start_process(request, extra_headers=extra_headers)

    async def list_processes(
        self, *, extra_headers: Mapping[str, str] | None = None
    ) -> ListProcessesResponse:
        return await self._inner.list_processes(extra_headers=extra_headers)

    async def process_output(
        self, process_id: str, /, *, extra_headers: Mapping[str, str] | None = None, **_: object
    ) -> ProcessOutputResponse:
        return await self._inner.process_output(process_id, extra_headers=extra_headers)

    async def signal_process(
        self, process_id: str, signal: Signal, /, *, extra_headers: Mapping[str, str] | None = None
    ) -> None:
        await self._inner.signal_process(process_id, signal, extra_headers=extra_headers)


async def _execute_rows(ctx: Context) -> list[Row]:
    samples = ctx.pick(100, 20)
    async with AsyncAgentConn(ctx.base_url, token=TOKEN) as conn:
        tool = ExecuteTool(conn)
        ticking = ExecuteTool(IgnoresWait(conn))

        async def execute(on: ExecuteTool, command: str) -> None:
            result = await on.run(json.dumps({"command": command}))
            assert '"success":true' in result.content, result.content

        async def alone(command: str) -> None:
            await anyio.run_process(["sh", "-c", command])

        actions: dict[str, Callable[[], Awaitable[object]]] = {
            "floor": lambda: alone("true"),
            "execute": lambda: execute(tool, "true"),
            "sleep alone": lambda: alone(SLEEP_COMMAND),
            "sleep": lambda: execute(tool, SLEEP_COMMAND),
            "sleep ticking": lambda: execute(ticking, SLEEP_COMMAND),
        }
        if ctx.swerex is not None:
            peer = httpx.AsyncClient(base_url=ctx.swerex, headers={"X-API-Key": TOKEN})

            async def on_peer() -> None:
                response = await peer.post("/execute", json={"command": "true", "shell": True})
                assert response.json()["exit_code"] == 0

            actions["peer"] = on_peer
        try:
            median = await _interleaved_async(actions, samples)
        finally:
            if ctx.swerex is not None:
                await peer.aclose()
    peer_base = Baseline("/execute", median["peer"]) if "peer" in median else None
    sleep_name = f"`{SLEEP_COMMAND}`, execute"
    return [
        Row(
            "`true`, chattool execute",
            median["execute"],
            "ms",
            Baseline("the command run here", median["floor"]),
            peer_base,
        ),
        Row(
            sleep_name,
            median["sleep"],
            "ms",
            Baseline("the command run here", median["sleep alone"]),
        ),
        Row(
            sleep_name,
            median["sleep"],
            "ms",
            Baseline("execute on an agent that does not wait", median["sleep ticking"]),
            note="a plain 200 ms poll",
        ),
    ]


def execute_round_trips(ctx: Context) -> list[Row]:
    """chattool's ``execute``: ``true``, and a 50 ms command against its own duration and
    against an agent that does not hold waits (``execute`` then polls on its 200 ms tick)."""
    return anyio.run(_execute_rows, ctx)


BENCHES = (
    Bench("SDK round trips", sdk_round_trips, order=10, needs_peer=True),
    Bench("execute round trips", execute_round_trips, order=20, needs_peer=True),
)
