"""The built wheel is all a user needs: installed alone into a clean virtualenv, it serves the
API and runs the README's SDK example; deploy/coder-startup.sh installs and serves it too.

``python -m build`` makes the sdist, then the wheel from the sdist (so the sdist is complete
too), in an isolated build environment, as a user's ``python -m build`` does. Each virtualenv
is new and holds the wheel and what it declares, resolved from the package index: once by
the README's install example (``python3 -m venv`` and pip, the newest versions allowed),
once by uv at the lowest versions ``pyproject.toml`` allows (``--resolution
lowest-direct``), so the lower bounds are tested too. pip's and uv's caches make a repeated
run take seconds; the first downloads the dependencies. Nothing of the work tree or of the
test's own environment is importable there.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.test_readme import python_block_after

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION: str = PYPROJECT["project"]["version"]
DEV_ONLY = ("pytest", "mypy", "schemathesis", "hypothesis", "respx", "ruff")
"""Packages of the dev extra that a user's install must not get."""

SDK_EXAMPLE_MARKER = "<!-- SDK example"
README_URL = "http://127.0.0.1:7420"
README_TOKEN = "s3cret"

BUILD_TIMEOUT_SECONDS = 300.0
"""Safety net only: a build takes seconds, an install from uv's cache about one."""

AGENT_TIMEOUT_SECONDS = 30.0
"""Safety net only: the agent listens within a second or two."""

PORT_LINE = re.compile(r"process API at (http://127\.0\.0\.1:\d+)/api/v0/processes")


def _run(*argv: str | Path, cwd: Path, timeout: float = BUILD_TIMEOUT_SECONDS) -> str:
    done = subprocess.run(
        [str(arg) for arg in argv],
        cwd=cwd,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{argv}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _clean_environment() -> dict[str, str]:
    # Nothing of this test's interpreter may leak into the clean one.
    leaking = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSAFEPATH")
    return {name: value for name, value in os.environ.items() if name not in leaking}


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent))
    assert found is not None, "uv is part of the dev extra: pip install -e '.[dev]'"
    return found


@dataclass(frozen=True)
class Built:
    """What ``python -m build`` made."""

    wheel: Path
    sdist: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The sdist and the wheel, built from the work tree as ``python -m build`` builds them."""
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--installer", "uv", "--outdir", out, ROOT, cwd=ROOT)
    wheels = list(out.glob("agentproc-*.whl"))
    sdists = list(out.glob("agentproc-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(out.iterdir())
    return Built(wheels[0], sdists[0])


@dataclass(frozen=True)
class CleanVenv:
    """A virtualenv holding the wheel and its dependencies, nothing else."""

    root: Path
    resolution: str

    @property
    def python(self) -> Path:
        """Its interpreter."""
        return self.root / "bin" / "python"

    def bin(self, name: str) -> Path:
        """One of its console scripts."""
        return self.root / "bin" / name


README_INSTALL_MARKER = "<!-- install example"
README_VENV = "/opt/agentproc"
README_WHEEL = f"dist/agentproc-{VERSION}-py3-none-any.whl"
"""What the README's install example names, replaced by this test's own paths."""


def _readme_install(root: Path, wheel: Path) -> str:
    """Run the README's install example (bash, each line checked) into ``root``."""
    block = README.read_text().partition(README_INSTALL_MARKER)[2]
    commands = block.partition("```sh\n")[2].partition("```")[0]
    assert README_VENV in commands and README_WHEEL in commands, commands
    script = commands.replace(README_VENV, str(root)).replace(README_WHEEL, str(wheel))
    return _run("bash", "-euc", script, cwd=root.parent)


@pytest.fixture(scope="module", params=["readme", "lowest-direct"])
def venv(
    request: pytest.FixtureRequest, built: Built, tmp_path_factory: pytest.TempPathFactory
) -> CleanVenv:
    """A new virtualenv with the wheel installed: by the README's install example (pip, the
    newest versions allowed), or by uv at the lowest versions allowed."""
    resolution: str = request.param
    root = tmp_path_factory.mktemp(f"venv-{resolution}") / "agentproc"
    if resolution == "readme":
        printed = _readme_install(root, built.wheel)
        assert printed.endswith(f"agentproc {VERSION}\n"), printed
        return CleanVenv(root, resolution)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    _run(_uv(), "venv", "--quiet", "--python", python, root, cwd=root.parent)
    _run(
        _uv(), "pip", "install", "--quiet", "--python", root / "bin" / "python",
        "--resolution", resolution, built.wheel,
        cwd=root,
    )  # fmt: skip
    return CleanVenv(root, resolution)


def test_the_build_makes_a_wheel_and_an_sdist_of_this_version(built: Built) -> None:
    """Both artifacts carry the version of pyproject.toml, and the wheel the license."""
    assert built.wheel.name == f"agentproc-{VERSION}-py3-none-any.whl"
    assert built.sdist.name == f"agentproc-{VERSION}.tar.gz"
    listing = _run(sys.executable, "-m", "zipfile", "-l", built.wheel, cwd=built.wheel.parent)
    assert f"agentproc-{VERSION}.dist-info/licenses/LICENSE" in listing
    for package in ("agentproc", "agentsdk", "chattool"):
        assert f"{package}/py.typed" in listing, package


