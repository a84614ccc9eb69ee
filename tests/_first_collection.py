"""How the workers of a parallel run share the cost of a first collection.

Two things are built on a first collection and cached for the next, and on a fresh clone
every worker of a parallel run would build each at the same moment: the test modules with
their asserts rewritten, and hypothesis's table of the characters a codec can encode.

Together they made each worker's collection cost 4.7-5.0 s of CPU on a fresh clone, against
2.0-2.1 s with warm caches: with four workers on two cores, five seconds more before the
first test.

The table is built once by the controller, before it starts the workers
(:func:`build_codec_table`). pytest caches each rewritten module beside it
(``__pycache__/*-pytest-*.pyc``), and workers that import the modules in the same order at
the same moment each rewrite all of them.

So before collecting, each worker imports the test modules it will collect (those under the
run's arguments), starting at its own quarter of the list (a worker's index times the list's
length over the number of workers) and wrapping around. Each module is then rewritten by
about one worker, which writes the cache; the others come to it later and read it.
Importing early changes nothing else: the collection that follows finds the modules already
imported, as it would a module that another test module imported.
"""

from __future__ import annotations

import contextlib
import importlib
import warnings
from pathlib import Path

import pytest
from hypothesis import strategies as st
from hypothesis.errors import HypothesisSideeffectWarning

TEST_MODULE_GLOB = "test_*.py"
"""pytest's default ``python_files``, which ``pyproject.toml`` keeps."""


FUZZ_CODEC = "utf-8"
"""The codec schemathesis draws strings for (its default): building the fuzz tests' cases at
collection asks hypothesis which characters it can encode. Hypothesis caches that under
``.hypothesis/``; the first time, going through every code point takes 1.3-1.5 s of CPU
alone, and more on cores that four workers share."""


FUZZ_TESTS = Path("proof", "test_fuzz.py")
"""The module whose collection asks for the table, under ``tests``."""


def build_codec_table(config: pytest.Config) -> None:
    """In the controller of a parallel run that collects the fuzz tests, have hypothesis
    build its table of :data:`FUZZ_CODEC` once, before the workers start: each of them would
    build it at once on a fresh clone, and finds it built instead.

    Elsewhere nothing is shared: a worker, or a serial run, builds the table when it needs it.
    """
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", None):
        return
    paths = chosen(config)
    if paths is not None and not is_chosen(config.rootpath / "tests" / FUZZ_TESTS, paths):
        return
    with warnings.catch_warnings():
        # Hypothesis warns of slow work while pytest configures: here that work is the point,
        # done once so that no worker does it.
        warnings.simplefilter("ignore", HypothesisSideeffectWarning)
        st.characters(codec=FUZZ_CODEC).validate()


def chosen(config: pytest.Config) -> list[Path] | None:
    """The files and directories the run collects from (its arguments, else ``testpaths``),
    resolved; ``None`` when an argument is not a path (a package, with ``--pyargs``)."""
    from_testpaths = config.args_source == pytest.Config.ArgsSource.TESTPATHS
    base = config.rootpath if from_testpaths else config.invocation_params.dir
    paths = [(base / arg.split("::", 1)[0]).resolve() for arg in config.args]
    return paths if all(path.exists() for path in paths) else None


def is_chosen(path: Path, paths: list[Path]) -> bool:
    """Whether ``path`` is one of ``paths`` or lies under one of them."""
    return any(path == chosen or chosen in path.parents for chosen in paths)


def modules_under(root: Path) -> list[tuple[str, Path]]:
    """The test modules under ``root``, a package, in a stable order: each one's dotted name
    and file.

    Only packages are walked (a directory with ``__init__.py``), as pytest's ``prepend``
    import mode names a module by its package path; anything else is left to the collection.
    """
    if not (root / "__init__.py").is_file():
        return []
    found = [(f"{root.name}.{path.stem}", path) for path in sorted(root.glob(TEST_MODULE_GLOB))]
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        found += [(f"{root.name}.{name}", path) for name, path in modules_under(child)]
    return found


def rotated(names: list[str], index: int, count: int) -> list[str]:
    """``names`` from worker ``index``'s share of ``count`` on, wrapped around."""
    start = len(names) * index // count if count else 0
    return names[start:] + names[:start]


def import_from_own_share(config: pytest.Config) -> None:
    """In a worker of a parallel run, import the test modules it will collect, from its own
    share on.

    Outside a worker (a serial run, or xdist's controller) there is nothing to share, and
    when the run's arguments are not all paths, its modules are left to the collection.
    """
    worker: dict[str, object] | None = getattr(config, "workerinput", None)
    paths = chosen(config)
    if worker is None or paths is None:
        return
    index = int(str(worker["workerid"]).removeprefix("gw"))
    count = int(str(worker["workercount"]))
    modules = [
        name for name, path in modules_under(config.rootpath / "tests") if is_chosen(path, paths)
    ]
    for name in rotated(modules, index, count):
        # A module that fails to import, or skips itself, does the same with pytest's own
        # report when the collection imports it next: nothing is lost by passing over it here.
        with contextlib.suppress(Exception, pytest.skip.Exception):
            importlib.import_module(name)
