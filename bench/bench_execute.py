"""How long ``execute`` takes for a command that exits after about 50 ms.

``make bench`` includes it; alone: ``.venv/bin/python bench/bench_execute.py [--runs N]``.
It starts a real agent (``python -m agentproc serve`` on 127.0.0.1, any free port) as a
subprocess, runs ``sleep 0.05`` through ``ExecuteTool`` N times over the real SDK, and
prints medians:

- the command alone, ``sh -c 'sleep 0.05'`` run locally, timed the same way;
- ``execute`` as built: each poll is a bounded wait on the agent, so the exit is seen when
  it happens;
- ``execute`` against an agent that ignores ``wait`` (the same agent behind a wrapper that
  drops the flag), which is what a fixed 200 ms poll would give.

The first should be close to the command's own duration, well below the 200 ms tick.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Awaitable, Callable

import anyio

from agentsdk import AsyncAgentConn
from agentsdk.types import (
    ListProcessesResponse,
    ProcessOutputResponse,
    Signal,
    StartProcessRequest,
    StartProcessResponse,
)
from chattool import ExecuteTool

COMMAND = "sleep 0.05"
"""Exits after about 50 ms: well inside one 200 ms tick."""

DEFAULT_RUNS = 20
"""Enough for a stable median in a few seconds."""


class IgnoresWait:
    """The same agent, minus ``wait``: every read answers at once, like an older agent."""

    def __init__(self, inner: AsyncAgentConn) -> None:
        self._inner = inner

    async def start_process(self, request: StartProcessRequest, /) -> StartProcessResponse:
        return await self._inner.start_process(request)

    async def list_processes(self) -> ListProcessesResponse:
        return await self._inner.list_processes()

    async def process_output(
        self, process_id: str, /, *, wait: bool = False, timeout_ms: int | None = None
    ) -> ProcessOutputResponse:
        return await self._inner.process_output(process_id)

    async def signal_process(self, process_id: str, signal: Signal, /) -> None:
        await self._inner.signal_process(process_id, signal)


async def median_ms(runs: int, action: Callable[[], Awaitable[object]]) -> float:
    """The median wall time of ``action`` in milliseconds, after one warm-up call."""
    await action()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


async def measure(base_url: str, token: str | None, runs: int) -> tuple[float, float, float]:
    """Medians in ms: the command alone, ``execute`` with bounded waits, and ``execute``
    against an agent that ignores ``wait`` (a fixed 200 ms tick)."""
    arguments = f'{{"command": "{COMMAND}"}}'

    async def command_alone() -> None:
        await anyio.run_process(["sh", "-c", COMMAND])

    alone = await median_ms(runs, command_alone)
    async with AsyncAgentConn(base_url, token=token) as conn:
        bounded_tool = ExecuteTool(conn)
        polling_tool = ExecuteTool(IgnoresWait(conn))

        async def bounded() -> None:
            result = await bounded_tool.run(arguments)
            assert '"success":true' in result.content, result.content

        async def polling() -> None:
            result = await polling_tool.run(arguments)
            assert '"success":true' in result.content, result.content

        waited = await median_ms(runs, bounded)
        ticked = await median_ms(runs, polling)
    return alone, waited, ticked


def main(runs: int) -> None:
    """Start an agent, measure, and print the three medians."""
    from run import TOKEN, agent_server

    with agent_server() as (base_url, _pid):
        alone, waited, ticked = anyio.run(measure, base_url, TOKEN, runs)
    print(f"`{COMMAND}`, median of {runs} runs")
    rows = [
        ("command alone (local sh -c)", alone),
        ("execute, bounded waits", waited),
        ("execute, agent ignoring wait", ticked),
    ]
    for label, value in rows:
        ratio = "" if value is alone else f"  {value / alone:5.2f}x the command"
        print(f"  {label:<32}{value:8.1f} ms{ratio}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="measured calls per row")
    main(parser.parse_args().runs)
