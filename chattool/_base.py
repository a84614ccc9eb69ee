"""The shape every tool shares: a definition for the model and ``run(arguments) -> result``.

A tool's arguments are a pydantic model. Its docstring is the tool description and its JSON
Schema (titles removed) is the parameter schema, so what the model is told and what ``run``
accepts cannot drift apart. ``run`` never raises into the chat loop: bad arguments and a
missing connection, and a connection scoped to another chat than the tool's, become
``is_error`` results, and everything that goes wrong after the tool starts talking to the
agent becomes a JSON result that names the failed step.
"""

from __future__ import annotations

import inspect
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from chattool._connection import (
    ChatScopeConflict,
    ConnectionResolver,
    ToolConnection,
    chat_scoped,
    normalize_chat_id,
)

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


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool call gives back to the model."""

    content: str
    """The text the model reads: a JSON document, or a plain sentence for an error."""

    is_error: bool = False
    """True when the call itself was wrong (bad arguments, no connection, a connection of
    another chat): the tool did nothing. Failures of the command or the agent are ordinary
    results."""

    def to_anthropic(self, tool_use_id: str) -> dict[str, Any]:
        """The result as an Anthropic Messages ``tool_result`` content block."""
        return {
            "type": "tool_result",
            "tool_use_id": tool_use_id,
            "content": self.content,
            "is_error": self.is_error,
        }

    def to_openai(self, tool_call_id: str) -> dict[str, Any]:
        """The result as an OpenAI Chat Completions ``tool`` message."""
        return {"role": "tool", "tool_call_id": tool_call_id, "content": self.content}


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

    def to_openai(self) -> dict[str, Any]:
        """The definition as an OpenAI Chat Completions function tool."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def to_anthropic(self) -> dict[str, Any]:
        """The definition as an Anthropic Messages tool."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.parameters,
        }

    async def run(self, arguments: str) -> ToolResult:
        """Run one call with the model's JSON arguments; never raises for a failed call.

        Args:
            arguments: the JSON object the model produced; empty means ``{}``.
        """
        try:
            args = self.arguments_model.model_validate_json(arguments.strip() or "{}")
        except ValidationError as exc:
            return ToolResult(f"invalid parameters: {_format_validation_error(exc)}", is_error=True)
        try:
            return await self._run(args)
        except ToolError as exc:
            return ToolResult(str(exc), is_error=True)

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
