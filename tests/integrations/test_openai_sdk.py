"""The tools in a real tool-call loop on the official ``openai`` SDK: Chat Completions and
Responses, JSON and SSE, plain and strict, against the fake provider and a live agent.

The SDK is imported where it is used: it takes about a second to import, and every test
worker collects this module while only one runs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from chattool import ChatTools
from tests.fakeprovider import FakeProvider

from ._session import FINAL_TEXT, STEPS, check_answers

if TYPE_CHECKING:
    from openai import AsyncOpenAI

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

MODEL = "gpt-test"
PROMPT = "Try the workspace tools."


def client(fake: FakeProvider) -> AsyncOpenAI:
    """The SDK as a user makes it, pointed at the fake provider; no retries hide an error."""
    from openai import AsyncOpenAI

    return AsyncOpenAI(base_url=f"{fake.base_url}/v1", api_key="sk-test", max_retries=0)


async def chat_completions_loop(
    openai: AsyncOpenAI, tools: ChatTools, *, strict: bool, stream: bool
) -> str:
    """A chat backend's loop: ask, run each tool call, answer it, until the model is done."""
    by_name = {tool.name: tool for tool in tools}
    definitions: Any = [tool.to_openai(strict=strict) for tool in tools]
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    while True:
        if stream and strict:
            # The SDK's stream helper assembles the delta.tool_calls pieces (strict tools only).
            async with openai.chat.completions.stream(
                model=MODEL, messages=messages, tools=definitions
            ) as events:
                message: Any = (await events.get_final_completion()).choices[0].message
        elif strict:
            # parse() refuses any tool that is not strict, and parses its arguments.
            completion = await openai.chat.completions.parse(
                model=MODEL, messages=messages, tools=definitions
            )
            message = completion.choices[0].message
            for call in message.tool_calls or []:
                assert isinstance(call.function.parsed_arguments, dict)
        elif stream:
            message = await _streamed_message(openai, messages, definitions)
        else:
            message = (
                (
                    await openai.chat.completions.create(
                        model=MODEL, messages=messages, tools=definitions
                    )
                )
                .choices[0]
                .message
            )
        messages.append(message.to_dict(exclude_unset=True))
        if not message.tool_calls:
            text: str = message.content
            return text
        for call in message.tool_calls:
            result = await by_name[call.function.name].run(call.function.arguments)
            messages.append(result.to_openai(call.id))


async def _streamed_message(openai: AsyncOpenAI, messages: Any, definitions: Any) -> Any:
    """The assistant message of a plain ``stream=True`` request, from its chunks."""
    from openai.types.chat import ChatCompletionMessage

    text, calls = "", {}
    stream = await openai.chat.completions.create(
        model=MODEL, messages=messages, tools=definitions, stream=True
    )
    async for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for piece in delta.tool_calls or []:
            call = calls.setdefault(
                piece.index,
                {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
            )
            call["id"] = piece.id or call["id"]
            if piece.function is not None:
                call["function"]["name"] += piece.function.name or ""
                call["function"]["arguments"] += piece.function.arguments or ""
    tool_calls = [calls[index] for index in sorted(calls)] or None
    return ChatCompletionMessage.model_validate(
        {"role": "assistant", "content": text or None, "tool_calls": tool_calls}
    )


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("strict", [False, True], ids=["plain", "strict"])
async def test_chat_completions_loop_runs_every_tool(
    fake: FakeProvider, tools: ChatTools, strict: bool, stream: bool
) -> None:
    """Chat Completions, JSON or SSE, plain or strict: the model's calls run on the agent and
    each answer reaches it under its call id; a strict model's nulls act as unset fields."""
    conversation = fake.play(STEPS)
    async with client(fake) as openai:
        assert (
            await chat_completions_loop(openai, tools, strict=strict, stream=stream) == FINAL_TEXT
        )
    check_answers(conversation.answers)
    sent_nulls = any(None in arguments.values() for _, arguments in conversation.issued.values())
    assert sent_nulls is strict


async def responses_loop(
    openai: AsyncOpenAI, tools: ChatTools, *, strict: bool, stream: bool
) -> str:
    """The same loop on the Responses API: output items go back as input, results as
    ``function_call_output`` items."""
    by_name = {tool.name: tool for tool in tools}
    definitions: Any = [tool.to_openai_responses(strict=strict) for tool in tools]
    items: list[Any] = [{"role": "user", "content": PROMPT}]
    while True:
        if stream:
            async with openai.responses.stream(
                model=MODEL, input=items, tools=definitions
            ) as events:
                response = await events.get_final_response()
        else:
            response = await openai.responses.create(model=MODEL, input=items, tools=definitions)
        calls = [item for item in response.output if item.type == "function_call"]
        items += [item.to_dict(exclude_unset=True) for item in response.output]
        if not calls:
            return response.output_text
        for call in calls:
            result = await by_name[call.name].run(call.arguments)
            items.append(result.to_openai_responses(call.call_id))


@pytest.mark.parametrize(
    ("stream", "strict"), [(False, False), (True, True)], ids=["json-plain", "sse-strict"]
)
async def test_responses_loop_runs_every_tool(
    fake: FakeProvider, tools: ChatTools, strict: bool, stream: bool
) -> None:
    """Responses, JSON or SSE: the flat tool definitions are accepted and every
    function_call_output answers its call."""
    conversation = fake.play(STEPS)
    async with client(fake) as openai:
        assert await responses_loop(openai, tools, strict=strict, stream=stream) == FINAL_TEXT
    check_answers(conversation.answers)
