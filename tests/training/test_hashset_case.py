"""Hash sets in the sample (issue 20): a harmless generated picture standing in for a known-bad
one, stored twice on the phone (``Download/ad_0417.jpg`` and a renamed copy
``DCIM/.thumbs/0417.dat``), and two stock wallpapers; beside the evidence the sets that list
them, ``hashsets/sample-vics.json`` (VICS 2.0, MD5/SHA-1 only, category 2) and
``hashsets/sample-rds.db`` (an NSRL RDS v3-layout SQLite). ``training check`` grades
``known_bad_file`` and ``known_good_count`` from the hash set checks the case recorded (by the
set's source SHA-256) and the files they matched."""
from __future__ import annotations

import hashlib
import json
import sqlite3
import zipfile

import pytest

from conftest import require_tools
from forensic.training.answer_key import KNOWN_BAD_FEEDBACK, KNOWN_GOOD_FEEDBACK
from forensic.training.build import (EXTRACTION_DEVICE_PREFIX, EXTRACTION_PREFIX, KNOWN_BAD_COPY, KNOWN_BAD_FILE,
                                     KNOWN_GOOD_FILES, RDS_FILE, VICS_FILE, layout)

TOOLS = ("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")
SEED = 23
KINDS = ("known_bad_file", "known_good_count")


def _cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


def _vics_media(data: bytes) -> list[dict]:
    return json.loads(data)["value"][0]["Media"]


