"""Git's credential prompt: what it asks for, for which URL, and the answer printed."""

from __future__ import annotations

import pytest

from agentproc.askpass.prompt import AskpassPrompt, choose_answer, parse_prompt
from agentsdk import ExternalAuthResponse
from tests.askpass._samples import GITHUB_TOKEN, GITLAB_TOKEN


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        (
            "Username for 'https://github.com': ",
            AskpassPrompt("Username", "", "https://github.com"),
        ),
        (
            "Password for 'https://octocat@github.com': ",
            AskpassPrompt("Password", "octocat", "https://github.com"),
        ),
        (
            "Username for 'http://127.0.0.1:8080': ",
            AskpassPrompt("Username", "", "http://127.0.0.1:8080"),
        ),
        (
            "Password for 'https://oauth2@gitlab.example.com/group/repo.git': ",
            AskpassPrompt("Password", "oauth2", "https://gitlab.example.com/group/repo.git"),
        ),
        (
            "Password for 'http://user@[::1]:3000': ",
            AskpassPrompt("Password", "user", "http://[::1]:3000"),
        ),
        ("Username for 'https://github.com':", AskpassPrompt("Username", "", "https://github.com")),
    ],
)
def test_git_prompts_parse_into_kind_user_and_host(prompt: str, expected: AskpassPrompt) -> None:
    """Each of git's prompt shapes yields what was asked, the known user and the bare host URL."""
    assert parse_prompt(prompt) == expected


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("", "at least 3 words"),
        ("Username for", "at least 3 words"),
        ("Enter passphrase for '/home/me/.ssh/id_ed25519': ", "unknown prompt type"),
        ("Username for 'github.com': ", "not a URL"),
        ("Password for 'http://[::1': ", "parse host"),
    ],
)
def test_other_prompts_are_rejected(prompt: str, message: str) -> None:
    """Anything that is not a git credential prompt for a URL raises ValueError."""
    with pytest.raises(ValueError, match=message):
        parse_prompt(prompt)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Password for 'ftp://me@files.example.com': ", "ftp://files.example.com"),
        ("Password for 'HTTPS://me@github.com/o/r?': ", "https://github.com/o/r"),
    ],
)
def test_the_host_url_loses_the_user_whatever_the_scheme_and_is_normalised(
    prompt: str, expected: str
) -> None:
    """The user is reported apart, never inside the host; the scheme is lower-cased and an
    empty query dropped, as urllib reads the URL."""
    assert parse_prompt(prompt) == AskpassPrompt("Password", "me", expected)


def test_username_prompt_gets_the_username_and_password_prompt_the_password() -> None:
    """GitLab-style credentials answer each prompt with its own half."""
    answer = ExternalAuthResponse.model_validate(GITLAB_TOKEN)
    assert choose_answer(parse_prompt("Username for 'https://gitlab.com': "), answer) == "oauth2"
    assert choose_answer(parse_prompt("Password for 'https://oauth2@gitlab.com': "), answer) == (
        "glpat"
    )


def test_a_provider_without_password_gets_the_username_for_both_prompts() -> None:
    """GitHub takes the token as the username, so both prompts get the token."""
    answer = ExternalAuthResponse.model_validate(GITHUB_TOKEN)
    assert choose_answer(parse_prompt("Username for 'https://github.com': "), answer) == "gho_x"
    assert choose_answer(parse_prompt("Password for 'https://gho_x@github.com': "), answer) == (
        "gho_x"
    )
