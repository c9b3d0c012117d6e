#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
bash scripts/setup.sh
bash scripts/lint.sh            # ruff over the tree, mypy over the core, store and custody log
export FORENSIC_CORPUS="${FORENSIC_CORPUS:-$here/../shared/corpus}"
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
