"""``TokenHeader``: where an API reads a client's token from.

The process API takes a bearer token (``BEARER_TOKEN``); the control plane reads the agent's
token bare from its own header (``agentsdk._controlplane.SESSION_TOKEN``). A client class
declares which one its API uses; ``BaseClient`` writes the token accordingly.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BEARER_TOKEN", "TokenHeader"]


@dataclass(frozen=True, slots=True)
class TokenHeader:
    """Where an API reads a client's token from: the header's name and the value's scheme."""

    name: str
    """The header, e.g. ``Authorization``."""

    scheme: str = ""
    """Written before the token with a space, e.g. ``Bearer``; empty for the bare token."""

    def headers(self, token: str | None) -> dict[str, str]:
        """The header that carries ``token``; none without a token."""
        if token is None:
            return {}
        return {self.name: f"{self.scheme} {token}" if self.scheme else token}


BEARER_TOKEN = TokenHeader("Authorization", "Bearer")
"""The process API's scheme, as Coder's agent and HTTP's bearer-token standard have it."""
