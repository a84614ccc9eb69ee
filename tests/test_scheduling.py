"""The order in which a parallel run hands out the suite's files (tests/_scheduling.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pytest

from tests._scheduling import SHARED_IMPORTS, order_collection, unit


@dataclass
class Item:
    """What the ordering reads of a collected test: its node id and its markers."""

    nodeid: str

    def get_closest_marker(self, name: str) -> pytest.Mark | None:
        """The ``e2e`` marker for tests whose name says so."""
        return pytest.mark.e2e.mark if name == "e2e" and "e2e" in self.nodeid else None


def ordered(nodeids: list[str]) -> list[str]:
    items = [Item(nodeid) for nodeid in nodeids]
    order_collection(cast(list[pytest.Item], items))
    return [item.nodeid for item in items]


def test_the_integration_files_are_one_unit_and_every_other_file_its_own() -> None:
    assert unit("tests/integrations/test_mcp.py::test_x") == SHARED_IMPORTS
    assert unit("tests/integrations/test_docs.py::test_y[a::b]") == SHARED_IMPORTS
    assert unit("tests/agent/test_api.py::TestStart::test_z") == "tests/agent/test_api.py"


def test_long_units_go_first_then_the_others_by_number_of_tests_each_kept_whole() -> None:
    collected = [
        "tests/agent/test_a.py::one",
        "tests/agent/test_b.py::one",
        "tests/agent/test_b.py::two",
        "tests/integrations/test_x.py::one",
        "tests/integrations/test_y.py::one",
        "tests/packaging/test_install.py::one",
        "tests/proof/test_fuzz.py::one",
        "tests/test_readme.py::one",
        "tests/test_readme.py::two",
        "tests/test_openapi.py::one",
    ]
    assert ordered(collected) == [
        "tests/packaging/test_install.py::one",
        "tests/integrations/test_x.py::one",
        "tests/integrations/test_y.py::one",
        "tests/proof/test_fuzz.py::one",
        "tests/test_readme.py::one",
        "tests/test_readme.py::two",
        "tests/agent/test_b.py::one",
        "tests/agent/test_b.py::two",
        "tests/agent/test_a.py::one",
        "tests/test_openapi.py::one",
    ]


def test_files_with_end_to_end_tests_go_before_the_other_files_whatever_their_size() -> None:
    collected = [
        "tests/agent/test_unit.py::one",
        "tests/agent/test_unit.py::two",
        "tests/agent/test_unit.py::three",
        "tests/agent/test_small.py::one",
        "tests/agent/test_served.py::one_e2e",
        "tests/agent/test_mixed.py::one",
        "tests/agent/test_mixed.py::two_e2e",
        "tests/packaging/test_install.py::one_e2e",
    ]
    assert ordered(collected) == [
        "tests/packaging/test_install.py::one_e2e",
        "tests/agent/test_mixed.py::one",
        "tests/agent/test_mixed.py::two_e2e",
        "tests/agent/test_served.py::one_e2e",
        "tests/agent/test_unit.py::one",
        "tests/agent/test_unit.py::two",
        "tests/agent/test_unit.py::three",
        "tests/agent/test_small.py::one",
    ]
