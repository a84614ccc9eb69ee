"""Argument schemas as the LLM APIs take them, and OpenAI's strict form of them.

OpenAI's strict function calling (Chat Completions and Responses alike, and the Agents SDK on
top of them) accepts a schema only if every object lists every property in ``required``,
forbids others (``additionalProperties: false``) and gives no ``default``. A property the
model may leave out is then made nullable instead: the model sends ``null`` for it, and the
tools read ``null`` as "not given" (``ToolArguments``), so a strict call and a plain call that
leaves the field out behave the same.
"""

from __future__ import annotations

from typing import Any

__all__ = ["strict_schema"]

_NESTED_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
"""Keywords whose value is a list of schemas."""

_NESTED_MAPS = ("$defs", "definitions")
"""Keywords whose value maps names to schemas."""


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` in the form OpenAI's strict mode accepts; the input is left unchanged.

    Every object requires all its properties and allows no others; a property that was
    optional becomes nullable (``"type": [T, "null"]``, ``null`` added to an ``enum``);
    ``default`` is removed everywhere.
    """
    result: dict[str, Any] = _strict(schema)
    return result


def _strict(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    result = {key: value for key, value in schema.items() if key != "default"}
    for key in _NESTED_LISTS:
        if isinstance(result.get(key), list):
            result[key] = [_strict(item) for item in result[key]]
    for key in _NESTED_MAPS:
        if isinstance(result.get(key), dict):
            result[key] = {name: _strict(item) for name, item in result[key].items()}
    if "items" in result:
        result["items"] = _strict(result["items"])
    properties = result.get("properties")
    if result.get("type") == "object" or isinstance(properties, dict):
        properties = properties if isinstance(properties, dict) else {}
        required = set(result.get("required", ()))
        result["properties"] = {
            name: _strict(item) if name in required else _nullable(_strict(item))
            for name, item in properties.items()
        }
        result["required"] = list(properties)
        result["additionalProperties"] = False
    return result


def _nullable(schema: Any) -> dict[str, Any]:
    if not isinstance(schema, dict):
        return {"anyOf": [schema, {"type": "null"}]}
    kind = schema.get("type")
    if isinstance(kind, (str, list)) and "$ref" not in schema:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        result = {**schema, "type": kinds if "null" in kinds else [*kinds, "null"]}
        if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
            result["enum"] = [*schema["enum"], None]
        return result
    # No plain type to extend (a reference, a union): offer null beside the whole schema,
    # keeping the description where the model reads it.
    inner = {key: value for key, value in schema.items() if key != "description"}
    result = {"anyOf": [inner, {"type": "null"}]}
    if "description" in schema:
        result["description"] = schema["description"]
    return result
