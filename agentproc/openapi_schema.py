"""The OpenAPI document as client generators read it.

FastAPI writes what pydantic says of a model: an optional field ``workdir: str | None = None``
becomes ``anyOf: [string, null]`` with ``default: null``. Generators take that literally:
openapi-typescript makes a field with a default *required* in its types (so
``{command: "make test"}`` does not type-check). So no optional field has a default here. In
a request body an optional field stays nullable, since the agent takes ``null`` as "not
given" (as Coder's agent does); in an answer it is not, since the agent leaves an unset
field out and never sends ``null``.

Also here: the models of the bodies the routes decode or encode by hand, the statuses FastAPI
would document but the agent never answers (422), and the headers every answer of a status
carries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

__all__ = ["openapi_builder", "optional_without_default", "optional_without_null"]

NULL = {"type": "null"}

HEADER_DOCS: Mapping[str, dict[str, Any]] = {
    "Retry-After": {
        "description": "Seconds to wait before trying again: a hint, since nobody can tell when "
        "a running process will end.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "WWW-Authenticate": {
        "description": "`Bearer`: the agent expects `Authorization: Bearer <token>`.",
        "schema": {"type": "string"},
    },
}
"""How each header the agent adds to an error answer is documented."""


def optional_without_default(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` of an optional field without its ``default: null``."""
    if "default" in schema and schema["default"] is None:
        return {key: value for key, value in schema.items() if key != "default"}
    return schema


def optional_without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` of an optional field or parameter without its ``null`` and null default.

    ``{"anyOf": [X, {"type": "null"}], "default": None, ...}`` becomes ``X`` with the other
    keys; a schema of another shape is returned as it is.
    """
    variants = schema.get("anyOf")
    if not isinstance(variants, list) or NULL not in variants:
        return schema
    if schema.get("default") is not None:
        return schema
    rest = [variant for variant in variants if variant != NULL]
    collapsed = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
    if len(rest) == 1:
        return {**rest[0], **collapsed}
    return {"anyOf": rest, **collapsed}


def _object_schemas(schemas: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, schema in schemas.items():
        if isinstance(schema, dict) and "properties" in schema:
            yield name, schema


def _operations(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for path in document.get("paths", {}).values():
        yield from path.values()


def _drop_null_optionals(document: dict[str, Any], requests: frozenset[str]) -> None:
    for name, schema in _object_schemas(document.get("components", {}).get("schemas", {})):
        required = set(schema.get("required", ()))
        optional = optional_without_default if name in requests else optional_without_null
        schema["properties"] = {
            field: spec if field in required else optional(spec)
            for field, spec in schema["properties"].items()
        }
    for operation in _operations(document):
        for parameter in operation.get("parameters", ()):
            if not parameter.get("required"):
                parameter["schema"] = optional_without_null(parameter["schema"])


def _document_headers(
    document: dict[str, Any], headers_by_status: Mapping[int, Mapping[str, str]]
) -> None:
    for operation in _operations(document):
        for status, response in operation.get("responses", {}).items():
            names = headers_by_status.get(int(status), {})
            if names:
                response["headers"] = {name: HEADER_DOCS[name] for name in names}


def openapi_builder(
    app: FastAPI,
    requests: Iterable[type[BaseModel]],
    answers: Iterable[type[BaseModel]],
    headers_by_status: Mapping[int, Mapping[str, str]],
) -> Callable[[], dict[str, Any]]:
    """The ``app.openapi`` of the agent: FastAPI's document, made for generators.

    Args:
        app: the agent's app.
        requests: the request bodies, which the routes decode by hand.
        answers: the models of answers the routes encode by hand (stream events).
        headers_by_status: the headers every error answer of a status carries.
    """
    request_models = tuple(requests)
    extra_models = (*request_models, *answers)
    request_names = frozenset(model.__name__ for model in request_models)

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        components = document.setdefault("components", {}).setdefault("schemas", {})
        for model in extra_models:
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        # Every validation failure is a 400 in the error shape, so FastAPI's 422 never happens.
        for operation in _operations(document):
            operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        _drop_null_optionals(document, request_names)
        _document_headers(document, headers_by_status)
        app.openapi_schema = dict(sorted(document.items()))
        return app.openapi_schema

    return build
