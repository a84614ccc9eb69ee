"""Unit tests for the start spec: validation without HTTP, and the idempotency fingerprint."""

from __future__ import annotations

import dataclasses

import pytest

from agentproc.errors import CommandRequired, FieldError, InvalidRequest
from agentproc.settings import MAX_ARG_STRLEN, Settings
from agentproc.spec import NOT_TEXT, OUTSIDE_FINGERPRINT, ProcessSpec
from agentsdk.types import StartProcessRequest

SETTINGS = Settings()


def test_a_spec_without_a_command_is_refused() -> None:
    """An empty command is the contract's "Command is required.", however the spec is built."""
    with pytest.raises(CommandRequired) as refused:
        ProcessSpec(command="")
    assert refused.value.message == "Command is required."
    assert refused.value.validations == (FieldError("command", "required"),)


def test_nul_bytes_are_refused_in_every_field_exec_gets() -> None:
    """A NUL in the command, the workdir or a value is named, first field in the message."""
    with pytest.raises(InvalidRequest) as refused:
        ProcessSpec(command="echo\0", workdir="/tmp\0", env={"A": "x\0"})
    assert refused.value.message == 'Invalid field "command": must not contain a NUL byte.'
    assert [v.field for v in refused.value.validations] == ["command", "workdir", "env.A"]


@pytest.mark.parametrize("name", ["", "A=B", "A\0"])
def test_a_variable_name_exec_cannot_set_is_refused(name: str) -> None:
    """An empty name, or one holding ``=`` or NUL, cannot be one environment entry."""
    with pytest.raises(InvalidRequest) as refused:
        ProcessSpec(command="true", env={name: "v"})
    assert refused.value.validations == (
        FieldError(f"env.{name}", "a name must be non-empty, without '=' or NUL"),
    )


def test_a_variable_is_refused_only_past_one_exec_string() -> None:
    """``KEY=VALUE`` and its NUL fit in ``MAX_ARG_STRLEN`` bytes; one byte more is refused."""
    fits = "v" * (MAX_ARG_STRLEN - len("K") - 2)
    assert ProcessSpec(command="true", env={"K": fits}).env == {"K": fits}
    with pytest.raises(InvalidRequest) as refused:
        ProcessSpec(command="true", env={"K": fits + "v"})
    assert refused.value.validations == (
        FieldError("env.K", f"is longer than {MAX_ARG_STRLEN - 2} bytes with its name"),
    )


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"command": "echo \ud800"}, "command"),
        ({"workdir": "/tmp/\udfff"}, "workdir"),
        ({"env": {"K": "\ud800"}}, "env.K"),
        ({"env": {"K\udc80": "v"}}, "env.K\udc80"),
    ],
)
def test_text_no_encoding_carries_is_refused_without_http(
    spec: dict[str, object], field: str
) -> None:
    """A lone surrogate, which JSON decoding refuses over HTTP, is refused by the spec too."""
    with pytest.raises(InvalidRequest) as refused:
        ProcessSpec(**{"command": "true", **spec})  # type: ignore[arg-type]
    assert refused.value.validations == (FieldError(field, NOT_TEXT),)


def test_from_request_reads_go_zero_values_as_not_given() -> None:
    """Empty workdir and key, absent env and background: the spec's defaults; the chat is set."""
    request = StartProcessRequest(command="ls", workdir="", idempotency_key="")
    spec = ProcessSpec.from_request(request, chat_id="c", settings=SETTINGS)
    assert spec == ProcessSpec(command="ls", chat_id="c")


def test_from_request_carries_every_field_the_request_sets() -> None:
    """Each request field reaches the spec field of its name."""
    request = StartProcessRequest(
        command="ls", workdir="/tmp", env={"A": "1"}, background=True, idempotency_key="k"
    )
    spec = ProcessSpec.from_request(request, chat_id=None, settings=SETTINGS)
    assert spec == ProcessSpec(
        command="ls", workdir="/tmp", env={"A": "1"}, background=True, idempotency_key="k"
    )


def test_every_start_request_field_has_a_spec_field() -> None:
    """A new wire field needs a spec field of its name, or from_request would drop it."""
    spec_fields = {f.name for f in dataclasses.fields(ProcessSpec)}
    assert set(StartProcessRequest.model_fields) <= spec_fields


