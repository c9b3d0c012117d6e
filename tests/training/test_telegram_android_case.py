"""Telegram for Android's cache4.db in the sample (/data/data/org.telegram.messenger/files): the
recruiter's private chat with the owner, each message a layer-181 TL_message blob. He forwards a
job ad a channel posted days before (the forward header names the channel and its time), she
replies to it (the reply header names the ad's id), he sends the contract as a PDF document (its
file name in the message). The real extractor reads these facts from the bytes the generator
wrote; ``training check`` grades them and, for a copy whose blobs lost the forward and reply
headers and the media (re-serialised as plain texts), or a case without the database, says what
a trainee missed and why. Small cases: an extraction ZIP holding only cache4.db, no disk image."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import zipfile

import pytest

from appdb import run
from conftest import require_tools
from forensic.extractors.chat.sqlite_chat import OWNER
from forensic.extractors.chat.telegram_android import TelegramAndroidExtractor
from forensic.extractors.chat.telegram_tl import tl_string
from forensic.timestamps import iso_utc
from forensic.training import formats
from forensic.training.answer_key import answer_key
from forensic.training.build import EXTRACTION_PREFIX, TELEGRAM_CACHE, layout

SEED = 23
KINDS = ("forwarded_message", "reply_message", "chat_attachment")
DEVICE_PATH = "/data/" + TELEGRAM_CACHE


def _cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def planted():
    lay = layout(SEED)
    return lay, {f.rel: f.data for f in lay.phone}[TELEGRAM_CACHE]


def test_the_database_as_sqlite3_shows_it(planted, tmp_path):
    """The tables the app has, its names lower-cased as it stores them for search, one dialog,
    the messages with their ids in order; the same seed gives the same bytes."""
    require_tools("sqlite3")
    lay, data = planted
    tc = lay.story.telegram_android
    assert lay.apps["telegram_android"] == TELEGRAM_CACHE == "data/org.telegram.messenger/files/cache4.db"
    (tmp_path / "cache4.db").write_bytes(data)
    out = subprocess.run(["sqlite3", "-separator", "\t", tmp_path / "cache4.db",
                          "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name; "
                          "SELECT uid, name FROM users ORDER BY uid; SELECT uid, name FROM chats; "
                          "SELECT did, last_mid FROM dialogs; "
                          "SELECT mid, uid, out, reply_to_message_id FROM messages_v2 ORDER BY mid"],
                         check=True, capture_output=True, text=True).stdout.splitlines()
    mids = [tc.mid(m) for m in tc.chat.messages]
    users = sorted([(tc.owner_id, f"{lay.story.owner.lower()};;;"),
                    (tc.recruiter_id, f"{tc.chat.other.lower()};;;{tc.recruiter_username}")])
    assert out == (["chats", "dialogs", "messages_v2", "users"]
                   + [f"{uid}\t{name}" for uid, name in users]
                   + [f"{tc.channel_id}\t{tc.channel.lower()}", f"{tc.recruiter_id}\t{mids[-1]}"]
                   + [f"{mid}\t{tc.recruiter_id}\t{int(not m.incoming)}\t{tc.mid(tc.ad) if m is tc.reply else 0}"
                      for mid, m in zip(mids, tc.chat.messages, strict=True)])
    assert mids == list(range(tc.first_id, tc.first_id + len(mids)))
    assert {f.rel: f.data for f in layout(SEED).phone}[TELEGRAM_CACHE] == data
    assert layout(SEED + 1).story.telegram_android.channel_id != tc.channel_id


def test_the_blobs_are_laid_out_as_layer_181_writes_them():
    """Field by field, as api.tl's message#94345242 orders them: flags, flags2, id, from_id,
    peer_id, fwd_from (messageFwdHeader#4e4df4bb: from_id the channel, date, channel_post),
    reply_to (messageReplyHeader#afbc09db: reply_to_msg_id), date, message, media
    (messageMediaDocument#4cf4d72d, document#8fd4c4d8 with documentAttributeFilename)."""
    blob = formats.tl_message_181(7, 1700000000, "hi", out=False, from_id=6_000_000_001, peer_id=5_000_000_002,
                                  fwd=(1_900_000_003, 1690000000, 321), reply_to=6)
    assert blob.hex() == (
        "42523494" "0c010000" "00000000" "07000000"                  # message, flags 2|3|8, flags2, id
        "22175159" "01bca06501000000" "22175159" "02f2052a01000000"  # from_id, peer_id (peerUser, 64-bit)
        "bbf44d4e" "05000000" "1e37a5a2" "03b33f7100000000" "805abb64" "41010000"   # fwd_from
        "db09bcaf" "10000000" "06000000"                             # reply_to
        "00f15365" "02686900")                                       # date, "hi"
    doc = formats.tl_message_181(8, 1700000000, "", out=True, from_id=1, peer_id=2,
                                 document=(9, 10, "application/pdf", 5000, "a.pdf", 1700000000))
    at = 4 * 4 + 24 + 8                                               # the header, two peers, date and ""
    assert doc[4:8] == (1 << 1 | 1 << 8 | 1 << 9).to_bytes(4, "little") and doc[at:at + 12].hex() == \
        "2dd7f44c" "01000000" "d8c4d48f"
    assert doc.endswith(bytes.fromhex("15c4b51c" "01000000" "68005915") + formats.tl_string("a.pdf"))


def test_the_extractor_reads_the_forward_the_reply_and_the_document(planted):
    lay, data = planted
    tc = lay.story.telegram_android
    recs, warns = run(TelegramAndroidExtractor(), data, DEVICE_PATH)
    assert warns == []
    by_id = {r.fields["message_id"]: r.fields for r in recs}
    assert sorted(by_id) == [tc.mid(m) for m in tc.chat.messages]
    assert all(f["tl_layers"] == "181-195" and f["content_decoded"] for f in by_id.values())
    ad, reply, doc = by_id[tc.mid(tc.ad)], by_id[tc.mid(tc.reply)], by_id[tc.mid(tc.contract)]
    who = f"{tc.chat.other.lower()} @{tc.recruiter_username} ({tc.recruiter_id})"
    assert (ad["sender"], ad["body"], ad["sent_at_utc"]) == (who, tc.ad.body, iso_utc(tc.ad.utc))
    assert (ad["forwarded"], ad["forwarded_from"], ad["forwarded_at"]) == \
        (True, f"{tc.channel.lower()} (channel:{tc.channel_id})", iso_utc(tc.ad_posted))
    assert tc.ad_posted < tc.ad.utc
    assert (reply["sender"], reply["direction"], reply["reply_to"]) == (OWNER, "outgoing", tc.mid(tc.ad))
    assert reply["body"] == tc.reply.body and "forwarded" not in reply
    [pdf] = doc["attachments"]
    assert (pdf["kind"], pdf["name"], pdf["mime_type"], pdf["size"]) == \
        ("document", tc.contract.attachment, "application/pdf", tc.contract_size)
    assert pdf["name"].startswith("Contrato_") and pdf["name"].endswith(".pdf")
    assert doc["sender"] == who and doc["reply_to"] is None


def test_the_key_holds_the_facts(planted, tmp_path):
    lay, _ = planted
    tc = lay.story.telegram_android
    (tmp_path / "phone.raw").write_bytes(b"x")
    (tmp_path / "card.raw").write_bytes(b"y")
    (tmp_path / "extraction.zip").write_bytes(b"z")
    facts = [f for f in answer_key(lay, tmp_path, None)["facts"] if f["kind"] in KINDS]
    assert sorted((f["kind"], f["item"]) for f in facts) == sorted((k, i) for k in KINDS
                                                                   for i in ("phone", "extraction"))
    fwd = next(f["expected"] for f in facts if f["kind"] == "forwarded_message" and f["item"] == "phone")
    # the phone item's path is in its data partition (mounted at /data on the phone)
    assert fwd["file"] == "/" + TELEGRAM_CACHE and fwd["forwarded_from"] == tc.channel
    assert fwd["forwarded_at"] == iso_utc(tc.ad_posted) and fwd["sent_utc"] == iso_utc(tc.ad.utc)
    rep = next(f["expected"] for f in facts if f["kind"] == "reply_message" and f["item"] == "extraction")
    assert rep["file"] == "/" + EXTRACTION_PREFIX + TELEGRAM_CACHE and rep["reply_to"] == tc.mid(tc.ad)
    assert all(f["requires"] == "telegram_android" and f["feedback"].startswith("Telegram for Android keeps")
               for f in facts)


def _plain(data: bytes, tmp_path) -> bytes:
    """The database as a weaker extraction tool leaves it: every blob re-serialised as a plain text
    (no forward header, no reply header, no media), the rows' columns kept."""
    path = tmp_path / "plain-cache4.db"
    path.write_bytes(data)
    db = sqlite3.connect(path)
    owner, = db.execute("SELECT uid FROM users WHERE name NOT LIKE '%;;;_%'").fetchone()
    for mid, uid, date, out, blob in db.execute("SELECT mid, uid, date, out, data FROM messages_v2").fetchall():
        # the text: the TL string after the message's own date (the forward header holds the
        # channel's date, another one; a document's date comes after the text)
        at = blob.index(date.to_bytes(4, "little"), 12) + 4
        got = tl_string(blob, at)
        db.execute("UPDATE messages_v2 SET data = ?, media = 0, reply_to_message_id = 0 WHERE mid = ?",
                   (formats.tl_message_181(mid, date, got, out=bool(out), from_id=owner if out else uid,
                                           peer_id=uid if out else owner), mid))
    db.commit()
    db.close()
    return path.read_bytes()


def _case(root, name: str, cache4: bytes | None):
    """An extraction ZIP holding cache4.db (or nothing of Telegram), triaged in a case; the key's
    Telegram Android facts of the extraction."""
    out = root / name
    out.mkdir()
    with zipfile.ZipFile(out / "extraction.zip", "w") as z:
        z.writestr(EXTRACTION_PREFIX + "media/0/readme.txt", b"an extraction without Telegram")
        if cache4 is not None:
            z.writestr(EXTRACTION_PREFIX + TELEGRAM_CACHE, cache4)
    (out / "phone.raw").write_bytes(b"not in this case")
    (out / "card.raw").write_bytes(b"not in this case either")
    key = answer_key(layout(SEED), out, None)
    key["facts"] = [f for f in key["facts"] if f["item"] == "extraction" and f["kind"] in KINDS]
    (out / "answer-key.json").write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    case = out / "case"
    assert _cli("case", "init", case, "--case-id", f"TA-{name}", "--examiner", "T", "--quiet") == 0
    assert _cli("evidence", "add", out / "extraction.zip", "--case", case, "--quiet") == 0
    assert _cli("triage", "--case", case, "--quiet") in (0, 3)
    return out


def _check(forensic, out) -> dict:
    return forensic("training", "check", out / "answer-key.json", "--case", out / "case", "--json",
                    expect=None).json()


def test_triage_finds_them_and_check_scores_them(forensic, planted, tmp_path, capsys):
    lay, data = planted
    tc = lay.story.telegram_android
    out = _case(tmp_path, "full", data)
    capsys.readouterr()
    got = forensic("messages", "--case", out / "case", "--platform", "telegram", "--json").jsonl()
    assert sorted(m["message_id"] for m in got) == [tc.mid(m) for m in tc.chat.messages]
    report = _check(forensic, out)
    assert report["checked"] == 3 and report["found"] == 3 and report["score"] == 100, report


def test_a_copy_without_the_headers_gets_them_wrong_with_the_feedback(forensic, planted, tmp_path, capsys):
    lay, data = planted
    tc = lay.story.telegram_android
    out = _case(tmp_path, "plain", _plain(data, tmp_path))
    capsys.readouterr()
    report = _check(forensic, out)
    assert report["score"] == 0 and report["missed"] == []
    wrong = {f["kind"]: f["detail"] for f in report["wrong"]}
    assert set(wrong) == set(KINDS)
    assert wrong["forwarded_message"].startswith(f"listed as {tc.chat.other}'s own message: not marked forwarded "
                                                 f"(the forward header, with the original sender {tc.channel}, was "
                                                 "not read) — Telegram for Android keeps its chats in cache4.db")
    assert f"first posted it, the channel '{tc.channel}', on {iso_utc(tc.ad_posted)}" in wrong["forwarded_message"]
    assert wrong["reply_message"].startswith(f"listed without reply_to: not linked to the message it answers "
                                             f"(message {tc.mid(tc.ad)}, {tc.ad.needle!r}) — ")
    assert "gives reply_to as the answered message's message_id" in wrong["reply_message"]
    assert wrong["chat_attachment"].startswith(f"the message is listed without its attachment (expected the "
                                               f"document {tc.contract.attachment}) — ")
    assert "(documentAttributeFilename), even though the file was never downloaded" in wrong["chat_attachment"]


def test_a_case_without_the_database_misses_them(forensic, planted, tmp_path, capsys):
    out = _case(tmp_path, "none", None)
    capsys.readouterr()
    report = _check(forensic, out)
    assert report["score"] == 0 and report["checked"] == 3 and len(report["missed"]) == 3
    assert all(f["detail"].startswith("no telegram message containing ") and " (in cache4.db) — Telegram for "
               "Android keeps its chats in cache4.db (/data/data/org.telegram.messenger/files/)" in f["detail"]
               for f in report["missed"])