def test_the_clean_virtualenv_holds_the_wheel_and_no_dev_tool(venv: CleanVenv) -> None:
    """agentproc is imported from the virtualenv, and no test or lint tool came with it."""
    where = _run(
        venv.python, "-c", "import agentproc, agentsdk; print(agentproc.__file__)", cwd=venv.root
    )
    assert where.startswith(str(venv.root)), where
    listed = _run(_uv(), "pip", "list", "--python", venv.python, cwd=venv.root).lower()
    installed = {line.split()[0] for line in listed.splitlines()[2:]}
    assert installed.isdisjoint(DEV_ONLY), installed & set(DEV_ONLY)


def test_the_installed_command_says_its_version(venv: CleanVenv) -> None:
    """``agentproc --version`` prints the installed version."""
    assert _run(venv.bin("agentproc"), "--version", cwd=venv.root) == f"agentproc {VERSION}\n"


@pytest.fixture
def served(venv: CleanVenv, tmp_path: Path) -> Iterator[str]:
    """``agentproc serve`` of the clean virtualenv, with the README's token; its base URL."""
    agent = subprocess.Popen(
        [
            venv.bin("agentproc"), "serve", "--port", "0", "--token", README_TOKEN,
            "--state-dir", tmp_path / "state",
        ],
        cwd=tmp_path,
        env=_clean_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert agent.stderr is not None
    log = []
    try:
        for line in agent.stderr:
            log.append(line)
            found = PORT_LINE.search(line)
            if found:
                yield found.group(1)
                break
        else:
            pytest.fail("the agent did not start:\n" + "".join(log))
    finally:
        agent.send_signal(signal.SIGTERM)
        rest, _ = agent.communicate(timeout=AGENT_TIMEOUT_SECONDS)
        log.append(rest)
    assert agent.returncode == 0, "".join(log)


@pytest.mark.e2e
def test_the_installed_agent_serves_and_runs_the_readme_sdk_example(
    venv: CleanVenv, served: str, tmp_path: Path
) -> None:
    """From the clean virtualenv: the agent answers /healthz, and the README's SDK example,
    run by the virtualenv's Python, starts, waits for and lists a command through it."""
    assert httpx.get(f"{served}/healthz").json() == {"status": "ok"}
    example = python_block_after(SDK_EXAMPLE_MARKER).replace(README_URL, served)
    script = tmp_path / "readme_sdk_example.py"
    script.write_text(example)
    printed = _run(venv.python, script, cwd=tmp_path, timeout=AGENT_TIMEOUT_SECONDS)
    first, *listed = printed.splitlines()
    assert first.startswith("0 Linux"), printed
    assert any(line.endswith(" uname -sr False") for line in listed), printed


# -- deploy/coder-startup.sh ------------------------------------------------------------------

CODER_STARTUP = ROOT / "deploy" / "coder-startup.sh"

STARTUP_TIMEOUT_SECONDS = 300.0
"""Safety net only: the first run creates a virtualenv and installs the wheel with pip."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _alive(pid: int) -> bool:
    # Not a child of ours: once dead it may linger as a zombie until its parent reaps it.
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def _stop(pid_file: Path) -> None:
    """SIGTERM the agent the script started (no child of ours), and wait until it is gone."""
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    if not _alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + AGENT_TIMEOUT_SECONDS
    while _alive(pid):
        assert time.monotonic() < deadline, f"agent {pid} did not stop"
        time.sleep(0.05)


@pytest.mark.e2e
def test_coder_startup_script_installs_serves_and_upgrades(built: Built, tmp_path: Path) -> None:
    """In a fresh home, the script installs the wheel, makes a private token and leaves the
    agent serving on loopback; run again (an upgrade), it keeps the token, stops the agent it
    started and serves from a new one."""
    home = tmp_path / "home"
    home.mkdir()
    port = _free_port()
    # With uv on PATH, as an image may have it: the README's example installs with pip.
    path = f"{Path(_uv()).parent}:{os.environ['PATH']}"
    environment = {
        **_clean_environment(),
        "PATH": path,
        "HOME": str(home),
        "AGENTPROC_WHEEL": str(built.wheel),
        "AGENTPROC_PORT": str(port),
    }
    state = home / ".agentproc"
    base = f"http://127.0.0.1:{port}"
    pids = []
    try:
        for run in ("install", "upgrade"):
            started = subprocess.run(
                ["sh", str(CODER_STARTUP)],
                cwd=home,
                env=environment,
                capture_output=True,
                text=True,
                timeout=STARTUP_TIMEOUT_SECONDS,
                check=False,
            )
            assert started.returncode == 0, (run, started.stdout, started.stderr)
            pids.append(int((state / "agent.pid").read_text()))
            assert started.stdout.endswith(f"agentproc: serving on 127.0.0.1:{port}\n"), run
            token = (state / "token").read_text().strip()
            assert (state / "token").stat().st_mode & 0o777 == 0o600
            assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
            assert httpx.get(f"{base}/api/v0/processes/list").status_code == 401
            listed = httpx.get(
                f"{base}/api/v0/processes/list", headers={"Authorization": f"Bearer {token}"}
            )
            assert listed.status_code == 200, listed.text
        first, second = pids
        assert first != second
        assert not _alive(first), "the upgrade left the first agent running"
    finally:
        _stop(state / "agent.pid")
