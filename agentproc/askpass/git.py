"""The repository git runs in: its current branch and origin, for the control plane."""

from __future__ import annotations

import os
import subprocess

from agentproc.redaction import without_credentials

__all__ = ["GIT_DETECT_TIMEOUT_SECONDS", "git_context"]

GIT_DETECT_TIMEOUT_SECONDS = 5.0
"""Branch and origin are best effort; a git stuck on a lock must not stall the push we serve."""


def git_context(cwd: str | os.PathLike[str] | None = None) -> tuple[str, str]:
    """The current branch and ``remote.origin.url`` of the repository at ``cwd``, best effort.

    Either is empty when unknown: outside a repository, on a detached HEAD, without an
    origin, or when git fails. Credentials in an HTTP(S) origin are removed before it leaves
    the workspace.
    """
    # symbolic-ref, unlike rev-parse, also names the branch of a repository with no commit.
    branch = _git_output(["git", "symbolic-ref", "--quiet", "--short", "HEAD"], cwd)
    origin = _git_output(["git", "config", "--get", "remote.origin.url"], cwd)
    return branch, without_credentials(origin)


def _git_output(argv: list[str], cwd: str | os.PathLike[str] | None) -> str:
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=GIT_DETECT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
