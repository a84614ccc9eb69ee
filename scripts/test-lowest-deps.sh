#!/usr/bin/env bash
# Run the test suite against the lowest versions of the dependencies that pyproject.toml
# allows (`uv pip install --resolution lowest-direct`), in .venv-lowest, so that a lower
# bound that no longer holds fails here instead of in a user's install.
#
# The dev extra's own floors apply too: where a test tool needs a newer version of a runtime
# dependency than its lower bound (openapi-python-client needs a newer pydantic), that newer
# version is what runs here; the printed list shows what was tested. tests/packaging installs
# the wheel alone at the lowest versions and runs the agent and the SDK from it, which covers
# the runtime floors without the test tools.
#
# Usage: scripts/test-lowest-deps.sh [pytest arguments]   (`make test-lowest` runs it)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
uv="${UV:-.venv/bin/uv}"
venv=.venv-lowest
workers="${TEST_WORKERS:-2}"

"$uv" venv --quiet --allow-existing --python "${PYTHON:-python3.11}" "$venv"
"$uv" pip install --quiet --python "$venv/bin/python" --resolution lowest-direct -e '.[dev]'
echo "test-lowest-deps: the runtime dependencies under test:" >&2
"$uv" pip list --python "$venv/bin/python" 2>/dev/null |
    grep -iE '^(anyio|fastapi|fastapi-offline|httpx|pydantic|starlette|uvicorn) ' >&2
"$venv/bin/python" -m pytest --numprocesses "$workers" --dist loadfile -p no:cacheprovider "$@"
