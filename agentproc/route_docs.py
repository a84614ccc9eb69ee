"""How the process API's routes are described in ``openapi.json``: each error status, the
links from a start's id, and the bodies decoded by hand."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from agentsdk import CHAT_ID_HEADER
from agentsdk.types import ErrorResponse

__all__ = [
    "ERROR_DESCRIPTIONS",
    "error_responses",
    "json_body",
    "json_errors",
    "links_from_start",
]

ERROR_DESCRIPTIONS = {
    400: "The request is malformed, a field is invalid, the Host header names a host the "
    f"agent does not answer to, or the {CHAT_ID_HEADER} header is not one UUID.",
    401: "The bearer token is missing or wrong.",
    403: "The request comes from a web page of another origin (its Origin header).",
    404: "No such process, or it is outside the request's chat (another chat's, or untagged), "
    "or it was forgotten.",
    409: "The request conflicts with the process's state.",
    413: "The request body is too large, or the input is larger than the process's whole "
    "input queue.",
    415: "The body is declared as something other than JSON (send application/json or no "
    "Content-Type).",
    429: "Too many processes are running, or the process's input queue has no room for the "
    "input (nothing was queued).",
    500: "The operating system refused.",
    503: "The agent is shutting down.",
}
"""What each error status means, for the OpenAPI document."""


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    # Any API call can be malformed, unauthenticated or cross-origin; the rest depend on
    # the operation.
    return {
        status: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[status]}
        for status in (400, 401, 403, *statuses)
    }


def json_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    # For an operation whose success is not JSON: given a model, FastAPI would document the
    # errors in the success's media type.
    schema = {"$ref": f"#/components/schemas/{ErrorResponse.__name__}"}
    return {
        status: {
            "description": doc["description"],
            "content": {"application/json": {"schema": schema}},
        }
        for status, doc in error_responses(*statuses).items()
    }


def links_from_start() -> dict[int | str, dict[str, Any]]:
    # OpenAPI links tell Swagger UI readers, generators and fuzzers where a start's id goes.
    return {
        200: {
            "links": {
                name: {
                    "operationId": operation_id,
                    "parameters": {"id": "$response.body#/id"},
                    "description": description,
                }
                for name, operation_id, description in (
                    ("ReadOutput", "process_output", "Read the started process's output."),
                    ("Signal", "signal_process", "Signal the started process's group."),
                    ("WriteInput", "process_input", "Write to the started process's stdin."),
                    ("ReadScreen", "process_screen", "Read the started process's screen."),
                    ("Resize", "resize_terminal", "Resize the started process's terminal."),
                )
            }
        }
    }


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    # Documented by hand because the body is decoded by hand (see module docstring).
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }
