"""The command line: flags, environment variables, the loopback-only rule, and usage errors
that name the flag or variable at fault."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agentproc.cli import build_parser, main
from agentproc.serve_command import SERVE_OPTIONS, settings_from_args
from agentproc.settings import InvalidSettings, Settings, default_state_dir

README = Path(__file__).parents[2] / "README.md"


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


def test_settings_reject_an_empty_token() -> None:
    """Settings(token="") would accept any 'Bearer ' header; it is refused."""
    with pytest.raises(ValueError, match="token"):
        Settings(token="")


def test_max_retained_flag() -> None:
    """--max-retained sets how many exited processes are kept."""
    assert settings_for("--max-retained", "7").max_retained == 7


def test_allowed_hosts_and_origins_come_from_flags_or_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The repeatable flags replace their comma-separated variables, as every flag wins."""
    monkeypatch.setenv("AGENTPROC_ALLOWED_HOSTS", "a.example, b.example")
    monkeypatch.setenv("AGENTPROC_ALLOWED_ORIGINS", "https://ide.example,http://localhost:3000")
    from_env = settings_for()
    assert from_env.allowed_hosts == ("a.example", "b.example")
    assert from_env.allowed_origins == ("https://ide.example", "http://localhost:3000")
    from_flags = settings_for(
        "--allowed-host", "c.example", "--allowed-origin", "https://other.example"
    )
    assert from_flags.allowed_hosts == ("c.example",)
    assert from_flags.allowed_origins == ("https://other.example",)


@pytest.mark.parametrize(
    "flags", [("--allowed-host", "*"), ("--allowed-host", "a", "--allowed-host", "*")]
)
def test_any_host_needs_a_token(flags: tuple[str, ...]) -> None:
    """'*' turns the Host check off, so only an agent with a token may: usage error, status 2."""
    with pytest.raises(SystemExit) as exited:
        settings_for(*flags)
    assert exited.value.code == 2
    assert "--allowed-host" in str(exited.value)
    assert settings_for(*flags, "--token", "t").allowed_hosts[-1] == "*"


def test_any_host_from_the_variable_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """AGENTPROC_ALLOWED_HOSTS=* without a token is refused the same way."""
    monkeypatch.setenv("AGENTPROC_ALLOWED_HOSTS", "*")
    with pytest.raises(SystemExit) as exited:
        settings_for()
    assert exited.value.code == 2


def test_settings_reject_any_host_without_a_token() -> None:
    """Settings built in code follow the same rule as the command line."""
    with pytest.raises(ValueError, match="needs a token"):
        Settings(allowed_hosts=("*",))


