"""How a parallel run's workers share a first collection (tests/_first_collection.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from tests._first_collection import chosen, is_chosen, modules_under, rotated


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
    assert modules_under(root) == [
        ("tests.test_top", root / "test_top.py"),
        ("tests.agent.test_a", root / "agent" / "test_a.py"),
        ("tests.agent.test_b", root / "agent" / "test_b.py"),
        ("tests.agent.deep.test_c", root / "agent" / "deep" / "test_c.py"),
    ]


def test_a_directory_that_is_not_a_package_has_no_modules(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text("")
    assert modules_under(tmp_path) == []


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
    found = {name for name, _ in modules_under(root)}
    on_disk = {
        ".".join(path.relative_to(root.parent).with_suffix("").parts)
        for path in root.rglob("test_*.py")
        if "node_modules" not in path.parts
    }
    assert found == on_disk


def test_a_module_is_chosen_by_its_file_or_a_directory_above_it(tmp_path: Path) -> None:
    module = tmp_path / "tests" / "agent" / "test_a.py"
    assert is_chosen(module, [tmp_path / "tests"])
    assert is_chosen(module, [tmp_path / "tests" / "sdk", module])
    assert not is_chosen(module, [tmp_path / "tests" / "sdk"])
    assert not is_chosen(module, [tmp_path / "tests" / "agent" / "test_b.py"])


@dataclass
class Invocation:
    """``pytest.Config.invocation_params``, as far as :func:`chosen` reads it."""

    dir: Path


@dataclass
class Config:
    """A ``pytest.Config``, as far as :func:`chosen` reads it."""

    args: list[str]
    args_source: pytest.Config.ArgsSource
    rootpath: Path
    invocation_params: Invocation


@pytest.mark.parametrize(
    ("args", "source", "expected"),
    [
        (["tests"], pytest.Config.ArgsSource.TESTPATHS, ["tests"]),
        (
            ["agent/test_lane.py::test_x", "sdk"],
            pytest.Config.ArgsSource.ARGS,
            ["tests/agent/test_lane.py", "tests/sdk"],
        ),
        (["agent", "no/such/place"], pytest.Config.ArgsSource.ARGS, None),
    ],
    ids=["testpaths", "files-and-node-ids", "not-a-path"],
)
def test_the_run_collects_from_its_arguments_or_testpaths(
    tmp_path: Path, args: list[str], source: pytest.Config.ArgsSource, expected: list[str] | None
) -> None:
    """``testpaths`` are under the root directory, arguments under the directory pytest was
    started in (here ``tests``); a node id counts by its file; an argument that is no path
    makes the answer unknown."""
    for directory in ("tests/agent", "tests/sdk"):
        (tmp_path / directory).mkdir(parents=True)
    (tmp_path / "tests/agent/test_lane.py").write_text("")
    config = Config(args, source, tmp_path, Invocation(tmp_path / "tests"))
    paths = chosen(cast(pytest.Config, config))
    assert paths == (None if expected is None else [tmp_path / path for path in expected])
