"""Credentials are removed from every URL that is shown."""

from __future__ import annotations

import pytest

from agentproc.redaction import redact_urls, split_credentials, without_credentials


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://x:ghp_secret@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://ghp_token@github.com/o/r.git", "https://github.com/o/r.git"),
        ("HTTP://user:pw@127.0.0.1:1/api?q=1#f", "HTTP://127.0.0.1:1/api?q=1#f"),
        ("http://user:p@ss@host/", "http://host/"),
        ("http://user:s3cret@[::1", "http://[::1"),
        ("ssh://git:pw@github.com/o/r.git", "ssh://git@github.com/o/r.git"),
        ("ssh://git@github.com/o/r.git", "ssh://git@github.com/o/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("https://github.com/a@b", "https://github.com/a@b"),
        ("/some/path", "/some/path"),
    ],
)
def test_a_url_is_shown_without_its_credentials(url: str, shown: str) -> None:
    """The password always goes; for HTTP(S) the user name too, since it may be a token."""
    assert without_credentials(url) == shown


@pytest.mark.parametrize(
    ("url", "credentials", "bare"),
    [
        ("https://x:ghp_secret@github.com/o/r.git", "x:ghp_secret", "https://github.com/o/r.git"),
        ("ssh://git@github.com/o/r.git", "git", "ssh://github.com/o/r.git"),
        ("ftp://user:p@ss@host/a@b?c@d", "user:p@ss", "ftp://host/a@b?c@d"),
        ("http://user:s3cret@[::1", "user:s3cret", "http://[::1"),
        ("https://github.com/a@b", "", "https://github.com/a@b"),
        ("git@github.com:o/r.git", "", "git@github.com:o/r.git"),
    ],
)
def test_split_credentials_cuts_the_whole_userinfo_whatever_the_scheme(
    url: str, credentials: str, bare: str
) -> None:
    """User and password both come out, and only from before the path: no scheme keeps them."""
    assert split_credentials(url) == (credentials, bare)


def test_every_url_in_a_message_loses_its_credentials() -> None:
    """Free text keeps its words and loses only the credentials of the URLs in it."""
    message = (
        "GET http://user:s3cret@127.0.0.1:1/api/v2/x?id=1: do request: refused; "
        "Invalid base URL 'https://a:b@[::1': Invalid port"
    )
    assert redact_urls(message) == (
        "GET http://127.0.0.1:1/api/v2/x?id=1: do request: refused; "
        "Invalid base URL 'https://[::1': Invalid port"
    )
