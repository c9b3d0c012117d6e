"""The flat the owner saved in Google Maps (``gmm_myplaces.db`` on the sample phone): read as a
``location/point`` record that ``forensic geo`` shows as kind ``device_location``, graded by
``training check``; an extraction without the database misses it and gets the feedback. Small
cases: an extraction ZIP with that database (or another file) only."""
from __future__ import annotations

from appdb import sqlite3_cli
from forensic.training.build import layout
from training_case import extraction_case

SEED = 37


def _case(root, name: str, files: list):
    return extraction_case(root, name, files, "device_location", SEED)


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
