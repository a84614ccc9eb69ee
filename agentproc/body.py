"""Request bodies: read within the size limit, decoded as JSON a process can use, and
validated into the wire model a route takes (a start's into its :class:`ProcessSpec`).

Bodies are read raw and decoded here, not by FastAPI, because Coder's Go client sends JSON
without a ``Content-Type`` header and every failure must be a 400 in the contract's error
shape, never a framework 422 or a 500.

Decoding refuses, before any field is looked at, what is valid JSON syntax but no command,
path or variable can carry (the I-JSON profile, RFC 7493): strings holding a lone surrogate
(``"\\ud800"`` decodes to text that cannot be encoded for exec or for a response), integers
of more digits than CPython converts at all, and nesting deeper than the decoder can recurse.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from starlette.requests import Request

from agentproc.errors import BodyTooLarge, CommandRequired, FieldError, InvalidField, InvalidRequest
from agentproc.settings import Settings
from agentproc.spec import LONE_SURROGATE, NOT_TEXT, ProcessSpec
from agentsdk.types import StartProcessRequest

__all__ = [
    "INVALID_JSON",
    "MAX_INTEGER_DIGITS",
    "capped_decimal",
    "decode_json_object",
    "read_json_object",
    "start_spec",
    "validate_model",
]

INVALID_JSON = "Request body must be valid JSON."

MAX_INTEGER_DIGITS = sys.int_info.str_digits_check_threshold
"""Longest integer literal decoded (640 digits). No field comes anywhere near it, and CPython
may be configured to refuse any longer one (its limit can be lowered to this, not below)."""


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """Read the body of ``request`` (at most ``limit`` bytes) and decode it as a JSON object.

    Raises:
        BodyTooLarge: the body is, or is declared to be, longer than ``limit``.
        InvalidRequest: the body is not a JSON object the agent can use.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdecimal() and capped_decimal(declared, limit + 1) > limit:
        raise BodyTooLarge(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(limit)
    return decode_json_object(bytes(body))


_Model = TypeVar("_Model", bound=BaseModel)


def validate_model(model: type[_Model], body: dict[str, Any]) -> _Model:
    """``body`` as the wire ``model``, strictly (no coercion of types).

    Raises:
        InvalidRequest: a field is missing or of the wrong type; ``validations`` names each.
    """
    try:
        return model.model_validate(body, strict=True)
    except PydanticValidationError as exc:
        errors = exc.errors(include_url=False)
        fields = tuple(
            FieldError(".".join(str(part) for part in error["loc"]) or "body", _reason(error))
            for error in errors
        )
        detail = "; ".join(f"{f.field}: {f.detail}" for f in fields)
        # A rule across fields (no location) is the model's own sentence; it says it best.
        across = [f.detail for f, error in zip(fields, errors, strict=True) if not error["loc"]]
        # So is a field's own rule (a validator's ValueError), named as the domain names it.
        own = [
            InvalidField((f,)).message
            for f, error in zip(fields, errors, strict=True)
            if isinstance(error.get("ctx", {}).get("error"), ValueError)
        ]
        message = across[0] if across else own[0] if own else INVALID_JSON
        raise InvalidRequest(message, detail=detail, validations=fields) from exc


def _reason(error: Any) -> str:
    # A model's own ValueError reads better without pydantic's "Value error, " prefix.
    cause = error.get("ctx", {}).get("error")
    return str(cause) if isinstance(cause, ValueError) else str(error["msg"])


def capped_decimal(digits: str, cap: int) -> int:
    """The value of the decimal string ``digits``, or ``cap`` if it is larger.

    Any length is fine: a number with more significant digits than ``cap`` is never
    converted, so a header or query value of thousands of digits costs nothing.
    """
    significant = digits.lstrip("0")
    if len(significant) > len(str(cap)):
        return cap
    return min(int(significant or "0"), cap)


def decode_json_object(body: bytes) -> dict[str, Any]:
    """Decode ``body`` as a JSON object, with Go's zero values for ``null``.

    A top-level ``null`` is an empty object and ``null`` members are dropped, as Go leaves a
    field at its zero value for them.

    Raises:
        InvalidRequest: the body is empty, is not a JSON object, or holds a value no
            field could carry (see the module docstring); ``validations`` names the member.
    """
    if not body.strip():
        raise InvalidRequest(INVALID_JSON, detail="the body is empty")
    try:
        value = json.loads(body, parse_int=_parse_int)
    except RecursionError:
        raise InvalidRequest(INVALID_JSON, detail="the body is nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(INVALID_JSON, detail=str(exc)) from exc
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(INVALID_JSON, detail="the body must be a JSON object")
    _refuse_lone_surrogates(value)
    return {key: item for key, item in value.items() if item is not None}


def _parse_int(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise InvalidRequest(
            INVALID_JSON,
            detail=f"a number has {digits} digits; at most {MAX_INTEGER_DIGITS} are accepted",
        )
    return int(literal)


def _refuse_lone_surrogates(document: dict[str, Any]) -> None:
    # Iterative, not recursive: the document may be nested as deep as the decoder allowed.
    pending: list[tuple[str, Any]] = [("", document)]
    while pending:
        path, value = pending.pop()
        members: Iterable[tuple[str, Any]]
        if isinstance(value, dict):
            members = value.items()
        elif isinstance(value, list):
            members = ((str(index), item) for index, item in enumerate(value))
        else:
            if isinstance(value, str) and LONE_SURROGATE.search(value):
                _lone_surrogate(path)
            continue
        for key, item in members:
            member = f"{path}.{key}" if path else key
            if LONE_SURROGATE.search(key):
                _lone_surrogate(member)
            pending.append((member, item))


def _lone_surrogate(path: str) -> NoReturn:
    # The path itself may hold the surrogate; its escape is what the error can show.
    field = path.encode("utf-8", "backslashreplace").decode("utf-8")
    raise InvalidRequest(
        INVALID_JSON, detail=f"{field}: {NOT_TEXT}", validations=(FieldError(field, NOT_TEXT),)
    )


def start_spec(body: dict[str, Any], settings: Settings, chat_id: str | None) -> ProcessSpec:
    """The start a ``StartProcessRequest`` body asks for, in ``chat_id``'s context.

    Raises:
        CommandRequired: the command is missing or empty.
        InvalidRequest: the body is not a valid start (see :func:`validate_model`), or holds
            what exec cannot carry (see :class:`ProcessSpec`).
    """
    # A missing command is named as the contract words it, not as a schema error.
    if body.get("command", "") == "":
        raise CommandRequired()
    return ProcessSpec.from_request(
        validate_model(StartProcessRequest, body), chat_id=chat_id, settings=settings
    )