@pytest.mark.parametrize("origin", ["ide.example", "https://ide.example/path", "null"])
def test_malformed_allowed_origin_is_a_usage_error(
    origin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An origin that is not scheme://host[:port] is refused, from the flag or the variable."""
    with pytest.raises(SystemExit) as exited:
        settings_for("--allowed-origin", origin)
    assert exited.value.code == 2
    assert "--allowed-origin" in str(exited.value)
    monkeypatch.setenv("AGENTPROC_ALLOWED_ORIGINS", origin)
    with pytest.raises(SystemExit) as exited:
        settings_for()
    assert exited.value.code == 2
    assert "AGENTPROC_ALLOWED_ORIGINS" in str(exited.value)


# -- usage errors -------------------------------------------------------------------------------


def usage_error(
    argv: list[str],
    variables: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[int | str | None, str]:
    """Run ``agentproc serve <argv>`` in this process with only ``variables`` of the agent's
    set; its exit code and the last line it wrote to stderr."""
    for option in SERVE_OPTIONS:
        if option.variable is not None:
            monkeypatch.delenv(option.variable, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        main(["serve", *argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return exited.value.code, err.strip().splitlines()[-1]


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, str]:
    """Paths the cases below refer to as ``{missing}``, ``{file}``, ``{empty}``, ``{blank}``."""
    (tmp_path / "file").write_text("not a directory")
    (tmp_path / "empty").write_text("")
    (tmp_path / "blank").write_text(" \n\t\n")
    return {
        "missing": str(tmp_path / "missing"),
        "file": str(tmp_path / "file"),
        "empty": str(tmp_path / "empty"),
        "blank": str(tmp_path / "blank"),
        "socket": str(tmp_path / "agent.sock"),
        "dir": str(tmp_path),
    }


MALFORMED = [
    # (flags, variables, what the last line must name)
    ([], {"AGENTPROC_LOG_LEVEL": "verbose"}, "AGENTPROC_LOG_LEVEL"),
    (["--log-level", "verbose"], {}, "--log-level"),
    (["--port", "99999"], {}, "--port"),
    (["--port", "-1"], {}, "--port"),
    ([], {"AGENTPROC_PORT": "abc"}, "AGENTPROC_PORT"),
    ([], {"AGENTPROC_GIT_ASKPASS": "yes"}, "AGENTPROC_GIT_ASKPASS"),
    ([], {"AGENTPROC_REAP_ORPHANS": "maybe"}, "AGENTPROC_REAP_ORPHANS"),
    (["--max-running", "-1"], {}, "--max-running"),
    ([], {"AGENTPROC_MAX_RUNNING": "0"}, "AGENTPROC_MAX_RUNNING"),
    ([], {"AGENTPROC_MAX_RETAINED": "-1"}, "AGENTPROC_MAX_RETAINED"),
    (["--max-body-bytes", "1e6"], {}, "--max-body-bytes"),
    (["--max-command-bytes", "0"], {}, "--max-command-bytes"),
    (["--retention", "nan"], {}, "--retention"),
    ([], {"AGENTPROC_RETENTION_SECONDS": "-1"}, "AGENTPROC_RETENTION_SECONDS"),
    (["--shutdown-grace", "-5"], {}, "--shutdown-grace"),
    ([], {"AGENTPROC_DRAIN_SECONDS": ""}, "AGENTPROC_DRAIN_SECONDS"),
    (["--nice", "abc"], {}, "--nice"),
    (["--nice", "40"], {}, "--nice"),
    ([], {"AGENTPROC_NICE": "-21"}, "AGENTPROC_NICE"),
    (["--oom-score-adj", "2000"], {}, "--oom-score-adj"),
    (["--header-timeout", "0"], {}, "--header-timeout"),
    ([], {"AGENTPROC_HEADER_TIMEOUT_SECONDS": "soon"}, "AGENTPROC_HEADER_TIMEOUT_SECONDS"),
    (["--max-connections", "0"], {}, "--max-connections"),
    ([], {"AGENTPROC_MAX_CONNECTIONS": "-3"}, "AGENTPROC_MAX_CONNECTIONS"),
    (["--control-plane-url", "not a url"], {}, "--control-plane-url"),
    (["--env", "NOEQUALS"], {}, "--env"),
    (["--host", ""], {}, "--host"),
    (["--allowed-host", "*"], {}, "--allowed-host"),
    ([], {"AGENTPROC_ALLOWED_HOSTS": "*"}, "AGENTPROC_ALLOWED_HOSTS"),
    (["--allowed-origin", "null"], {}, "--allowed-origin"),
    ([], {"AGENTPROC_ALLOWED_ORIGINS": "ide.example"}, "AGENTPROC_ALLOWED_ORIGINS"),
    (["--host", "0.0.0.0"], {}, "--host"),
    ([], {"AGENTPROC_HOST": "0.0.0.0"}, "AGENTPROC_HOST"),
    (["--workdir", "{missing}"], {}, "--workdir"),
    ([], {"AGENTPROC_WORKDIR": "{file}"}, "AGENTPROC_WORKDIR"),
    (["--uds", "{file}"], {}, "--uds"),
    (["--uds", "{missing}/agent.sock"], {}, "--uds"),
    (["--uds", "{socket}", "--port", "1"], {}, "--port"),
    (["--uds", "{socket}"], {"AGENTPROC_HOST": "127.0.0.1"}, "AGENTPROC_HOST"),
    (["--token", ""], {}, "--token"),
    ([], {"AGENTPROC_TOKEN": ""}, "AGENTPROC_TOKEN"),
    ([], {"AGENTPROC_TOKEN": "  "}, "AGENTPROC_TOKEN"),
    (["--token-file", "{empty}"], {}, "--token-file"),
    ([], {"AGENTPROC_TOKEN_FILE": "{blank}"}, "AGENTPROC_TOKEN_FILE"),
    (["--token-file", "{missing}"], {}, "--token-file"),
    (["--token-file", "{dir}"], {}, "--token-file"),
    (["--token", "t", "--token-file", "{blank}"], {}, "--token-file"),
    (["--http", "tornado"], {}, "--http"),
    ([], {"AGENTPROC_LOOP": "trio"}, "AGENTPROC_LOOP"),
    ([], {"AGENTPROC_ACCESS_LOG": "yes"}, "AGENTPROC_ACCESS_LOG"),
]


@pytest.mark.parametrize(("flags", "variables", "named"), MALFORMED)
def test_a_malformed_value_is_a_usage_error_naming_where_it_came_from(
    flags: list[str],
    variables: dict[str, str],
    named: str,
    paths: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Exit status 2 and no traceback; the last line names the flag when the value came from
    the command line, the variable when it came from the environment."""
    code, last_line = usage_error(
        [flag.format(**paths) for flag in flags],
        {name: value.format(**paths) for name, value in variables.items()},
        capsys,
        monkeypatch,
    )
    assert code == 2
    assert re.search(rf"{re.escape(named)}\b", last_line), last_line
    (option,) = [o for o in SERVE_OPTIONS if named in (o.flag, o.variable)]
    other = option.variable if named == option.flag else option.flag
    if other is not None:
        assert not re.search(rf"{re.escape(other)}\b", last_line), last_line


def test_the_installed_program_exits_2_without_a_traceback() -> None:
    """The real entry point: a bad variable and a bad flag each end in one named line."""
    for argv, env, named in (
        (["--port", "99999"], {}, "--port"),
        ([], {"AGENTPROC_LOG_LEVEL": "verbose"}, "AGENTPROC_LOG_LEVEL"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "agentproc", "serve", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", **env},
            check=False,
        )
        assert done.returncode == 2
        assert "Traceback" not in done.stderr
        assert named in done.stderr.strip().splitlines()[-1]


def test_settings_errors_name_the_field() -> None:
    """Settings built directly report each wrong field, for the command line to name."""
    with pytest.raises(InvalidSettings) as raised:
        Settings(max_running=0, nice=99)
    assert [name for name, _ in raised.value.problems] == ["max_running", "nice"]


# -- accepted values ----------------------------------------------------------------------------


def test_a_flag_wins_over_a_malformed_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variable only fills in for an absent flag, so a bad one under a flag is unused."""
    monkeypatch.setenv("AGENTPROC_PORT", "abc")
    assert build_parser().parse_args(["serve", "--port", "1234"]).port == 1234


@pytest.mark.parametrize(
    ("text", "reap"), [("1", True), ("true", True), ("TRUE", True), ("0", False), ("False", False)]
)
def test_boolean_variables_take_1_0_true_or_false(
    text: str, reap: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1/true and 0/false, in any letter case, and nothing else."""
    monkeypatch.setenv("AGENTPROC_REAP_ORPHANS", text)
    assert settings_for().reap_orphans is reap


def test_the_token_file_is_read_and_trimmed(tmp_path: Path) -> None:
    """--token-file gives the file's content without surrounding whitespace."""
    token_file = tmp_path / "token"
    token_file.write_text("\n  s3cret-token \n")
    assert settings_for("--token-file", str(token_file)).token == "s3cret-token"


def test_a_token_file_from_the_environment_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AGENTPROC_TOKEN_FILE stands in for --token-file."""
    token_file = tmp_path / "token"
    token_file.write_text("from-file")
    monkeypatch.delenv("AGENTPROC_TOKEN", raising=False)
    monkeypatch.setenv("AGENTPROC_TOKEN_FILE", str(token_file))
    assert settings_for().token == "from-file"


def test_a_unix_socket_needs_no_token(tmp_path: Path) -> None:
    """--uds is as safe as loopback: no token is required."""
    args = build_parser().parse_args(["serve", "--uds", str(tmp_path / "agent.sock")])
    assert settings_from_args(args).token is None
    assert args.uds == tmp_path / "agent.sock"


def test_a_unix_socket_path_may_hold_an_old_socket(tmp_path: Path) -> None:
    """A socket file left behind is no usage error (the agent replaces it if nobody listens)."""
    path = tmp_path / "agent.sock"
    with socket.socket(socket.AF_UNIX) as old:
        old.bind(str(path))
    assert settings_for("--uds", str(path)).token is None


def test_connection_options_fill_the_settings() -> None:
    """--header-timeout and --max-connections reach Settings."""
    settings = settings_for("--header-timeout", "2.5", "--max-connections", "10")
    assert (settings.header_timeout_seconds, settings.max_connections) == (2.5, 10)


def test_every_option_is_in_the_readme() -> None:
    """The README's Configuration table lists every flag with its variable."""
    text = README.read_text()
    section = text[text.index("## Configuration") :]
    rows = {
        line.split("|")[1].strip(" `").split()[0]: line
        for line in section.splitlines()
        if line.startswith("| `--")
    }
    for option in SERVE_OPTIONS:
        assert option.flag in rows, option.flag
        if option.variable is not None:
            assert f"`{option.variable}" in rows[option.flag], rows[option.flag]


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


def test_max_input_bytes_comes_from_the_flag_or_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--max-input-bytes (AGENTPROC_MAX_INPUT_BYTES) bounds each input queue; at least 1."""
    monkeypatch.setenv("AGENTPROC_MAX_INPUT_BYTES", "4096")
    assert settings_for().max_input_bytes == 4096
    assert settings_for("--max-input-bytes", "10").max_input_bytes == 10
    with pytest.raises(SystemExit, match="--max-input-bytes"):
        settings_for("--max-input-bytes", "0")


def test_output_window_and_budget_come_from_flags_or_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--output-window-bytes and --output-budget-bytes (and their variables) reach Settings."""
    monkeypatch.setenv("AGENTPROC_OUTPUT_WINDOW_BYTES", "65536")
    monkeypatch.setenv("AGENTPROC_OUTPUT_BUDGET_BYTES", "1048576")
    settings = settings_for("--output-budget-bytes", "0")
    assert (settings.output_window_bytes, settings.output_budget_bytes) == (65536, 0)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--output-window-bytes", "16383"], "--output-window-bytes"),
        (["--output-budget-bytes", "-1"], "--output-budget-bytes"),
    ],
)
def test_a_window_below_the_tail_or_a_negative_budget_is_a_usage_error(
    argv: list[str],
    named: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The window holds at least the rendered 16 KiB tail; the budget is not negative."""
    code, last_line = usage_error(argv, {}, capsys, monkeypatch)
    assert code == 2
    assert last_line.startswith(f"agentproc serve: error: {named}: "), last_line
