"""The handler's iPhone as an iTunes/Finder backup folder (``sample-image --e01`` writes
``iphone-backup/``): added as its own item, ``evidence list`` shows the phone it came from and
its ``sms.db`` is read under its device path; ``training check`` grades both, and a case that
took the hashed sms.db out of the backup instead gets the feedback. The folder is written
here from the generator's own plan (no disk image: fast)."""
from __future__ import annotations

import hashlib
import plistlib
import sqlite3

import pytest

from forensic.training.answer_key import ITUNES_FEEDBACK
from forensic.training.build import IOS_SMS, IPHONE_BACKUP, _write_backup, layout
from training_case import item_key, triaged_case

SEED = 23


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The backup folder as the generator writes it, and a key asking for its facts only."""
    out = tmp_path_factory.mktemp("iphone-backup")
    lay = layout(SEED)
    lay.extra_items.append(IPHONE_BACKUP)
    _write_backup(out / IPHONE_BACKUP, lay.iphone_backup, 1700000000)
    key = item_key(lay, out, IPHONE_BACKUP)
    return out, lay, key


def test_the_folder_is_laid_out_as_itunes_lays_it(sample):
    out, lay, key = sample
    folder = out / IPHONE_BACKUP
    fid = hashlib.sha1("-".join(IOS_SMS).encode()).hexdigest()
    con = sqlite3.connect(f"file:{folder / 'Manifest.db'}?mode=ro", uri=True)
    rows = con.execute("SELECT domain, relativePath, flags FROM Files WHERE fileID = ?", (fid,)).fetchall()
    con.close()
    assert rows == [(*IOS_SMS, 1)] and (folder / fid[:2] / fid).read_bytes()[:16] == b"SQLite format 3\x00"
    info = plistlib.loads((folder / "Info.plist").read_bytes())
    ip = lay.story.iphone
    assert (info["IMEI"], info["Serial Number"], info["Product Version"]) == (ip.imei, ip.serial, ip.ios_version)
    assert sorted(f["kind"] for f in key["facts"]) == ["backup_device", "backup_message", "evidence_item"]
    assert layout(SEED).iphone_backup == lay.iphone_backup                 # same seed, same bytes


def test_added_as_an_item_it_is_graded(forensic, sample, tmp_path, capsys):
    out, lay, key = sample
    case = tmp_path / "case"
    triaged_case(case, "IB-23", out / IPHONE_BACKUP)
    capsys.readouterr()
    item = forensic("evidence", "list", "--case", case, "--json").jsonl()[0]
    assert item["format"] == "itunes" and item["sha256"] == key["items"][IPHONE_BACKUP]["sha256"]
    ip = lay.story.iphone
    assert item["device"]["imei"] == ip.imei and item["device"]["last_backup"] == ip.last_backup.strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    report = forensic("training", "check", out / "answer-key.json", "--case", case, "--json", expect=None).json()
    assert report["score"] == 100 and report["checked"] == 3, report


def test_the_sms_db_taken_out_alone_gets_the_feedback(forensic, sample, tmp_path, capsys):
    out, _, _ = sample
    fid = hashlib.sha1("-".join(IOS_SMS).encode()).hexdigest()
    case = tmp_path / "case"
    triaged_case(case, "IB-23b", out / IPHONE_BACKUP / fid[:2])
    capsys.readouterr()
    report = forensic("training", "check", out / "answer-key.json", "--case", case, "--json", expect=None).json()
    assert len(report["missed"]) == 3 and report["score"] == 0
    assert all(f["detail"].endswith("is not in the case — " + ITUNES_FEEDBACK) for f in report["missed"])
