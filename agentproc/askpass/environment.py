"""The environment that joins the agent, git and ``agentproc-askpass``.

The agent (``agentproc serve --git-askpass``) puts ``GIT_ASKPASS``, ``CODER_AGENT_URL`` and
``CODER_AGENT_TOKEN`` in the environment of every command it starts (see
:func:`askpass_environment`), and ``CODER_CHAT_ID`` in that of every command started for a
chat; git runs the program ``GIT_ASKPASS`` names, and the program reads the rest. The names
are declared here, once, for the side that writes them and the side that reads them.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from agentsdk import wire

__all__ = [
    "AGENT_TOKEN_VARIABLE",
    "AGENT_URL_VARIABLE",
    "ASKPASS_SCRIPT",
    "CHAT_ID_VARIABLE",
    "askpass_environment",
    "find_askpass_program",
]

ASKPASS_SCRIPT = "agentproc-askpass"
"""The console script's name; the agent looks for it next to its own Python."""

AGENT_URL_VARIABLE = "CODER_AGENT_URL"
"""Coder's name for the control plane's address, so a workspace image works with either agent."""

AGENT_TOKEN_VARIABLE = "CODER_AGENT_TOKEN"  # noqa: S105 - a variable name, not a secret
"""Coder's name for the agent token the control plane authenticates the agent by."""

# Re-exported: the agent sets it in every process started for a chat (one home, the wire).
CHAT_ID_VARIABLE = wire.CHAT_ID_VARIABLE


def askpass_environment(
    control_plane_url: str, control_plane_token: str, *, program: str | None = None
) -> dict[str, str]:
    """The variables that let git in a child process reach the control plane.

    Args:
        control_plane_url: The control plane's address, for ``CODER_AGENT_URL``.
        control_plane_token: The agent token, for ``CODER_AGENT_TOKEN``. Every command the
            agent runs can read it, as with Coder's agent.
        program: The askpass program; found with :func:`find_askpass_program` when omitted.

    Raises:
        FileNotFoundError: ``program`` was omitted and the askpass program is not installed.
    """
    return {
        "GIT_ASKPASS": program if program is not None else find_askpass_program(),
        AGENT_URL_VARIABLE: control_plane_url,
        AGENT_TOKEN_VARIABLE: control_plane_token,
    }


def find_askpass_program() -> str:
    """The absolute path of the ``agentproc-askpass`` script this Python installed.

    The script next to the running interpreter wins, so the agent and its askpass come
    from the same installation; ``PATH`` is searched otherwise.

    Raises:
        FileNotFoundError: The script is not installed.
    """
    beside = Path(sys.executable).parent / ASKPASS_SCRIPT
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside.absolute())
    found = shutil.which(ASKPASS_SCRIPT)
    if found is not None:
        return str(Path(found).absolute())
    raise FileNotFoundError(
        f"{ASKPASS_SCRIPT} is neither next to {sys.executable} nor on PATH; "
        "reinstall agentproc to get it"
    )
