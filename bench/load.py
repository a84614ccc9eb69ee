"""The agent saturated: 100 clients running ``true`` back to back for 20 s, and how fast
``/healthz`` answers meanwhile, against SWE-ReX under the same load.

The load generator is a small HTTP/1.1 client on asyncio streams in this process, on uvloop
when it is installed, not wrk. wrk would need root to install from Debian, and Lua to chain a
start to the read of the id it returned; this client does that in a few lines, costs a few
tens of microseconds a request, and reports its own CPU time, so a row shows when the client
rather than the agent was the limit. Each client keeps one connection; the prober opens a new
connection every 20 ms, as a supervisor's liveness probe does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import anyio
from harness import PROCESSES, TOKEN, Baseline, Bench, Context, Row, cpu_seconds

from agentproc.speedups import installed
from agentsdk import AsyncAgentConn

CLIENTS = 100
PROBE_INTERVAL_SECONDS = 0.02
SWEREX_KEY = {"X-API-Key": TOKEN}


class Connection:
    """One keep-alive HTTP/1.1 connection, one request at a time."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, headers: str
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._headers = headers

    @classmethod
    async def open(cls, base_url: str, headers: dict[str, str]) -> Connection:
        """Connect to ``base_url``, sending ``headers`` with every request."""
        url = urlsplit(base_url)
        assert url.hostname is not None and url.port is not None
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        lines = [f"Host: {url.netloc}", *(f"{name}: {value}" for name, value in headers.items())]
        return cls(reader, writer, "".join(f"{line}\r\n" for line in lines))

    async def request(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        """Send one request and read its whole answer: status and body."""
        head = f"{method} {path} HTTP/1.1\r\n{self._headers}"
        content = b"" if body is None else json.dumps(body).encode()
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n"
        self._writer.write(head.encode() + b"\r\n" + content)
        answer = await self._reader.readuntil(b"\r\n\r\n")
        status = int(answer[9:12])
        length = 0
        for line in answer.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self._reader.readexactly(length)

    def close(self) -> None:
        """Close the connection."""
        self._writer.close()


@dataclass
class Tally:
    """What one load phase did."""

    requests: int = 0
    commands: list[float] = field(default_factory=list)
    """Seconds each command took."""
    probes: list[float] = field(default_factory=list)
    """Seconds each liveness probe took, connecting included."""
    failures: int = 0
    """Probes answered with another status than 200."""


Command = Callable[[Connection], Awaitable[int]]
"""Runs one command over a connection; returns how many requests it took."""


async def two_calls(conn: Connection) -> int:
    """``true`` by Coder's two calls: start, then output with ``wait=true``."""
    status, body = await conn.request("POST", f"{PROCESSES}/start", {"command": "true"})
    assert status == 200, body
    process_id = json.loads(body)["id"]
    status, body = await conn.request("GET", f"{PROCESSES}/{process_id}/output?wait=true")
    assert status == 200 and b'"exit_code":0' in body, body
    return 2


async def one_run(conn: Connection) -> int:
    """``true`` by one ``/run``."""
    status, body = await conn.request("POST", f"{PROCESSES}/run", {"command": "true"})
    assert status == 200 and b'"exit_code":0' in body, body
    return 1


async def swerex_execute(conn: Connection) -> int:
    """``true`` by SWE-ReX's ``/execute``."""
    status, body = await conn.request("POST", "/execute", {"command": "true", "shell": True})
    assert status == 200 and b'"exit_code":0' in body, body
    return 1


async def _phase(
    base_url: str,
    headers: dict[str, str],
    command: Command,
    probe_path: str,
    duration: float,
) -> Tally:
    tally = Tally()
    commands, probes = tally.commands, tally.probes
    end = time.perf_counter() + duration

    async def client() -> None:
        conn = await Connection.open(base_url, headers)
        try:
            while time.perf_counter() < end:
                began = time.perf_counter()
                # Not `tally.requests += await ...`: that reads the count before the await.
                sent = await command(conn)
                tally.requests += sent
                commands.append(time.perf_counter() - began)
        finally:
            conn.close()

    async def prober() -> None:
        while time.perf_counter() < end:
            began = time.perf_counter()
            conn = await Connection.open(base_url, headers)
            try:
                status, _ = await conn.request("GET", probe_path)
            finally:
                conn.close()
            probes.append(time.perf_counter() - began)
            if status != 200:
                tally.failures += 1
            await anyio.sleep(PROBE_INTERVAL_SECONDS)

    async with anyio.create_task_group() as tg:
        for _ in range(CLIENTS):
            tg.start_soon(client)
        tg.start_soon(prober)
    return tally


async def _sdk_phase(base_url: str, duration: float) -> Tally:
    tally = Tally()
    commands = tally.commands
    end = time.perf_counter() + duration
    async with AsyncAgentConn(base_url, token=TOKEN, timeout=120) as agent:

        async def client() -> None:
            while time.perf_counter() < end:
                began = time.perf_counter()
                assert (await agent.run_process(command="true")).exit_code == 0
                tally.requests += 1
                commands.append(time.perf_counter() - began)

        async with anyio.create_task_group() as tg:
            for _ in range(CLIENTS):
                tg.start_soon(client)
    return tally


def _run(phase: Callable[[], Awaitable[Tally]]) -> tuple[Tally, float]:
    """Run a phase on uvloop where installed; the phase's tally and this process's CPU."""
    options = {"use_uvloop": True} if installed("uvloop") else {}
    before = cpu_seconds()
    tally = anyio.run(phase, backend_options=options)
    return tally, cpu_seconds() - before


def _p(values: list[float], share: float) -> float:
    """The ``share`` quantile of ``values`` (seconds), in ms."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def load(ctx: Context) -> list[Row]:
    """Requests per second with 100 clients, by two calls and by ``/run``, and ``/healthz``
    latency meanwhile; SWE-ReX under the same load (one ``/execute`` per command)."""
    duration = ctx.pick(20, 3)
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def ours(command: Command) -> tuple[Tally, float]:
        return _run(lambda: _phase(ctx.base_url, auth, command, "/healthz", duration))

    two, two_cpu = ours(two_calls)
    peer: Tally | None = None
    if ctx.swerex is not None:
        swerex = ctx.swerex
        peer, _ = _run(lambda: _phase(swerex, SWEREX_KEY, swerex_execute, "/is_alive", duration))
    run, run_cpu = ours(one_run)

    def rate(tally: Tally) -> float:
        return tally.requests / duration

    peer_rate = None if peer is None else Baseline("/execute", rate(peer))

    def note(tally: Tally, cpu: float) -> str:
        return (
            f"command p50 {_p(tally.commands, 0.5):.0f} ms, p99 {_p(tally.commands, 0.99):.0f}"
            f" ms; load client {cpu / duration:.0%} of a core"
        )

    rows = [
        Row(
            f"load, {CLIENTS} clients, start + output?wait (raw HTTP)",
            rate(two),
            "req/s",
            peer=peer_rate,
            note=note(two, two_cpu),
            higher_is_better=True,
        ),
        Row(
            f"load, {CLIENTS} clients, /run (raw HTTP)",
            rate(run),
            "req/s",
            peer=peer_rate,
            note=note(run, run_cpu),
            higher_is_better=True,
        ),
    ]
    for label, tally in (("start + output?wait", two), ("/run", run)):
        probe_peer = None if peer is None else Baseline("/is_alive", _p(peer.probes, 0.99))
        rows.append(
            Row(
                f"/healthz p99 during the {label} load",
                _p(tally.probes, 0.99),
                "ms",
                peer=probe_peer,
                note=f"p50 {_p(tally.probes, 0.5):.1f} ms, max {_p(tally.probes, 1.0):.0f} ms,"
                f" {tally.failures} failed",
            )
        )
    if not ctx.quick:
        sdk, sdk_cpu = _run(lambda: _sdk_phase(ctx.base_url, duration))
        rows.append(
            Row(
                f"load, {CLIENTS} clients, AsyncAgentConn.run_process",
                rate(sdk),
                "req/s",
                peer=peer_rate,
                note=note(sdk, sdk_cpu),
                higher_is_better=True,
            )
        )
    return rows


BENCHES = (Bench("load", load, order=70, needs_peer=True),)
