"""Anthropic Messages (``POST /v1/messages``): the request's checks (alternating turns, each
``tool_use`` answered by a ``tool_result`` first in the next user turn), JSON and SSE answers
(tool input streams as ``input_json_delta`` pieces)."""

from __future__ import annotations

import json
from typing import Any

from .script import Conversation, ProtocolError, ToolSpec, check_schema
from .wire import Exchange, Turn, expect, pieces

__all__ = ["read_request", "respond"]


def _tools(body: dict[str, Any]) -> dict[str, ToolSpec]:
    tools: dict[str, ToolSpec] = {}
    for tool in body.get("tools") or []:
        expect(tool.get("type", "custom") == "custom", f"a tool that is not custom: {tool!r}")
        name = tool.get("name")
        expect(isinstance(name, str) and name, f"a tool without a name: {tool!r}")
        expect(name not in tools, f"tool {name} declared twice")
        expect(isinstance(tool.get("input_schema"), dict), f"tool {name} has no input_schema")
        spec = ToolSpec(name, tool["input_schema"], tool.get("strict") is True)
        check_schema(spec)
        tools[name] = spec
    return tools


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    expect(isinstance(content, list), f"{where}: content must be text or a list of blocks")
    return list(content)


def _result_text(content: Any, where: str) -> str:
    if content is None:
        return ""
    blocks = _blocks(content, where)
    for block in blocks:
        expect(block.get("type") == "text", f"{where}: a tool_result block of {block.get('type')}")
    return "".join(block["text"] for block in blocks)


def read_request(body: dict[str, Any]) -> Exchange:
    """Check a Messages request; collect its tools, tool uses and their results."""
    expect(isinstance(body.get("model"), str), "model is required")
    expect(isinstance(body.get("max_tokens"), int), "max_tokens is required")
    messages = body.get("messages")
    expect(isinstance(messages, list) and messages, "messages must be a non-empty list")
    calls: list[tuple[str, str, Any]] = []
    answers: dict[str, tuple[str, bool | None]] = {}
    waiting: list[str] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        expected_role = "user" if index % 2 == 0 else "assistant"
        expect(role == expected_role, f"messages[{index}]: expected a {expected_role} turn")
        blocks = _blocks(message.get("content"), f"messages[{index}]")
        if role == "assistant":
            for block in blocks:
                if block.get("type") == "tool_use":
                    expect(isinstance(block.get("input"), dict), f"messages[{index}]: input")
                    calls.append((block["id"], block["name"], block["input"]))
                    waiting.append(block["id"])
            continue
        results = [block for block in blocks if block.get("type") == "tool_result"]
        if waiting:
            expect(
                blocks[: len(results)] == results,
                f"messages[{index}]: tool_result blocks must come first in the user turn",
            )
            answered = [block.get("tool_use_id") for block in results]
            expect(
                sorted(answered) == sorted(waiting),
                f"messages[{index}] answers {answered}, but the tool uses were {waiting}",
            )
        elif results:
            raise ProtocolError(f"messages[{index}]: a tool_result answers no tool_use")
        for block in results:
            is_error = block.get("is_error", False)
            expect(isinstance(is_error, bool), f"messages[{index}]: is_error must be a boolean")
            answers[block["tool_use_id"]] = (
                _result_text(block.get("content"), f"messages[{index}]"),
                is_error,
            )
        waiting = []
    expect(not waiting, f"tool uses {waiting} were not answered")
    return Exchange(
        tools=_tools(body), calls=calls, answers=answers, stream=body.get("stream") is True,
        model=body["model"],
    )  # fmt: skip


def respond(exchange: Exchange, turn: Turn, conversation: Conversation) -> Any:
    """The answer: a ``message`` object, or its SSE events from ``message_start`` to
    ``message_stop``."""
    blocks: list[dict[str, Any]] = []
    if isinstance(turn, str):
        blocks.append({"type": "text", "text": turn})
    else:
        calls = [(conversation.new_id("toolu_"), call) for call in turn]
        conversation.record_batch(calls)
        blocks += [
            {"type": "tool_use", "id": call_id, "name": call.name, "input": call.arguments}
            for call_id, call in calls
        ]
    stop_reason = "end_turn" if isinstance(turn, str) else "tool_use"
    message = {
        "id": conversation.new_id("msg_"), "type": "message", "role": "assistant",
        "model": exchange.model, "content": blocks, "stop_reason": stop_reason,
        "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 5},
    }  # fmt: skip
    if not exchange.stream:
        return message
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {**message, "content": [], "stop_reason": None, "usage": {
                "input_tokens": 10, "output_tokens": 1}},
        }
    ]  # fmt: skip
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in pieces(block["text"])]
        else:
            start = {**block, "input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": piece}
                for piece in pieces(json.dumps(block["input"]))
            ]
        events.append({"type": "content_block_start", "index": index, "content_block": start})
        events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": index})
    events += [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": 5},
        },
        {"type": "message_stop"},
    ]
    return [(event["type"], event) for event in events]