def test_the_layout_puts_the_picture_twice_and_the_sets_list_only_generated_files():
    lay = layout(SEED)
    by_rel = {f.rel: f for f in lay.phone}
    picture = by_rel[KNOWN_BAD_FILE].data
    assert by_rel[KNOWN_BAD_COPY].data == picture and picture.startswith(b"\xff\xd8")   # the same JPEG, renamed
    assert [f.rel for f in lay.known_bad] == [KNOWN_BAD_FILE, KNOWN_BAD_COPY]
    assert [f.rel for f in lay.known_good] == list(KNOWN_GOOD_FILES)
    media = _vics_media(lay.hashsets[VICS_FILE])
    assert all(set(m) & {"SHA256", "sha256"} == set() for m in media)        # MD5/SHA-1 only, as VICS often is
    assert [m["Category"] for m in media] == [2, 2]
    assert media[0]["MD5"] == hashlib.md5(picture).hexdigest().upper()          # noqa: S324 - the set's own digest
    assert media[0]["SHA1"] == hashlib.sha1(picture).hexdigest().upper()        # noqa: S324
    phone_md5 = {hashlib.md5(f.data).hexdigest().upper() for f in lay.phone}    # noqa: S324
    assert media[1]["MD5"] not in phone_md5                                     # a record the phone does not hold
    other = layout(SEED + 1)
    assert other.hashsets[VICS_FILE] != lay.hashsets[VICS_FILE]                 # another seed, other digests


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sample (seed 23) with its phone and extraction in four cases: the sets imported before
    triage; none imported, triaged with MD5 and SHA-1 too (``bare``) or with SHA-256 only
    (``late``), both checked after in a test; the VICS imported as ``alert``."""
    require_tools(*TOOLS)
    root = tmp_path_factory.mktemp("hashsets")
    sample = root / "sample"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORENSIC_HASHSETS", str(root / "empty-library"))
        assert _cli("sample-image", sample, "--seed", SEED, "--quiet") == 0
        cases = {}
        for name in ("imported", "bare", "late", "alert"):
            case = root / name
            cases[name] = case
            assert _cli("case", "init", case, "--case-id", name, "--examiner", "T", "--quiet") == 0
            for src in ("phone.raw", "extraction.zip"):
                assert _cli("evidence", "add", sample / src, "--case", case, "--quiet") == 0
        mp.setenv("FORENSIC_HASHSETS", str(root / "library"))
        assert _cli("hashset", "import", sample / RDS_FILE, "--name", "sample-rds", "--kind", "known-good",
                    "--quiet") == 0
        assert _cli("hashset", "import", sample / VICS_FILE, "--name", "sample-vics", "--kind", "known-bad",
                    "--quiet") == 0
        assert _cli("triage", "--case", cases["imported"], "--quiet") in (0, 3)
        mp.setenv("FORENSIC_HASHSETS", str(root / "empty-library"))
        assert _cli("triage", "--case", cases["bare"], "--hash", "md5,sha1,sha256", "--quiet") in (0, 3)
        assert _cli("triage", "--case", cases["late"], "--quiet") in (0, 3)
        mp.setenv("FORENSIC_HASHSETS", str(root / "alert-library"))
        assert _cli("hashset", "import", sample / VICS_FILE, "--name", "lab-alerts", "--kind", "alert",
                    "--quiet") == 0
        assert _cli("triage", "--case", cases["alert"], "--quiet") in (0, 3)
        yield {"root": root, "sample": sample, **cases}


def _key(sample) -> dict:
    return json.loads((sample / "answer-key.json").read_text(encoding="utf-8"))


def _report(forensic, built, case: str) -> dict:
    return forensic("training", "check", built["sample"] / "answer-key.json", "--case", built[case], "--json",
                    expect=None).json()


def _ours(report: dict, status: str) -> dict:
    return {f["id"]: f for f in report[status] if f["kind"] in KINDS}


def test_the_sample_ships_the_sets_and_the_key_names_them(built):
    sample, key = built["sample"], _key(built["sample"])
    vics, rds = sample / VICS_FILE, sample / RDS_FILE
    assert key["hashsets"]["known-bad"]["sha256"] == hashlib.sha256(vics.read_bytes()).hexdigest()
    assert key["hashsets"]["known-good"]["sha256"] == hashlib.sha256(rds.read_bytes()).hexdigest()
    db = sqlite3.connect(f"{rds.as_uri()}?mode=ro&immutable=1", uri=True)
    assert {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} >= {
        "FILE", "PKG", "OS", "MFG", "VERSION"}
    stored = {r[0] for r in db.execute("SELECT sha256 FROM FILE")}
    db.close()
    lay = layout(SEED)
    assert {f.sha256.upper() for f in lay.known_good} <= stored and len(stored) == len(lay.known_good) + 4
    with zipfile.ZipFile(sample / "extraction.zip") as z:                 # the extraction copies them all
        names = set(z.namelist())
    assert {EXTRACTION_PREFIX + r for r in (KNOWN_BAD_FILE, KNOWN_BAD_COPY, *KNOWN_GOOD_FILES)} <= names
    facts = [f for f in key["facts"] if f["kind"] in KINDS]
    assert sorted((f["kind"], f["item"]) for f in facts) == sorted(
        (k, i) for k in KINDS for i in ("phone", "extraction"))
    bad = next(f for f in facts if f["kind"] == "known_bad_file" and f["item"] == "extraction")
    assert bad["expected"] | {} == {
        "path": EXTRACTION_DEVICE_PREFIX + KNOWN_BAD_FILE, "sha256": lay.known_bad[0].sha256,
        "hashset_kind": "known-bad", "category": "2", "copies": [EXTRACTION_DEVICE_PREFIX + KNOWN_BAD_COPY],
        "hashset_file": VICS_FILE, "hashset_sha256": key["hashsets"]["known-bad"]["sha256"]}
    good = next(f for f in facts if f["kind"] == "known_good_count" and f["item"] == "phone")
    assert good["expected"]["count"] == 2 and good["expected"]["paths"] == ["/" + r for r in KNOWN_GOOD_FILES]
    assert "ad_0417.jpg and its renamed copy are in the known-bad set (category 2)" in bad["feedback"]
    md = (sample / "answer-key.md").read_text(encoding="utf-8")
    assert "## Hash sets" in md and f"`{VICS_FILE}`" in md and KNOWN_BAD_COPY in md


def test_sets_imported_before_triage_find_both_facts(forensic, built):
    report = _report(forensic, built, "imported")
    assert _ours(report, "missed") == {} and _ours(report, "wrong") == {}
    assert not [f for f in report["skipped"] if f["kind"] in KINDS]        # checked, and found
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORENSIC_HASHSETS", str(built["root"] / "library"))
        rows = forensic("files", "--case", built["imported"], "--known-bad", "--json").jsonl()
        good = forensic("files", "--case", built["imported"], "--json").jsonl()
    assert sorted(r["path"] for r in rows) == sorted(
        [p + r for p in ("/", EXTRACTION_DEVICE_PREFIX) for r in (KNOWN_BAD_FILE, KNOWN_BAD_COPY)])
    assert all(r["known_bad"] and r["known_bad_category"] == "2" and r["hashsets"] == ["sample-vics"] for r in rows)
    assert sorted(r["path"] for r in good if r["known_good"]) == sorted(
        [p + r for p in ("/", EXTRACTION_DEVICE_PREFIX) for r in KNOWN_GOOD_FILES])


def test_no_set_imported_is_missed_with_the_feedback_and_a_later_check_finds_them(forensic, built):
    report = _report(forensic, built, "bare")
    missed = _ours(report, "missed")
    assert len(missed) == 4 and _ours(report, "wrong") == {}
    bad = next(f for f in missed.values() if f["kind"] == "known_bad_file" and f["item"] == "phone")
    assert bad["detail"].startswith(f"/{KNOWN_BAD_FILE} listed, not matched: no hash set check recorded")
    assert bad["detail"].endswith(" — " + KNOWN_BAD_FEEDBACK.format(name="ad_0417.jpg", category=2,
                                                                     vics=f"sample/{VICS_FILE}"))
    good = next(f for f in missed.values() if f["kind"] == "known_good_count" and f["item"] == "extraction")
    assert good["detail"].endswith(" — " + KNOWN_GOOD_FEEDBACK.format(count=2, rds=f"sample/{RDS_FILE}"))
    # the feedback's other way: import the sets now and run 'hashset check' on the triaged case
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORENSIC_HASHSETS", str(built["root"] / "library"))
        forensic("hashset", "check", "--case", built["bare"], "--json")
    report = _report(forensic, built, "bare")
    assert _ours(report, "missed") == {} and _ours(report, "wrong") == {}


def test_a_later_check_of_a_case_hashed_sha256_only_cannot_match_the_vics_set(forensic, built):
    """The VICS set lists MD5/SHA-1 only: checked after a triage that computed SHA-256 alone, it
    matches nothing (hashset check says so, exit 3), and the check tells the trainee why."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORENSIC_HASHSETS", str(built["root"] / "library"))
        r = forensic("hashset", "check", "--case", built["late"], expect=3)
    assert "--hash md5,sha1,sha256" in r.err
    report = _report(forensic, built, "late")
    missed = _ours(report, "missed")
    assert sorted((f["kind"], f["item"]) for f in missed.values()) == [("known_bad_file", "extraction"),
                                                                       ("known_bad_file", "phone")]
    detail = next(f["detail"] for f in missed.values() if f["item"] == "phone")
    assert detail.startswith(f"/{KNOWN_BAD_FILE} listed and checked against sample-vics.json, but not matched; "
                             "the case holds no MD5 or SHA-1 of it")
    assert _ours(report, "wrong") == {}                      # the known-good set (SHA-256) matched: both found


