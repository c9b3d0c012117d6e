"""The guides are true: every command in them runs, in order, as written."""
from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
import zipfile
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
    assert "VERIFIED" in proc.stdout          # verify-bundle's verdict, on stdout
    log = [json.loads(line) for line in (tmp_path / "case" / "custody.jsonl").read_text().splitlines()]
    actions = {e["action"] for e in log}
    assert {"case.created", "evidence.received", "triage.finished", "custody.transferred",
            "export.created"} <= actions


def test_every_doc_link_resolves():
    for doc in list(DOCS.glob("*.md")) + [DOCS.parent / "README.md"]:
        for target in re.findall(r"\]\(([^)#:]+)\)", doc.read_text(encoding="utf-8")):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


def _forensic(bindir: Path, *args, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(bindir / "forensic"), *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode in (0, 3), (args, proc.stderr[-2000:])
    return proc


def test_prosecutor_guide_standard_tool_steps(tmp_path):
    """The prosecutor guide's steps with standard tools alone work on a real bundle, as written."""
    require_tools("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel", "minisign", "sha256sum")
    bindir = Path(sys.executable).parent
    if not (bindir / "forensic").exists() or not (bindir / "bagit.py").exists():
        pytest.skip("forensic or bagit.py not installed in this environment")
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", TZ="UTC",
               FORENSIC_CASE=str(tmp_path / "case"), FORENSIC_KEY=str(tmp_path / "keys" / "ex.key"))
    run = lambda *a: _forensic(bindir, *a, cwd=tmp_path, env=env)   # noqa: E731
    run("sample-image", "sample", "--seed", "5")
    run("examiner", "keygen", "ex", "--out", "keys")
    run("case", "init", "case", "--case-id", "P-1", "--examiner", "Ex")
    run("evidence", "add", "sample/phone.raw", "--id", "phone")
    run("triage")
    run("export", "--out", "excerpt.zip", "--item", "phone", "--type", "photos")
    run("export", "--out", "full.zip", "--item", "phone", "--type", "photos", "--full-custody")
    guide = (DOCS / "prosecutor-guide.md").read_text(encoding="utf-8")
    snippet = textwrap.dedent(re.search(r"```python\n(.*?)```", guide, re.S).group(1))
    pub = tmp_path / "keys" / "ex.pub"
    for name in ("excerpt.zip", "full.zip"):
        out = tmp_path / name.replace(".zip", "")
        with zipfile.ZipFile(tmp_path / name) as zf:          # "Unzip": a plain bundle
            zf.extractall(out)
        (bag,) = [p for p in out.iterdir() if p.is_dir()]
        sh = lambda *cmd, bag=bag: subprocess.run(list(map(str, cmd)), cwd=bag, env=env,  # noqa: E731
                                                  capture_output=True, text=True, timeout=120)
        for cmd in (["bagit.py", "--validate", "."], ["sha256sum", "-c", "manifest-sha256.txt"],
                    ["sha256sum", "-c", "tagmanifest-sha256.txt"],
                    ["minisign", "-V", "-p", pub, "-m", "tagmanifest-sha256.txt"]):
            res = sh(*cmd)
            assert res.returncode == 0, (name, cmd, res.stdout[-1000:], res.stderr[-1000:])
        cp = json.loads((bag / "data" / "custody" / "checkpoint.json").read_text())
        (bag / "body").write_text(cp["body"], encoding="utf-8")
        (bag / "body.minisig").write_text(cp["signature"], encoding="utf-8")
        assert sh("minisign", "-V", "-p", pub, "-m", "body").returncode == 0
        if name == "excerpt.zip":
            res = sh(sys.executable, "-c", snippet)
            assert res.returncode == 0 and "all entries are in the checkpointed log" in res.stdout, res.stderr
        else:
            res = sh(sys.executable, DOCS / "verify_custody.py", "data/custody", "--pub", pub)
            assert res.returncode == 0, res.stdout + res.stderr
    # and the one-command way, extracting only what verified
    res = run("verify-bundle", "excerpt.zip", "--pubkey", pub, "--extract", "checked")
    assert (tmp_path / "checked").is_dir() and "VERIFIED" in res.stdout
