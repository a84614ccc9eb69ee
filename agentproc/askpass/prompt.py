"""Git's credential prompt, parsed, and the answer to print for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from agentproc.redaction import split_credentials
from agentsdk import ExternalAuthResponse

__all__ = ["AskpassPrompt", "choose_answer", "parse_prompt"]


@dataclass(frozen=True, slots=True)
class AskpassPrompt:
    """What git asked for, parsed from its prompt."""

    kind: Literal["Username", "Password"]
    """Whether git wants the username or the password."""

    user: str
    """The username git already has (it is in a password prompt), else empty."""

    host: str
    """The URL git talks to, without credentials, e.g. ``https://github.com``."""


def parse_prompt(prompt: str) -> AskpassPrompt:
    """Parse git's credential prompt, e.g. ``Password for 'https://me@github.com': ``.

    Git writes ``<Username|Password> for '<protocol>://[<user>@]<host>[/<path>]': ``; for
    HTTP the path is present only with ``credential.useHttpPath``.

    Raises:
        ValueError: The prompt is not one of git's credential prompts.
    """
    words = prompt.split()
    if len(words) < 3:
        raise ValueError(f"expected a prompt of at least 3 words, got {len(words)}: {prompt!r}")
    kind: Literal["Username", "Password"]
    if words[0] == "Username":
        kind = "Username"
    elif words[0] == "Password":
        kind = "Password"
    else:
        raise ValueError(f"unknown prompt type {words[0]!r} in {prompt!r}")
    described = words[2].removesuffix(":").removeprefix("'").removesuffix("'")
    try:
        parts = urlsplit(described)
        user = parts.username or ""
    except ValueError as exc:
        raise ValueError(f"parse host {described!r}: {exc}") from exc
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"parse host: {described!r} is not a URL")
    # Rebuilt by urlunsplit (lower-case scheme, no empty "?" or "#") before the user goes.
    _, host = split_credentials(urlunsplit(parts))
    return AskpassPrompt(kind=kind, user=user, host=host)


def choose_answer(prompt: AskpassPrompt, answer: ExternalAuthResponse) -> str:
    """What to print for git: the username or the password it asked for.

    Providers that take the token as the username (GitHub) answer with an empty password;
    the username is then the right answer to both prompts.
    """
    if prompt.kind == "Password" and answer.password:
        return answer.password
    return answer.username
