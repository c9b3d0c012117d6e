"""Conformance with The Sleuth Kit's own tools on third-party images ($FORENSIC_CORPUS/disk-images).

For every image TSK's command-line tools read, ``forensic files`` lists at least every
entry ``fls -r -p`` lists (deleted ones, NTFS streams and orphans included; we may list more,
e.g. HFS+ resource forks), and the SHA-256 of every regular file ``icat`` reads -- deleted
or not -- is equal. A deleted name fls marks ``(realloc)`` is the one exception: icat reads
the file that now owns the metadata; we refuse that content (no hash, a warning).
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
import subprocess
import zipfile

import pytest

from builders import need

pytestmark = pytest.mark.corpus

_FLS = re.compile(r"^(?P<type>[\w-]/[\w-]) (?P<deleted>\* )?(?P<addr>[\d-]+)(?:\(realloc\))?:\t(?P<path>.*)$")


def _images(corpus, tmp_path):
    d = corpus / "disk-images"
    images = [d / "dfvfs" / n for n in ("ímynd.dd", "hfsplus.raw", "iso9660.raw", "ext2.E01", "ext2.vmdk")]
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
            entries.append((m["type"], bool(m["deleted"]), m["addr"], m["path"].removesuffix(" (realloc)"),
                            "(realloc)" in line))
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
        ours_count = Counter(_as_fls(r["path"]) for r in ours)
        missing = Counter(p for *_, p, _ in fls) - ours_count
        assert not missing, f"{image.name}: entries fls -r -p lists and we do not: {sorted(missing)}"
        by_path: dict[str, list] = {}
        for r in ours:
            by_path.setdefault(_as_fls(r["path"]), []).append(r)
        checked = deleted_checked = 0
        for typ, deleted, addr, path, realloc in fls:
            if not typ.endswith("/r") or typ.startswith("d"):
                continue
            expected = _icat(image, addr)
            if expected is None:
                continue
            got = {r["sha256"] for r in by_path[path]}
            if realloc:
                assert expected not in got or any(not r["deleted"] for r in by_path[path]), \
                    f"{image.name}: {path}: another file's content passed off as the deleted one's"
                continue
            assert expected in got, f"{image.name}: {path} ({addr}) sha256 differs from icat"
            checked += 1
            deleted_checked += deleted
        report.append((image.name, len(fls), len(ours), checked, deleted_checked))
    print("\nimage, fls entries, our entries, files checked against icat (of them deleted)")
    for row in report:
        print(*row, sep="\t")
    assert sum(r[3] for r in report) > 20


def test_hfs_resource_fork_is_a_stream_like_istat_shows(forensic, tmp_path, corpus):
    need("istat", "icat")
    image = corpus / "disk-images" / "dfvfs" / "hfsplus.raw"
    if not image.exists():
        pytest.skip("hfsplus.raw not in the corpus")
    addr = next(a for _, _, a, p, _ in _fls(image) if p == "a_directory/a_resourcefork")
    istat = subprocess.run(["istat", str(image), addr], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Type: RSRC \((\d+-\d+)\)\s+Name: RSRC\s+\S+\s+size: (\d+)", istat)
    assert m, istat
    fork = subprocess.run(["icat", str(image), f"{addr}-{m[1]}"], capture_output=True, check=True).stdout
    assert len(fork) == int(m[2]) == 17
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "HFS", "--examiner", "Conformance")
    forensic("evidence", "add", image, "--case", case, "--id", "mac")
    forensic("triage", "mac", "--case", case, expect=None)
    rows = {r["path"]: r for r in forensic("files", "--case", case, "--json").jsonl()}
    data, rsrc = rows["/a_directory/a_resourcefork"], rows["/a_directory/a_resourcefork:rsrc"]
    assert (data["kind"], data["size"]) == ("file", 0)                 # the data fork stays the file
    assert (rsrc["kind"], rsrc["size"], rsrc["sha256"]) == ("stream", 17, hashlib.sha256(fork).hexdigest())
    assert rsrc["recovery"] == "allocated"
