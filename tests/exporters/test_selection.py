"""Tagging and selection on a real triaged image: targets by locator, SHA-256, message id and
queries; export filters by item, type and time; only what is selected is exported."""
from __future__ import annotations

import json
import zipfile

from tests.exporters.test_bundle import CHAT_ID, FILES, PREFIX, built, sha  # noqa: F401


def _bundle_files(path):
    with zipfile.ZipFile(path) as zf:
        return {n.split("/data/evidence/", 1)[1]: zf.read(n) for n in zf.namelist() if "/data/evidence/" in n}


def _jsonl(path, name):
    with zipfile.ZipFile(path) as zf:
        n = [x for x in zf.namelist() if x.endswith("/data/" + name)][0]
        return [json.loads(line) for line in zf.read(n).splitlines()]


def test_tag_by_sha256_and_message_id(built, forensic, tmp_path):  # noqa: F811
    case = built["case"]
    digest = sha(FILES["/DCIM/Camera/plain.jpg"])
    rows = forensic("tag", "add", "--case", case, "--tag", "t-sha", digest, "--json").jsonl()
    assert [r["ref"] for r in rows] == [PREFIX + "/DCIM/Camera/plain.jpg"]
    msg = _jsonl(built["bundle"], "messages.jsonl")[2]
    rows = forensic("tag", "add", "--case", case, "--tag", "t-msg", f"message:{msg['artifact_id']}", "--json").jsonl()
    assert rows[0]["kind"] == "message"
    out = forensic("export", "--case", case, "--out", tmp_path / "b.zip", "--tag", "t-sha", "--tag", "t-msg",
                   "--json").json()
    # the photo, and the chat export the message was read from (its source goes with it)
    assert out["files"] == 2 and out["messages"] == 1 and out["message_sources"] == 1
    assert list(_bundle_files(tmp_path / "b.zip").values()) == [FILES["/DCIM/Camera/plain.jpg"], FILES[CHAT_ID]]
    assert [m["fields"]["body"] for m in _jsonl(tmp_path / "b.zip", "messages.jsonl")] == ["Who is this & why?"]
    tags = forensic("tag", "list", "--case", case, "--tag", "t-sha", "--json").jsonl()
    assert len(tags) == 1 and tags[0]["by"] == "Ada Examiner"
    log = forensic("custody", "log", "--case", case, "--json", "--action", "tag.added").jsonl()
    assert any(e["sha256"] == digest and e["details"]["tag"] == "t-sha" for e in log)


def test_tag_queries(built, forensic):  # noqa: F811
    case = built["case"]
    rows = forensic("tag", "add", "--case", case, "--tag", "geo", "--geotagged", "--json").jsonl()
    assert [r["ref"] for r in rows] == [PREFIX + "/DCIM/Camera/IMG_0001.jpg"]      # plain.jpg has no GPS
    rows = forensic("tag", "add", "--case", case, "--tag", "june", "--from", "2021-06-01", "--to", "2021-06-01",
                    "--json").jsonl()
    assert [r["ref"] for r in rows] == [PREFIX + "/DCIM/Camera/IMG_0001.jpg"]      # taken 14:30+02:00
    res = forensic("tag", "add", "--case", case, "--tag", "none", "--from", "2030-01-01", expect=2)
    assert "matched nothing" in res.err
    res = forensic("tag", "add", "--case", case, "--tag", "x", PREFIX + "/nope", expect=2)
    assert "nothing in the case matches" in res.err
    res = forensic("tag", "add", "--case", case, "--tag", "x", "--conversation", "no such chat", expect=2)
    assert "no conversation" in res.err


def test_export_by_item_and_type(built, forensic, tmp_path):  # noqa: F811
    case = built["case"]
    out = forensic("export", "--case", case, "--out", tmp_path / "p.zip", "--item", "PHONE1", "--type", "photos",
                   "--json").json()
    assert out["files"] == 2 and out["photos"] == 2 and out["messages"] == 0
    assert sorted(_bundle_files(tmp_path / "p.zip").values()) == sorted(
        [FILES["/DCIM/Camera/IMG_0001.jpg"], FILES["/DCIM/Camera/plain.jpg"]])
    out = forensic("export", "--case", case, "--out", tmp_path / "m.zip", "--item", "PHONE1", "--type", "messages",
                   "--json").json()
    assert out["files"] == 1 and out["messages"] == 4 and out["message_sources"] == 1     # the chat export
    # a whole item: every readable file (the untagged ones too), nothing tagged sensitive
    out = forensic("export", "--case", case, "--out", tmp_path / "all.zip", "--item", "PHONE1", "--json").json()
    got = _bundle_files(tmp_path / "all.zip")
    assert FILES["/docs/unrelated.txt"] in got.values() and FILES["/docs/private.txt"] not in got.values()
    assert out["withheld"] == 1 and out["files"] == len(FILES) - 1
    assert forensic("verify-bundle", tmp_path / "all.zip", expect=5).code == 5      # intact, unsigned


def test_time_range_leaves_out_unknown_zones_and_says_so(built, forensic, tmp_path):  # noqa: F811
    out = forensic("export", "--case", built["case"], "--out", tmp_path / "t.zip", "--tag", "court",
                   "--from", "2021-01-01", "--to", "2021-12-31", "--json").json()
    assert out["files"] == 1 and out["messages"] == 0        # chat times have no zone: left out, and said
    with zipfile.ZipFile(tmp_path / "t.zip") as zf:
        info = json.loads(zf.read(next(n for n in zf.namelist() if n.endswith("data/bundle.json"))))
        html = zf.read(next(n for n in zf.namelist() if n.endswith("index.html"))).decode()
    assert any("message(s) left out of the time range" in n for n in info["notes"])
    assert "left out of the time range" in html
