"""A TypeScript client generated from the committed openapi.json type-checks and drives an agent.

The proof, beside ``test_generated_client.py`` (Python), that the document suits generators
of another language: openapi-typescript turns it into types, ``tsc --noEmit`` accepts calls
written the obvious way (``body: {command: "make test"}``, ``query: {wait: true}``) and
refuses wrong ones, and ``typescript/client.ts`` runs through openapi-fetch against a live
agent: start, wait, list, input, stream, signal, and a 400, a 404 and a 409.

The npm packages are pinned by ``typescript/package-lock.json`` and installed into
``typescript/node_modules`` by ``scripts/install-test-deps.sh`` (which ``make test`` runs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agentproc.settings import Settings
from tests.conftest import run_live_agent

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "openapi.json"
PROJECT = Path(__file__).resolve().parent / "typescript"
NODE_MODULES = PROJECT / "node_modules"
SOURCES = ("client.ts", "tsconfig.json", "package.json")

INSTALL_HINT = "run `bash scripts/install-test-deps.sh` (make test does)"

TOKEN = "typescript-token"

MAKEFILE = "test:\n\t@echo tests passed\n"
"""The agent's working directory has it, so the client's `make test` runs for real."""

TOOL_TIMEOUT_SECONDS = 120.0
"""Safety net only: generating takes a second, tsc a few, the client's run well under one."""

CLIENT_STEPS = (
    "start make test",
    "wait for make test",
    "list shows make test",
    "input queued",
    "input read",
    "stream to the exit",
    "signal terminate",
    "terminated",
    "an empty command answers 400",
    "an unknown id answers 404",
    "a signal to an exited process answers 409",
)
"""What ``client.ts`` reports, in order, when every answer is the one it expects."""


def _node_bin(name: str) -> str:
    return str(NODE_MODULES / ".bin" / name)


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_SECONDS, check=False
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy of the client project, with types generated from openapi.json."""
    if shutil.which("node") is None or not Path(_node_bin("openapi-typescript")).exists():
        if os.environ.get("CI"):
            pytest.fail(f"node or the npm packages are missing under CI: {INSTALL_HINT}")
        pytest.skip(f"node or the npm packages are missing: {INSTALL_HINT}")
    copy = tmp_path_factory.mktemp("typescript-client")
    for name in SOURCES:
        shutil.copy(PROJECT / name, copy / name)
    (copy / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    generated = _run(
        "node", _node_bin("openapi-typescript"), str(OPENAPI), "-o", "schema.ts", cwd=copy
    )
    report = generated.stdout + generated.stderr
    assert generated.returncode == 0, report
    assert "warn" not in report.lower(), report
    return copy


def test_generated_types_accept_the_obvious_calls_and_refuse_wrong_ones(project: Path) -> None:
    """tsc --noEmit passes: every call in client.ts type-checks, and each call marked
    ``@ts-expect-error`` (a missing command, a string wait, a string timeout_ms, an unknown
    signal) is refused, since an unused directive is an error too."""
    checked = _run("node", _node_bin("tsc"), "--noEmit", "-p", ".", cwd=project)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_optional_request_fields_are_optional_in_the_generated_types(project: Path) -> None:
    """No `default: null` leaks into the types: the start body's optionals carry a `?`."""
    schema = (project / "schema.ts").read_text()
    _, found, after = schema.partition("StartProcessRequest: {")
    assert found, schema
    start_request = after.partition("\n        };")[0]
    for field in ("workdir", "env", "background", "idempotency_key", "stdin"):
        assert f" {field}?: " in start_request, (field, start_request)
    assert " command: string;" in start_request, start_request
    assert "wait?: boolean;" in schema
    assert "timeout_ms?: number;" in schema


def test_typescript_client_drives_a_live_agent(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The compiled client runs start → wait → list → input → stream → signal, and gets the
    documented 400, 404 and 409, against a real agent."""
    # Type-checked by the test above; emitting without a second check saves seconds.
    compiled = _run("node", _node_bin("tsc"), "--noCheck", "-p", ".", cwd=project)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    workdir = tmp_path_factory.mktemp("typescript-workdir")
    (workdir / "Makefile").write_text(MAKEFILE)
    with run_live_agent(Settings(token=TOKEN, workdir=workdir)) as agent:
        ran = _run("node", "out/client.js", agent.base_url, TOKEN, cwd=project)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    reported = [line.removeprefix("ok: ") for line in ran.stdout.splitlines()]
    assert len(reported) == len(CLIENT_STEPS), ran.stdout
    for line, step in zip(reported, CLIENT_STEPS, strict=True):
        assert line.startswith(step), (line, step)
