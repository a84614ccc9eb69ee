"""The files of deploy/ hold what they promise: systemd accepts the unit, its hardening is in
place, and the agent accepts every flag the unit and the container recipe give it.

The container image itself is built nowhere in the suite (it runs where no container engine
does); the Coder startup script runs for real in ``tests/packaging/test_coder_startup.py``.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agentproc.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNIT = DEPLOY / "agentproc.service"
CONTAINERFILE = DEPLOY / "Containerfile"

INSTALLED_AGENT = "/opt/agentproc/bin/agentproc"
"""Where the unit expects the agent (a virtualenv at /opt/agentproc, as its comment says)."""

SPECIFIERS = {"%d": "/run/credentials/agentproc.service", "%S": "/var/lib", "%t": "/run"}
"""What systemd puts for the unit's specifiers, for a system service."""

SYSTEMD_TIMEOUT_SECONDS = 60.0
"""Safety net only: systemd-analyze answers within a second."""

HARDENING = (
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "KillMode=control-group",
    "LoadCredential=agentproc-token:/etc/agentproc/token",
    "PrivateTmp=yes",
    "CapabilityBoundingSet=",
)


def _unit_lines() -> list[str]:
    """The unit's settings, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n\s*", " ", UNIT.read_text())
    return [line for line in text.splitlines() if line and not line.startswith(("#", ";"))]


def _exec_start() -> list[str]:
    (line,) = [line for line in _unit_lines() if line.startswith("ExecStart=")]
    argv = shlex.split(line.removeprefix("ExecStart="))
    return [SPECIFIERS.get(arg[:2], arg[:2]) + arg[2:] if arg[:1] == "%" else arg for arg in argv]


def _systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed")
    return found


def _this_agent() -> str:
    # The unit names the agent where its install puts it; here it is beside this Python.
    return str(Path(sys.executable).parent / "agentproc")


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    """``systemd-analyze verify`` reports nothing. It checks that ExecStart's program exists,
    so the copy it reads names this environment's agent instead of /opt/agentproc's; the rest
    of the unit is read as shipped."""
    analyze = _systemd_analyze()
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(INSTALLED_AGENT, _this_agent()))
    verified = subprocess.run(
        [analyze, "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=SYSTEMD_TIMEOUT_SECONDS,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout + verified.stderr == ""


def test_systemd_rates_the_unit_exposure_ok(tmp_path: Path) -> None:
    """``systemd-analyze security --offline`` rates the unit's exposure 5.0 or lower ("OK";
    10 is a service with no sandboxing at all)."""
    analyze = _systemd_analyze()
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(INSTALLED_AGENT, _this_agent()))
    rated = subprocess.run(
        [analyze, "security", "--offline=true", "--threshold=50", str(unit)],
        capture_output=True,
        text=True,
        timeout=SYSTEMD_TIMEOUT_SECONDS,
        check=False,
    )
    if "--offline" in rated.stderr and "unrecognized" in rated.stderr:
        pytest.skip("this systemd-analyze cannot rate a unit offline (systemd < 250)")
    assert rated.returncode == 0, rated.stdout[-2000:] + rated.stderr


def test_the_unit_is_hardened_and_reads_its_token_from_a_credential() -> None:
    """No new privileges, a read-only system, the whole cgroup killed at stop, and the token
    handed over as a systemd credential that the agent reads with --token-file."""
    lines = _unit_lines()
    for setting in HARDENING:
        assert setting in lines, setting
    argv = _exec_start()
    assert argv[argv.index("--token-file") + 1] == f"{SPECIFIERS['%d']}/agentproc-token"
    assert "--token" not in argv


def test_the_agent_accepts_every_flag_the_unit_gives_it() -> None:
    """ExecStart's arguments are ``agentproc serve`` flags whose values parse."""
    argv = _exec_start()
    assert argv[0] == INSTALLED_AGENT
    args = build_parser().parse_args(argv[1:])
    assert (args.command, args.host, args.port) == ("serve", "0.0.0.0", 7420)
    assert str(args.state_dir) == "/var/lib/agentproc"


def test_the_agent_accepts_every_flag_of_the_container_entrypoint() -> None:
    """The Containerfile's ENTRYPOINT runs agentproc under tini, with flags that parse."""
    (line,) = [
        line for line in CONTAINERFILE.read_text().splitlines() if line.startswith("ENTRYPOINT")
    ]
    argv = json.loads(line.removeprefix("ENTRYPOINT"))
    assert argv[:2] == ["/usr/bin/tini", "--"]
    args = build_parser().parse_args(argv[3:])
    assert (argv[2], args.command, args.host) == ("agentproc", "serve", "0.0.0.0")
    assert str(args.token_file) == "/run/secrets/agentproc-token"
