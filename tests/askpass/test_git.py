"""The repository git runs in: branch and origin, read with real git."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentproc.askpass.git import git_context
from tests.askpass._samples import git


def test_git_context_reads_branch_and_origin_of_a_repository_without_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh repository reports its unborn branch and its origin URL."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    git(tmp_path, "init", "-q", "-b", "feature/x")
    git(tmp_path, "remote", "add", "origin", "https://github.com/o/r.git")
    assert git_context(tmp_path) == ("feature/x", "https://github.com/o/r.git")


def test_git_context_drops_credentials_from_an_https_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token embedded in the origin URL never leaves the workspace."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "remote", "add", "origin", "https://x:ghp_secret@github.com/o/r.git")
    assert git_context(tmp_path) == ("main", "https://github.com/o/r.git")


def test_git_context_keeps_an_scp_style_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``git@host:path`` origins carry no secret and are reported unchanged."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "remote", "add", "origin", "git@github.com:o/r.git")
    assert git_context(tmp_path) == ("main", "git@github.com:o/r.git")


def test_git_context_outside_a_repository_is_empty(tmp_path: Path) -> None:
    """Outside any repository both values are empty rather than an error."""
    assert git_context(tmp_path) == ("", "")
