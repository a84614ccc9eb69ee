"""``ControlPlaneClient`` and ``AsyncControlPlaneClient``: the agent's calls to its control plane.

A workspace agent talks to two parties: models drive it through the process API, and it
asks the control plane (Coder's ``coderd``, or any app mounting ``chattool.gitauth``) for
what only the control plane knows, such as the user's git provider token. These clients
make that second kind of call, authenticated with the agent token in the
``Coder-Session-Token`` header, as Coder's agent SDK does.

They share ``BaseClient`` and the senders of ``agentsdk._senders`` with ``AgentConn``, not
its process calls: argument checks before I/O, the error tree, the retry policy, the
timeouts, ``with_options`` and closing behave exactly as for ``AgentConn``; only the token
header differs, and each class declares it (``SESSION_TOKEN``).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

import pydantic

from agentsdk._auth import TokenHeader
from agentsdk._call import Call, header_items
from agentsdk._responses import model_parser
from agentsdk._senders import AsyncSender, SyncSender
from agentsdk.types import ExternalAuthRequest, ExternalAuthResponse
from agentsdk.wire import EXTERNAL_AUTH_PATH, SESSION_TOKEN_HEADER

# agentproc.askpass still imports it from here; its home is agentsdk.wire.
from agentsdk.wire import LISTEN_HOLD_SECONDS as LISTEN_HOLD_SECONDS

__all__ = [
    "SESSION_TOKEN",
    "AsyncControlPlaneClient",
    "ControlPlaneClient",
    "encode_external_auth_query",
    "external_auth_call",
    "external_auth_params",
]


SESSION_TOKEN = TokenHeader(SESSION_TOKEN_HEADER)
"""How coderd reads an agent token: bare, in its own header."""


def external_auth_params(request: ExternalAuthRequest) -> tuple[tuple[str, str], ...]:
    """The query parameters of an external-auth request, sorted by name.

    ``id`` and ``match`` are always present, even when empty; ``listen`` is ``true`` only
    when listening; ``git_branch``, ``git_remote_origin`` and ``chat_id`` appear only when
    non-empty. This is the set Coder's agent SDK sends, in the order Go's
    ``url.Values.Encode`` writes it.
    """
    params = {"id": request.id, "match": request.match}
    if request.listen:
        params["listen"] = "true"
    optional = {
        "git_branch": request.git_branch,
        "git_remote_origin": request.git_remote_origin,
        "chat_id": request.chat_id,
    }
    params.update({name: value for name, value in optional.items() if value})
    return tuple(sorted(params.items()))


def encode_external_auth_query(request: ExternalAuthRequest) -> str:
    """The exact query string of an external-auth request, as Coder's agent SDK encodes it.

    Example::

        >>> encode_external_auth_query(ExternalAuthRequest(match="https://github.com"))
        'id=&match=https%3A%2F%2Fgithub.com'
    """
    # quote_plus escapes everything but letters, digits and "-._~", and writes a space as
    # "+": the same rules as Go's url.QueryEscape.
    return urlencode(external_auth_params(request))


def external_auth_call(
    request: ExternalAuthRequest | None,
    *,
    match: str | None,
    id: str | None,
    listen: bool | None,
    git_branch: str | None,
    git_remote_origin: str | None,
    chat_id: str | None,
    extra_headers: Mapping[str, str] | None = None,
) -> Call[ExternalAuthResponse]:
    """Describe an external-auth question from a whole request or its keyword fields.

    Raises:
        ValueError: Neither ``match`` nor ``id``, a field of the wrong type, both a
            request and keyword fields, or malformed ``extra_headers``.
    """
    fields = {
        "match": match,
        "id": id,
        "listen": listen,
        "git_branch": git_branch,
        "git_remote_origin": git_remote_origin,
        "chat_id": chat_id,
    }
    given = {name: value for name, value in fields.items() if value is not None}
    if request is not None:
        if not isinstance(request, ExternalAuthRequest):
            raise ValueError(
                f"Expected an ExternalAuthRequest but received {type(request).__name__}"
            )
        if given:
            raise ValueError("Pass an ExternalAuthRequest or keyword fields, not both")
    else:
        try:
            request = ExternalAuthRequest.model_validate(given, strict=True)
        except pydantic.ValidationError as exc:
            raise ValueError(f"Invalid external-auth request: {exc}") from exc
    if not request.match and not request.id:
        raise ValueError("An external-auth request needs a match URL or a provider id")
    return Call(
        method="GET",
        path=EXTERNAL_AUTH_PATH,
        parse=model_parser(ExternalAuthResponse),
        params=external_auth_params(request),
        extra_headers=header_items(extra_headers),
    )


class ControlPlaneClient(SyncSender):
    """A synchronous client for the control plane's agent API, over one ``httpx.Client``.

    Use it as a context manager, or call ``close()`` when done; ``with_options`` gives a
    copy with another timeout or retry count over the same connection pool. Example::

        with ControlPlaneClient(os.environ["CODER_AGENT_URL"], token=agent_token) as cp:
            auth = cp.external_auth(match="https://github.com", chat_id=chat_id)

    Args:
        base_url: The control plane's address (``CODER_AGENT_URL``); a path prefix is kept.
        token: The agent token, sent as ``Coder-Session-Token`` on every request.
        timeout: Seconds, an ``httpx.Timeout``, or ``None`` for no timeout.
        max_retries: How many times a failed safe call is sent again; 0 disables retries.
        headers: Extra headers for every request.
        http_client: An ``httpx.Client`` to send with; ``close()`` leaves it open.
        transport: An ``httpx`` transport for a client this object creates and owns.
        uds: A Unix socket to connect through instead of TCP.

    Raises:
        ValueError: An argument is malformed, or more than one of ``http_client``,
            ``transport`` and ``uds`` is given.
    """

    _token_header = SESSION_TOKEN

    def external_auth(
        self,
        request: ExternalAuthRequest | None = None,
        *,
        match: str | None = None,
        id: str | None = None,
        listen: bool | None = None,
        git_branch: str | None = None,
        git_remote_origin: str | None = None,
        chat_id: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ExternalAuthResponse:
        """Ask for the user's token for a git provider, e.g. on behalf of ``git push``.

        A successful answer also tells the control plane that git is about to talk to the
        provider, so it refreshes the git status of ``chat_id`` (or, without one, of every
        chat of the workspace).

        Args:
            request: The whole request, instead of the keyword fields.
            match: The URL git talks to, e.g. ``https://github.com``.
            id: The provider id, instead of ``match``.
            listen: Wait until the user has authenticated instead of answering at once.
            git_branch: The repository's current branch.
            git_remote_origin: The repository's ``remote.origin.url``.
            chat_id: The chat whose command ran git (``CODER_CHAT_ID``).
            extra_headers: Headers of this call only, over the client's.

        Returns:
            The token and git credentials; or, when ``url`` is set, where the user must
            authenticate first.

        Raises:
            ValueError: Neither ``match`` nor ``id``, a field of the wrong type, both a
                request and keyword fields, or malformed ``extra_headers``.
            NotFoundError: No provider matches: git should fall back to its own behaviour.
            AuthenticationError: The agent token is missing or wrong.
        """
        return self._request(
            external_auth_call(
                request,
                match=match,
                id=id,
                listen=listen,
                git_branch=git_branch,
                git_remote_origin=git_remote_origin,
                chat_id=chat_id,
                extra_headers=extra_headers,
            )
        )


class AsyncControlPlaneClient(AsyncSender):
    """An asynchronous client for the control plane's agent API, over one ``httpx.AsyncClient``.

    The same methods as ``ControlPlaneClient``, awaitable; use it with ``async with``.

    Args:
        base_url: The control plane's address (``CODER_AGENT_URL``); a path prefix is kept.
        token: The agent token, sent as ``Coder-Session-Token`` on every request.
        timeout: Seconds, an ``httpx.Timeout``, or ``None`` for no timeout.
        max_retries: How many times a failed safe call is sent again; 0 disables retries.
        headers: Extra headers for every request.
        http_client: An ``httpx.AsyncClient`` to send with; ``aclose()`` leaves it open.
        transport: An async ``httpx`` transport for a client this object creates and owns.
        uds: A Unix socket to connect through instead of TCP.

    Raises:
        ValueError: An argument is malformed, or more than one of ``http_client``,
            ``transport`` and ``uds`` is given.
    """

    _token_header = SESSION_TOKEN

    async def external_auth(
        self,
        request: ExternalAuthRequest | None = None,
        *,
        match: str | None = None,
        id: str | None = None,
        listen: bool | None = None,
        git_branch: str | None = None,
        git_remote_origin: str | None = None,
        chat_id: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ExternalAuthResponse:
        """Ask for the user's token for a git provider. See ``ControlPlaneClient.external_auth``."""
        return await self._request(
            external_auth_call(
                request,
                match=match,
                id=id,
                listen=listen,
                git_branch=git_branch,
                git_remote_origin=git_remote_origin,
                chat_id=chat_id,
                extra_headers=extra_headers,
            )
        )
