"""File names that break line-based readers: an honest bundle of files whose names hold
U+0085, U+2028, U+2029 or a carriage return still verifies (the bag's manifests are split
at LF only, and such characters never reach a bag path)."""
from __future__ import annotations

import zipfile

from forensic.chain_of_custody.signing import Signer, write_keypair
from forensic.exporters import bagit

from builders import ext4_image

NAMES = ["next\u0085line.txt", "line\u2028sep.txt", "para\u2029sep.txt", "cr\rname.txt"]


def test_names_with_line_separators_export_and_verify(forensic, tmp_path, monkeypatch):
    img = ext4_image(tmp_path, {f"/docs/{n}": n.encode() for n in NAMES}, size_mib=4)
    key, pub = write_keypair(Signer.generate("ann"), tmp_path / "keys")
    monkeypatch.setenv("FORENSIC_KEY", str(key))
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "N-1", "--examiner", "ann")
    forensic("evidence", "add", img, "--case", case, "--id", "disk")
    forensic("triage", "--case", case, expect=None)
    forensic("export", "--case", case, "--item", "disk", "--out", tmp_path / "b.zip")
    res = forensic("verify-bundle", tmp_path / "b.zip", "--pubkey", pub)
    assert res.out.startswith("VERIFIED"), res.out
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        names = zf.namelist()
        manifest = zf.read(next(n for n in names if n.endswith("/manifest-sha256.txt")))
    for bad in ("\u0085", "\u2028", "\u2029", "\r"):
        assert not any(bad in n for n in names)
    assert len(bagit.parse_manifest(manifest)) >= len(NAMES)


def test_a_manifest_is_split_at_line_feeds_only():
    digest = "0" * 64
    text = f"{digest}  data/a\u0085b.txt\r\n{digest}  data/c\u2028d.txt\n".encode()
    assert set(bagit.parse_manifest(text)) == {"data/a\u0085b.txt", "data/c\u2028d.txt"}
