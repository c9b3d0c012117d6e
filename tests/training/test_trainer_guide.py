"""Every command in docs/trainer-guide.md works, run as written, in order."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_tools

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "trainer-guide.md"


def test_trainer_guide_commands_run(tmp_path):
    require_tools("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel", "ewfacquire")
    bindir = Path(sys.executable).parent
    if not (bindir / "forensic").exists():
        pytest.skip("the forensic command is not installed in this environment")
    blocks = re.findall(r"```bash\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 4
    script = "set -euo pipefail\n" + "\n".join(blocks)
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", TZ="UTC")
    env.pop("FORENSIC_CASE", None)
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "score: " in proc.stdout
    for name in ("phone.raw", "card.raw", "extraction.zip", "answer-key.json", "answer-key.md"):
        assert (tmp_path / "sample" / name).is_file()
    assert (tmp_path / "sample-e01" / "phone.E01").is_file()
    assert (tmp_path / "sample-atlantic" / "answer-key.md").read_text().count("Caracas") >= 1
