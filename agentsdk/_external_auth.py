"""The control plane's external-auth exchange: what askpass asks for, and the token or URL
it gets (Coder's ``/api/v2/workspaceagents/me/external-auth``)."""

from __future__ import annotations

from agentsdk._model import WireModel as _Wire

__all__ = ["ExternalAuthRequest", "ExternalAuthResponse"]


class ExternalAuthRequest(_Wire):
    """Ask the control plane for a git provider token (the askpass flow)."""

    match: str = ""
    """The URL git is talking to, e.g. ``https://github.com``."""

    id: str = ""
    """The external-auth provider id, as an alternative to ``match``."""

    listen: bool = False
    """Wait for the user to finish authenticating instead of answering at once."""

    git_branch: str = ""
    """The current branch of the repository git runs in."""

    git_remote_origin: str = ""
    """The repository's ``remote.origin.url``."""

    chat_id: str = ""
    """The chat whose command ran git, so only that chat's git status is refreshed."""


class ExternalAuthResponse(_Wire):
    """A git provider token, or a URL where the user must authenticate first."""

    access_token: str = ""
    """The provider's OAuth access token."""

    token_extra: dict[str, object] | None = None
    """Provider-specific extra token fields."""

    url: str = ""
    """When set, the user must open this URL to authenticate before a token exists."""

    type: str = ""
    """The provider type, e.g. ``github``."""

    expires_at: str | None = None
    """When the token expires (RFC 3339), if it does."""

    username: str = ""
    """What git should use as the username."""

    password: str = ""
    """What git should use as the password."""
