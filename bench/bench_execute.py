"""How long ``execute`` takes for a command that exits after about 50 ms.

Run it with the project's interpreter: ``.venv/bin/python bench/bench_execute.py [--runs N]``.
It starts a real agent (``python -m agentproc serve`` on 127.0.0.1, any free port) as a
subprocess, runs ``sleep 0.05`` through ``ExecuteTool`` N times over the real SDK, and
prints medians:

- the command alone, ``sh -c 'sleep 0.05'`` run locally, timed the same way;
- ``execute`` as built: each poll is a bounded wait on the agent, so the exit is seen when
  it happens;
- ``execute`` against an agent that ignores ``wait`` (the same agent behind a wrapper that
  drops the flag), which is what a fixed 200 ms poll would give.

The first should be close to the command's own duration, well below the 200 ms tick. The
script is self-contained for now; the bench/ folder will be gathered under ``make bench``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream

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

STARTUP_TIMEOUT_SECONDS = 30.0
"""Safety net only: the agent announces its address as soon as it listens."""

# The agent logs "process API at http://HOST:PORT/api/v0/processes" once it listens.
_LISTENING = re.compile(r"process API at (http://[\d.]+:\d+)/api/v0/processes")


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


async def _drain(stream: TextReceiveStream) -> None:
    # The agent keeps logging; an unread pipe would eventually block it.
    async for _ in stream:
        pass


@asynccontextmanager
async def running_agent() -> AsyncIterator[str]:
    """Start ``agentproc serve`` on 127.0.0.1 and yield its base URL; stop it afterwards."""
    command = [sys.executable, "-m", "agentproc", "serve", "--host", "127.0.0.1", "--port", "0"]
    process: Process = await anyio.open_process([*command, "--log-level", "info"])
    assert process.stderr is not None
    stderr = TextReceiveStream(process.stderr)
    try:
        async with anyio.create_task_group() as tasks:
            base_url = ""
            with anyio.fail_after(STARTUP_TIMEOUT_SECONDS):
                seen = ""
                async for chunk in stderr:
                    seen += chunk
                    match = _LISTENING.search(seen)
                    if match:
                        base_url = match.group(1)
                        break
            if not base_url:
                raise RuntimeError(f"the agent exited before listening:\n{seen}")
            tasks.start_soon(_drain, stderr)
            yield base_url
            process.terminate()
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


async def median_ms(runs: int, action: Callable[[], Awaitable[object]]) -> float:
    """The median wall time of ``action`` in milliseconds, after one warm-up call."""
    await action()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


async def main(runs: int) -> None:
    """Measure and print the three medians."""
    arguments = f'{{"command": "{COMMAND}"}}'

    async def command_alone() -> None:
        await anyio.run_process(["sh", "-c", COMMAND])

    alone = await median_ms(runs, command_alone)
    async with running_agent() as base_url, AsyncAgentConn(base_url) as conn:
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

    print(f"`{COMMAND}`, median of {runs} runs, agent at {base_url}")
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
    anyio.run(main, parser.parse_args().runs)
