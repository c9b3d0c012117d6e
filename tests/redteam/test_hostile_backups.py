"""Red team: encrypted phone backups and where their plaintext goes; see docs/threat-model.md."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from forensic.errors import ForensicError
from forensic.locator import Locator
from forensic.sources.itunes import ItunesBackupSource
from tests.forensic.test_itunes_backup import build_backup


def _left(tmp: Path) -> list[str]:
    return sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*"))


def test_no_decrypted_plaintext_is_left_behind_on_any_path(tmp_path, monkeypatch):
    """An encrypted iTunes backup opened with a wrong password, with the right one and a
    Manifest.db damaged after its first blocks, and with the right one and a failure in the
    middle of the walk (a crash mid-triage): nothing decrypted stays in the temporary folder
    (ours or iphone-backup-decrypt's), and nothing is ever written beside the evidence."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    files = [("HomeDomain", "Library/SMS/notes.txt", b"meet at 9\n"), ("HomeDomain", "Library/x.bin", b"x" * 40)]
    backup = build_backup(tmp_path / "enc", files, password=b"pw")
    before = _left(backup)
    with pytest.raises(ForensicError, match="wrong password"):
        ItunesBackupSource(backup, Locator.root("enc"), password=b"nope")
    assert _left(tmp) == []
    with pytest.raises(RuntimeError, match="crash"):
        with ItunesBackupSource(backup, Locator.root("enc"), password=b"pw") as src:
            for entry in src.entries():
                if entry.name == "notes.txt":
                    with entry.open() as fh:
                        assert fh.read() == b"meet at 9\n"
                        raise RuntimeError("crash mid-triage")
    assert _left(tmp) == []
    manifest = backup / "Manifest.db"
    good = manifest.read_bytes()
    manifest.write_bytes(good[:4096] + bytes(len(good) - 4096))          # damaged after its first blocks
    try:
        ItunesBackupSource(backup, Locator.root("enc"), password=b"pw").close()
    except ForensicError:
        pass
    assert _left(tmp) == []
    manifest.write_bytes(good)
    assert _left(backup) == before


def test_one_stored_file_named_by_many_manifest_rows_is_read_once(tmp_path):
    """A forged Manifest.db (its Files table recreated without the primary key) naming one
    stored 1 MB file in 2,000 rows, each at another path: every row was listed with the same
    content, so triage read and hashed it 2,000 times (an N-fold amplification a forger picks),
    and one picture appeared at 2,000 places. The first row keeps the content; the others are
    listed with a warning and no content."""
    import hashlib
    import sqlite3
    photo = ("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.JPG", b"\xff" * (1 << 20))
    backup = build_backup(tmp_path / "b", [photo])
    con = sqlite3.connect(backup / "Manifest.db")
    con.executescript("ALTER TABLE Files RENAME TO old; CREATE TABLE Files (fileID TEXT, domain TEXT, "
                      "relativePath TEXT, flags INTEGER, file BLOB); INSERT INTO Files SELECT * FROM old; "
                      "DROP TABLE old;")
    fid, blob = con.execute("SELECT fileID, file FROM Files").fetchone()
    con.executemany("INSERT INTO Files VALUES (?, 'HomeDomain', ?, 1, ?)",
                    [(fid, f"Library/copy{n}.jpg", blob) for n in range(2000)])
    con.commit()
    con.close()
    with ItunesBackupSource(backup, Locator.root("b")) as src:
        named = [e for e in src.entries() if e.locator.layers[-1].label.endswith(f"({fid[:2]}/{fid})")]
    assert len(named) == 2001
    readable = [e for e in named if e.opener is not None]
    assert len(readable) == 1 and readable[0].open().read() == b"\xff" * (1 << 20)
    assert all(any("already listed under another path" in w for w in e.warnings) for e in named if e.opener is None)
    assert hashlib.sha1(b"CameraRollDomain-Media/DCIM/100APPLE/IMG_0001.JPG").hexdigest() == fid
