"""OpenAI Chat Completions (``POST /v1/chat/completions``): the request's checks, JSON and SSE
answers (tool calls stream as ``delta.tool_calls`` pieces)."""

from __future__ import annotations

import json
from typing import Any

from .script import Call, Conversation, ProtocolError, ToolSpec, check_schema
from .wire import Exchange, Turn, expect, pieces

__all__ = ["read_request", "respond"]


def _tools(body: dict[str, Any]) -> dict[str, ToolSpec]:
    tools: dict[str, ToolSpec] = {}
    for tool in body.get("tools") or []:
        expect(tool.get("type") == "function", f"a tool that is not a function: {tool!r}")
        function = tool.get("function")
        expect(isinstance(function, dict), f"a function tool without its function: {tool!r}")
        name = function.get("name")
        expect(isinstance(name, str) and name, f"a function without a name: {function!r}")
        expect(name not in tools, f"tool {name} declared twice")
        parameters = function.get("parameters", {"type": "object", "properties": {}})
        spec = ToolSpec(name, parameters, function.get("strict") is True)
        check_schema(spec)
        tools[name] = spec
    return tools


def read_request(body: dict[str, Any]) -> Exchange:
    """Check a Chat Completions request; collect its tools, tool calls and their answers."""
    expect(isinstance(body.get("model"), str), "model is required")
    messages = body.get("messages")
    expect(isinstance(messages, list) and messages, "messages must be a non-empty list")
    calls: list[tuple[str, str, Any]] = []
    answers: dict[str, tuple[str, bool | None]] = {}
    waiting: set[str] = set()
    for index, message in enumerate(messages):
        role = message.get("role")
        expect(
            role in ("system", "developer", "user", "assistant", "tool"),
            f"messages[{index}]: unknown role {role!r}",
        )
        if role != "tool" and waiting:
            raise ProtocolError(
                f"messages[{index}] ({role}) comes before tool calls {sorted(waiting)} "
                "were answered"
            )
        if role == "assistant":
            for call in message.get("tool_calls") or []:
                expect(call.get("type") == "function", f"messages[{index}]: {call!r}")
                function = call["function"]
                expect(
                    isinstance(function.get("arguments"), str),
                    f"messages[{index}]: tool call arguments must be JSON text",
                )
                calls.append((call["id"], function["name"], json.loads(function["arguments"])))
                waiting.add(call["id"])
        elif role == "tool":
            call_id = message.get("tool_call_id")
            expect(call_id in waiting, f"messages[{index}] answers no open tool call: {call_id}")
            waiting.discard(call_id)
            content = message.get("content")
            if isinstance(content, list):
                content = "".join(part.get("text", "") for part in content)
            expect(isinstance(content, str), f"messages[{index}]: tool content must be text")
            answers[call_id] = (content, None)
    expect(not waiting, f"tool calls {sorted(waiting)} were not answered")
    return Exchange(
        tools=_tools(body),
        calls=calls,
        answers=answers,
        stream=body.get("stream") is True,
        model=body["model"],
        usage_chunk=bool((body.get("stream_options") or {}).get("include_usage")),
    )


def respond(exchange: Exchange, turn: Turn, conversation: Conversation) -> Any:
    """The answer: a ``chat.completion`` object, or the list of SSE chunks (then ``[DONE]``)."""
    response_id = conversation.new_id("chatcmpl-")
    calls = []
    if not isinstance(turn, str):
        calls = [(conversation.new_id("call_"), call) for call in turn]
        conversation.record_batch(calls)
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    finish = "stop" if isinstance(turn, str) else "tool_calls"
    base = {"id": response_id, "created": 0, "model": exchange.model}
    if not exchange.stream:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": turn if isinstance(turn, str) else None,
            "refusal": None,
        }
        if calls:
            message["tool_calls"] = [_tool_call(call_id, call) for call_id, call in calls]
        return {
            **base,
            "object": "chat.completion",
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            ],
            "usage": usage,
        }
    chunk = {**base, "object": "chat.completion.chunk"}

    def delta(content: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": content, "finish_reason": finish_reason, "logprobs": None}
        return {**chunk, "choices": [choice]}

    chunks = [delta({"role": "assistant", "content": ""})]
    if isinstance(turn, str):
        chunks += [delta({"content": piece}) for piece in pieces(turn)]
    for index, (call_id, call) in enumerate(calls):
        head = {"index": index, "id": call_id, "type": "function"}
        chunks.append(
            delta({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
        )
        chunks += [
            delta({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            for piece in pieces(json.dumps(call.arguments))
        ]
    chunks.append(delta({}, finish))
    if exchange.usage_chunk:
        chunks.append({**chunk, "choices": [], "usage": usage})
    return [(None, item) for item in chunks] + [(None, "[DONE]")]


def _tool_call(call_id: str, call: Call) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
    }
