"""Shared fixtures. Third-party samples come from $FORENSIC_CORPUS (skipped when absent)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("TZ", "UTC")

_DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"


def corpus_dir() -> Path | None:
    path = Path(os.environ.get("FORENSIC_CORPUS", _DEFAULT_CORPUS))
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def corpus() -> Path:
    path = corpus_dir()
    if path is None:
        pytest.skip("third-party corpus not present (set FORENSIC_CORPUS)")
    return path


def require_tools(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pytest.skip(f"system tools missing: {', '.join(missing)} (run scripts/setup.sh)")
