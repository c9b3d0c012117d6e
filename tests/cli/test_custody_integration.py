"""The commands record what they do in the custody log, automatically, and sign checkpoints."""
from __future__ import annotations

import json

from builders import ext4_image, sha256, tiny_jpeg


def test_every_action_is_recorded_and_the_log_verifies(forensic, tmp_path, monkeypatch):
    forensic("examiner", "keygen", "ann", "--out", tmp_path / "keys")
    monkeypatch.setenv("FORENSIC_KEY", str(tmp_path / "keys" / "ann.key"))
    photo = tiny_jpeg()
    img = ext4_image(tmp_path, {"/DCIM/a.jpg": photo, "/notes.txt": b"notes"})
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-9", "--examiner", "Ann")
    forensic("evidence", "add", img, "--case", case, "--id", "phone", "--delivered-by", "Officer B",
             "--seizure", "seized at address X")
    summary = forensic("triage", "--case", case, "--json").json()
    forensic("evidence", "verify", "phone", "--case", case)
    entries = forensic("custody", "log", "--case", case, "--json").jsonl()
    actions = [e["action"] for e in entries]
    assert actions[:4] == ["case.created", "examiner.key_pinned", "evidence.received", "triage.started"]
    assert entries[1]["details"]["key_id"] == entries[0]["actor"]["key_id"]      # the key pinned at init
    assert actions[-2:] == ["triage.finished", "evidence.verified"]
    assert actions.count("file.recorded") == summary["files"]
    assert actions.count("artifact.recorded") == summary["artifacts"] >= 1
    received = entries[2]
    assert received["subject"] == {"item": "phone"}
    assert received["sha256"] == sha256(img.read_bytes())
    assert received["details"]["delivered_by"] == "Officer B"
    leaf = next(e for e in entries
                if e["action"] == "file.recorded" and e["subject"]["locator"].endswith("/DCIM/a.jpg"))
    assert leaf["sha256"] == sha256(photo)
    assert all(e["actor"]["key_id"] for e in entries)
    ver = forensic("custody", "verify", "--case", case, "--json").json()
    assert ver["ok"] is True and ver["signatures_verified"] == ver["checkpoints"] >= 4
    # an artifact leaf binds the record as stored: its fields hash matches the case store
    from tests import casestore
    art = next(e for e in entries if e["action"] == "artifact.recorded")
    fields = casestore.count(case, "SELECT fields FROM artifacts WHERE id=?", (art["details"]["artifact_id"],))
    assert art["details"]["record_sha256"] == sha256(fields.encode())


def test_tampering_with_the_log_after_triage_is_caught(forensic, tmp_path):
    img = ext4_image(tmp_path, {"/a.txt": b"a", "/b.txt": b"b"})
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-9", "--examiner", "Ann")
    forensic("evidence", "add", img, "--case", case, "--id", "phone")
    forensic("triage", "--case", case)
    log = case / "custody.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    entry = json.loads(lines[4])
    entry["sha256"] = "0" * 64
    lines[4] = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    log.write_bytes(b"".join(lines))
    res = forensic("custody", "verify", "--case", case, "--json", expect=4)
    assert res.json()["ok"] is False and res.json()["first_bad_seq"] == 4


def test_transfer_of_a_bundle_records_its_hash(forensic, tmp_path):
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-9", "--examiner", "Ann")
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(b"PK\x05\x06" + bytes(18))
    forensic("custody", "transfer", "--case", case, "--to", "Prosecutor X", "--reason", "handover",
             "--subject", f"bundle:{bundle}")
    last = forensic("custody", "log", "--case", case, "--json").jsonl()[-1]
    assert last["action"] == "custody.transferred"
    assert last["subject"] == {"bundle": "bundle.zip"} and last["sha256"] == sha256(bundle.read_bytes())
    res = forensic("custody", "transfer", "--case", case, "--to", "X", "--reason", "r",
                   "--subject", f"bundle:{tmp_path / 'nope.zip'}", expect=2)
    assert "no bundle" in res.err
