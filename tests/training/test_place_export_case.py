"""Places on the map (the review map's box in ``forensic serve``; ``forensic geo`` on the command
line): every photo taken in the route's first city tagged with its name and exported with that
tag. ``training check`` grades ``place_export`` from the bundle the custody log records: its
``data/evidence/`` holds exactly those photos (by SHA-256), none taken elsewhere."""
from __future__ import annotations

import json

import pytest

from conftest import require_tools
from forensic.training.answer_key import PLACE_FEEDBACK
from training_case import place_steps

TOOLS = ("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")
SEED = 43


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample (seed 43), built once in its own folder."""
    require_tools(*TOOLS)
    from forensic.cli.main import main
    out = tmp_path_factory.mktemp("place") / "sample"
    assert main(["sample-image", str(out), "--seed", str(SEED), "--quiet"]) == 0
    return out


def _key(sample) -> dict:
    return json.loads((sample / "answer-key.json").read_text(encoding="utf-8"))


def _fact(key: dict) -> dict:
    (f,) = [f for f in key["facts"] if f["kind"] == "place_export"]
    return f


def _case(forensic, sample, tmp_path):
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "P", "--examiner", "T", "--quiet")
    forensic("evidence", "add", sample / "phone.raw", "--case", case, "--quiet")
    assert forensic("triage", "--case", case, "--quiet", expect=None).code in (0, 3)
    return case


def _graded(forensic, key: dict, case, tmp_path, tag: str | None = None) -> dict:
    """place_export's result, the key's tag replaced by ``tag`` (to grade another export)."""
    if tag is not None:
        _fact(key)["expected"]["tag"] = tag
    path = tmp_path / f"key-{tag}.json"
    path.write_text(json.dumps(key), encoding="utf-8")
    report = forensic("training", "check", path, "--case", case, "--json", expect=None).json()
    for status in ("missed", "wrong"):
        for f in report[status]:
            if f["kind"] == "place_export":
                return {"status": status, "detail": f["detail"]}
    return {"status": "found", "detail": ""}


def test_the_key_names_the_first_citys_photos_and_only_they_lie_in_its_box(sample):
    """From the builder: the city's photos are the photo_geotag facts placed there; the box around
    them holds no photo of another place (so dragging it on the map picks exactly them)."""
    key = _key(sample)
    f = _fact(key)
    e = f["expected"]
    assert f["item"] == "phone" and e["city"] == "Tbilisi" and e["tag"] == "tbilisi"
    geotags = [g["expected"] for g in key["facts"] if g["kind"] == "photo_geotag"]
    here = {g["sha256"] for g in geotags if g["place"] == "Tbilisi, Georgia"}
    assert set(e["sha256"]) == here and len(here) == 3 == len(e["photos"])
    box = e["box"]
    inside = {g["sha256"] for g in geotags
              if box["south"] <= g["lat"] <= box["north"] and box["west"] <= g["lon"] <= box["east"]}
    assert inside == here and len(geotags) > len(here)
    assert f["feedback"] == PLACE_FEEDBACK.format(city="Tbilisi", tag="tbilisi")
    assert f["feedback"].startswith("Open the map in `forensic serve`, drag a box around Tbilisi, follow its "
                                    "places (or `forensic geo` lists the same places) and tag them")


def test_the_citys_photos_exported_by_their_tag_are_found(forensic, sample, tmp_path):
    case = _case(forensic, sample, tmp_path)
    key = _key(sample)
    missed = _graded(forensic, key, case, tmp_path)
    assert missed["status"] == "missed" and missed["detail"].startswith("the custody log records no export — ")
    assert missed["detail"].endswith(_fact(key)["feedback"])
    shas = place_steps(forensic, case, sample / "answer-key.json", tmp_path)
    assert shas == _fact(key)["expected"]["sha256"]
    got = _graded(forensic, key, case, tmp_path)
    assert got["status"] == "found", got

    # one photo of Istanbul too, or one of the city's left out: wrong, and said which way
    geotags = [g["expected"] for g in key["facts"] if g["kind"] == "photo_geotag"]
    istanbul = next(g["sha256"] for g in geotags if g["place"].startswith("Istanbul"))
    forensic("tag", "add", *shas, istanbul, "--item", "phone.raw", "--tag", "too-many", "--case", case)
    forensic("export", "--out", tmp_path / "too-many.zip", "--tag", "too-many", "--no-pdf", "--case", case)
    forensic("tag", "add", *shas[:2], "--item", "phone.raw", "--tag", "too-few", "--case", case)
    forensic("export", "--out", tmp_path / "too-few.zip", "--tag", "too-few", "--no-pdf", "--case", case)
    many = _graded(forensic, _key(sample), case, tmp_path, "too-many")
    assert many == {"status": "wrong", "detail": "too-many.zip: holds 1 file(s) not taken there — "
                    + _fact(key)["feedback"]}
    few = _graded(forensic, _key(sample), case, tmp_path, "too-few")
    assert few["status"] == "wrong" and few["detail"].startswith("too-few.zip: lacks 1 of the 3 photos taken in "
                                                                 "Tbilisi")
    none = _graded(forensic, _key(sample), case, tmp_path, "elsewhere")
    assert none["status"] == "missed" and none["detail"].startswith("no export of the tag 'elsewhere'")
