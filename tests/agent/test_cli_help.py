"""What the command line tells its user: the commands, every option's default and variable,
the version, what agentproc-askpass is, and which setting to change when the agent cannot
listen where it was told."""

from __future__ import annotations

import errno
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentproc.askpass import program as askpass
from agentproc.cli import COMMANDS, main
from agentproc.options import shown_default, shown_variable
from agentproc.serve_command import SERVE_OPTIONS
from agentproc.version import version

AGENT_TIMEOUT_SECONDS = 30.0
"""Safety net only: an agent that cannot listen exits within a second or two."""


def _flat(text: str) -> str:
    # argparse wraps help to the terminal's width; words are what count.
    return re.sub(r"\s+", " ", text)


def test_help_lists_every_command_in_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    """``agentproc --help`` names each command with what it does, and no reST markup."""
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    for command, does in COMMANDS.items():
        assert re.search(rf"^\s+{command}\s+{re.escape(does)}$", shown, re.MULTILINE), command
    for markup in ("``", ":data:", ":func:", ":class:"):
        assert markup not in shown
    assert "agentproc-askpass" in shown


def test_serve_help_shows_every_option_with_its_default_and_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each option of ``serve --help`` ends with its default and its variable (or says it
    has none), as the table of options declares them."""
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    shown = _flat(capsys.readouterr().out)
    for option in SERVE_OPTIONS:
        said = f"[default: {shown_default(option)}; variable: {shown_variable(option)}]"
        assert _flat(said) in shown, option.flag
        assert option.flag in shown


def test_defaults_that_are_no_value_say_what_happens() -> None:
    """An option whose default is "not given" says what the agent does then."""
    by_flag = {option.flag: option for option in SERVE_OPTIONS}
    assert shown_default(by_flag["--workdir"]) == "$HOME"
    assert shown_default(by_flag["--nice"]) == "unchanged"
    assert "XDG_STATE_HOME" in shown_default(by_flag["--state-dir"])
    assert shown_default(by_flag["--retention"]) == "300"
    assert shown_variable(by_flag["--env"]) == "none, flag only"
    assert shown_variable(by_flag["--git-askpass"]) == "AGENTPROC_GIT_ASKPASS=1"
    assert shown_variable(by_flag["--allowed-host"]).endswith("separated by commas")


def test_version_is_the_installed_one(capsys: pytest.CaptureFixture[str]) -> None:
    """``agentproc --version`` prints the distribution's version and exits 0."""
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"agentproc {version()}\n"
    assert version() != "0.0.0"  # the package is installed, even editable


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_askpass_help_says_what_it_is_and_how_git_calls_it(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``agentproc-askpass --help`` explains itself on stdout and exits 0, asking nobody."""
    assert askpass.main([flag]) == 0
    shown = capsys.readouterr()
    assert shown.err == ""
    for needed in ("GIT_ASKPASS", "one argument", "Username for", "CODER_AGENT_URL", "exits 1"):
        assert needed in shown.out, needed


# -- where the agent cannot listen ------------------------------------------------------------


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 that something else listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def _serve(*flags: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentproc", "serve", "--state-dir", str(tmp_path), *flags],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=AGENT_TIMEOUT_SECONDS,
        check=False,
    )


@pytest.mark.parametrize("from_variable", [True, False], ids=["variable", "flag"])
def test_a_taken_port_is_a_usage_error_naming_where_the_port_came_from(
    from_variable: bool, taken_port: int, tmp_path: Path
) -> None:
    """The last line names AGENTPROC_PORT or --port, and the address; exit status 2."""
    if from_variable:
        ran = _serve(env={"AGENTPROC_PORT": str(taken_port)}, tmp_path=tmp_path)
        source = "AGENTPROC_PORT"
    else:
        ran = _serve("--port", str(taken_port), env={}, tmp_path=tmp_path)
        source = "--port"
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.splitlines()[-1] == (
        f"agentproc serve: error: {source}: cannot listen on 127.0.0.1:{taken_port}: "
        f"{os.strerror(errno.EADDRINUSE)}"
    )


def test_an_address_the_machine_lacks_is_a_usage_error_naming_the_host(tmp_path: Path) -> None:
    """A host the machine has no such address for names AGENTPROC_HOST."""
    ran = _serve(
        env={"AGENTPROC_HOST": "192.0.2.1", "AGENTPROC_TOKEN": "t", "AGENTPROC_PORT": "0"},
        tmp_path=tmp_path,
    )
    assert ran.returncode == 2, ran.stderr
    last = ran.stderr.splitlines()[-1]
    assert last.startswith("agentproc serve: error: AGENTPROC_HOST: cannot listen on 192.0.2.1:0")


def test_a_socket_path_that_cannot_be_bound_names_the_uds_variable(tmp_path: Path) -> None:
    """A Unix socket path too long for the kernel names AGENTPROC_UDS."""
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    ran = _serve(env={"AGENTPROC_UDS": str(deep / "agent.sock")}, tmp_path=tmp_path)
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.splitlines()[-1].startswith(
        f"agentproc serve: error: AGENTPROC_UDS: cannot listen on {deep / 'agent.sock'}"
    )
