"""Contacts and call-log extractors on databases built with the OS/app schemas
(tests/phone_dbs.py): exact records, zero warnings on good input, and the warning on an
unknown schema or a damaged page; the values compared with the sqlite3 tool's reading."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

import phone_dbs as P
from forensic.extractors.base import ExtractorInput
from forensic.extractors.phone.android_calls import AndroidCallLogExtractor
from forensic.extractors.phone.android_contacts import AndroidContactsExtractor
from forensic.extractors.phone.common import CALL_FIELDS, CONTACT_FIELDS
from forensic.extractors.phone.ios_calls import IosCallHistoryExtractor
from forensic.extractors.phone.ios_contacts import IosContactsExtractor
from forensic.extractors.phone.whatsapp import WhatsAppPeopleExtractor, jid_number
from forensic.extractors.phone.whatsapp_ios import WhatsAppIosPeopleExtractor
from forensic.extractors.records import ArtifactRecord, ExtractionWarning
from forensic.extractors.registry import all_extractors


def run(ex, path: Path, name: str | None = None):
    data = path.read_bytes()
    name = name or path.name
    assert ex.accepts(f"data/{name}", "application/vnd.sqlite3", data[:4096])
    out = list(ex.extract(ExtractorInput(path=f"data/{name}", name=name, mime="application/vnd.sqlite3",
                                         size=len(data), data=data)))
    return ([r for r in out if isinstance(r, ArtifactRecord)],
            [w.message for w in out if isinstance(w, ExtractionWarning)])


def test_registered():
    names = {i.name for i in all_extractors() if i.available}
    assert {"android_contacts", "android_calls", "ios_contacts", "ios_calls", "whatsapp_people",
            "whatsapp_ios_people"} <= names


def test_android_contacts(tmp_path):
    recs, warns = run(AndroidContactsExtractor(), P.contacts2(tmp_path / "contacts2.db"))
    assert warns == []
    assert [r.record_type for r in recs] == ["contact/entry"] * 3
    ana, ana_wa, bruno = (r.fields for r in recs)
    assert tuple(ana)[:6] == ("app", "os", "name", "numbers", "emails", "user_ids")
    assert set(CONTACT_FIELDS) <= set(ana)
    assert (ana["app"], ana["os"], ana["name"], ana["numbers"], ana["emails"]) == \
        ("contacts", "android", "Ana Lima", ["06 12 34 56 78"], ["ana@example.org"])
    assert ana["number_details"] == [{"number": "06 12 34 56 78", "type": "mobile", "label": None, "e164": None}]
    assert ana["source"] == {"path": "data/contacts2.db", "table": "raw_contacts", "row_id": 1}
    assert ana["account"] == {"name": "ana.device@gmail.com", "type": "com.google"}
    assert ana["organization"] == "Lima Transport BV" and ana["last_contacted_at"] == "2021-03-14T21:06:00Z"
    assert ana_wa["user_ids"] == [P.ANA_JID] and ana_wa["contact_id"] == ana["contact_id"] == 1
    assert bruno["deleted"] is True and bruno["number_details"][0]["e164"] == "+447700900123"
    assert not any(r.corrupted for r in recs)


def test_android_calls_match_sqlite3(tmp_path):
    db = P.calllog(tmp_path / "calllog.db")
    recs, warns = run(AndroidCallLogExtractor(), db)
    assert warns == []
    got = [(r.fields["number"], r.fields["direction"], r.fields["outcome"], r.fields["duration_s"],
            r.fields["started_at_raw"]) for r in recs]
    if shutil.which("sqlite3"):
        out = subprocess.run(["sqlite3", "-readonly", "-separator", "|", str(db),
                              "SELECT number, duration, date FROM calls ORDER BY _id"],
                             check=True, capture_output=True, text=True).stdout.splitlines()
        assert [(g[0] or "", str(g[3]), g[4]) for g in got] == [tuple(line.split("|")) for line in out]
    assert [g[1:3] for g in got] == [("incoming", "answered"), ("outgoing", None), ("incoming", "missed"),
                                     ("incoming", "answered")]
    first = recs[0].fields
    assert tuple(first)[:8] == ("app", "os", "direction", "number", "name", "started_at", "duration_s", "source")
    assert set(CALL_FIELDS) <= set(first)
    assert (first["app"], first["started_at"], first["country_iso"], first["name"]) == \
        ("phone", "2021-03-14T21:06:00Z", "NL", None)
    assert recs[0].timestamps[0].tz_source == "utc" and recs[0].timestamps[0].raw == str(P.T0_MS)
    assert recs[2].fields["video"] is True and recs[3].fields["presentation"] == "restricted"


def test_contacts2_without_calls_is_silent_for_the_call_log(tmp_path):
    """Android 7+ keeps calls in calllog.db: a contacts2.db without them is no warning."""
    recs, warns = run(AndroidCallLogExtractor(), P.contacts2(tmp_path / "contacts2.db"))
    assert recs == [] and warns == []


def test_ios_contacts_and_calls(tmp_path):
    recs, warns = run(IosContactsExtractor(), P.addressbook(tmp_path / "AddressBook.sqlitedb"))
    assert warns == []
    ana, pizza = (r.fields for r in recs)
    assert (ana["name"], ana["numbers"], ana["emails"], ana["number_details"][0]["label"]) == \
        ("Ana Lima", ["+31 6 12345678"], ["ana@example.org"], "Mobile")
    assert ana["created_at"] == "2021-03-14T21:06:00Z" and ana["modified_at"] == "2021-03-14T21:07:00Z"
    assert pizza["name"] == "Pizza Roma" and pizza["source"]["table"] == "ABPerson"
    recs, warns = run(IosCallHistoryExtractor(), P.callhistory(tmp_path / "CallHistory.storedata"))
    assert warns == []
    phone, facetime, wa = (r.fields for r in recs)
    assert (phone["app"], phone["direction"], phone["outcome"], phone["number"], phone["duration_s"],
            phone["started_at"], phone["country_iso"]) == \
        ("phone", "incoming", "answered", "+31612345678", 61.5, "2021-03-14T21:06:00Z", "NL")
    assert (facetime["app"], facetime["outcome"], facetime["video"]) == ("facetime", "missed", True)
    assert (wa["app"], wa["direction"]) == ("whatsapp", "outgoing")


def test_whatsapp_contacts_and_calls(tmp_path):
    recs, warns = run(WhatsAppPeopleExtractor(), P.wa(tmp_path / "wa.db"))
    assert warns == []
    assert [r.fields["name"] for r in recs] == ["Ana L.", "Carl"]          # the group is no person
    ana = recs[0].fields
    assert ana["numbers"] == ["06 12 34 56 78", "+31612345678"] and ana["user_ids"] == [P.ANA_JID]
    assert ana["wa_name"] == "ana 🌸"
    recs, warns = run(WhatsAppPeopleExtractor(), P.msgstore_calls(tmp_path / "msgstore.db"))
    assert warns == []
    assert [(r.fields["direction"], r.fields["number"], r.fields["video"], r.fields["duration_s"]) for r in recs] == \
        [("outgoing", "+31612345678", False, 42), ("incoming", "+31612345678", True, 0)]
    assert jid_number("120363025246125486@g.us") is None and jid_number("123:4@s.whatsapp.net") == "+123"


def test_unknown_schema_is_a_warning(tmp_path):
    db = tmp_path / "calllog.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE something_else (x)")
    con.commit()
    con.close()
    recs, warns = run(AndroidCallLogExtractor(), db)
    assert recs == [] and warns == ["data/calllog.db: none of the tables calls is present; nothing read"]


def test_not_a_database_is_a_warning(tmp_path):
    db = tmp_path / "AddressBook.sqlitedb"
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 2000)
    recs, warns = run(IosContactsExtractor(), db)
    assert recs == [] and len(warns) == 1


def test_damaged_page_is_skipped_and_reported(tmp_path):
    """Many calls over many pages; one table page overwritten: the rest read, one warning."""
    db = tmp_path / "calllog.db"
    P.build(db, P.CALLLOG_SCHEMA, [("calls", [{"_id": i, "number": f"+3161234{i:04d}", "date": P.T0_MS + i,
                                               "duration": i, "type": 1, "name": "x" * 100} for i in range(1, 200)])])
    con = sqlite3.connect(db)
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'calls'").fetchone()[0]
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    con.close()
    victim = pages - 3
    assert victim != root
    raw = bytearray(db.read_bytes())
    raw[(victim - 1) * 1024:(victim - 1) * 1024 + 1024] = b"\xa5" * 1024
    db.write_bytes(bytes(raw))
    recs, warns = run(AndroidCallLogExtractor(), db)
    assert 150 < len(recs) < 199
    assert warns and all("table calls" in w for w in warns)


@pytest.mark.parametrize("name", ["calllog.db", "contacts2.db", "AddressBook.sqlitedb", "CallHistory.storedata",
                                  "wa.db"])
def test_other_files_are_not_taken(name):
    assert not AndroidContactsExtractor().accepts(name, "text/plain", b"hello")
    assert not IosCallHistoryExtractor().accepts(name, "text/plain", b"hello")


def test_whatsapp_ios_calls_and_contacts(tmp_path):
    ex = WhatsAppIosPeopleExtractor()
    recs, warns = run(ex, P.wa_ios_calls(tmp_path / "CallHistory.sqlite"))
    assert warns == []
    answered, missed = (r.fields for r in recs)
    assert (answered["app"], answered["os"], answered["direction"], answered["outcome"], answered["number"],
            answered["duration_s"], answered["started_at"], answered["video"]) == \
        ("whatsapp", "ios", "incoming", "answered", P.ANA_E164, 75, "2021-03-14T21:06:00Z", False)
    assert (missed["outcome"], missed["number"], missed["video"], missed["outcome_as_stored"]) == \
        ("missed", "81234567890123@lid", True, "missed")
    recs, warns = run(ex, P.wa_ios_contacts(tmp_path / "ContactsV2.sqlite"))
    assert warns == []
    ana = recs[0].fields
    assert (ana["name"], ana["numbers"], ana["user_ids"]) == \
        ("Ana Lima", ["+31 6 12345678", P.ANA_E164], [P.ANA_JID, "81234567890123@lid"])


def test_calls_inside_contacts2_before_android_7(tmp_path):
    """Android 6 and earlier kept the call log in contacts2.db: both extractors read it, each
    its own tables; raw_contacts of API < 18 name the account themselves."""
    legacy = P.CONTACTS2_SCHEMA.replace("account_id INTEGER REFERENCES accounts(_id),",
                                        "account_name TEXT, account_type TEXT,")
    db = P.build(tmp_path / "contacts2.db", legacy + P.CALLLOG_SCHEMA, [
        ("raw_contacts", [{"_id": 1, "account_name": "me@example.org", "account_type": "com.google",
                           "display_name": "Old Friend"}]),
        ("calls", [{"_id": 1, "number": "+34600111222", "date": P.T0_MS, "duration": 5, "type": 2}])])
    contacts, warns = run(AndroidContactsExtractor(), db)
    assert warns == []
    assert contacts[0].fields["account"] == {"name": "me@example.org", "type": "com.google"}
    calls, warns = run(AndroidCallLogExtractor(), db)
    assert warns == [] and [c.fields["number"] for c in calls] == ["+34600111222"]
