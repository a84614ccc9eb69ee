"""Credentials in URLs: the one place they are removed before a URL is shown or sent on.

A URL may carry ``user:password@`` (``CODER_AGENT_URL``, a git origin with a token in it).
Whatever a URL is shown in — a message on stderr, a log record, a usage error, a request to
the control plane — gets it through :func:`without_credentials` or, for free text that may
contain URLs (an exception's message), :func:`redact_urls`.
"""

from __future__ import annotations

import re

__all__ = ["redact_urls", "without_credentials"]

HIDE_USER_SCHEMES = frozenset({"http", "https"})
"""Schemes whose user name is dropped too: hosts take a token as the user (``https://ghp_x@…``).
Elsewhere (``ssh://git@host``) the user name is part of the address and only the password goes."""

URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
"""A URL inside a message, up to the whitespace or quote that ends it."""


def without_credentials(url: str) -> str:
    """``url`` without the password it carries, and for HTTP(S) without the user name either.

    Works on text, not on a parsed URL, so a malformed URL (an unclosed ``[``, a bad port)
    loses its credentials too. Anything without ``scheme://`` (a path, an scp-style
    ``git@host:repo``) is returned unchanged.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    end = next((i for i, char in enumerate(rest) if char in "/?#"), len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if not at:
        return url
    user, _, _password = userinfo.partition(":")
    kept = "" if scheme.lower() in HIDE_USER_SCHEMES or not user else f"{user}@"
    return f"{scheme}://{kept}{host}{rest[end:]}"


def redact_urls(text: str) -> str:
    """``text`` with every URL in it passed through :func:`without_credentials`."""
    return URL_IN_TEXT.sub(lambda match: without_credentials(match.group(0)), text)
