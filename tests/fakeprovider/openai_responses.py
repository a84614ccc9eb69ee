"""OpenAI Responses (``POST /v1/responses``): the request's checks (flat function tools,
``function_call`` / ``function_call_output`` items), JSON and SSE answers."""

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
        expect("function" not in tool, f"a Chat Completions tool sent to Responses: {tool!r}")
        name = tool.get("name")
        expect(isinstance(name, str) and name, f"a function tool without a name: {tool!r}")
        expect(name not in tools, f"tool {name} declared twice")
        expect(isinstance(tool.get("parameters"), dict), f"tool {name} has no parameters")
        spec = ToolSpec(name, tool["parameters"], tool.get("strict") is True)
        check_schema(spec)
        tools[name] = spec
    return tools


def _text(output: Any) -> str:
    if isinstance(output, str):
        return output
    expect(isinstance(output, list), f"a function_call_output whose output is {output!r}")
    return "".join(part.get("text", "") for part in output)


def read_request(body: dict[str, Any]) -> Exchange:
    """Check a Responses request; collect its tools, function calls and their outputs."""
    expect(isinstance(body.get("model"), str), "model is required")
    expect(
        body.get("previous_response_id") is None,
        "previous_response_id: the fake provider keeps no responses; send the whole input",
    )
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    expect(isinstance(items, list) and items, "input must be text or a non-empty list")
    calls: list[tuple[str, str, Any]] = []
    answers: dict[str, tuple[str, bool | None]] = {}
    called: set[str] = set()
    for index, item in enumerate(items):
        kind = item.get("type", "message")
        if kind == "function_call":
            expect(isinstance(item.get("arguments"), str), f"input[{index}]: arguments not text")
            calls.append((item["call_id"], item["name"], json.loads(item["arguments"])))
            called.add(item["call_id"])
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            expect(call_id in called, f"input[{index}] answers no earlier function call: {call_id}")
            expect(call_id not in answers, f"input[{index}] answers {call_id} a second time")
            answers[call_id] = (_text(item.get("output")), None)
        elif kind == "message":
            expect(
                item.get("role") in ("user", "assistant", "system", "developer"),
                f"input[{index}]: unknown role {item.get('role')!r}",
            )
        elif kind != "reasoning":
            raise ProtocolError(f"input[{index}]: unexpected item type {kind!r}")
    return Exchange(
        tools=_tools(body), calls=calls, answers=answers, stream=body.get("stream") is True,
        model=body["model"],
    )  # fmt: skip


def respond(exchange: Exchange, turn: Turn, conversation: Conversation) -> Any:
    """The answer: a ``response`` object, or its SSE events ending in ``response.completed``."""
    response_id = conversation.new_id("resp_")
    items: list[dict[str, Any]] = []
    if isinstance(turn, str):
        text = {"type": "output_text", "text": turn, "annotations": [], "logprobs": []}
        items.append(
            {
                "type": "message", "id": conversation.new_id("msg_"), "role": "assistant",
                "status": "completed", "content": [text],
            }
        )  # fmt: skip
    else:
        calls = [(conversation.new_id("call_"), call) for call in turn]
        conversation.record_batch(calls)
        items += [
            _function_call(conversation.new_id("fc_"), call_id, call) for call_id, call in calls
        ]
    response = {
        "id": response_id, "object": "response", "created_at": 0, "status": "completed",
        "model": exchange.model, "output": items, "parallel_tool_calls": True,
        "tool_choice": "auto", "tools": [], "error": None, "incomplete_details": None,
        "instructions": None, "metadata": {}, "temperature": 1.0, "top_p": 1.0,
        "text": {"format": {"type": "text"}},
        "usage": {
            "input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 15,
        },
    }  # fmt: skip
    if not exchange.stream:
        return response
    events: list[dict[str, Any]] = [
        {
            "type": "response.created",
            "response": {**response, "status": "in_progress", "output": []},
        }
    ]
    for index, item in enumerate(items):
        events += _item_events(index, item)
    events.append({"type": "response.completed", "response": response})
    return [
        (event["type"], {**event, "sequence_number": number}) for number, event in enumerate(events)
    ]


def _function_call(item_id: str, call_id: str, call: Call) -> dict[str, Any]:
    return {
        "type": "function_call", "id": item_id, "call_id": call_id, "name": call.name,
        "arguments": json.dumps(call.arguments), "status": "completed",
    }  # fmt: skip


def _item_events(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    if item["type"] == "function_call":
        added = {**item, "arguments": "", "status": "in_progress"}
        events = [{"type": "response.output_item.added", "output_index": index, "item": added}]
        events += [
            {
                "type": "response.function_call_arguments.delta", "item_id": item["id"],
                "output_index": index, "delta": piece,
            }
            for piece in pieces(item["arguments"])
        ]  # fmt: skip
        events.append(
            {
                "type": "response.function_call_arguments.done", "item_id": item["id"],
                "output_index": index, "name": item["name"], "arguments": item["arguments"],
            }
        )  # fmt: skip
    else:
        text = item["content"][0]
        added = {**item, "status": "in_progress", "content": []}
        part = {**text, "text": ""}
        where = {"item_id": item["id"], "output_index": index, "content_index": 0}
        events = [
            {"type": "response.output_item.added", "output_index": index, "item": added},
            {"type": "response.content_part.added", **where, "part": part},
        ]
        events += [
            {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
            for piece in pieces(text["text"])
        ]
        events += [
            {"type": "response.output_text.done", **where, "text": text["text"], "logprobs": []},
            {"type": "response.content_part.done", **where, "part": text},
        ]
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events
