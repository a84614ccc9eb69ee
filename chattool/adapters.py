"""The chat tools as the tool objects of the agent frameworks, one line each.

```python
tools = chat_tools(conn, chat_id=chat_id)
agent = agents.Agent(name="coder", tools=openai_agents(tools))        # OpenAI Agents SDK
agent = pydantic_ai.Agent(model, tools=pydantic_ai(tools))            # pydantic-ai
model = chat_model.bind_tools(langchain(tools))                       # LangChain
```

Each function imports its framework only when called, so the frameworks stay optional:
install the one you use with its extra (``agentproc[openai-agents]``,
``agentproc[pydantic-ai]``, ``agentproc[langchain]``); calling an adapter without it raises
``ImportError`` naming the extra.

A call the tool refused (``ToolResult.is_error``: bad arguments, no connection) reaches each
framework on its own error channel, not as an ordinary answer: the Agents SDK's tool-failure
path (the model reads the message; the trace records the error), pydantic-ai's
``ModelRetry`` for bad arguments (the model is asked to correct them) and ``ToolFailed`` for
the rest, LangChain's ``ToolException`` (a ``ToolMessage`` with ``status="error"``). What the
command itself did, failures included, is the tool's ordinary JSON answer.
"""

from __future__ import annotations

import importlib
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.from_thread

from chattool._base import INVALID_ARGUMENTS_PREFIX, Tool, ToolArguments

if TYPE_CHECKING:
    import agents
    import langchain_core.tools
    import pydantic_ai as pydantic_ai_module

__all__ = ["ToolCallFailed", "langchain", "openai_agents", "pydantic_ai"]

T = TypeVar("T")

AnyTool = Tool[ToolArguments]


class ToolCallFailed(Exception):
    """Raised inside an adapter for a call the tool refused; its message is the tool's."""


def _require(module: str, extra: str, adapter: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"chattool.adapters.{adapter}() needs the {module!r} package: "
            f"pip install 'agentproc[{extra}]'"
        ) from exc


async def _content(tool: AnyTool, arguments: str | dict[str, Any]) -> str:
    """The tool's answer to a call; raises ``ToolCallFailed`` for a refused one."""
    result = await tool.run(arguments)
    if result.is_error:
        raise ToolCallFailed(result.content)
    return result.content


# -- OpenAI Agents SDK ------------------------------------------------------------------------


def openai_agents(tools: Iterable[AnyTool]) -> list[agents.FunctionTool]:
    """The tools as the OpenAI Agents SDK's ``FunctionTool``s, with strict schemas.

    A refused call raises inside the tool, and the SDK's failure handling turns it into the
    message the model reads (the tool's own text) and an error on the tool's trace span.

    Raises:
        ImportError: the Agents SDK is not installed (``agentproc[openai-agents]``).
    """
    _require("agents", "openai-agents", "openai_agents")
    from agents import FunctionTool, RunContextWrapper
    from agents.tool import (
        set_function_tool_failure_error_function,
        with_function_tool_failure_error_handler,
    )
    from agents.tracing import SpanError, get_current_span

    def failure_message(context: RunContextWrapper[Any], error: Exception) -> str:
        # The tool's own words tell the model what to change; the SDK's default hides them.
        return str(error)

    def record_failure(function_tool: FunctionTool, error: Exception, arguments: str) -> None:
        span = get_current_span()
        if span is not None:
            span.set_error(
                SpanError(
                    message="Tool call refused",
                    data={"tool_name": function_tool.name, "error": str(error)},
                )
            )

    def convert(tool: AnyTool) -> FunctionTool:
        async def invoke(context: Any, arguments: str) -> str:
            return await _content(tool, arguments)

        function_tool = FunctionTool(
            name=tool.name,
            description=tool.description,
            params_json_schema=tool.strict_parameters(),
            on_invoke_tool=with_function_tool_failure_error_handler(invoke, record_failure),
            strict_json_schema=True,
        )
        return set_function_tool_failure_error_function(function_tool, failure_message)

    return [convert(tool) for tool in tools]


# -- pydantic-ai ------------------------------------------------------------------------------


def pydantic_ai(tools: Iterable[AnyTool]) -> list[pydantic_ai_module.Tool[Any]]:
    """The tools as pydantic-ai ``Tool``s (pass them as ``tools=``, or in a ``FunctionToolset``).

    Bad arguments raise ``ModelRetry``, so the model is asked to correct its call; any other
    refusal raises ``ToolFailed``, which the model sees without being asked to retry.

    Raises:
        ImportError: pydantic-ai is not installed (``agentproc[pydantic-ai]``).
    """
    _require("pydantic_ai", "pydantic-ai", "pydantic_ai")
    from pydantic_ai import ModelRetry
    from pydantic_ai import Tool as PydanticTool
    from pydantic_ai.exceptions import ToolFailed

    def convert(tool: AnyTool) -> PydanticTool[Any]:
        async def call(**arguments: Any) -> str:
            try:
                return await _content(tool, arguments)
            except ToolCallFailed as exc:
                message = str(exc)
                if message.startswith(INVALID_ARGUMENTS_PREFIX):
                    raise ModelRetry(message) from None
                raise ToolFailed(message) from None

        # pydantic-ai does not validate against the schema given here: the tool does.
        return PydanticTool.from_schema(
            call, name=tool.name, description=tool.description, json_schema=tool.parameters
        )

    return [convert(tool) for tool in tools]


# -- LangChain --------------------------------------------------------------------------------


class _SyncCalls:
    """Runs the sync invocations of a set of tools on one event loop, in a thread of its own.

    An ``AsyncAgentConn`` keeps its pooled connections on the loop it first ran on, so each
    sync call cannot simply start a loop of its own: they all share this one, started at the
    first sync call and stopped when the tools are garbage-collected or the program exits.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._portal: anyio.from_thread.BlockingPortal | None = None

    def run(self, function: Callable[[T], Awaitable[str]], argument: T) -> str:
        with self._lock:
            if self._portal is None:
                manager = anyio.from_thread.start_blocking_portal()
                self._portal = manager.__enter__()
                weakref.finalize(self, manager.__exit__, None, None, None)
            portal = self._portal
        return portal.call(function, argument)


def langchain(tools: Iterable[AnyTool]) -> list[langchain_core.tools.StructuredTool]:
    """The tools as LangChain ``StructuredTool``s, for async and sync invocation.

    A refused call raises ``ToolException``, which the tool hands back as a ``ToolMessage``
    with ``status="error"`` and the tool's text.

    ``ainvoke`` runs on the caller's event loop. ``invoke`` (sync) runs the call on an event
    loop of its own, in a thread the first sync call starts: the connection of tools invoked
    synchronously must serve no other event loop (an ``AsyncAgentConn`` stays on the loop it
    first ran on), so give them one of their own.

    Raises:
        ImportError: langchain-core is not installed (``agentproc[langchain]``).
    """
    _require("langchain_core", "langchain", "langchain")
    from langchain_core.tools import StructuredTool, ToolException

    sync_calls = _SyncCalls()

    def convert(tool: AnyTool) -> StructuredTool:
        async def acall(**arguments: Any) -> str:
            try:
                return await _content(tool, arguments)
            except ToolCallFailed as exc:
                raise ToolException(str(exc)) from None

        def call(**arguments: Any) -> str:
            return sync_calls.run(lambda args: acall(**args), arguments)

        return StructuredTool(
            name=tool.name,
            description=tool.description,
            args_schema=tool.parameters,
            func=call,
            coroutine=acall,
            handle_tool_error=True,
        )

    return [convert(tool) for tool in tools]
