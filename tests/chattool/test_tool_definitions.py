"""Tool definitions, provider formats, the chat helper and the public surface of chattool."""

from __future__ import annotations

import types
import uuid

import pytest

import agentsdk
import chattool
from chattool import (
    CHAT_ID_HEADER,
    ChatTools,
    ExecuteTool,
    ProcessInputTool,
    ProcessListTool,
    ProcessOutputTool,
    ProcessSignalTool,
    ToolResult,
    chat_headers,
    chat_tools,
)

from ._fakes import CHAT_ID, FakeAgent


def test_chat_tools_builds_the_five_tools_for_one_chat() -> None:
    """The helper builds every tool with the same connection and chat id."""
    agent = FakeAgent()
    tools = chat_tools(agent, chat_id=uuid.UUID(CHAT_ID))
    assert isinstance(tools, ChatTools)
    assert [tool.name for tool in tools] == [
        "execute",
        "process_output",
        "process_list",
        "process_signal",
        "process_input",
    ]
    assert isinstance(tools.execute, ExecuteTool)
    assert isinstance(tools.process_output, ProcessOutputTool)
    assert isinstance(tools.process_list, ProcessListTool)
    assert isinstance(tools.process_signal, ProcessSignalTool)
    assert isinstance(tools.process_input, ProcessInputTool)
    assert {tool.chat_id for tool in tools} == {CHAT_ID}


def test_chat_tools_without_a_chat_are_unscoped() -> None:
    """Tools built without a chat id send no CODER_CHAT_ID."""
    tools = chat_tools(FakeAgent())
    assert tools.execute.chat_id is None
    assert "CODER_CHAT_ID" not in tools.execute.environment()


def test_chat_headers_scope_a_connection_to_the_chat() -> None:
    """The chat header is the canonical UUID under the name the agent reads."""
    assert chat_headers(CHAT_ID.upper()) == {"Coder-Chat-Id": CHAT_ID}
    assert CHAT_ID_HEADER == "Coder-Chat-Id"
    with pytest.raises(ValueError, match="UUID"):
        chat_headers("not-a-uuid")


def test_chat_header_and_chat_id_parsing_are_the_sdks() -> None:
    """chattool re-exports the SDK's header and accepts exactly the chat ids the SDK parses."""
    assert CHAT_ID_HEADER is agentsdk.CHAT_ID_HEADER
    for raw in (f" {CHAT_ID} ", CHAT_ID.replace("-", ""), uuid.UUID(CHAT_ID)):
        assert chat_headers(raw) == {CHAT_ID_HEADER: agentsdk.parse_chat_id(raw)}
    for bad in ("", "   ", "not-a-uuid", CHAT_ID + "0"):
        assert agentsdk.parse_chat_id(bad) is None
        with pytest.raises(ValueError, match="UUID"):
            chat_headers(bad)


@pytest.mark.parametrize("tool", list(chat_tools(None)), ids=lambda tool: tool.name)
def test_definitions_convert_to_openai_and_anthropic(
    tool: chattool.Tool[chattool.ToolArguments],
) -> None:
    """Each definition has the OpenAI function-tool and Anthropic tool shapes, without titles."""
    assert tool.to_openai() == {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }
    assert tool.to_anthropic() == {
        "name": tool.name,
        "description": tool.description,
        "input_schema": tool.parameters,
    }
    assert tool.parameters["type"] == "object"
    assert "title" not in str(tool.parameters)
    assert tool.description
    assert "\n" not in tool.description.split("\n\n")[0]


def test_tool_results_convert_to_provider_messages() -> None:
    """A result becomes an Anthropic tool_result block or an OpenAI tool message."""
    result = ToolResult("command is required", is_error=True)
    assert result.to_anthropic("toolu_1") == {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": "command is required",
        "is_error": True,
    }
    assert result.to_openai("call_1") == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "command is required",
    }


def test_public_names_are_exported_sorted_and_complete() -> None:
    """chattool's __all__ is sorted (constants first, as ruff sorts) and complete."""
    assert chattool.__all__ == sorted(chattool.__all__, key=lambda name: (not name.isupper(), name))
    public = {
        name
        for name, value in vars(chattool).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(chattool.__all__)
    for name in ["ExecuteTool", "ProcessOutputTool", "ProcessListTool", "ProcessSignalTool"]:
        assert name in chattool.__all__
    assert "ToolResult" in chattool.__all__
