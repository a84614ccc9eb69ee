"""Unit tests for the error tree: its shape, its attributes and its Coder-style messages."""

from __future__ import annotations

import httpx
import pytest

import agentsdk
from agentsdk import FieldValidation

from ._data import API, ERROR_STATUSES


def response(status: int, method: str = "POST", path: str = "/start") -> httpx.Response:
    """An error response bound to its request, as the client hands it to an exception."""
    return httpx.Response(status, request=httpx.Request(method, f"{API}{path}"))


def test_tree_splits_connection_from_status_errors() -> None:
    """Connection and status errors share only the base; timeouts are connection errors."""
    assert issubclass(agentsdk.APIConnectionError, agentsdk.AgentSDKError)
    assert issubclass(agentsdk.APITimeoutError, agentsdk.APIConnectionError)
    assert issubclass(agentsdk.APIStatusError, agentsdk.AgentSDKError)
    assert not issubclass(agentsdk.APIStatusError, agentsdk.APIConnectionError)
    assert not issubclass(agentsdk.APIConnectionError, agentsdk.APIStatusError)


@pytest.mark.parametrize(("status", "error_type"), ERROR_STATUSES)
def test_every_status_class_is_an_api_status_error(
    status: int, error_type: type[agentsdk.APIStatusError]
) -> None:
    """Each per-status class derives from APIStatusError and has a one-line docstring."""
    assert issubclass(error_type, agentsdk.APIStatusError)
    assert error_type.__doc__
    assert error_type.__doc__.startswith("Raised")


def test_the_module_docstring_draws_the_tree() -> None:
    """The private module's docstring names every class of the tree."""
    from agentsdk import _exceptions

    assert _exceptions.__doc__ is not None
    for name in _exceptions.__all__:
        assert name in _exceptions.__doc__


def test_status_error_message_is_coder_like() -> None:
    """The string form is the Coder SDK's: method, URL, status, message, detail, validations."""
    error = agentsdk.BadRequestError(
        "Request body must be valid JSON.",
        response=response(400),
        detail="EOF",
        validations=[FieldValidation(field="command", detail="required")],
    )

    assert str(error) == (
        f"POST {API}/start: unexpected status code 400: Request body must be valid JSON."
        "\n\tError: EOF\n\tcommand: required"
    )
    assert (error.status_code, error.method, error.url) == (400, "POST", f"{API}/start")


def test_status_error_without_detail_is_one_line() -> None:
    """Without detail or validations the message is a single line."""
    error = agentsdk.NotFoundError(
        'Process "x" not found.', response=response(404, "GET", "/x/output")
    )

    assert str(error) == f'GET {API}/x/output: unexpected status code 404: Process "x" not found.'
    assert error.validations == []
    assert error.detail is None


def test_connection_error_names_the_request_and_keeps_the_cause() -> None:
    """A connection error says which request failed and why, and keeps the httpx error."""
    cause = httpx.ConnectError("[Errno 111] Connection refused")

    error = agentsdk.APIConnectionError(method="GET", url=f"{API}/list", cause=cause)

    assert str(error) == f"GET {API}/list: do request: [Errno 111] Connection refused"
    assert error.cause is cause


def test_public_classes_report_the_public_module() -> None:
    """Tracebacks show agentsdk.NotFoundError, not the private module path."""
    assert agentsdk.NotFoundError.__module__ == "agentsdk"
    assert agentsdk.AgentConn.__module__ == "agentsdk"
