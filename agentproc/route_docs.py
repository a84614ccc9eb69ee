"""How the process API's routes are described in ``openapi.json``: each error status with its
meaning and examples, the success examples, the links from a start's id, and the bodies
decoded by hand. The examples themselves are in ``agentproc.api_examples`` and
``agentproc.error_examples``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from agentproc.api_examples import Example, examples_of
from agentproc.error_examples import COMMON_ERRORS, GENERIC_ERRORS, ErrorDoc
from agentsdk.types import ErrorResponse

__all__ = [
    "error_responses",
    "json_body",
    "json_errors",
    "links_from_start",
    "success",
]


def _error_docs(
    statuses: tuple[int, ...], docs: Mapping[int, ErrorDoc] | None
) -> dict[int, ErrorDoc]:
    # Any API call can be malformed, unauthenticated or cross-origin; the rest depend on the
    # operation. An operation's own 400 adds its cases to the header cases every call has.
    own = dict(docs or {})
    found: dict[int, ErrorDoc] = {}
    for status in sorted({*COMMON_ERRORS, *statuses, *own}):
        doc = own.get(status) or GENERIC_ERRORS[status]
        if status in own and status in COMMON_ERRORS:
            doc = ErrorDoc(doc.description, {**doc.examples, **COMMON_ERRORS[status].examples})
        found[status] = doc
    return found


def _error_content(doc: ErrorDoc, **schema: Any) -> dict[str, Any]:
    return {"application/json": {**schema, "examples": examples_of(doc.examples)}}


def error_responses(
    *statuses: int, docs: Mapping[int, ErrorDoc] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The error answers of a JSON operation, for a route's ``responses``.

    Args:
        statuses: statuses documented with their generic meaning and examples.
        docs: statuses documented with the operation's own meaning and examples.
    """
    return {
        status: {
            "model": ErrorResponse,
            "description": doc.description,
            "content": _error_content(doc),
        }
        for status, doc in _error_docs(statuses, docs).items()
    }


def json_errors(
    *statuses: int, docs: Mapping[int, ErrorDoc] | None = None
) -> dict[int | str, dict[str, Any]]:
    """:func:`error_responses` for an operation whose success is not JSON.

    Given a model, FastAPI would document the errors in the success's media type, so the
    schema is written here.
    """
    schema = {"$ref": f"#/components/schemas/{ErrorResponse.__name__}"}
    return {
        status: {
            "description": doc.description,
            "content": {
                "application/json": {"schema": schema, **_error_content(doc)["application/json"]}
            },
        }
        for status, doc in _error_docs(statuses, docs).items()
    }


def success(examples: Mapping[str, Example], **extra: Any) -> dict[int | str, dict[str, Any]]:
    """The examples of an operation's JSON success (200), and ``extra`` keys of it (links)."""
    return {200: {"content": {"application/json": {"examples": examples_of(examples)}}, **extra}}


def links_from_start() -> dict[str, dict[str, Any]]:
    """OpenAPI links telling Swagger UI readers, generators and fuzzers where a start's id
    goes (the ``links`` of its success)."""
    return {
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


def json_body(
    model: type[BaseModel], examples: Mapping[str, Example] | None = None
) -> dict[str, Any]:
    """The request body of a route whose body is decoded by hand, for ``openapi_extra``."""
    # Documented by hand because the body is decoded by hand (agentproc.body says why).
    media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
    if examples:
        media["examples"] = examples_of(examples)
    return {"requestBody": {"required": True, "content": {"application/json": media}}}
