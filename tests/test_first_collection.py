"""How a parallel run's workers share a first collection (tests/_first_collection.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._first_collection import module_names, rotated


def test_test_modules_are_named_by_their_package_path_and_others_left_out(
    tmp_path: Path,
) -> None:
    root = tmp_path / "tests"
    (root / "agent" / "deep").mkdir(parents=True)
    (root / "loose").mkdir()
    for path in (
        "__init__.py",
        "test_top.py",
        "helper.py",
        "agent/__init__.py",
        "agent/test_b.py",
        "agent/test_a.py",
        "agent/_live.py",
        "agent/deep/__init__.py",
        "agent/deep/test_c.py",
        "loose/test_not_in_a_package.py",
    ):
        (root / path).write_text("")
    assert module_names(root) == [
        "tests.test_top",
        "tests.agent.test_a",
        "tests.agent.test_b",
        "tests.agent.deep.test_c",
    ]


def test_a_directory_that_is_not_a_package_has_no_modules(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text("")
    assert module_names(tmp_path) == []


@pytest.mark.parametrize(
    ("index", "first"),
    [(0, "m0"), (1, "m2"), (2, "m5"), (3, "m7")],
)
def test_each_worker_starts_at_its_own_share_and_imports_every_module(
    index: int, first: str
) -> None:
    names = [f"m{n}" for n in range(10)]
    order = rotated(names, index, 4)
    assert order[0] == first
    assert sorted(order) == sorted(names)
    assert order == names[names.index(first) :] + names[: names.index(first)]


def test_the_suites_own_modules_are_all_found() -> None:
    root = Path(__file__).resolve().parent
    found = set(module_names(root))
    on_disk = {
        ".".join(path.relative_to(root.parent).with_suffix("").parts)
        for path in root.rglob("test_*.py")
        if "node_modules" not in path.parts
    }
    assert found == on_disk
