"""Conformance with The Sleuth Kit's own tools on third-party images ($FORENSIC_CORPUS/disk-images).

For every image TSK's command-line tools read, the entries ``forensic files`` reports agree
with ``fls -r -p``, and the SHA-256 of every allocated regular file with ``icat``.
"""
from __future__ import annotations

import hashlib
import re
import subprocess
import zipfile

import pytest

from builders import need

pytestmark = pytest.mark.corpus

_FLS = re.compile(r"^(?P<type>[\w-]/[\w-]) (?P<deleted>\* )?(?P<addr>[\d-]+)(?:\(realloc\))?:\t(?P<path>.*)$")


def _images(corpus, tmp_path):
    d = corpus / "disk-images"
    images = [d / "dfvfs" / n for n in ("ímynd.dd", "hfsplus.raw", "iso9660.raw", "ext2.E01")]
    images += sorted((d / "sleuthkit_test_data" / "fuzzing").glob("*"))
    nps = d / "sleuthkit_test_data" / "nps-2009-hfsjtest1" / "image.gen1.zip"
    if nps.exists():
        with zipfile.ZipFile(nps) as zf:
            zf.extract("image.gen1.dmg", tmp_path)
        images.append(tmp_path / "image.gen1.dmg")
    return [p for p in images if p.exists()]


def _fls(image):
    out = subprocess.run(["fls", "-r", "-p", str(image)], capture_output=True, check=True).stdout
    entries = []
    for line in out.decode("utf-8", "backslashreplace").splitlines():
        m = _FLS.match(line)
        if m:
            entries.append((m["type"], bool(m["deleted"]), m["addr"], m["path"].removesuffix(" (realloc)")))
    return entries


def _as_fls(path: str) -> str:
    """fls prints control characters in names as '^'; we keep them as \\xNN escapes."""
    return re.sub(r"\\x(?:[01][0-9a-f]|7f)", "^", path.lstrip("/"))


def _icat(image, addr):
    proc = subprocess.run(["icat", str(image), addr], capture_output=True)
    return hashlib.sha256(proc.stdout).hexdigest() if proc.returncode == 0 else None


def test_files_agree_with_fls_and_icat(forensic, tmp_path, corpus):
    need("fls", "icat")
    images = _images(corpus, tmp_path)
    if not images:
        pytest.skip("no disk images in the corpus")
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "CONF", "--examiner", "Conformance")
    report = []
    for n, image in enumerate(images):
        item = f"img{n}"
        forensic("evidence", "add", image, "--case", case, "--id", item)
        forensic("triage", item, "--case", case, expect=None)
        ours = forensic("files", "--case", case, "--item", item, "--json").jsonl()
        fls = _fls(image)
        our_paths = sorted(_as_fls(r["path"]) for r in ours)
        fls_paths = sorted(p for _, _, _, p in fls)
        assert our_paths == fls_paths, f"{image.name}: entries differ from fls -r -p"
        by_path: dict[str, list] = {}
        for r in ours:
            by_path.setdefault(_as_fls(r["path"]), []).append(r)
        checked = 0
        for typ, deleted, addr, path in fls:
            if typ != "r/r" or deleted:
                continue
            expected = _icat(image, addr)
            if expected is None:
                continue
            got = {r["sha256"] for r in by_path[path] if not r["deleted"]}
            assert expected in got, f"{image.name}: {path} sha256 differs from icat"
            checked += 1
        report.append((image.name, len(fls), checked))
    print("\nimage, fls entries, files hashed and checked against icat")
    for row in report:
        print(*row, sep="\t")
    assert sum(c for _, _, c in report) > 20
