"""A client's base URL, checked before any I/O."""

from __future__ import annotations

import httpx

__all__ = ["parse_base_url"]


def parse_base_url(base_url: str) -> httpx.URL:
    """The server's address as an ``httpx.URL``, without a trailing slash.

    A path prefix is kept: every call's path is appended to it.

    Raises:
        ValueError: ``base_url`` is not an http(s) URL with a host, or carries a query or a
            fragment.
    """
    if not isinstance(base_url, str) or not base_url:
        raise ValueError(f"Expected a base URL like 'http://host:4' but received {base_url!r}")
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"Invalid base URL {base_url!r}: {exc}") from exc
    if url.scheme not in {"http", "https"} or not url.host:
        raise ValueError(f"Expected an http(s) base URL with a host but received {base_url!r}")
    if url.query or url.fragment:
        raise ValueError(f"The base URL must not carry a query or fragment: {base_url!r}")
    return url.copy_with(raw_path=url.raw_path.rstrip(b"/"))
