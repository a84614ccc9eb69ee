"""Input: 10,000 lines written to ``cat`` through ``/{id}/input`` (100 calls of 100 lines,
then end-of-file, then one output read), against the same lines piped to ``cat`` here."""

from __future__ import annotations

import subprocess

import httpx
from harness import AUTH, PROCESSES, Baseline, Bench, Context, Row, seconds

LINES = 10_000
BATCH = 100


def input_round_trip(ctx: Context) -> list[Row]:
    """The lines through the agent vs through a local pipe, best of a few rounds each."""
    data = [f"line {number:05d}\n" for number in range(LINES)]
    expected = "".join(data).encode()
    rounds = ctx.pick(3, 1)

    def local() -> None:
        done = subprocess.run(["cat"], input=expected, capture_output=True, check=True)
        assert done.stdout == expected

    def through_agent() -> None:
        started = http.post("/start", json={"command": "cat", "stdin": True}).json()
        for first in range(0, LINES, BATCH):
            chunk = "".join(data[first : first + BATCH])
            answer = http.post(f"/{started['id']}/input", json={"data": chunk})
            assert answer.status_code == 200, answer.text
        http.post(f"/{started['id']}/input", json={"close": True}).raise_for_status()
        result = http.get(f"/{started['id']}/output", params={"wait": "true"}).json()
        assert result["exit_code"] == 0 and result["output"].endswith(data[-1])

    base = f"{ctx.base_url}{PROCESSES}"
    with httpx.Client(base_url=base, headers=AUTH, timeout=60) as http:
        floor = ours = float("inf")
        for _ in range(rounds):
            floor = min(floor, seconds(local) * 1000)
            ours = min(ours, seconds(through_agent) * 1000)
    name = f"{LINES:,} lines through `cat`'s stdin, {BATCH} per call"
    return [Row(name, ours, "ms", Baseline("a pipe to cat", floor))]


BENCHES = (Bench("input", input_round_trip, order=50),)
