#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite.
#
# The tests run in parallel (pytest-xdist), one worker per CPU: PYTEST_XDIST_AUTO_NUM_WORKERS=N
# for N, `bash scripts/test.sh -n 0` for none (all in this process). A test file goes whole to
# one worker (--dist loadfile): many files build a triaged case once, in a module fixture their
# tests share, which would otherwise be built again by each worker that runs one of them.
# pytest-randomly shuffles the order with one seed for every worker (`--randomly-seed=N`
# fixes it, `-p no:randomly` turns the shuffling off).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
bash scripts/setup.sh
bash scripts/lint.sh            # ruff over the tree, mypy over the core, store and custody log
export FORENSIC_CORPUS="${FORENSIC_CORPUS:-$here/../shared/corpus}"
export PYTEST_XDIST_AUTO_NUM_WORKERS="${PYTEST_XDIST_AUTO_NUM_WORKERS:-$(nproc)}"
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n auto --dist loadfile "$@"
