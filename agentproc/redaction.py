"""Credentials in URLs: the one place they are removed before a URL is shown or sent on.

A URL may carry ``user:password@`` (``CODER_AGENT_URL``, a git origin with a token in it).
Whatever a URL is shown in — a message on stderr, a log record, a usage error, a request to
the control plane — gets it through :func:`without_credentials` or, for free text that may
contain URLs (an exception's message), :func:`redact_urls`. Both cut the credentials out with
:func:`split_credentials`, as does the askpass program for the URL a git prompt names.
"""

from __future__ import annotations

import re

__all__ = ["redact_urls", "split_credentials", "without_credentials"]

HIDE_USER_SCHEMES = frozenset({"http", "https"})
"""Schemes whose user name is dropped too: hosts take a token as the user (``https://ghp_x@…``).
Elsewhere (``ssh://git@host``) the user name is part of the address and only the password goes."""

URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
"""A URL inside a message, up to the whitespace or quote that ends it."""


def split_credentials(url: str) -> tuple[str, str]:
    """``url``'s credentials (the ``user:password`` before ``@``) and ``url`` without them.

    Works on text, not on a parsed URL, so a malformed URL (an unclosed ``[``, a bad port)
    loses its credentials too. Anything without ``scheme://`` (a path, an scp-style
    ``git@host:repo``), or without ``@`` before its path, has none: ``("", url)``.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return "", url
    end = next((i for i, char in enumerate(rest) if char in "/?#"), len(rest))
    credentials, at, host = rest[:end].rpartition("@")
    if not at:
        return "", url
    return credentials, f"{scheme}://{host}{rest[end:]}"


def without_credentials(url: str) -> str:
    """``url`` without the password it carries, and for HTTP(S) without the user name either.

    Like :func:`split_credentials`, it works on text: a malformed URL loses its credentials
    too, and anything without ``scheme://`` is returned unchanged.
    """
    credentials, bare = split_credentials(url)
    user = credentials.partition(":")[0]
    scheme, _, rest = bare.partition("://")
    if not user or scheme.lower() in HIDE_USER_SCHEMES:
        return bare
    return f"{scheme}://{user}@{rest}"


def redact_urls(text: str) -> str:
    """``text`` with every URL in it passed through :func:`without_credentials`."""
    return URL_IN_TEXT.sub(lambda match: without_credentials(match.group(0)), text)
