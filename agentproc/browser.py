"""No web page can drive the agent: the checks on what a browser can be made to send.

A page the user visits can make the browser send "simple" requests to ``127.0.0.1`` (no
preflight for ``text/plain``, forms or multipart bodies), and DNS rebinding can make a
hostile name resolve to loopback so that the page reads the answers as its own. Three rules,
each enough on its own for the attack it is named for:

- **Host**: the ``Host`` header is an IP literal, ``localhost`` or an allowed name (DNS
  rebinding always carries the attacker's name). Every path but ``/healthz``.
- **Content-Type**: a request that may carry a body declares none or JSON. The JSON types
  need a preflight, which gets no ``Access-Control-Allow-*`` header and so fails. ``/api/``.
- **Origin**: a request carrying ``Origin`` comes from the agent's own origin (Swagger UI
  at ``/docs``) or an allowed one. ``/api/`` and ``/mcp``.

No CORS header is ever sent, to any origin.

The guard is the outer middleware: it runs before the bearer token is checked, and its
answers depend only on headers the request carries, never on the token. A rebinding page,
which can read answers, therefore cannot tell a right token from a wrong one through the
victim's browser (no 401 oracle), and a page that cannot read answers has nothing behind
the guard to time. A request with the right token is checked the same way, so a token that
leaked to a page's script is of no use from that page. The token check stands on its own
behind the guard, for every client that is not a browser.

Over a Unix socket the ``Host`` rule does not apply: no name resolves to a socket, so no
rebinding can reach it, and clients put any placeholder there (``localhost``, the path).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from agentproc.auth import MCP_PATH, PROTECTED_PREFIX, Rejecter
from agentproc.errors import AgentError, CrossOriginRequest, HostNotAllowed, UnsupportedMediaType
from agentproc.settings import ANY_HOST

__all__ = [
    "BrowserGuardMiddleware",
    "Origin",
    "check_content_type",
    "check_host",
    "check_origin",
    "parse_origin",
]

ORIGIN_CHECKED = (PROTECTED_PREFIX, MCP_PATH)
"""Paths that act on the workspace: a request from a foreign page is refused there. The
Content-Type rule covers the API alone (``PROTECTED_PREFIX``), whose bodies the agent
decodes without asking for a type."""

HOST_EXEMPT = frozenset({"/healthz"})
"""Liveness answers under any name, so a load balancer or probe can use its own."""

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods whose body the API may read; a body on any other is also checked."""

DEFAULT_PORTS = {"http": 80, "https": 443}
"""The port an origin or ``Host`` without one means, so ``:443`` and nothing compare equal."""

MAX_PORT_DIGITS = 5
"""65535 has five; a longer port is malformed and never converted."""

Origin = tuple[str, str, int | None]
"""``(scheme, host, port)``, lower case, the port filled in for http and https."""


def split_host(value: str) -> tuple[str, int | None] | None:
    """``(host, port)`` of a ``Host`` header, the host in lower case (IPv6 in brackets).

    ``None`` when it is not ``host[:port]`` or ``[IPv6][:port]``.
    """
    if value.startswith("["):
        end = value.find("]") + 1
        if not end:
            return None
        host, rest = value[:end], value[end:]
    else:
        # A name or IPv4 address has no colon; an IPv6 one without brackets fails here.
        host, colon, port_text = value.partition(":")
        rest = colon + port_text
    if not host or (rest and not rest.startswith(":")):
        return None
    port_text = rest[1:]
    if not port_text:
        return host.lower(), None
    if len(port_text) > MAX_PORT_DIGITS or not (port_text.isascii() and port_text.isdigit()):
        return None
    port = int(port_text)
    return (host.lower(), port) if port <= 65535 else None


def _is_ip_literal(host: str) -> bool:
    try:
        if host.startswith("["):
            ipaddress.IPv6Address(host[1:-1])
        else:
            ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def check_host(value: str | None, allowed: frozenset[str]) -> None:
    """Accept a ``Host`` header naming an IP literal, ``localhost`` or an allowed name.

    ``allowed`` holds lower-case names; :data:`~agentproc.settings.ANY_HOST` accepts all.
    A request without ``Host`` (HTTP/1.0) names nothing a rebinding could have chosen.

    Raises:
        HostNotAllowed: any other name, or a header that is not ``host[:port]``.
    """
    if value is None or ANY_HOST in allowed:
        return
    parsed = split_host(value)
    if parsed is not None:
        host = parsed[0]
        if host == "localhost" or host in allowed or _is_ip_literal(host):
            return
    raise HostNotAllowed(value)


