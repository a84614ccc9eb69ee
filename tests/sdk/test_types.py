"""The wire models parse the agent's answers as the spec writes them."""

from __future__ import annotations

import json

import pydantic
import pytest

from agentsdk import (
    ErrorResponse,
    ExitEvent,
    OutputEvent,
    ProcessInfo,
    ProcessInputRequest,
    ProcessInputResponse,
    ProcessOutputResponse,
    SignalProcessResponse,
    StartProcessParams,
    StartProcessRequest,
)

from ._data import PROCESS_ID, SIGNAL_BODY


def test_signal_response_reads_the_agent_s_confirmation() -> None:
    """A signal's success body is a SignalProcessResponse carrying the agent's sentence."""
    answer = SignalProcessResponse.model_validate_json(json.dumps(SIGNAL_BODY))

    assert answer.message == f'Signal "kill" sent to process "{PROCESS_ID}".'
    assert answer.model_dump(exclude_none=True) == SIGNAL_BODY


def test_signal_response_ignores_fields_it_does_not_know() -> None:
    """A newer agent may say more; the confirmation still parses."""
    body = {**SIGNAL_BODY, "delivered_at_unix": 1740650000}

    answer = SignalProcessResponse.model_validate(body)

    assert answer.message == SIGNAL_BODY["message"]


def test_signal_response_is_its_own_model_not_the_error_body() -> None:
    """A success is not typed as an error: the two models are distinct, with their own fields."""
    assert SignalProcessResponse is not ErrorResponse
    assert not issubclass(SignalProcessResponse, ErrorResponse)
    assert set(SignalProcessResponse.model_fields) == {"message"}


def test_start_params_are_the_start_request_s_fields() -> None:
    """start_process's keywords and the wire model's fields are the same set of names."""
    keywords = StartProcessParams.__required_keys__ | StartProcessParams.__optional_keys__
    assert keywords == set(StartProcessRequest.model_fields)


# -- live processes: every new field is optional and omitted when unset ---------------------


def test_a_coder_start_request_is_sent_as_before() -> None:
    """stdin is left out unless given, so a Coder agent reads the same body."""
    assert StartProcessRequest(command="ls").model_dump(exclude_none=True) == {"command": "ls"}
    assert StartProcessRequest(command="cat", stdin=True).model_dump(exclude_none=True) == {
        "command": "cat",
        "stdin": True,
    }


def test_coder_answers_parse_with_the_new_fields_unset() -> None:
    """A Coder agent's process info and snapshot have none of the new fields: all None."""
    info = ProcessInfo.model_validate(
        {"id": "p", "command": "ls", "background": False, "running": True, "started_at_unix": 1}
    )
    assert info.stdin_open is None
    snapshot = ProcessOutputResponse.model_validate({"output": "x", "running": True})
    assert (snapshot.offset, snapshot.next_offset, snapshot.total_bytes, snapshot.skipped) == (
        None,
        None,
        None,
        None,
    )


def test_a_cursor_read_answer_parses_and_dumps_back_without_unset_fields() -> None:
    """offset, next_offset and total_bytes come with a cursor read; skipped only when > 0."""
    body = {"output": "new", "running": False, "exit_code": 0, "offset": 10, "next_offset": 13}
    body["total_bytes"] = 13
    answer = ProcessOutputResponse.model_validate(body)
    assert (answer.offset, answer.next_offset, answer.total_bytes) == (10, 13, 13)
    assert answer.model_dump(exclude_none=True) == body


def test_input_request_takes_text_or_bytes_but_not_both() -> None:
    """data and data_base64 are exclusive; close may come alone or with either."""
    assert ProcessInputRequest(close=True).model_dump(exclude_none=True) == {"close": True}
    assert ProcessInputRequest(data="y\n").model_dump(exclude_none=True) == {"data": "y\n"}
    with pytest.raises(pydantic.ValidationError, match="not both"):
        ProcessInputRequest.model_validate({"data": "a", "data_base64": "YQ=="})


def test_input_response_reads_the_agent_s_answer() -> None:
    """queued counts this call's bytes; stdin_open says whether more may follow."""
    answer = ProcessInputResponse.model_validate_json('{"queued": 3, "stdin_open": false}')
    assert (answer.queued, answer.stdin_open) == (3, False)


def test_stream_event_payloads_parse_as_the_spec_writes_them() -> None:
    """An output event's data, with and without skipped, and the exit event's."""
    chunk = OutputEvent.model_validate_json('{"offset": 4, "output": "ok\\n"}')
    assert (chunk.offset, chunk.output, chunk.skipped) == (4, "ok\n", None)
    late = OutputEvent.model_validate_json('{"offset": 900, "output": "", "skipped": 100}')
    assert late.skipped == 100
    assert ExitEvent.model_validate_json('{"exit_code": -1}').exit_code == -1
