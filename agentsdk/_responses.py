"""Reading an answer: a success decoded as its model, an error status as the SDK's exception.

``model_parser`` gives a ``Call`` its ``parse``; ``make_status_error`` is the one table from
status to exception class (the tree is drawn in ``agentsdk._exceptions``). Both tolerate
bodies that are not the API's, such as a proxy's HTML page: the caller gets a readable
message, never a decoding traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import httpx
import pydantic

from agentsdk._exceptions import (
    AgentSDKError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
)
from agentsdk.types import FieldValidation

__all__ = ["MAX_ERROR_DETAIL_CHARS", "make_status_error", "model_parser"]

MAX_ERROR_DETAIL_CHARS = 2048
# A non-JSON error body (a proxy's HTML page) is kept as detail, cut to what a log can hold.

_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    429: RateLimitError,
}

M = TypeVar("M", bound=pydantic.BaseModel)


def model_parser(model: type[M]) -> Callable[[httpx.Response], M]:
    """A ``Call.parse`` that decodes a success answer as ``model``.

    The parser raises ``AgentSDKError`` for a body that does not fit the model.
    """

    def parse(response: httpx.Response) -> M:
        try:
            return model.model_validate_json(response.content)
        except pydantic.ValidationError as exc:
            request = response.request
            raise AgentSDKError(
                f"{request.method} {request.url}: decode response body as {model.__name__}: "
                f"{exc.error_count()} error(s): {_first_error(exc)}"
            ) from exc

    return parse


def make_status_error(response: httpx.Response) -> APIStatusError:
    """Build the exception for an error answer, tolerating bodies that are not the API's."""
    message, detail, validations = _read_error_body(response)
    status = response.status_code
    error_type = _STATUS_ERRORS.get(status)
    if error_type is None:
        error_type = InternalServerError if status >= 500 else APIStatusError
    return error_type(message, response=response, detail=detail, validations=validations)


def _read_error_body(response: httpx.Response) -> tuple[str, str | None, list[FieldValidation]]:
    content_type = response.headers.get("Content-Type", "")
    text = response.text
    if not _is_json(content_type):
        shown = content_type or "no content type"
        return f'unexpected non-JSON response "{shown}"', _cut(text) or None, []
    if not text.strip():
        return "empty response body", None, []
    try:
        body = response.json()
    except ValueError as exc:
        return f"invalid JSON error body: {exc}", _cut(text), []
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message:
        no_message = f"unexpected status code {response.status_code}, response has no message"
        return no_message, _cut(text), []
    detail = body.get("detail")
    return message, detail if isinstance(detail, str) and detail else None, _validations(body)


def _validations(body: dict[str, object]) -> list[FieldValidation]:
    raw = body.get("validations")
    if not isinstance(raw, list):
        return []
    found = []
    for item in raw:
        # One malformed entry should not hide the error the server is reporting.
        try:
            found.append(FieldValidation.model_validate(item))
        except pydantic.ValidationError:
            continue
    return found


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_ERROR_DETAIL_CHARS else text[:MAX_ERROR_DETAIL_CHARS] + "..."


def _first_error(exc: pydantic.ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    location = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{location}: {first['msg']}"
