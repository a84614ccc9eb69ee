"""The wire models parse the agent's answers as the spec writes them."""

from __future__ import annotations

import json

from agentsdk import (
    ErrorResponse,
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
