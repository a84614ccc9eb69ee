"""agentproc: run shell commands for AI coding agents over HTTP, with bounded output."""

from agentproc.app import create_app as create_app
from agentproc.settings import Settings as Settings

__all__ = ["Settings", "create_app"]
