"""The ``agentproc`` command line: its commands, and the entry point that runs them.

``serve`` is :mod:`agentproc.serve_command`, ``mcp`` is :mod:`agentproc.mcp_command`, and
``openapi`` prints the document committed as ``openapi.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from agentproc.mcp_command import add_mcp_command, run_mcp
from agentproc.options import UsageError
from agentproc.serve_command import add_serve_command, run_serve
from agentproc.version import version

__all__ = ["COMMANDS", "build_parser", "main", "openapi_document"]

DESCRIPTION = """\
Run shell commands for AI coding agents over HTTP: start them, read their bounded
output, stop them. The process API is wire-compatible with Coder's workspace agent.
"""

EPILOG = """\
Run 'agentproc COMMAND --help' for the options of a command. Each option of 'serve'
also has an AGENTPROC_* environment variable; the flag wins over it.

agentproc-askpass, installed beside agentproc, is the program git runs for
credentials in commands started with 'serve --git-askpass'
('agentproc-askpass --help' says more).
"""


COMMANDS = {
    "serve": "serve the process API (the agent)",
    "openapi": "print the OpenAPI document of the API (openapi.json)",
}
"""Every command of ``agentproc`` and what ``agentproc --help`` says it does."""


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``agentproc``, with the ``AGENTPROC_*`` variables set now."""
    parser = argparse.ArgumentParser(
        prog="agentproc",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(
        dest="command", required=True, title="commands", metavar="COMMAND"
    )
    add_serve_command(commands, COMMANDS["serve"])
    add_mcp_command(commands)
    openapi = commands.add_parser(
        "openapi",
        help=COMMANDS["openapi"],
        description="Print the OpenAPI document of the process API, as committed in openapi.json.",
    )
    openapi.add_argument(
        "--output", type=Path, metavar="FILE", help="write it to FILE [default: standard output]"
    )
    return parser


def openapi_document() -> str:
    """The OpenAPI document of the app, exactly as committed in ``openapi.json``."""
    from agentproc.app import create_app  # imported here: see run_serve

    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``agentproc`` console script and ``python -m agentproc``."""
    try:
        _run(argv)
    except UsageError as exc:
        # Its last line names the flag or variable at fault; no traceback for a wrong value.
        words = sys.argv[1:] if argv is None else argv
        command = "mcp" if words[:1] == ["mcp"] else "serve"
        sys.stderr.write(f"agentproc {command}: error: {exc}\n")
        raise


def _run(argv: Sequence[str] | None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "openapi":
        document = openapi_document()
        if args.output is None:
            sys.stdout.write(document)
        else:
            args.output.write_text(document)
        return
    if args.command == "mcp":
        run_mcp(args)
        return
    run_serve(args)
