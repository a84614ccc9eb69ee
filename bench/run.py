"""Benchmarks of agentproc against a floor and a peer, measured in one run.

    make bench            # or: .venv/bin/python bench/run.py [--quick] [--only NAME]

Every row prints our number, the floor (the same work without the agent: a command run
here, a plain pipe) and SWE-ReX (the closest peer, served on 127.0.0.1 from its own
virtualenv under ``.bench/``) where it applies, each measured in the same run, interleaved
with ours where it can be, and the ratio: our cost over theirs, so below 1 is better.

The rows come from the modules of this directory: each declares ``BENCHES`` (see
``harness.py``), and a new module is found without being named here. ``--quick`` takes
seconds instead of minutes (fewer samples, smaller outputs, SWE-ReX's slowest row left out).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from collections.abc import Iterator
from contextlib import ExitStack, nullcontext
from pathlib import Path
from types import ModuleType

from harness import Bench, Context, Row, agent_server, status_kib, swerex_server, table

HERE = Path(__file__).resolve().parent


def modules() -> Iterator[ModuleType]:
    """Every module of this directory that declares ``BENCHES``."""
    for path in sorted(HERE.glob("*.py")):
        if path.stem in {"run", "harness"}:
            continue
        module = importlib.import_module(path.stem)
        if hasattr(module, "BENCHES"):
            yield module


def benches(only: list[str]) -> list[Bench]:
    """The benches to run, in order; those whose name contains one of ``only``, if given."""
    found = [bench for module in modules() for bench in module.BENCHES]
    chosen = [b for b in found if not only or any(word in b.name for word in only)]
    return sorted(chosen, key=lambda bench: (bench.order, bench.name))


def main() -> None:
    """Run the benches and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, smaller outputs")
    parser.add_argument("--no-swerex", action="store_true", help="leave SWE-ReX out")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run the benches whose name contains NAME (repeatable)",
    )
    parser.add_argument("--list", action="store_true", help="list the benches and stop")
    args = parser.parse_args()
    chosen = benches(args.only)
    if args.list:
        for bench in chosen:
            print(bench.name)
        return

    rows: list[Row] = []
    with ExitStack() as stack:
        ctx: Context = stack.enter_context(agent_server())
        ctx = dataclasses.replace(ctx, quick=args.quick)
        rss_start = status_kib(ctx.pid, "VmRSS")
        wants_peer = not args.no_swerex and any(bench.needs_peer for bench in chosen)
        swerex = stack.enter_context(swerex_server() if wants_peer else nullcontext(None))
        for bench in chosen:
            print(f"{bench.name} ...", file=sys.stderr, flush=True)
            run_ctx = dataclasses.replace(ctx, swerex=swerex if bench.needs_peer else None)
            rows += bench.run(run_ctx)
        growth = (status_kib(ctx.pid, "VmRSS") - rss_start) / 1024
        rows.append(Row("agent RSS growth over this whole run", growth, "MiB"))
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
