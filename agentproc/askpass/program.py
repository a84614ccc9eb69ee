"""``agentproc-askpass``: the program git runs (``GIT_ASKPASS``) when a remote wants credentials.

Git calls it with one argument, a prompt such as ``Username for 'https://github.com': ``, and
reads the answer from its standard output. This program asks the control plane at
``CODER_AGENT_URL`` (authenticated with ``CODER_AGENT_TOKEN``) for the user's token for that
host, naming the current branch, ``remote.origin.url`` and the chat whose command ran git
(``CODER_CHAT_ID``), so the control plane refreshes that chat's git status and no other's.

Standard output carries the answer and nothing else; every message goes to standard error.
When the control plane has no provider for the host (404) it exits non-zero, and git falls
back to its own behaviour. When the user must first authenticate in a browser, it prints the
URL and polls until the token exists, with backoff, for a bounded time.

The agent (``agentproc serve --git-askpass``) puts ``GIT_ASKPASS``, ``CODER_AGENT_URL`` and
``CODER_AGENT_TOKEN`` in the environment of every command it starts; see
:mod:`agentproc.askpass.environment`.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

import httpx

from agentproc.askpass.environment import (
    AGENT_TOKEN_VARIABLE,
    AGENT_URL_VARIABLE,
    ASKPASS_SCRIPT,
    CHAT_ID_VARIABLE,
)
from agentproc.askpass.git import git_context
from agentproc.askpass.prompt import choose_answer, parse_prompt
from agentproc.redaction import redact_urls
from agentsdk import (
    LISTEN_HOLD_SECONDS,
    AgentSDKError,
    ControlPlaneClient,
    ExternalAuthRequest,
    ExternalAuthResponse,
    NotFoundError,
)

__all__ = [
    "DEFAULT_LISTEN_SECONDS",
    "INITIAL_POLL_DELAY",
    "LISTEN_POLL_TIMEOUT_SECONDS",
    "LISTEN_READ_MARGIN_SECONDS",
    "LISTEN_SECONDS_VARIABLE",
    "MAX_POLL_DELAY",
    "listen_poll_timeout",
    "main",
    "run",
]

LISTEN_SECONDS_VARIABLE = "AGENTPROC_ASKPASS_LISTEN_SECONDS"
"""Overrides how long to wait for the user to authenticate."""

DEFAULT_LISTEN_SECONDS = 300.0
"""Five minutes is enough to sign in to a provider in a browser; git waits on us meanwhile."""

INITIAL_POLL_DELAY = 0.25
"""First pause between polls, short so a user who was quick is not kept waiting."""

MAX_POLL_DELAY = 10.0
"""Backoff ceiling: a user who takes minutes to sign in is noticed within 10 s of finishing."""

CONNECT_TIMEOUT_SECONDS = 5.0
"""A control plane that does not accept a connection in 5 s is not going to."""

REQUEST_TIMEOUT = httpx.Timeout(30.0, connect=CONNECT_TIMEOUT_SECONDS)
"""For the first request, which the control plane answers at once."""

LISTEN_READ_MARGIN_SECONDS = 15.0
"""Room, beyond the control plane's hold, for its answer to arrive: a poll must not time out
at the very moment the control plane answers it."""

LISTEN_POLL_TIMEOUT_SECONDS = LISTEN_HOLD_SECONDS + LISTEN_READ_MARGIN_SECONDS
"""A ``listen`` poll's timeout while the wait has this much time left; less when it has less."""

EXIT_FAILURE = 1
"""Any non-zero status makes git ignore our output and fall back to its own prompt."""

EXIT_USAGE = 2
"""The conventional status for a wrong command line."""

FALLBACK_MESSAGE = (
    "The control plane could not handle this git request; git falls back to its default behaviour."
)
"""Tells the user why git prompts (or fails) on its own next (Coder warns the same way)."""


