"""The sample's damaged acquisition: ``card-copy.E01`` (built with ``--e01``) is the camera
card acquired again with ewfacquire, one chunk of it damaged afterwards. The reference tool,
ewfverify, must name the failing sectors; the answer key must say what ``evidence add``
reports; ``training check`` must grade a case that added it, and say why to one that did
not (or that added a re-acquired good copy instead)."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import require_tools

TOOLS = ("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel", "ewfacquire", "ewfverify")


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    require_tools(*TOOLS)
    from forensic.training.build import build_sample
    out = tmp_path_factory.mktemp("damaged") / "s"
    build_sample(out, seed=5, e01=True)
    return out


def _key(sample: Path) -> dict:
    return json.loads((sample / "answer-key.json").read_text(encoding="utf-8"))


def _ewfverify(e01: Path) -> tuple[bool, list[tuple[int, int]]]:
    res = subprocess.run(["ewfverify", "-q", str(e01)], capture_output=True, text=True)
    return "ewfverify: SUCCESS" in res.stdout, \
        [(int(a), int(b)) for a, b in re.findall(r"at sector\(s\): (\d+) - (\d+)", res.stdout)]


def _case(forensic, tmp_path: Path, sample: Path, *names: str, extra: list[Path] = ()) -> Path:
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "T-DMG", "--examiner", "Trainee")
    for name in names:
        forensic("evidence", "add", sample / name, "--case", case, "--json", expect=None)
    for path in extra:
        forensic("evidence", "add", path, "--case", case, "--json", expect=None)
    assert forensic("triage", "--case", case, "--json", expect=None).code in (0, 3)
    return case


def _check(forensic, sample: Path, case: Path) -> dict:
    return forensic("training", "check", sample / "answer-key.json", "--case", case, "--json", expect=None).json()


def test_the_sample_builds_a_copy_with_the_planned_chunk_damaged(sample):
    key = _key(sample)
    fact = next(f for f in key["facts"] if f["kind"] == "acquisition_damaged")
    [span] = fact["expected"]["checksum_errors"]
    ok, ranges = _ewfverify(sample / "card-copy.E01")
    assert not ok and ranges == [(span["first_sector"], span["last_sector"])]
    assert span["end"] - span["start"] == 64 * 512
    # the copy's media are card.raw with the damaged chunk read as zeros (libewf's reading)
    raw = bytearray((sample / "card.raw").read_bytes())
    raw[span["start"]:span["end"]] = bytes(span["end"] - span["start"])
    assert key["items"]["card-copy"]["sha256"] == hashlib.sha256(raw).hexdigest()
    assert key["items"]["card-copy"]["file"] == "card-copy.E01"
    assert fact["expected"]["holds"] and all(h["path"].startswith("/DCIM/") for h in fact["expected"]["holds"])
    assert "damaged acquisition" in fact["feedback"]
    md = (sample / "answer-key.md").read_text(encoding="utf-8")
    assert "## A damaged acquisition (E01 chunk checksum)" in md
    assert f"sectors {span['first_sector']}-{span['last_sector']}" in md


def test_same_seed_same_damage_and_same_media(tmp_path, sample):
    """The E01's bytes differ per run (ewfacquire records when it ran); the chunk damaged, the
    damage, and so the media the copy gives and the key, do not."""
    from forensic.training.build import build_sample
    again = tmp_path / "again"
    build_sample(again, seed=5, e01=True)
    assert _ewfverify(again / "card-copy.E01") == _ewfverify(sample / "card-copy.E01")
    assert _key(again)["items"]["card-copy"] == _key(sample)["items"]["card-copy"]
    assert (again / "answer-key.json").read_bytes() != b"" and \
        [f for f in _key(again)["facts"] if f["item"] == "card-copy"] == \
        [f for f in _key(sample)["facts"] if f["item"] == "card-copy"]


def test_a_case_with_the_damaged_copy_scores_its_facts(forensic, tmp_path, sample):
    case = _case(forensic, tmp_path, sample, "card-copy.E01")
    report = _check(forensic, sample, case)
    assert report["items"]["card-copy"] == ["card-copy.E01"]
    bad = [f for f in report["missed"] + report["wrong"] if f["item"] == "card-copy"]
    assert bad == []
    added = forensic("evidence", "verify", "card-copy.E01", "--case", case, "--json", expect=4).json()
    span = next(f for f in _key(sample)["facts"] if f["kind"] == "acquisition_damaged")["expected"]["checksum_errors"]
    assert added["checksum_errors"] == span and added["acquisition_hash_verified"] is False


def test_a_case_without_it_misses_the_facts_and_is_told_why(forensic, tmp_path, sample):
    case = _case(forensic, tmp_path, sample, "card.raw")
    report = _check(forensic, sample, case)
    assert report["items"]["card-copy"] == []
    missed = {f["kind"]: f["detail"] for f in report["missed"] if f["item"] == "card-copy"}
    assert set(missed) == {"evidence_item", "acquisition_damaged"}
    for detail in missed.values():
        assert "card-copy.E01" in detail and "is not in the case" in detail
        assert "damaged acquisition" in detail and "not what was acquired" in detail
        assert "do not trust" in detail


def test_a_re_acquired_good_copy_is_not_the_damaged_one(forensic, tmp_path, sample):
    from forensic.training import tools
    (tmp_path / "good").mkdir()
    good = tools.e01_image(sample / "card.raw", tmp_path / "good" / "card-copy", case="C", evidence="E",
                           examiner="T", description="re-acquired", notes="good")
    case = _case(forensic, tmp_path, sample, extra=[good])
    report = _check(forensic, sample, case)
    assert report["items"]["card"] == ["card-copy.E01"]          # the good copy is the card
    assert report["items"]["card-copy"] == []
    missed = [f for f in report["missed"] if f["item"] == "card-copy"]
    assert {f["kind"] for f in missed} == {"evidence_item", "acquisition_damaged"}
    assert all("a re-acquired good copy is another item" in f["detail"] for f in missed)


def test_without_e01_the_key_has_no_damaged_copy(tmp_path):
    require_tools(*TOOLS[:7])
    from forensic.training.build import build_sample
    build_sample(tmp_path / "s", seed=5)
    key = _key(tmp_path / "s")
    assert "card-copy" not in key["items"]
    assert not [f for f in key["facts"] if f["item"] == "card-copy" or f["kind"] == "acquisition_damaged"]
    assert not (tmp_path / "s" / "card-copy.E01").exists()
