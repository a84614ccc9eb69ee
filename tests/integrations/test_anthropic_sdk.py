"""The tools in a real tool-call loop on the official ``anthropic`` SDK (Messages, JSON and SSE
with ``input_json_delta``), against the fake provider and a live agent.

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
    from anthropic import AsyncAnthropic

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

MODEL = "claude-test"


async def messages_loop(anthropic: AsyncAnthropic, tools: ChatTools, *, stream: bool) -> str:
    """A chat backend's loop: each tool_use runs with its input as a mapping, and every
    tool_result goes back in the next user turn, with is_error."""
    by_name = {tool.name: tool for tool in tools}
    definitions: Any = [tool.to_anthropic() for tool in tools]
    messages: list[Any] = [{"role": "user", "content": "Try the workspace tools."}]
    while True:
        if stream:
            async with anthropic.messages.stream(
                model=MODEL, max_tokens=1024, messages=messages, tools=definitions
            ) as events:
                message = await events.get_final_message()
        else:
            message = await anthropic.messages.create(
                model=MODEL, max_tokens=1024, messages=messages, tools=definitions
            )
        messages.append({"role": "assistant", "content": message.content})
        uses = [block for block in message.content if block.type == "tool_use"]
        if not uses:
            return "".join(block.text for block in message.content if block.type == "text")
        results = [(await by_name[use.name].run(use.input)).to_anthropic(use.id) for use in uses]
        messages.append({"role": "user", "content": results})


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_messages_loop_runs_every_tool(
    fake: FakeProvider, tools: ChatTools, stream: bool
) -> None:
    """Messages, JSON or SSE: tool_use input (a mapping) runs as is, each tool_result answers
    its tool_use id, and the bad call comes back with is_error."""
    from anthropic import AsyncAnthropic

    conversation = fake.play(STEPS)
    async with AsyncAnthropic(base_url=fake.base_url, api_key="sk-test", max_retries=0) as client:
        assert await messages_loop(client, tools, stream=stream) == FINAL_TEXT
    check_answers(conversation.answers)
    assert [answer.is_error for answer in conversation.answers].count(True) == 1