def test_the_known_bad_set_imported_as_alert_is_wrong(forensic, built):
    report = _report(forensic, built, "alert")
    wrong = _ours(report, "wrong")
    assert sorted((f["kind"], f["item"]) for f in wrong.values()) == [("known_bad_file", "extraction"),
                                                                      ("known_bad_file", "phone")]
    assert all(f["detail"].startswith("the set was imported as alert, not known-bad") for f in wrong.values())
    missed = _ours(report, "missed")           # checked against the VICS only: the RDS never
    assert sorted(f["kind"] for f in missed.values()) == ["known_good_count", "known_good_count"]
    assert all(f"never against {RDS_FILE.rsplit('/', 1)[-1]}" in f["detail"] for f in missed.values())


def test_a_tampered_key_is_caught(forensic, built, tmp_path):
    """The check can fail: a wrong category, a copy the case does not hold, a count one too high."""
    key = _key(built["sample"])
    for f in key["facts"]:
        if f["kind"] == "known_bad_file" and f["item"] == "phone":
            f["expected"]["category"] = "1"
        elif f["kind"] == "known_bad_file":
            f["expected"]["copies"].append(EXTRACTION_DEVICE_PREFIX + "media/0/DCIM/.thumbs/0418.dat")
        elif f["kind"] == "known_good_count" and f["item"] == "phone":
            f["expected"]["count"] += 1
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(key), encoding="utf-8")
    report = forensic("training", "check", tampered, "--case", built["imported"], "--json", expect=None).json()
    wrong = {(f["kind"], f["item"]): f["detail"] for f in _ours(report, "wrong").values()}
    assert set(wrong) == {("known_bad_file", "phone"), ("known_bad_file", "extraction"),
                          ("known_good_count", "phone")}
    assert "matched with category 2, expected 1" in wrong["known_bad_file", "phone"]
    assert "no file /data/media/0/DCIM/.thumbs/0418.dat" in wrong["known_bad_file", "extraction"]
    assert wrong["known_good_count", "phone"].startswith("2 files matched sample-rds, expected 3")


def test_the_same_seed_writes_the_same_sets(tmp_path):
    """Byte-identical for a seed, like the images: the sets are made from the seed alone."""
    require_tools(*TOOLS)
    for name in ("a", "b"):
        assert _cli("sample-image", tmp_path / name, "--seed", SEED, "--quiet") == 0
    for rel in (RDS_FILE, VICS_FILE):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes() == layout(SEED).hashsets[rel]
    assert _cli("sample-image", tmp_path / "a", "--seed", SEED + 1, "--force", "--quiet") == 0   # replaced
    assert (tmp_path / "a" / VICS_FILE).read_bytes() != (tmp_path / "b" / VICS_FILE).read_bytes()