def run(
    prompt: str,
    *,
    client: ControlPlaneClient,
    environ: Mapping[str, str],
    stdout: TextIO,
    stderr: TextIO,
    cwd: str | os.PathLike[str] | None = None,
    listen_seconds: float = DEFAULT_LISTEN_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Answer one git prompt through the control plane; returns the exit status.

    Args:
        prompt: The argument git passed.
        client: The control plane's client, authenticated with the agent token.
        environ: Where ``CODER_CHAT_ID`` is read from.
        stdout: Receives the answer, and nothing else.
        stderr: Receives every message for the user.
        cwd: The repository whose branch and origin are reported; the current directory
            when omitted.
        listen_seconds: How long to wait for the user to authenticate in a browser.
        sleep: Pauses between polls (replaceable in tests).
        clock: A monotonic clock bounding the wait (replaceable in tests).

    Returns:
        0 once the answer is printed; non-zero, with the reason on ``stderr``, otherwise.
    """
    try:
        asked = parse_prompt(prompt)
    except ValueError as exc:
        stderr.write(f"{ASKPASS_SCRIPT}: {redact_urls(str(exc))}\n")
        return EXIT_FAILURE
    branch, origin = git_context(cwd)
    request = ExternalAuthRequest(
        match=asked.host,
        git_branch=branch,
        git_remote_origin=origin,
        chat_id=environ.get(CHAT_ID_VARIABLE, "").strip(),
    )
    try:
        answer = client.external_auth(request)
    except NotFoundError as exc:
        _report_fallback(exc, stderr)
        return EXIT_FAILURE
    except AgentSDKError as exc:
        # The SDK names the request's URL, which carries CODER_AGENT_URL's credentials.
        stderr.write(f"{ASKPASS_SCRIPT}: {redact_urls(str(exc))}\n")
        return EXIT_FAILURE
    if answer.url:
        stderr.write(f"Open this URL to authenticate with git:\n{answer.url}\n")
        listening = request.model_copy(update={"listen": True})
        waited = _wait_for_token(
            client, listening, stderr=stderr, budget=listen_seconds, sleep=sleep, clock=clock
        )
        if waited is None:
            return EXIT_FAILURE
        answer = waited
        stderr.write("You are authenticated with git.\n")
    stdout.write(choose_answer(asked, answer) + "\n")
    return 0


def _wait_for_token(
    client: ControlPlaneClient,
    request: ExternalAuthRequest,
    *,
    stderr: TextIO,
    budget: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> ExternalAuthResponse | None:
    """Poll with ``listen=true`` until the token exists; ``None`` (reason written) if not.

    No poll starts once ``budget`` seconds have passed, and every timeout of a poll is cut
    to the time left, so the wait ends at the budget (see :func:`listen_poll_timeout`).
    """
    deadline = clock() + budget
    delay = INITIAL_POLL_DELAY
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            stderr.write(
                f"{ASKPASS_SCRIPT}: gave up after {budget:g} s waiting for you to authenticate "
                "with git.\n"
            )
            return None
        # Not retried inside the SDK: this loop is the retry, and it knows the deadline.
        poll = client.with_options(timeout=listen_poll_timeout(remaining), max_retries=0)
        try:
            answer = poll.external_auth(request)
        except NotFoundError as exc:
            _report_fallback(exc, stderr)
            return None
        except AgentSDKError as exc:
            failure = redact_urls(str(exc))
            stderr.write(f"{ASKPASS_SCRIPT}: still waiting, the last poll failed: {failure}\n")
        else:
            if not answer.url:
                return answer
        remaining = deadline - clock()
        if remaining > 0:
            sleep(min(delay, remaining))
        delay = min(delay * 2, MAX_POLL_DELAY)


def listen_poll_timeout(remaining: float) -> httpx.Timeout:
    """The timeout of a ``listen`` poll started with ``remaining`` seconds of the wait left.

    The read timeout outlasts the control plane's hold (``LISTEN_HOLD_SECONDS``) by
    ``LISTEN_READ_MARGIN_SECONDS``, so a held poll is answered rather than cut off; and no
    timeout (connect, write, read, pool) exceeds ``remaining``, so a poll that stalls ends
    with the wait.
    """
    read = min(LISTEN_POLL_TIMEOUT_SECONDS, remaining)
    return httpx.Timeout(read, connect=min(CONNECT_TIMEOUT_SECONDS, remaining))


def _report_fallback(error: NotFoundError, stderr: TextIO) -> None:
    stderr.write(f"{ASKPASS_SCRIPT}: {FALLBACK_MESSAGE}\n{redact_urls(error.message)}\n")
    if error.detail:
        stderr.write(f"{redact_urls(error.detail)}\n")


HELP = f"""\
usage: {ASKPASS_SCRIPT} PROMPT

The program git runs when a remote asks for credentials (GIT_ASKPASS), in the
commands that 'agentproc serve --git-askpass' starts: the agent points GIT_ASKPASS
here and gives every command {AGENT_URL_VARIABLE} and {AGENT_TOKEN_VARIABLE}.

Git calls it with one argument, its prompt, and reads the answer from standard
output, for example:

  {ASKPASS_SCRIPT} "Username for 'https://github.com': "
  {ASKPASS_SCRIPT} "Password for 'https://github.com': "

It asks the control plane at {AGENT_URL_VARIABLE} (authenticated with
{AGENT_TOKEN_VARIABLE}) for the user's token for that host, naming the
repository's branch, its remote.origin.url and the chat whose command runs git
({CHAT_ID_VARIABLE}), so that the control plane refreshes that chat's git status
only, and prints the username or the password. Nothing else goes to standard
output; messages go to standard error, which git shows.

If the user has not connected the provider yet, it prints the URL to open and
waits for the sign-in, at most {LISTEN_SECONDS_VARIABLE} seconds
(default {DEFAULT_LISTEN_SECONDS:g}). It exits 1 when it has no answer (git then falls back to
its own prompt, or fails), and 2 when not given exactly one prompt.

environment:
  {AGENT_URL_VARIABLE:<34}the control plane's address (serve --control-plane-url)
  {AGENT_TOKEN_VARIABLE:<34}the agent's token there (serve --control-plane-token)
  {CHAT_ID_VARIABLE:<34}the chat the command runs for (set per chat)
  {LISTEN_SECONDS_VARIABLE:<34}how long to wait for a sign-in
"""
"""What ``agentproc-askpass --help`` prints."""

HELP_FLAGS = frozenset({"-h", "--help"})
"""Never a prompt of git's, which always ends in ": "."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``agentproc-askpass`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 1 and args[0] in HELP_FLAGS:
        sys.stdout.write(HELP)
        return 0
    if len(args) != 1:
        sys.stderr.write(f"usage: {ASKPASS_SCRIPT} PROMPT  (git runs this as GIT_ASKPASS)\n")
        return EXIT_USAGE
    url = os.environ.get(AGENT_URL_VARIABLE, "")
    token = os.environ.get(AGENT_TOKEN_VARIABLE, "")
    required = ((AGENT_URL_VARIABLE, url), (AGENT_TOKEN_VARIABLE, token))
    missing = [name for name, value in required if not value]
    if missing:
        sys.stderr.write(
            f"{ASKPASS_SCRIPT}: {' and '.join(missing)} must be set (the agent sets them "
            "with --git-askpass)\n"
        )
        return EXIT_FAILURE
    raw_listen = os.environ.get(LISTEN_SECONDS_VARIABLE, "")
    try:
        listen_seconds = float(raw_listen) if raw_listen else DEFAULT_LISTEN_SECONDS
    except ValueError:
        sys.stderr.write(
            f"{ASKPASS_SCRIPT}: {LISTEN_SECONDS_VARIABLE}={raw_listen!r} is not a number\n"
        )
        return EXIT_FAILURE
    try:
        client = ControlPlaneClient(url, token=token, timeout=REQUEST_TIMEOUT)
    except ValueError as exc:
        sys.stderr.write(f"{ASKPASS_SCRIPT}: {AGENT_URL_VARIABLE}: {redact_urls(str(exc))}\n")
        return EXIT_FAILURE
    # Git shows our stderr to the user. With no logging configured, Python would print the
    # SDK's records (retry notices with request URLs) there through its last-resort handler;
    # what the user needs to know, every failure included, is written by run() instead.
    quiet = logging.NullHandler()
    sdk_logger = logging.getLogger("agentsdk")
    sdk_logger.addHandler(quiet)
    try:
        with client:
            return run(
                args[0],
                client=client,
                environ=os.environ,
                stdout=sys.stdout,
                stderr=sys.stderr,
                listen_seconds=listen_seconds,
            )
    finally:
        sdk_logger.removeHandler(quiet)
