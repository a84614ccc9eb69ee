"""agentproc: run shell commands for AI coding agents over HTTP, with bounded output."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentproc.app import create_app as create_app
    from agentproc.settings import Settings as Settings

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> object:
    # The web stack and the settings (which reach the SDK's wire facts, and with them httpx
    # and pydantic) are imported on first use, so that ``python -m agentproc.keeper``, which
    # runs beside every agent, starts small and fast.
    if name == "create_app":
        from agentproc.app import create_app

        return create_app
    if name == "Settings":
        from agentproc.settings import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
