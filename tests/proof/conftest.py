"""Collection fixes for the proofs: every generated test gets a node id of its own."""

from __future__ import annotations

import pytest
from schemathesis.pytest.plugin import SchemathesisFunction


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Name each operation's fuzz test by its operation, e.g. ``...documented[GET /healthz]``.

    schemathesis names the items so, but under pytest 9 their node ids all end at the
    function's name; pytest-xdist hands out tests by node id, so it would run only the first
    operation. ``tests/conftest.py`` refuses any node id that is still shared.
    """
    for item in items:
        if isinstance(item, SchemathesisFunction) and item.operation_label:
            node_id = getattr(item, "_id", None)
            if node_id is not None and node_id.params is None:
                item._id = node_id.with_params(item.operation_label)