def test_from_request_applies_the_configured_command_limit() -> None:
    """A command over ``max_command_bytes`` (in UTF-8 bytes) is refused with both numbers."""
    settings = Settings(max_command_bytes=4)
    fits = StartProcessRequest(command="éé")
    assert ProcessSpec.from_request(fits, chat_id=None, settings=settings).command == "éé"
    too_long = StartProcessRequest(command="ééé")
    with pytest.raises(InvalidRequest) as refused:
        ProcessSpec.from_request(too_long, chat_id=None, settings=settings)
    assert refused.value.message == "Command is too long (6 bytes; the limit is 4)."
    assert refused.value.validations == (FieldError("command", "too long"),)


def test_from_request_refuses_a_lone_surrogate_as_a_field_error() -> None:
    """Measuring a command that holds a lone surrogate does not crash; the field is named."""
    # Pydantic refuses the surrogate itself; a model built past validation still carries it.
    request = StartProcessRequest.model_construct(command="echo \ud800")
    with pytest.raises(InvalidRequest) as refused:
        ProcessSpec.from_request(request, chat_id=None, settings=SETTINGS)
    assert refused.value.validations == (FieldError("command", NOT_TEXT),)


def test_from_request_refuses_an_empty_command_built_past_validation() -> None:
    """A request model built without validation still cannot start an empty command."""
    request = StartProcessRequest.model_construct(command="")
    with pytest.raises(CommandRequired):
        ProcessSpec.from_request(request, chat_id=None, settings=SETTINGS)


# -- the fingerprint ------------------------------------------------------------------------


def test_every_field_but_the_key_and_its_chat_identifies_a_start() -> None:
    """The fingerprint is derived from the fields: all of them but the two that name a start."""
    names = {name for name, _ in ProcessSpec(command="true").fingerprint()}
    every = {f.name for f in dataclasses.fields(ProcessSpec)}
    assert names == every - {"idempotency_key", "chat_id"}


@pytest.mark.parametrize(
    "change",
    [{"command": "false"}, {"workdir": "/tmp"}, {"env": {"A": "1"}}, {"background": True}],
    ids=lambda change: next(iter(change)),
)
def test_a_change_in_what_runs_changes_the_fingerprint(change: dict[str, object]) -> None:
    """Each field describing the start tells two specs apart."""
    base = ProcessSpec(command="true", idempotency_key="k")
    assert dataclasses.replace(base, **change).fingerprint() != base.fingerprint()  # type: ignore[arg-type]


def test_the_key_the_chat_and_the_order_of_env_leave_the_fingerprint_alone() -> None:
    """Two starts that differ only in key, chat or the order of their variables match."""
    one = ProcessSpec(command="true", env={"A": "1", "B": "2"}, idempotency_key="k", chat_id="c")
    other = ProcessSpec(command="true", env={"B": "2", "A": "1"}, idempotency_key="j")
    assert one.fingerprint() == other.fingerprint()


def test_a_new_start_field_takes_part_in_the_fingerprint_by_default() -> None:
    """A field added without a marker identifies the start; one marked outside does not."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class Extended(ProcessSpec):
        timeout_ms: int | None = None
        trace_id: str | None = dataclasses.field(default=None, metadata={OUTSIDE_FINGERPRINT: True})

    base = Extended(command="true")
    assert Extended(command="true", timeout_ms=5).fingerprint() != base.fingerprint()
    assert Extended(command="true", trace_id="t").fingerprint() == base.fingerprint()


def test_stdin_identifies_a_start() -> None:
    """A start with a pipe as stdin is not the start of the same command with /dev/null."""
    base = ProcessSpec(command="cat", idempotency_key="k")
    assert dataclasses.replace(base, stdin=True).fingerprint() != base.fingerprint()


def test_from_request_carries_stdin() -> None:
    """``stdin: true`` reaches the spec; left out or false, the command gets /dev/null."""

    def spec(**fields: object) -> ProcessSpec:
        request = StartProcessRequest.model_validate({"command": "cat", **fields})
        return ProcessSpec.from_request(request, chat_id=None, settings=SETTINGS)

    assert spec(stdin=True).stdin is True
    assert spec(stdin=False).stdin is False
    assert spec().stdin is False


def test_differences_name_the_fields_that_differ_in_order() -> None:
    """What a conflict reports: the fingerprint fields that differ, in declaration order."""
    base = ProcessSpec(command="true", idempotency_key="k")
    other = ProcessSpec(command="false", stdin=True, idempotency_key="j", chat_id="c")
    assert base.differences(other) == ["command", "stdin"]
    assert base.differences(dataclasses.replace(base, idempotency_key="j")) == []
