"""Arguments as text or a mapping, strict and Responses definitions, and every result shape."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from chattool import ExecuteTool, Tool, ToolArguments, ToolResult, chat_tools
from chattool._schemas import strict_schema

from ._fakes import CHAT_ID, FakeAgent

pytestmark = pytest.mark.anyio

ALL_TOOLS = list(chat_tools(None))


def nodes(schema: Any) -> Iterator[dict[str, Any]]:
    """Every schema object inside ``schema``."""
    if isinstance(schema, dict):
        yield schema
        for value in schema.values():
            yield from nodes(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from nodes(item)


@pytest.mark.parametrize("tool", ALL_TOOLS, ids=lambda tool: tool.name)
def test_strict_definitions_follow_openais_strict_rules(tool: Tool[ToolArguments]) -> None:
    """Strict: every property required, the optional ones nullable, no other properties, no
    default anywhere; the plain definition is unchanged."""
    plain = tool.parameters
    strict = tool.to_openai(strict=True)["function"]
    assert strict["strict"] is True
    parameters = strict["parameters"]
    assert parameters["additionalProperties"] is False
    assert parameters["required"] == list(plain["properties"])
    assert not any("default" in node for node in nodes(parameters))
    for name, schema in parameters["properties"].items():
        optional = name not in plain.get("required", [])
        assert ("null" in schema["type"]) is optional, (name, schema)
    assert "strict" not in tool.to_openai()["function"]
    assert tool.to_openai()["function"]["parameters"] == plain


@pytest.mark.parametrize("tool", ALL_TOOLS, ids=lambda tool: tool.name)
def test_responses_definitions_are_flat(tool: Tool[ToolArguments]) -> None:
    """The Responses shape puts name and parameters at the top and always says strict."""
    assert tool.to_openai_responses() == {
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.parameters,
        "strict": False,
    }
    strict = tool.to_openai_responses(strict=True)
    assert strict["strict"] is True
    assert strict["parameters"] == tool.strict_parameters()


def test_strict_schema_makes_enums_and_references_nullable() -> None:
    """An optional enum gains null among its values; a reference is offered beside null."""
    schema = {
        "type": "object",
        "properties": {
            "signal": {"type": "string", "enum": ["kill", "terminate"], "default": "kill"},
            "nested": {"$ref": "#/$defs/Nested", "description": "more"},
        },
        "$defs": {
            "Nested": {"type": "object", "properties": {"depth": {"type": "integer"}}},
        },
    }
    strict = strict_schema(schema)
    assert strict["properties"]["signal"] == {
        "type": ["string", "null"],
        "enum": ["kill", "terminate", None],
    }
    assert strict["properties"]["nested"] == {
        "anyOf": [{"$ref": "#/$defs/Nested"}, {"type": "null"}],
        "description": "more",
    }
    assert strict["$defs"]["Nested"]["required"] == ["depth"]
    assert strict["$defs"]["Nested"]["additionalProperties"] is False
    assert "default" in schema["properties"]["signal"]  # the input is left as it was


async def test_run_takes_a_mapping_as_it_takes_json_text() -> None:
    """Anthropic's tool_use.input (a mapping) starts the same command as the JSON text."""
    from_text, from_mapping = FakeAgent(), FakeAgent()
    arguments = {"command": "echo hi", "timeout": "5s", "workdir": "/tmp"}
    for agent, given in [(from_text, json.dumps(arguments)), (from_mapping, arguments)]:
        result = await ExecuteTool(agent, chat_id=CHAT_ID).run(given)
        assert not result.is_error, result.content
    assert from_text.starts == from_mapping.starts
    assert from_text.starts[0].command == "echo hi"


async def test_nulls_of_a_strict_call_act_as_unset_fields() -> None:
    """A strict model fills every field, null for the ones it leaves unset: the command
    starts exactly as when those fields are left out."""
    plain, strict = FakeAgent(), FakeAgent()
    await ExecuteTool(plain).run({"command": "make"})
    nulls = {"timeout": None, "workdir": None, "run_in_background": None, "model_intent": None}
    result = await ExecuteTool(strict).run({"command": "make", **nulls})
    assert not result.is_error, result.content
    assert plain.starts == strict.starts


class BrokenMapping(Mapping[str, Any]):
    """A mapping that fails when read."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("unreadable")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("unreadable")

    def __len__(self) -> int:
        return 1

    def __repr__(self) -> str:
        # The test's id: the same in every worker process.
        return "BrokenMapping()"


@pytest.mark.parametrize(
    "arguments",
    [
        42,
        None,
        ["command"],
        b'{"command": "x"}',
        "[1]",
        "{",
        "null",
        BrokenMapping(),
        {"command": 1},
    ],
    ids=repr,
)
async def test_run_answers_any_bad_arguments_with_an_error_result(arguments: Any) -> None:
    """Whatever the arguments are, run returns an is_error result and starts nothing."""
    agent = FakeAgent()
    result = await ExecuteTool(agent).run(arguments)
    assert result.is_error
    assert result.content.startswith("invalid parameters: "), result.content
    assert agent.calls == 0


class ExplodingHeaders(dict[str, str]):
    """Connection headers that fail when read: an error the tools do not foresee."""

    def items(self) -> Any:
        raise RuntimeError("headers exploded")


async def test_an_unforeseen_failure_is_an_error_result_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failure the tool did not foresee does not escape into the chat loop: the model reads
    it, and the log has the traceback."""
    with caplog.at_level(logging.ERROR, logger="chattool"):
        result = await ExecuteTool(FakeAgent(headers=ExplodingHeaders()), chat_id=CHAT_ID).run(
            {"command": "x"}
        )
    assert result == ToolResult("execute failed: headers exploded", is_error=True)
    assert "execute failed unexpectedly" in caplog.text
    assert "RuntimeError: headers exploded" in caplog.text


def test_results_convert_to_responses_and_mcp() -> None:
    """A result is a function_call_output item, and an MCP CallToolResult whose
    structuredContent is the JSON result (none for an error's sentence)."""
    done = ToolResult('{"success":true,"exit_code":0}')
    assert done.to_openai_responses("call_1") == {
        "type": "function_call_output",
        "call_id": "call_1",
        "output": '{"success":true,"exit_code":0}',
    }
    assert done.to_mcp() == {
        "content": [{"type": "text", "text": '{"success":true,"exit_code":0}'}],
        "isError": False,
        "structuredContent": {"success": True, "exit_code": 0},
    }
    refused = ToolResult("invalid parameters: command: Field required", is_error=True)
    assert refused.to_mcp() == {
        "content": [{"type": "text", "text": "invalid parameters: command: Field required"}],
        "isError": True,
    }
    assert ToolResult("[1, 2]").structured is None
