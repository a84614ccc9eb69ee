"""``agentproc mcp``: the chat tools of an agent, as an MCP server on stdin and stdout.

An MCP host starts it with one line of its configuration, e.g.
``agentproc mcp --agent-url http://127.0.0.1:7420 --token-file ~/.agentproc-token``. The
process is one MCP session and acts for one chat: ``--chat-id``, or a new chat of its own,
so two hosts (or two conversations of one host) never see each other's processes. Its log
goes to stderr; stdout carries the protocol alone.
"""

from __future__ import annotations

import argparse
import logging
import os
import uuid
from collections.abc import Mapping
from pathlib import Path

import anyio

from agentproc.options import (
    LOG_LEVELS,
    Option,
    UsageError,
    add_options,
    choice,
    http_url,
    log_to_stderr,
    path,
    read_token,
    secret,
    source_of,
)
from agentsdk import canonical_chat_id
from agentsdk.wire import TOKEN_VARIABLE

__all__ = ["MCP_OPTIONS", "add_mcp_command", "run_mcp"]


def chat_id(raw: str) -> str:
    """A chat id: one UUID, in any of its spellings; canonical afterwards."""
    try:
        return canonical_chat_id(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a UUID") from None


MCP_OPTIONS: tuple[Option, ...] = (
    Option("--agent-url", "AGENTPROC_AGENT_URL", http_url, None,
           "the agent's address, e.g. http://127.0.0.1:7420 (required)", metavar="URL"),
    Option("--uds", "AGENTPROC_UDS", path, None,
           "reach the agent through this Unix socket (agentproc serve --uds)", metavar="PATH"),
    Option("--token", TOKEN_VARIABLE, secret, None, "the agent's bearer token"),
    Option("--token-file", "AGENTPROC_TOKEN_FILE", path, None,
           "read the agent's bearer token from this file (trimmed), so no argv or environment "
           "shows it", metavar="PATH"),
    Option("--chat-id", "AGENTPROC_CHAT_ID", chat_id, None,
           "the chat (a UUID) the tools act for; default: a new chat for this session",
           metavar="UUID"),
    Option("--log-level", "AGENTPROC_LOG_LEVEL", choice(*LOG_LEVELS), "warning",
           f"log level, on stderr: {', '.join(LOG_LEVELS)}", metavar="LEVEL"),
)  # fmt: skip
"""The options of ``agentproc mcp``; the token options are those of ``agentproc serve``."""

OPTIONS_BY_NAME: Mapping[str, Option] = {option.name: option for option in MCP_OPTIONS}


def add_mcp_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``agentproc mcp`` to the command line's subcommands."""
    parser = commands.add_parser(
        "mcp", help="serve the chat tools of an agent to an MCP host, on stdin and stdout"
    )
    add_options(parser, MCP_OPTIONS, os.environ)


def run_mcp(args: argparse.Namespace) -> None:
    """Serve MCP on stdin and stdout until the host closes stdin.

    Raises:
        UsageError: a missing agent address, a bad token file, or no MCP SDK installed.
    """
    if args.agent_url is None:
        raise UsageError(f"{OPTIONS_BY_NAME['agent_url'].flag}: the agent's address is required")
    token = read_token(args, OPTIONS_BY_NAME["token"], OPTIONS_BY_NAME["token_file"], os.environ)
    uds: Path | None = args.uds
    if uds is not None and not uds.exists():
        where = source_of(args, OPTIONS_BY_NAME["uds"], os.environ)
        raise UsageError(f"{where}: {uds} does not exist")
    try:
        from chattool.mcp import run_stdio  # optional: the mcp extra
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    from agentsdk import AsyncAgentConn  # the client, for this command only: serve needs none

    log_to_stderr(args.log_level)
    chat: str = args.chat_id or str(uuid.uuid4())
    logging.getLogger("agentproc").info("serving MCP on stdio for chat %s", chat)

    async def serve() -> None:
        async with AsyncAgentConn(args.agent_url, token=token, uds=uds) as conn:
            await run_stdio(conn, chat_id=chat)

    anyio.run(serve)
