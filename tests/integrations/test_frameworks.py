"""The tools in the agent frameworks, each driven by its own runner against the fake provider:
the OpenAI Agents SDK, pydantic-ai and LangChain (async and sync invocation).

Each test imports its framework itself: importing them all takes seconds, and every test
worker collects this module while only one runs it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from agentsdk import AsyncAgentConn
from chattool import ChatTools, chat_tools
from chattool.adapters import langchain, openai_agents, pydantic_ai
from tests.conftest import LiveAgent
from tests.fakeprovider import FakeProvider

from ._session import FINAL_TEXT, STEPS, check_answers

if TYPE_CHECKING:
    from ._span_errors import SpanErrors

pytestmark = pytest.mark.e2e

MODEL = "test-model"
PROMPT = "Try the workspace tools."


@pytest.fixture
def span_errors() -> Iterator[SpanErrors]:
    """The Agents SDK's span errors during the test, and no export to anywhere."""
    from agents.tracing import set_trace_processors
    from agents.tracing.processors import default_processor

    from ._span_errors import SpanErrors

    recorder = SpanErrors()
    set_trace_processors([recorder])
    yield recorder
    set_trace_processors([default_processor()])


@pytest.mark.anyio
async def test_openai_agents_runner_runs_every_tool(
    fake: FakeProvider, tools: ChatTools, span_errors: SpanErrors
) -> None:
    """The Agents SDK's Runner calls the FunctionTools (strict schemas) over Responses; the
    bad call takes the SDK's failure path: the model reads the tool's message, the trace
    records the error."""
    from agents import Agent, OpenAIResponsesModel, RunConfig, Runner
    from openai import AsyncOpenAI

    conversation = fake.play(STEPS)
    async with AsyncOpenAI(
        base_url=f"{fake.base_url}/v1", api_key="sk-test", max_retries=0
    ) as client:
        agent = Agent(
            name="coder",
            instructions="Use the workspace tools.",
            tools=openai_agents(tools),
            model=OpenAIResponsesModel(model=MODEL, openai_client=client),
        )
        result = await Runner.run(agent, PROMPT, run_config=RunConfig(workflow_name="test"))
    assert result.final_output == FINAL_TEXT
    check_answers(conversation.answers)
    assert all(spec.strict for spec in fake_tools(fake, "/v1/responses"))
    assert [error["data"]["tool_name"] for error in span_errors.errors] == ["execute"]
    assert "invalid parameters: timeout" in span_errors.errors[0]["data"]["error"]


def fake_tools(fake: FakeProvider, path: str) -> list[Any]:
    """The tools the last request to ``path`` declared, as the fake provider read them."""
    from tests.fakeprovider import ROUTES

    body = next(body for sent, body in reversed(fake.requests) if sent == path)
    return list(ROUTES[path][0](body).tools.values())


@pytest.mark.anyio
async def test_pydantic_ai_agent_runs_every_tool(fake: FakeProvider, tools: ChatTools) -> None:
    """pydantic-ai's Agent calls the Tools over Anthropic Messages; the bad call is a
    ModelRetry: a retried tool return, which reaches the model as an error tool_result."""
    from anthropic import AsyncAnthropic
    from pydantic_ai import Agent as PydanticAgent
    from pydantic_ai.messages import ToolReturnPart
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    conversation = fake.play(STEPS)
    async with AsyncAnthropic(base_url=fake.base_url, api_key="sk-test", max_retries=0) as client:
        model = AnthropicModel(MODEL, provider=AnthropicProvider(anthropic_client=client))
        agent = PydanticAgent(model, tools=pydantic_ai(tools))
        result = await agent.run(PROMPT)
    assert result.output == FINAL_TEXT
    check_answers(conversation.answers)
    retried = [
        part
        for message in result.all_messages()
        for part in message.parts
        if isinstance(part, ToolReturnPart) and part.outcome == "retried"
    ]
    assert [part.tool_name for part in retried] == ["execute"]
    assert retried[0].retry is not None
    assert "invalid parameters: timeout" in str(retried[0].content)
    assert conversation.answers[5].is_error is True


def chat_model(
    fake: FakeProvider, lc_tools: list[Any], http: httpx.AsyncClient | httpx.Client
) -> Any:
    """LangChain's ChatOpenAI on the fake provider, with the tools bound, sending through the
    test's own HTTP client: the one it makes by default is cached for the process and never
    closed, so its connection to the fake provider would outlive the test."""
    from langchain_openai import ChatOpenAI

    sending = (
        {"http_async_client": http}
        if isinstance(http, httpx.AsyncClient)
        else {"http_client": http}
    )
    return ChatOpenAI(
        model=MODEL, base_url=f"{fake.base_url}/v1", api_key="sk-test", max_retries=0, **sending
    ).bind_tools(lc_tools)


@pytest.mark.anyio
async def test_langchain_async_loop_runs_every_tool(fake: FakeProvider, tools: ChatTools) -> None:
    """A LangChain loop with ainvoke: each tool call becomes a ToolMessage, the bad call's
    with status="error"."""
    from langchain_core.messages import HumanMessage, ToolMessage

    conversation = fake.play(STEPS)
    lc_tools = langchain(tools)
    by_name = {tool.name: tool for tool in lc_tools}
    messages: list[Any] = [HumanMessage(PROMPT)]
    async with httpx.AsyncClient() as http:
        model = chat_model(fake, lc_tools, http)
        while True:
            reply = await model.ainvoke(messages)
            messages.append(reply)
            if not reply.tool_calls:
                break
            messages += [await by_name[call["name"]].ainvoke(call) for call in reply.tool_calls]
    assert reply.content == FINAL_TEXT
    check_answers(conversation.answers)
    statuses = [message.status for message in messages if isinstance(message, ToolMessage)]
    assert statuses.count("error") == 1
    assert statuses[5] == "error"


def test_langchain_sync_loop_runs_every_tool(fake: FakeProvider, live_agent: LiveAgent) -> None:
    """The same loop with sync invoke: the async tools run on an event loop of their own."""
    from langchain_core.messages import HumanMessage, ToolMessage

    conversation = fake.play(STEPS)
    conn = AsyncAgentConn(live_agent.base_url, token=live_agent.token)
    lc_tools = langchain(chat_tools(conn, chat_id=uuid.uuid4()))
    by_name = {tool.name: tool for tool in lc_tools}
    messages: list[Any] = [HumanMessage(PROMPT)]
    try:
        with httpx.Client() as http:
            model = chat_model(fake, lc_tools, http)
            while True:
                reply = model.invoke(messages)
                messages.append(reply)
                if not reply.tool_calls:
                    break
                messages += [by_name[call["name"]].invoke(call) for call in reply.tool_calls]
    finally:
        asyncio.run(conn.aclose())
    assert reply.content == FINAL_TEXT
    check_answers(conversation.answers)
    statuses = [message.status for message in messages if isinstance(message, ToolMessage)]
    assert statuses.count("error") == 1
