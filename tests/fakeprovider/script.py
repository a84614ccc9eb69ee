"""A scripted model: what it calls at each turn, what it was answered, and the checks on both.

A conversation is a list of steps. At each turn the fake provider reads the whole history
the client sent, checks that every tool call it made earlier was answered exactly once (by
call id) and echoed unchanged, and asks the next step for the model's turn: some tool calls,
or a final text. A step sees every answer so far, so it can use an id a result gave back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema

__all__ = [
    "Answer",
    "Call",
    "Conversation",
    "ProtocolError",
    "Step",
    "ToolSpec",
    "check_schema",
]


class ProtocolError(Exception):
    """A request the real API would refuse, or one that breaks the script's conversation."""


@dataclass(frozen=True)
class Call:
    """A tool call the scripted model makes."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    """What the client sent back for one tool call."""

    name: str
    call_id: str
    arguments: dict[str, Any]
    content: str
    is_error: bool | None = None
    """The API's error flag (Anthropic's ``is_error``); ``None`` where the API has none."""

    def json(self) -> dict[str, Any]:
        """The content as the tool's JSON result."""
        data = json.loads(self.content)
        if not isinstance(data, dict):
            raise ProtocolError(f"{self.name} answered {self.content!r}, not a JSON object")
        return data


Step = Callable[[Sequence[Answer]], "list[Call] | str"]
"""The model's turn, given every answer so far: tool calls, or its final text."""


@dataclass(frozen=True)
class ToolSpec:
    """A tool as a request declared it."""

    name: str
    schema: dict[str, Any]
    strict: bool


def _walk(schema: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(schema, dict):
        found.append((path, schema))
        for key, value in schema.items():
            if isinstance(value, dict):
                if key in ("properties", "$defs", "definitions"):
                    for name, sub in value.items():
                        found += _walk(sub, f"{path}.{key}.{name}")
                else:
                    found += _walk(value, f"{path}.{key}")
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    found += _walk(item, f"{path}.{key}[{index}]")
    return found


def check_schema(tool: ToolSpec) -> None:
    """Refuse a schema the API would refuse (strict mode's rules included).

    Raises:
        ProtocolError: what is wrong, and where.
    """
    try:
        jsonschema.Draft202012Validator.check_schema(tool.schema)
    except jsonschema.SchemaError as exc:
        raise ProtocolError(f"tool {tool.name}: invalid JSON Schema: {exc.message}") from None
    if tool.schema.get("type") != "object":
        raise ProtocolError(f"tool {tool.name}: the parameters must be an object schema")
    if not tool.strict:
        return
    for path, node in _walk(tool.schema, "parameters"):
        if "default" in node:
            raise ProtocolError(f"tool {tool.name} is not strict: {path} has a default")
        if node.get("type") == "object" or "properties" in node:
            properties = set(node.get("properties", {}))
            if node.get("additionalProperties") is not False:
                raise ProtocolError(
                    f"tool {tool.name} is not strict: {path} lacks additionalProperties: false"
                )
            if set(node.get("required", ())) != properties:
                raise ProtocolError(
                    f"tool {tool.name} is not strict: {path} does not require every property"
                )


@dataclass
class Conversation:
    """One scripted conversation, as the fake provider plays it."""

    steps: list[Step]
    answers: list[Answer] = field(default_factory=list)
    """Every tool call's answer, in the order the calls were made."""
    batches: list[list[str]] = field(default_factory=list)
    """The call ids of each turn that made tool calls."""
    issued: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """Each call id the model used, with its tool name and the arguments it sent."""
    requests: int = 0
    final_text: str | None = None
    _next_id: int = 0

    def new_id(self, prefix: str) -> str:
        """An id for a call or a message of this conversation."""
        self._next_id += 1
        return f"{prefix}{self._next_id:04d}"

    def check_history(
        self, calls: Sequence[tuple[str, str, Any]], answers: Mapping[str, tuple[str, bool | None]]
    ) -> int:
        """Check the tool calls and answers a request's history holds; return the next turn.

        Args:
            calls: each tool call in the history: id, name, arguments (decoded).
            answers: the answer to each call id: its content and the API's error flag.

        Raises:
            ProtocolError: a call the model never made, changed arguments, a call left
                unanswered, an answer to no call, or a turn missing from the history.
        """
        seen: list[str] = []
        for call_id, name, arguments in calls:
            if call_id not in self.issued:
                raise ProtocolError(
                    f"the history holds a tool call the model never made: {call_id}"
                )
            if (name, arguments) != self.issued[call_id]:
                raise ProtocolError(
                    f"tool call {call_id} was echoed as {name}({arguments!r}), "
                    f"not as made: {self.issued[call_id]!r}"
                )
            seen.append(call_id)
        for call_id in answers:
            if call_id not in seen:
                raise ProtocolError(f"a tool result answers no tool call: {call_id}")
        for call_id in seen:
            if call_id not in answers:
                raise ProtocolError(f"tool call {call_id} was not answered")
        present = set(seen)
        complete = 0
        for batch in self.batches:
            found = [call_id in present for call_id in batch]
            if not all(found):
                if any(found):
                    raise ProtocolError(f"the history holds only part of turn {complete}")
                break
            complete += 1
        if present != {i for batch in self.batches[:complete] for i in batch}:
            raise ProtocolError("the history skips an earlier turn")
        recorded = {answer.call_id: answer for answer in self.answers}
        for call_id in (i for batch in self.batches[:complete] for i in batch):
            content, is_error = answers[call_id]
            if call_id in recorded:
                if (recorded[call_id].content, recorded[call_id].is_error) != (content, is_error):
                    raise ProtocolError(f"the answer to tool call {call_id} changed")
                continue
            name, arguments = self.issued[call_id]
            self.answers.append(Answer(name, call_id, arguments, content, is_error))
        return complete

    def next_turn(self, turn: int, tools: Mapping[str, ToolSpec]) -> list[Call] | str:
        """The model's turn ``turn``: its tool calls (arguments as a strict model fills them,
        checked against the declared schema) or its final text.

        Raises:
            ProtocolError: the script has no such turn, or calls a tool not declared, or with
                arguments the tool's schema refuses.
        """
        self.requests += 1
        if turn >= len(self.steps):
            raise ProtocolError(f"the script has {len(self.steps)} turns; turn {turn} was asked")
        if turn < len(self.batches):
            raise ProtocolError(f"turn {turn} was asked again")
        outcome = self.steps[turn](list(self.answers))
        if isinstance(outcome, str):
            self.final_text = outcome
            return outcome
        made = []
        for call in outcome:
            tool = tools.get(call.name)
            if tool is None:
                raise ProtocolError(
                    f"the script calls {call.name}, which the request did not offer"
                )
            arguments = dict(call.arguments)
            if tool.strict:
                # A strict model fills every field, null for those it leaves unset.
                for name in tool.schema.get("properties", {}):
                    arguments.setdefault(name, None)
            errors = sorted(
                jsonschema.Draft202012Validator(tool.schema).iter_errors(arguments), key=str
            )
            if errors:
                raise ProtocolError(
                    f"the script's call {call.name}({arguments!r}) fails the declared schema: "
                    f"{errors[0].message}"
                )
            made.append(Call(call.name, arguments))
        return made

    def record_batch(self, calls: Sequence[tuple[str, Call]]) -> None:
        """Remember the calls of a turn, by the ids the response gave them."""
        self.batches.append([call_id for call_id, _ in calls])
        for call_id, call in calls:
            self.issued[call_id] = (call.name, call.arguments)
