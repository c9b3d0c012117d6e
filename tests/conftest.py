"""Shared fixtures. Third-party samples come from $FORENSIC_CORPUS (skipped when absent)."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TZ", "UTC")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/builders.py

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


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self):
        import json
        return json.loads(self.out)

    def jsonl(self) -> list:
        import json
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


@pytest.fixture
def forensic(capsys):
    """Run the forensic CLI in-process through its error boundary: forensic('files', '--json')."""
    def run(*args, expect: int | None = 0) -> CliResult:
        from forensic.cli.main import main
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        result = CliResult(code, out, err)
        if expect is not None:
            assert code == expect, f"exit {code} (expected {expect})\nstdout:\n{out}\nstderr:\n{err}"
        return result
    return run
