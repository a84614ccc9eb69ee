"""The package root exports exactly its public surface, under its public name."""

from __future__ import annotations

import types

import agentsdk
import chattool.gitauth

BEFORE_THE_SPLIT = {
    "EXTERNAL_AUTH_PATH",
    "LISTEN_POLL_SECONDS",
    "LISTEN_WAIT_SECONDS",
    "REFRESH_SCHEDULE",
    "SESSION_TOKEN_HEADER",
    "ChatDiffStatus",
    "ChatStore",
    "ExternalAuthProvider",
    "GitRef",
    "GitRefresher",
    "InMemoryChatStore",
    "InMemoryTokenLookup",
    "RefreshReport",
    "TokenLookup",
    "WorkspaceIdentity",
    "create_external_auth_router",
}
"""What ``chattool.gitauth`` exported as a single module; code importing these keeps working."""


def test_all_is_the_public_surface_it_always_was() -> None:
    """__all__ lists every public name once, and exactly the names of the single module."""
    public = {
        name
        for name, value in vars(chattool.gitauth).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert len(chattool.gitauth.__all__) == len(set(chattool.gitauth.__all__))
    assert set(chattool.gitauth.__all__) == public == BEFORE_THE_SPLIT


def test_all_is_sorted() -> None:
    """__all__ is kept in ruff's order: constants first, then the rest alphabetically."""
    names = chattool.gitauth.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))


def test_classes_name_the_public_module() -> None:
    """Reprs and tracebacks say chattool.gitauth.GitRef, not the private module."""
    classes = [getattr(chattool.gitauth, name) for name in chattool.gitauth.__all__]
    assert {cls.__module__ for cls in classes if isinstance(cls, type)} == {"chattool.gitauth"}


def test_the_wire_facts_are_the_sdks_own() -> None:
    """The route's path and token header are the objects the SDK's client uses."""
    assert chattool.gitauth.EXTERNAL_AUTH_PATH is agentsdk.EXTERNAL_AUTH_PATH
    assert chattool.gitauth.SESSION_TOKEN_HEADER is agentsdk.SESSION_TOKEN_HEADER
    assert chattool.gitauth.LISTEN_WAIT_SECONDS == agentsdk.LISTEN_HOLD_SECONDS