def is_json_media_type(value: str) -> bool:
    """Whether a ``Content-Type`` is ``application/json`` or ``application/<x>+json``."""
    media_type = value.partition(";")[0].strip().lower()
    kind, slash, subtype = media_type.partition("/")
    return (
        kind == "application"
        and bool(slash)
        and (subtype == "json" or (subtype.endswith("+json") and len(subtype) > len("+json")))
    )


def check_content_type(method: str, headers: Headers) -> None:
    """Accept a request that may carry a body only with no ``Content-Type`` or a JSON one.

    An empty header counts as none (Coder's Go client sends none at all).

    Raises:
        UnsupportedMediaType: a body declared as anything else: forms, multipart, text.
    """
    may_have_body = (
        method in BODY_METHODS
        or "transfer-encoding" in headers
        or headers.get("content-length", "0").strip() not in ("", "0")
    )
    if not may_have_body:
        return
    for value in headers.getlist("content-type"):
        if value.strip() and not is_json_media_type(value):
            raise UnsupportedMediaType()


def parse_origin(value: str) -> Origin:
    """``(scheme, host, port)`` of a serialized origin such as ``https://example.com:8443``.

    Raises:
        ValueError: ``value`` is not ``scheme://host[:port]`` (``null`` is not an origin).
    """
    scheme, separator, authority = value.partition("://")
    authority = authority.removesuffix("/")
    well_formed = (
        separator
        and scheme[:1].isalpha()
        and scheme.isascii()
        and all(char.isalnum() or char in "+-." for char in scheme)
        and not any(char in authority for char in "/?#@ \t")
    )
    origin = _origin(scheme, authority) if well_formed else None
    if origin is None:
        raise ValueError(f"expected an origin such as http://localhost:8080, got {value!r}")
    return origin


def _origin(scheme: str, authority: str) -> Origin | None:
    parsed = split_host(authority)
    if parsed is None:
        return None
    scheme = scheme.lower()
    host, port = parsed
    return scheme, host, DEFAULT_PORTS.get(scheme) if port is None else port


def check_origin(scope: Scope, headers: Headers, allowed: frozenset[Origin]) -> None:
    """Accept a request without ``Origin``, or from the agent's own or an allowed origin.

    The agent's own origin is the request's scheme with its ``Host``, so Swagger UI served
    at ``/docs`` can try the API out under whatever address the agent was reached by.

    Raises:
        CrossOriginRequest: any other ``Origin``, ``null`` included.
    """
    values = headers.getlist("origin")
    if not values:
        return
    host = headers.get("host")
    own = None if host is None else _origin(str(scope.get("scheme", "http")), host)
    for value in values:
        try:
            origin = parse_origin(value.strip())
        except ValueError:
            raise CrossOriginRequest() from None
        if origin != own and origin not in allowed:
            raise CrossOriginRequest()


def _over_unix_socket(scope: Scope) -> bool:
    # ASGI: "server" is (host, port) over TCP, (path, None) or None over a Unix socket.
    server = scope.get("server")
    return server is None or server[1] is None


class BrowserGuardMiddleware:
    """Refuse what a web page can make a browser send (see the module docstring).

    Args:
        app: the application to protect.
        allowed_hosts: names accepted in ``Host`` besides IP literals and ``localhost``;
            ``"*"`` accepts every name.
        allowed_origins: origins accepted besides the agent's own (see :func:`parse_origin`).
        reject: renders an error as a response (the app's error shape).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: Iterable[str],
        allowed_origins: Iterable[Origin],
        reject: Rejecter,
    ) -> None:
        self._app = app
        self._hosts = frozenset(host.lower() for host in allowed_hosts)
        self._origins = frozenset(allowed_origins)
        self._reject = reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                self._check(scope)
            except AgentError as exc:
                await self._reject(exc)(scope, receive, send)
                return
        await self._app(scope, receive, send)

    def _check(self, scope: Scope) -> None:
        path: str = scope["path"]
        headers = Headers(scope=scope)
        if path not in HOST_EXEMPT and not _over_unix_socket(scope):
            check_host(headers.get("host"), self._hosts)
        if path.startswith(PROTECTED_PREFIX):
            check_content_type(scope["method"], headers)
        if path.startswith(ORIGIN_CHECKED):
            check_origin(scope, headers, self._origins)
