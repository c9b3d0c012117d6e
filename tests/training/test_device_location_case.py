"""The flat the owner saved in Google Maps (``gmm_myplaces.db`` on the sample phone): read as a
``location/point`` record that ``forensic geo`` shows as kind ``device_location``, graded by
``training check``; an extraction without the database misses it and gets the feedback. Small
cases: an extraction ZIP with that database (or another file) only."""
from __future__ import annotations

import json
import zipfile

from appdb import sqlite3_cli
from forensic.training.build import EXTRACTION_PREFIX, layout

SEED = 37


def _cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


def _case(root, name: str, files: list):
    out = root / name
    out.mkdir()
    with zipfile.ZipFile(out / "extraction.zip", "w") as z:
        for f in files:
            z.writestr(EXTRACTION_PREFIX + f.rel, f.data)
    key = _key(out)
    (out / "answer-key.json").write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    case = out / "case"
    assert _cli("case", "init", case, "--case-id", f"DL-{name}", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", out / "extraction.zip", "--case", case, "--quiet") == 0
    assert _cli("triage", "--case", case, "--quiet") in (0, 3)
    return out


def _key(out) -> dict:
    from forensic.training.answer_key import answer_key
    for other in ("phone.raw", "card.raw"):
        (out / other).write_bytes(f"not in this case: {other}".encode())
    key = answer_key(layout(SEED), out, None)
    key["facts"] = [f for f in key["facts"] if f["item"] == "extraction" and f["kind"] == "device_location"]
    return key


def test_the_saved_place_is_the_flat(tmp_path):
    lay = layout(SEED)
    p, f = lay.saved_place
    h = lay.story.hidden_photo                                             # the flat, photographed
    assert abs(p.lat - h.lat) < 1e-6 and abs(p.lon - h.lon) < 1e-6
    assert f.rel == "data/com.google.android.apps.maps/databases/gmm_myplaces.db"
    (tmp_path / "gmm_myplaces.db").write_bytes(f.data)
    rows = sqlite3_cli(tmp_path / "gmm_myplaces.db", "SELECT latitude, longitude, timestamp FROM sync_item")
    assert rows == [{"latitude": round(p.lat * 1e6), "longitude": round(p.lon * 1e6),
                     "timestamp": int(p.utc.timestamp() * 1000)}]
    assert layout(SEED).saved_place[1].data == f.data                      # same seed, same bytes


def test_found_in_geo_and_graded(forensic, tmp_path, capsys):
    p, f = layout(SEED).saved_place
    out = _case(tmp_path, "full", [f])
    capsys.readouterr()
    geo = [g for g in forensic("geo", "--case", out / "case", "--json").jsonl() if g.get("kind") == "device_location"]
    assert len(geo) == 1 and abs(geo[0]["lat"] - p.lat) < 1e-6 and abs(geo[0]["lon"] - p.lon) < 1e-6, geo
    report = forensic("training", "check", out / "answer-key.json", "--case", out / "case", "--json",
                      expect=None).json()
    assert report["checked"] == 1 and report["score"] == 100, report


def test_without_the_database_it_is_missed_with_the_feedback(forensic, tmp_path, capsys):
    lay = layout(SEED)
    out = _case(tmp_path, "no-maps", [lay.forwarded[2]])
    capsys.readouterr()
    report = forensic("training", "check", out / "answer-key.json", "--case", out / "case", "--json",
                      expect=None).json()
    assert [f["kind"] for f in report["missed"]] == ["device_location"]
    detail = report["missed"][0]["detail"]
    assert "Google Maps' saved places (gmm_myplaces.db) put this phone's owner at" in detail
    assert "kind device_location" in detail and "'Place saved (maps)'" in detail
