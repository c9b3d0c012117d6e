#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite.
#
# The tests run in parallel (pytest-xdist), one worker per CPU: PYTEST_XDIST_AUTO_NUM_WORKERS=N
# for N, `bash scripts/test.sh -n 0` for none (all in this process). A test file goes whole to
# one worker (--dist loadfile): many files build a triaged case once, in a module fixture their
# tests share, which would otherwise be built again by each worker that runs one of them.
# Then the store tests on PostgreSQL (tests/postgresql-tests.txt lists them).
# pytest-randomly shuffles the order with one seed for every worker (`--randomly-seed=N`
# fixes it, `-p no:randomly` turns the shuffling off).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
bash scripts/setup.sh
bash scripts/lint.sh            # ruff over the tree, mypy over the core, store and custody log
export FORENSIC_CORPUS="${FORENSIC_CORPUS:-$here/../shared/corpus}"
export PYTEST_XDIST_AUTO_NUM_WORKERS="${PYTEST_XDIST_AUTO_NUM_WORKERS:-$(nproc)}"
.venv/bin/python -m pytest -q -p no:cacheprovider -n auto --dist loadfile "$@"
# Then the store's tests again with every case's store on PostgreSQL (a throw-away server per
# worker, on a Unix socket: tests/pgserver.py): the same tests, the same answers, both backends.
# Only in a whole run (with arguments, the run above is the one asked for).
if [ $# -eq 0 ]; then
  echo "the store's tests on PostgreSQL (FORENSIC_TEST_BACKEND=postgresql):" >&2
  FORENSIC_TEST_BACKEND=postgresql exec .venv/bin/python -m pytest -q -p no:cacheprovider -n auto \
    --dist loadfile $(grep -v '^#' tests/postgresql-tests.txt)
fi
