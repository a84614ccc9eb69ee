"""A minimal chat agent: a model on the OpenAI API, working in a workspace through agentproc.

    export OPENAI_API_KEY=sk-...                 # OPENAI_BASE_URL for another compatible API
    export AGENTPROC_URL=http://127.0.0.1:7420   # the agent (make run), and its token if any:
    export AGENTPROC_TOKEN=...
    python examples/chat_agent.py "Which Python version is installed here?"

The model gets the four workspace tools in OpenAI's strict form; every tool call runs on the
agent, in a chat of its own, and its result goes back to the model until it answers. Each
call is shown on stderr; the answer goes to stdout.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from typing import Any

from openai import AsyncOpenAI

from agentsdk import AsyncAgentConn
from chattool import chat_tools

MODEL = os.environ.get("OPENAI_MODEL", "gpt-5.5")
MAX_TURNS = 50
"""A model that keeps calling tools is stopped here rather than run up the bill forever."""


async def chat(prompt: str) -> str:
    """Answer ``prompt``, letting the model run commands in the workspace."""
    agent_url = os.environ.get("AGENTPROC_URL", "http://127.0.0.1:7420")
    token = os.environ.get("AGENTPROC_TOKEN")
    async with AsyncOpenAI() as openai, AsyncAgentConn(agent_url, token=token) as agent:
        tools = chat_tools(agent, chat_id=uuid.uuid4())
        by_name = {tool.name: tool for tool in tools}
        definitions: Any = [tool.to_openai(strict=True) for tool in tools]
        messages: list[Any] = [{"role": "user", "content": prompt}]
        for _ in range(MAX_TURNS):
            completion = await openai.chat.completions.create(
                model=MODEL, messages=messages, tools=definitions
            )
            message = completion.choices[0].message
            messages.append(message.to_dict(exclude_unset=True))
            if not message.tool_calls:
                return message.content or ""
            for call in message.tool_calls:
                print(f"> {call.function.name} {call.function.arguments}", file=sys.stderr)
                result = await by_name[call.function.name].run(call.function.arguments)
                messages.append(result.to_openai(call.id))
    return f"(stopped after {MAX_TURNS} turns)"


if __name__ == "__main__":
    print(asyncio.run(chat(" ".join(sys.argv[1:]) or "What is in the current directory?")))
