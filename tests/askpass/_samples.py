"""What several askpass test modules share: real repositories and the control plane's answers."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["GITHUB_TOKEN", "GITLAB_TOKEN", "git", "git_env"]

GITLAB_TOKEN = {
    "access_token": "glpat",
    "type": "gitlab",
    "username": "oauth2",
    "password": "glpat",
}
GITHUB_TOKEN = {"access_token": "gho_x", "type": "github", "username": "gho_x", "password": ""}


def git(cwd: Path, *args: str) -> None:
    """Run a git command in ``cwd`` that must succeed, isolated from the user's config."""
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=git_env())


def git_env() -> dict[str, str]:
    """The environment without the machine's git configuration."""
    return {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
