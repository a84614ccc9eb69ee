"""The package root exports exactly its public surface, through a sorted, complete ``__all__``."""

from __future__ import annotations

import types

import agentsdk
from agentsdk import _client, _exceptions

WIRE_MODELS = {
    "ListProcessesResponse",
    "ProcessInfo",
    "ProcessOutputResponse",
    "ProcessTruncation",
    "SignalProcessRequest",
    "StartProcessRequest",
    "StartProcessResponse",
}
"""The models the issue names; each must be importable from the root."""


def public_names() -> set[str]:
    """Every public, non-module attribute of the package root."""
    return {
        name
        for name, value in vars(agentsdk).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def test_all_lists_every_public_name_exactly_once() -> None:
    """__all__ has no duplicates and matches the root's public attributes."""
    assert len(agentsdk.__all__) == len(set(agentsdk.__all__))
    assert set(agentsdk.__all__) == public_names()


def test_all_is_sorted() -> None:
    """__all__ is kept sorted (ruff's order), so a missing export shows up in review."""
    assert agentsdk.__all__ == sorted(agentsdk.__all__, key=lambda n: (not n.isupper(), n))


def test_clients_errors_and_wire_models_are_exported() -> None:
    """Both clients, every error class and the issue's wire models come from the root."""
    required = set(_client.__all__) | set(_exceptions.__all__) | WIRE_MODELS
    assert required <= set(agentsdk.__all__)


def test_star_import_gives_the_same_objects() -> None:
    """``from agentsdk import *`` binds the very objects the private modules define."""
    namespace: dict[str, object] = {}
    exec("from agentsdk import *", namespace)  # noqa: S102 - the import statement under test
    assert namespace["AgentConn"] is _client.AgentConn
    assert namespace["NotFoundError"] is _exceptions.NotFoundError
    assert set(namespace) - {"__builtins__"} == set(agentsdk.__all__)


def test_package_ships_py_typed() -> None:
    """The py.typed marker is present, so type checkers trust the annotations."""
    from importlib.resources import files

    assert files("agentsdk").joinpath("py.typed").is_file()
