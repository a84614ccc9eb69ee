"""The installed version of agentproc, as ``agentproc --version`` and ``openapi.json`` say it."""

from __future__ import annotations

from importlib import metadata

__all__ = ["UNKNOWN_VERSION", "version"]

UNKNOWN_VERSION = "0.0.0"
"""What a copy of the source that was never installed reports."""


def version() -> str:
    """The version of the installed ``agentproc`` distribution (``pyproject.toml``'s)."""
    try:
        return metadata.version("agentproc")
    except metadata.PackageNotFoundError:
        return UNKNOWN_VERSION
