"""The command line: flags, environment variables, and the loopback-only rule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agentproc.cli import build_parser, settings_from_args
from agentproc.settings import Settings, default_state_dir


def settings_for(*argv: str) -> Settings:
    """Parse ``agentproc serve <argv>`` into settings."""
    return settings_from_args(build_parser().parse_args(["serve", *argv]))


def test_defaults_are_loopback_and_open() -> None:
    """With no flags the agent binds 127.0.0.1 with no token and the documented limits."""
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 7420)
    assert settings_from_args(args) == Settings()


def test_non_loopback_host_without_token_is_refused() -> None:
    """Anyone who can reach a non-loopback address could run commands: refuse to start."""
    with pytest.raises(SystemExit, match="without a token"):
        settings_for("--host", "0.0.0.0")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "localhost"])
def test_loopback_hosts_need_no_token(host: str) -> None:
    """Every loopback spelling is accepted without a token."""
    assert settings_for("--host", host).token is None


def test_non_loopback_host_with_token_is_accepted() -> None:
    """A token makes any address acceptable."""
    assert settings_for("--host", "0.0.0.0", "--token", "t").token == "t"


def test_environment_variables_configure_and_flags_win(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every setting has an AGENTPROC_* variable; an explicit flag wins over it."""
    monkeypatch.setenv("AGENTPROC_TOKEN", "from-env")
    monkeypatch.setenv("AGENTPROC_WORKDIR", str(tmp_path))
    monkeypatch.setenv("AGENTPROC_RETENTION_SECONDS", "7.5")
    monkeypatch.setenv("AGENTPROC_MAX_RUNNING", "3")
    monkeypatch.setenv("AGENTPROC_NICE", "5")
    monkeypatch.setenv("AGENTPROC_OOM_SCORE_ADJ", "100")
    monkeypatch.setenv("AGENTPROC_REAP_ORPHANS", "0")
    monkeypatch.setenv("AGENTPROC_DRAIN_SECONDS", "0.5")
    settings = settings_for("--max-running", "4", "--env", "A=1", "--env", "B=x=y")
    assert settings == Settings(
        token="from-env",
        workdir=tmp_path,
        retention_seconds=7.5,
        max_running=4,
        nice=5,
        oom_score_adj=100,
        env={"A": "1", "B": "x=y"},
        reap_orphans=False,
        drain_seconds=0.5,
    )


def test_env_flag_needs_key_value() -> None:
    """--env without '=' is a usage error, not a silently empty variable."""
    with pytest.raises(SystemExit):
        settings_for("--env", "NOEQUALS")


def test_openapi_command_prints_the_document() -> None:
    """`python -m agentproc openapi` prints the same document the app serves."""
    result = subprocess.run(
        [sys.executable, "-m", "agentproc", "openapi"],
        capture_output=True,
        check=True,
        text=True,
        timeout=60,
    )
    assert json.loads(result.stdout)["info"]["title"] == "agentproc"


def test_serve_refuses_exposed_host_from_the_command_line() -> None:
    """The real entry point exits non-zero and explains why."""
    result = subprocess.run(
        [sys.executable, "-m", "agentproc", "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "without a token" in result.stderr


def test_malformed_variable_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A variable that is not a number fails like a bad flag, naming the option."""
    monkeypatch.setenv("AGENTPROC_MAX_RUNNING", "many")
    with pytest.raises(SystemExit):
        settings_for()


@pytest.mark.parametrize(
    "flags", [("--max-running", "0"), ("--retention", "-1"), ("--max-retained", "-1")]
)
def test_nonsensical_settings_are_refused(flags: tuple[str, ...]) -> None:
    """Limits that would break the agent stop it from starting, with the reason."""
    with pytest.raises(SystemExit, match="must be >="):
        settings_for(*flags)


def test_empty_token_flag_means_no_token() -> None:
    """An empty --token (e.g. an unset variable expanded) leaves the API open on loopback."""
    assert settings_for("--token", "").token is None


def test_settings_reject_an_empty_token() -> None:
    """Settings(token="") would accept any 'Bearer ' header; it is refused."""
    with pytest.raises(ValueError, match="token"):
        Settings(token="")


def test_max_retained_flag() -> None:
    """--max-retained sets how many exited processes are kept."""
    assert settings_for("--max-retained", "7").max_retained == 7


def test_state_dir_comes_from_the_flag_or_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--state-dir (AGENTPROC_STATE_DIR) says where the records go; the flag wins."""
    monkeypatch.setenv("AGENTPROC_STATE_DIR", str(tmp_path / "from-env"))
    assert settings_for().state_dir == tmp_path / "from-env"
    assert settings_for("--state-dir", str(tmp_path / "flag")).state_dir == tmp_path / "flag"


def test_default_state_dir_follows_the_xdg_base_directories(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """$XDG_STATE_HOME/agentproc, or ~/.local/state/agentproc when it is unset or relative."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_state_dir() == tmp_path / "state" / "agentproc"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")
    assert default_state_dir() == tmp_path / "home" / ".local" / "state" / "agentproc"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_state_dir() == tmp_path / "home" / ".local" / "state" / "agentproc"
