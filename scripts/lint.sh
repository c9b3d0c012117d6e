#!/usr/bin/env bash
# ruff over the whole tree, mypy over the core, sources, store and custody log (pyproject.toml
# holds both configurations). mypy reads the installed package's layout (forensic.cli <- cli/,
# ...) from build/mypy/forensic/: symbolic links to the sources, remade on every run.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
.venv/bin/ruff check --quiet .
rm -rf build/mypy
mkdir -p build/mypy/forensic
ln -s "$here"/forensic/* build/mypy/forensic/
for d in chain_of_custody extractors exporters cli training; do
  ln -s "$here/$d" build/mypy/forensic/
done
.venv/bin/mypy --no-error-summary
