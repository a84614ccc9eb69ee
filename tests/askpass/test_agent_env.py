"""The agent side: ``serve --git-askpass`` puts what git needs in every child's environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from agentproc.askpass.environment import (
    ASKPASS_SCRIPT,
    askpass_environment,
    find_askpass_program,
)
from agentproc.cli import build_parser
from agentproc.serve_command import settings_from_args
from agentproc.settings import Settings

CONTROL_PLANE = "https://coder.example.com"


def serve_settings(*argv: str) -> Settings:
    """Parse ``agentproc serve <argv>`` into Settings."""
    return settings_from_args(build_parser().parse_args(["serve", *argv]))


def test_the_askpass_program_is_the_installed_console_script() -> None:
    """The script found is an absolute, executable file beside this interpreter."""
    program = Path(find_askpass_program())
    assert program.is_absolute()
    assert program.name == ASKPASS_SCRIPT
    assert program.parent == Path(sys.executable).parent
    assert os.access(program, os.X_OK)


def test_askpass_environment_names_program_control_plane_and_token() -> None:
    """GIT_ASKPASS, CODER_AGENT_URL and CODER_AGENT_TOKEN, under Coder's names."""
    assert askpass_environment(CONTROL_PLANE, "t0k", program="/bin/askpass") == {
        "GIT_ASKPASS": "/bin/askpass",
        "CODER_AGENT_URL": CONTROL_PLANE,
        "CODER_AGENT_TOKEN": "t0k",
    }


def test_git_askpass_flag_injects_the_variables_into_children(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the flag, Settings.env names the askpass program and how to reach the control plane."""
    monkeypatch.delenv("AGENTPROC_GIT_ASKPASS", raising=False)
    settings = serve_settings(
        "--git-askpass", "--control-plane-url", CONTROL_PLANE, "--control-plane-token", "t0k"
    )
    assert settings.env == {
        "GIT_ASKPASS": find_askpass_program(),
        "CODER_AGENT_URL": CONTROL_PLANE,
        "CODER_AGENT_TOKEN": "t0k",
    }


def test_the_environment_variables_configure_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """AGENTPROC_GIT_ASKPASS and the control-plane variables stand in for the flags."""
    monkeypatch.setenv("AGENTPROC_GIT_ASKPASS", "1")
    monkeypatch.setenv("AGENTPROC_CONTROL_PLANE_URL", CONTROL_PLANE)
    monkeypatch.setenv("AGENTPROC_CONTROL_PLANE_TOKEN", "from-env")
    settings = serve_settings()
    assert settings.env["CODER_AGENT_TOKEN"] == "from-env"
    assert settings.env["GIT_ASKPASS"] == find_askpass_program()


def test_an_explicit_env_wins_over_the_askpass_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--env GIT_ASKPASS=...`` replaces the default program, like any explicit setting."""
    monkeypatch.delenv("AGENTPROC_GIT_ASKPASS", raising=False)
    settings = serve_settings(
        "--git-askpass",
        "--control-plane-url",
        CONTROL_PLANE,
        "--control-plane-token",
        "t0k",
        "--env",
        "GIT_ASKPASS=/opt/askpass",
    )
    assert settings.env["GIT_ASKPASS"] == "/opt/askpass"
    assert settings.env["CODER_AGENT_URL"] == CONTROL_PLANE


def test_without_the_flag_nothing_is_injected(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control-plane options alone change nothing: the flag turns the feature on."""
    monkeypatch.delenv("AGENTPROC_GIT_ASKPASS", raising=False)
    settings = serve_settings("--control-plane-url", CONTROL_PLANE, "--control-plane-token", "t")
    assert settings.env == {}


@pytest.mark.parametrize(
    "argv",
    [
        ("--git-askpass",),
        ("--git-askpass", "--control-plane-url", CONTROL_PLANE),
        ("--git-askpass", "--control-plane-token", "t0k"),
    ],
)
def test_the_flag_without_url_and_token_is_refused(
    argv: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A half-configured askpass would fail every push; the agent refuses to start instead."""
    for name in ("GIT_ASKPASS", "CONTROL_PLANE_URL", "CONTROL_PLANE_TOKEN"):
        monkeypatch.delenv(f"AGENTPROC_{name}", raising=False)
    with pytest.raises(SystemExit, match="needs --control-plane-url and --control-plane-token"):
        serve_settings(*argv)
