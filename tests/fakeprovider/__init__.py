"""A fake model provider for tests, as Coder's ``chattest``: a local ASGI app speaking OpenAI
Chat Completions and Responses and Anthropic Messages, JSON and SSE, driven by a script.

It checks every request against the API's shape (tool schemas, strict mode's rules, the
tool-result messages, every call id answered) and answers with what the script's next step
says. It drops no error of its own: a request it refuses, a response it cannot encode and
an SSE write that fails are each answered as the API would (400, 500, a cut stream) *and*
recorded in ``errors``, which the test that drove it checks.

Point the official SDKs at it: ``AsyncOpenAI(base_url=f"{url}/v1", api_key=...)``,
``AsyncAnthropic(base_url=url, api_key=...)``.
"""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from . import anthropic_messages, openai_chat, openai_responses
from .script import Answer, Call, Conversation, ProtocolError, Step
from .wire import Exchange, Turn

__all__ = ["ROUTES", "Answer", "Call", "Conversation", "FakeProvider", "ProtocolError", "Step"]

Reader = Callable[[dict[str, Any]], Exchange]
Responder = Callable[[Exchange, Turn, Conversation], Any]

ROUTES: dict[str, tuple[Reader, Responder, str]] = {
    "/v1/chat/completions": (openai_chat.read_request, openai_chat.respond, "openai"),
    "/v1/responses": (openai_responses.read_request, openai_responses.respond, "openai"),
    "/v1/messages": (anthropic_messages.read_request, anthropic_messages.respond, "anthropic"),
}
"""Each API's path, how its requests are read and answered, and whose error shape it uses."""


def _error_body(flavour: str, message: str) -> bytes:
    if flavour == "anthropic":
        error: dict[str, Any] = {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": message},
        }
    else:
        error = {
            "error": {
                "message": message, "type": "invalid_request_error", "param": None, "code": None,
            }
        }  # fmt: skip
    return json.dumps(error).encode()


class FakeProvider:
    """The fake provider; serve :meth:`app` (e.g. with ``tests.conftest.serve_in_thread``)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        """Every failure of the provider or refusal of a request, for the test to check."""
        self.requests: list[tuple[str, dict[str, Any]]] = []
        """Every request's path and decoded body, in order."""
        self.base_url = ""
        """Where it is served; set by whoever serves it."""
        self._lock = threading.Lock()
        self._conversation: Conversation | None = None

    def app(self) -> Starlette:
        """The ASGI app (Starlette, for the lifespan a server runs)."""
        return Starlette(routes=[Mount("/", app=self)])

    def play(self, steps: Sequence[Step]) -> Conversation:
        """Start a conversation: the requests from now on are answered by ``steps``."""
        with self._lock:
            self._conversation = Conversation(list(steps))
            return self._conversation

    def take_errors(self) -> list[str]:
        """The errors recorded so far, cleared."""
        with self._lock:
            errors, self.errors = self.errors, []
        return errors

    def _record(self, problem: str) -> None:
        with self._lock:
            self.errors.append(problem)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request."""
        path = scope["path"]
        route = ROUTES.get(path)
        if scope["method"] != "POST" or route is None:
            self._record(f"unexpected request: {scope['method']} {path}")
            await _send_json(send, 404, _error_body("openai", f"no route {path}"))
            return
        read, respond, flavour = route
        body = await _read_body(receive)
        try:
            self._check_headers(scope, flavour)
            try:
                request = json.loads(body)
            except ValueError as exc:
                raise ProtocolError(f"the body is not JSON: {exc}") from None
            self.requests.append((path, request))
            exchange = read(request)
            with self._lock:
                conversation = self._conversation
            if conversation is None:
                raise ProtocolError("no conversation is being played")
            turn = conversation.check_history(exchange.calls, exchange.answers)
            answer = respond(exchange, conversation.next_turn(turn, exchange.tools), conversation)
            encoded = _encode(answer, exchange.stream)
        except ProtocolError as exc:
            self._record(f"{path}: {exc}")
            await _send_json(send, 400, _error_body(flavour, str(exc)))
            return
        except Exception:
            # The provider's own fault (a script step that broke, an answer it cannot
            # encode): the test learns it, and the client gets a 500.
            self._record(f"{path}: the fake provider failed:\n{traceback.format_exc()}")
            await _send_json(send, 500, _error_body(flavour, "the fake provider failed"))
            return
        if not exchange.stream:
            await _send_json(send, 200, encoded[0])
            return
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")],
                }
            )
            for event in encoded:
                await send({"type": "http.response.body", "body": event, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except Exception as exc:
            self._record(f"{path}: writing the event stream failed: {exc!r}")
            raise

    def _check_headers(self, scope: Scope, flavour: str) -> None:
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        if flavour == "anthropic":
            if not headers.get("x-api-key") and not headers.get("authorization"):
                raise ProtocolError("no x-api-key header")
            if not headers.get("anthropic-version"):
                raise ProtocolError("no anthropic-version header")
        elif not headers.get("authorization", "").startswith("Bearer "):
            raise ProtocolError("no bearer token")
        if not headers.get("content-type", "").startswith("application/json"):
            raise ProtocolError(f"content-type is {headers.get('content-type')!r}, not JSON")


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _encode(answer: Any, stream: bool) -> list[bytes]:
    """The answer's bytes: one JSON body, or one SSE event each."""
    if not stream:
        return [json.dumps(answer).encode()]
    events = []
    for name, data in answer:
        text = data if isinstance(data, str) else json.dumps(data)
        head = f"event: {name}\n" if name else ""
        events.append(f"{head}data: {text}\n\n".encode())
    return events


async def _send_json(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
