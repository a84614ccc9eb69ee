"""The keeper: ends an agent's processes when the agent dies without shutting down.

``python -m agentproc.keeper INSTANCE [RECORDS]`` runs beside every agent, which starts it.
It reads claim lines (:mod:`agentproc.claims`) from its stdin, a pipe whose only writer is
the agent. The agent says ``release`` before a graceful shutdown and the keeper exits. If
the pipe ends without it, the agent is gone (SIGKILL, the OOM killer, a crash): the keeper
sweeps everything the agent claimed, with every process that carries its instance marker
and everything below them, and removes the agent's records file (``RECORDS``) once nothing
is left, so the next agent need not sweep again. Then it exits too.

``PR_SET_PDEATHSIG`` would reach only the agent's direct children; the keeper reaches
every process the rule in :mod:`agentproc.claims` gives the agent. It holds nothing of the
agent's but that pipe and the log stream (stderr), lives in a session of its own so that a
terminal's signals to the agent's group do not reach it, ignores the stop signals a
supervisor sends a whole group (it lives exactly as long as its pipe), and imports only the
standard library and the two small modules it needs.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from agentproc import claims as claims_module
from agentproc.claims import Claims

__all__ = ["RELEASE", "command", "main"]

logger = logging.getLogger("agentproc.keeper")

RELEASE = "release"
"""The line the agent sends before a graceful shutdown: nothing is left to end."""

IGNORED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""A supervisor stopping the agent's group must not stop the keeper before the agent."""


def command(instance: str, records: Path | None) -> list[str]:
    """The argv that starts a keeper for agent instance ``instance``."""
    return [
        sys.executable,
        "-m",
        "agentproc.keeper",
        instance,
        *([] if records is None else [str(records)]),
    ]


def _read_claims(claims: Claims) -> bool:
    """Apply the agent's lines until the pipe ends; True when the agent released the keeper."""
    for raw in sys.stdin.buffer:
        line = raw.decode("ascii", "replace").strip()
        if line == RELEASE:
            return True
        try:
            claims.apply(line)
        except ValueError:
            logger.error("ignoring a line the agent sent that is not a claim: %r", line)
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Keep watch over one agent instance; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m agentproc.keeper", description=__doc__)
    parser.add_argument("instance", help="the agent's instance id, as in AGENTPROC_INSTANCE")
    parser.add_argument("records", nargs="?", type=Path, help="the agent's records file")
    args = parser.parse_args(argv)
    try:
        claims = Claims(args.instance)
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for sig in IGNORED_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    agent = os.getppid()
    if _read_claims(claims):
        return 0
    result = claims_module.sweep(claims)
    log = logger.warning if result.killed else logger.info
    log("agent %d ended without shutting down; killed %d of its processes", agent, result.killed)
    if result.survivors:
        logger.error(
            "processes %s of agent %d survived SIGKILL; its records are kept for the next agent",
            list(result.survivors),
            agent,
        )
        return 1
    if args.records is not None:
        try:
            args.records.unlink(missing_ok=True)
        except OSError as exc:
            logger.error("removing the records of agent %d failed: %s", agent, exc)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
