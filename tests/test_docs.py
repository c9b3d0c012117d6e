"""The guides are true: every command in them runs, in order, as written."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_tools

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _script(guide: Path) -> str:
    blocks = re.findall(r"```bash\n(.*?)```", guide.read_text(encoding="utf-8"), re.S)
    assert blocks, f"{guide.name} has no runnable blocks"
    return "set -euo pipefail\n" + "\n".join(blocks)


def test_examiner_guide_runs_end_to_end(tmp_path):
    require_tools("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")
    bindir = Path(sys.executable).parent
    if not (bindir / "forensic").exists():
        pytest.skip("the forensic command is not installed in this environment")
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", TZ="UTC")
    for var in ("FORENSIC_CASE", "FORENSIC_KEY", "FORENSIC_KEY_PASSPHRASE"):
        env.pop(var, None)
    proc = subprocess.run(["bash", "-c", _script(DOCS / "examiner-guide.md")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    # what the guide promises actually happened
    assert (tmp_path / "photos.kml").stat().st_size > 0
    events = [json.loads(line) for line in (tmp_path / "january.jsonl").read_text().splitlines()]
    assert events and all("timestamp_desc" in e for e in events)
    assert "VERIFIED" in proc.stderr
    log = [json.loads(line) for line in (tmp_path / "case" / "custody.jsonl").read_text().splitlines()]
    actions = {e["action"] for e in log}
    assert {"case.created", "evidence.received", "triage.finished", "custody.transferred",
            "export.created"} <= actions


def test_every_doc_link_resolves():
    for doc in list(DOCS.glob("*.md")) + [DOCS.parent / "README.md"]:
        for target in re.findall(r"\]\(([^)#:]+)\)", doc.read_text(encoding="utf-8")):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
