"""The shape every tool shares: a definition for the model and ``run(arguments) -> result``.

A tool's arguments are a pydantic model. Its docstring is the tool description and its JSON
Schema (titles removed) is the parameter schema, so what the model is told and what ``run``
accepts cannot drift apart. ``run`` never raises into the chat loop: bad arguments and a
missing connection, and a connection scoped to another chat than the tool's, become
``is_error`` results, and everything that goes wrong after the tool starts talking to the
agent becomes a JSON result that names the failed step.

Definitions and results come in the shape of each API that takes them: OpenAI Chat
Completions and Responses (plain or strict), Anthropic Messages, and MCP.
"""

from __future__ import annotations

import inspect
import json
import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from chattool._connection import (
    ChatScopeConflict,
    ConnectionResolver,
    ToolConnection,
    normalize_chat_id,
)
from chattool._schemas import strict_schema
from chattool._scoped import chat_scoped

__all__ = [
    "INVALID_ARGUMENTS_PREFIX",
    "InvalidArguments",
    "Tool",
    "ToolArguments",
    "ToolError",
    "ToolResult",
    "describe_error",
]

INVALID_ARGUMENTS_PREFIX = "invalid parameters: "
"""Starts every complaint about arguments, so a model (and a backend) can tell them apart."""

# A tool that fails in a way it did not foresee still answers the model; the traceback is
# for whoever runs the chat backend.
logger = logging.getLogger("chattool")


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool call gives back to the model."""

    content: str
    """The text the model reads: a JSON document, or a plain sentence for an error."""

    is_error: bool = False
    """True when the call itself was wrong (bad arguments, no connection, a connection of
    another chat): the tool did nothing. Failures of the command or the agent are ordinary
    results."""

    @property
    def structured(self) -> dict[str, Any] | None:
        """The result as JSON data when ``content`` is a JSON object (every result but an
        error's sentence), else ``None``."""
        if self.is_error:
            return None
        try:
            data = json.loads(self.content)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def to_openai(self, tool_call_id: str) -> dict[str, Any]:
        """The result as an OpenAI Chat Completions ``tool`` message.

        The message has no error flag: an error result says so in its text.
        """
        return {"role": "tool", "tool_call_id": tool_call_id, "content": self.content}

    def to_openai_responses(self, call_id: str) -> dict[str, Any]:
        """The result as an OpenAI Responses ``function_call_output`` input item."""
        return {"type": "function_call_output", "call_id": call_id, "output": self.content}

    def to_anthropic(self, tool_use_id: str) -> dict[str, Any]:
        """The result as an Anthropic Messages ``tool_result`` content block."""
        return {
            "type": "tool_result",
            "tool_use_id": tool_use_id,
            "content": self.content,
            "is_error": self.is_error,
        }

    def to_mcp(self) -> dict[str, Any]:
        """The result as an MCP ``CallToolResult``: the text, ``isError``, and the JSON
        result as ``structuredContent`` when there is one."""
        data: dict[str, Any] = {
            "content": [{"type": "text", "text": self.content}],
            "isError": self.is_error,
        }
        structured = self.structured
        if structured is not None:
            data["structuredContent"] = structured
        return data


class ToolError(Exception):
    """Raised inside a tool when the call cannot be carried out; it becomes an
    ``is_error`` result with the exception's message as content."""


class InvalidArguments(ToolError):
    """Raised when the arguments parse but make no sense; the message names the problem."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"{INVALID_ARGUMENTS_PREFIX}{problem}")


class ToolArguments(BaseModel):
    """Base for argument models: strict types, unknown keys ignored, ``null`` means unset."""

    # Strict so that "yes" is not a boolean and 30 is not a duration string, as with Go's
    # JSON decoder; unknown keys are ignored because models sometimes add their own.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        # Models that must fill every field (OpenAI strict mode) send null for "not given".
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


ArgsT = TypeVar("ArgsT", bound=ToolArguments)


def describe_error(exc: BaseException) -> str:
    """The text a model sees for a failure: the message, or the type when it has none."""
    return str(exc) or type(exc).__name__


def _format_validation_error(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        if error["type"] == "json_invalid":
            problems.append(f"arguments are not valid JSON: {error['msg']}")
            continue
        location = ".".join(str(part) for part in error["loc"])
        problems.append(f"{location}: {error['msg']}" if location else error["msg"])
    return "; ".join(problems)


def _unwrap(docstring: str) -> str:
    # Source line breaks are for the source; a model reads each paragraph as one line.
    paragraphs = inspect.cleandoc(docstring).split("\n\n")
    return "\n\n".join(" ".join(paragraph.split("\n")) for paragraph in paragraphs)


def _strip_titles(schema: Any) -> Any:
    # Pydantic adds a "title" to every property; models gain nothing from them and some
    # providers count every schema token against the context.
    if isinstance(schema, dict):
        return {key: _strip_titles(value) for key, value in schema.items() if key != "title"}
    if isinstance(schema, list):
        return [_strip_titles(item) for item in schema]
    return schema


class Tool(ABC, Generic[ArgsT]):
    """A tool a language model can call, run against a workspace agent.

    Args:
        connection: the agent connection, or an async callable that returns it when the
            tool runs (the chat's workspace may not be up yet). ``None`` makes every call
            an error result. It needs no chat header: a tool bound to a chat sends it.
        chat_id: the chat this tool serves, a UUID. Every request the tool makes carries it
            as ``Coder-Chat-Id`` (so the agent shows the tool only this chat's processes),
            and commands see it as ``CODER_CHAT_ID``. A connection that already sends
            another chat id makes every call an error result naming both.

    Raises:
        ValueError: when ``chat_id`` is not a UUID.
    """

    name: ClassVar[str]
    """The tool name the model calls."""

    arguments_model: type[ArgsT]
    """The pydantic model the arguments are parsed into."""

    def __init__(
        self,
        connection: ToolConnection | ConnectionResolver | None,
        *,
        chat_id: str | uuid.UUID | None = None,
    ) -> None:
        self._connection = connection
        self.chat_id = None if chat_id is None else normalize_chat_id(chat_id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(chat_id={self.chat_id!r})"

    @property
    def description(self) -> str:
        """The tool description the model reads: the argument model's docstring."""
        return _unwrap(self.arguments_model.__doc__ or "")

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON Schema of the arguments."""
        schema = _strip_titles(self.arguments_model.model_json_schema())
        schema.pop("description", None)
        schema.setdefault("properties", {})
        result: dict[str, Any] = schema
        return result

    def strict_parameters(self) -> dict[str, Any]:
        """The JSON Schema of the arguments in OpenAI's strict form: every property required,
        optional ones nullable (``null`` means "not given"), no other properties, no defaults."""
        return strict_schema(self.parameters)

    def to_openai(self, strict: bool = False) -> dict[str, Any]:
        """The definition as an OpenAI Chat Completions function tool.

        Args:
            strict: for strict function calling (``"strict": true``, and the schema of
                :meth:`strict_parameters`): the model then fills every field, with ``null``
                for those it leaves unset, and the call behaves as one that left them out.
        """
        function: dict[str, Any] = {"name": self.name, "description": self.description}
        if strict:
            function["parameters"] = self.strict_parameters()
            function["strict"] = True
        else:
            function["parameters"] = self.parameters
        return {"type": "function", "function": function}

    def to_openai_responses(self, strict: bool = False) -> dict[str, Any]:
        """The definition as an OpenAI Responses function tool (the flat shape).

        Args:
            strict: as for :meth:`to_openai`.
        """
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.strict_parameters() if strict else self.parameters,
            "strict": strict,
        }

    def to_anthropic(self) -> dict[str, Any]:
        """The definition as an Anthropic Messages tool."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.parameters,
        }

    async def run(self, arguments: str | Mapping[str, Any]) -> ToolResult:
        """Run one call; never raises for a failed call, whatever ``arguments`` hold.

        Args:
            arguments: the model's arguments: the JSON text of an object (OpenAI's
                ``arguments``; empty means ``{}``), or the object itself as a mapping
                (Anthropic's ``tool_use.input``, MCP, LangChain, pydantic-ai). ``null``
                for a field means it was not given.
        """
        try:
            args = self._parse(arguments)
        except ValidationError as exc:
            return ToolResult(
                f"{INVALID_ARGUMENTS_PREFIX}{_format_validation_error(exc)}", is_error=True
            )
        except ToolError as exc:
            return ToolResult(str(exc), is_error=True)
        # A mapping that cannot even be read (a broken one, a hostile one) is bad arguments too.
        except Exception as exc:
            return ToolResult(f"{INVALID_ARGUMENTS_PREFIX}{describe_error(exc)}", is_error=True)
        try:
            return await self._run(args)
        except ToolError as exc:
            return ToolResult(str(exc), is_error=True)
        # The chat loop must go on whatever a tool's own fault was (cancellation, a
        # BaseException, still propagates); the model is told, the log has the traceback.
        except Exception as exc:
            logger.error("%s failed unexpectedly", self.name, exc_info=exc)
            return ToolResult(f"{self.name} failed: {describe_error(exc)}", is_error=True)

    def _parse(self, arguments: object) -> ArgsT:
        if isinstance(arguments, str):
            return self.arguments_model.model_validate_json(arguments.strip() or "{}")
        if isinstance(arguments, Mapping):
            return self.arguments_model.model_validate(dict(arguments))
        raise InvalidArguments(
            f"arguments must be a JSON object, as text or a mapping, not {type(arguments).__name__}"
        )

    async def _connect(self) -> ToolConnection:
        """The connection for this call, from the resolver if there is one, and bound to
        the tool's chat so that every request it sends carries the chat's header.

        Raises:
            ToolError: no connection, or one already scoped to another chat.
        """
        connection = self._connection
        if connection is None:
            raise ToolError("workspace connection resolver is not configured")
        if not isinstance(connection, ToolConnection):
            try:
                connection = await connection()
            # The resolver is the backend's code; whatever it raises means "no connection
            # now", and the model must be told why rather than the chat loop crashing.
            except Exception as exc:
                raise ToolError(f"connect to workspace: {describe_error(exc)}") from exc
        if self.chat_id is None:
            return connection
        try:
            return chat_scoped(connection, self.chat_id)
        except ChatScopeConflict as exc:
            raise ToolError(str(exc)) from None

    @abstractmethod
    async def _run(self, args: ArgsT) -> ToolResult:
        """Carry out a call with validated arguments."""
