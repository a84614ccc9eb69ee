"""The fake provider refuses what the real APIs refuse, and tells the test: a check that
passes only because the fake accepts anything would prove nothing.

Each test imports its SDK itself: they take about a second to import, and every test worker
collects this module while only one runs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.fakeprovider import Call, FakeProvider

if TYPE_CHECKING:
    import openai

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

SCHEMA = {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}
TOOL: Any = {"type": "function", "function": {"name": "execute", "parameters": SCHEMA}}


def openai_client(provider: FakeProvider) -> openai.AsyncOpenAI:
    """The openai SDK on the fake provider, without retries."""
    import openai

    return openai.AsyncOpenAI(base_url=f"{provider.base_url}/v1", api_key="k", max_retries=0)


async def test_an_unanswered_tool_call_is_refused(served_provider: FakeProvider) -> None:
    """A history that leaves one of two tool calls unanswered is a 400, and recorded."""
    import openai

    served_provider.take_errors()
    served_provider.play(
        [lambda answers: [Call("execute", {"command": "a"}), Call("execute", {"command": "b"})]]
    )
    async with openai_client(served_provider) as client:
        first = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "go"}], tools=[TOOL]
        )
        message = first.choices[0].message
        assert message.tool_calls is not None and len(message.tool_calls) == 2
        history: Any = [
            {"role": "user", "content": "go"},
            message.to_dict(exclude_unset=True),
            {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "done"},
        ]
        with pytest.raises(openai.BadRequestError, match="not answered"):
            await client.chat.completions.create(model="m", messages=history, tools=[TOOL])
    assert [error for error in served_provider.take_errors() if "not answered" in error]


async def test_a_strict_tool_with_a_default_is_refused(served_provider: FakeProvider) -> None:
    """A tool marked strict whose schema keeps a default is refused, as OpenAI refuses it."""
    import openai

    served_provider.take_errors()
    served_provider.play([lambda answers: "hi"])
    schema = {
        "type": "object",
        "properties": {"command": {"type": "string", "default": "ls"}},
        "required": ["command"],
        "additionalProperties": False,
    }
    tool: Any = {
        "type": "function",
        "function": {"name": "execute", "parameters": schema, "strict": True},
    }
    async with openai_client(served_provider) as client:
        with pytest.raises(openai.BadRequestError, match="not strict"):
            await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "go"}], tools=[tool]
            )
    assert served_provider.take_errors()


async def test_a_tool_result_after_text_is_refused(served_provider: FakeProvider) -> None:
    """Anthropic wants tool_result blocks first in the user turn that answers a tool_use."""
    import anthropic

    served_provider.take_errors()
    served_provider.play([lambda answers: [Call("execute", {"command": "a"})], lambda a: "ok"])
    tool: Any = {"name": "execute", "input_schema": SCHEMA}
    async with anthropic.AsyncAnthropic(
        base_url=served_provider.base_url, api_key="k", max_retries=0
    ) as client:
        first = await client.messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": "go"}], tools=[tool]
        )
        use = first.content[0]
        assert use.type == "tool_use"
        answer: Any = [
            {"type": "text", "text": "here it is"},
            {"type": "tool_result", "tool_use_id": use.id, "content": "done"},
        ]
        messages: Any = [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": answer},
        ]
        with pytest.raises(anthropic.BadRequestError, match="must come first"):
            await client.messages.create(model="m", max_tokens=10, messages=messages, tools=[tool])
    assert served_provider.take_errors()
