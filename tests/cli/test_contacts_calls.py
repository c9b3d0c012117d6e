"""forensic contacts / forensic calls over a triaged case (real triage of databases built with
the OS schemas, tests/phone_dbs.py): the JSON contract, one identity per person across apps
(a national number on Android, +E.164 on iOS, a WhatsApp jid), and names on calls and
messages saying where they came from."""
from __future__ import annotations

import pytest

import phone_dbs as P

CONTACT_KEYS = ("item", "app", "name", "numbers", "emails", "user_ids", "source")
CALL_KEYS = ("item", "app", "direction", "number", "name", "started_at", "duration_s", "source")


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """Two items: an Android phone (contacts2.db, calllog.db, WhatsApp wa.db + msgstore.db)
    and an iPhone (AddressBook.sqlitedb, CallHistory.storedata, WhatsApp CallHistory.sqlite +
    ContactsV2.sqlite)."""
    from forensic.cli.main import main
    tmp = tmp_path_factory.mktemp("people")
    android = tmp / "android"
    P.contacts2(android / "data/com.android.providers.contacts/databases/contacts2.db")
    P.calllog(android / "data/com.android.providers.contacts/databases/calllog.db")
    P.wa(android / "data/com.whatsapp/databases/wa.db")
    P.msgstore_calls(android / "data/com.whatsapp/databases/msgstore.db")
    iphone = tmp / "iphone"
    P.addressbook(iphone / "mobile/Library/AddressBook/AddressBook.sqlitedb")
    P.callhistory(iphone / "mobile/Library/CallHistoryDB/CallHistory.storedata")
    P.wa_ios_calls(iphone / "mobile/Containers/Shared/AppGroup/A1/CallHistory.sqlite")
    P.wa_ios_contacts(iphone / "mobile/Containers/Shared/AppGroup/A1/ContactsV2.sqlite")
    case = tmp / "case"
    assert main(["case", "init", str(case), "--case-id", "C1", "--examiner", "E"]) == 0
    assert main(["evidence", "add", str(android), "--case", str(case), "--id", "android"]) == 0
    assert main(["evidence", "add", str(iphone), "--case", str(case), "--id", "iphone"]) == 0
    assert main(["triage", "--case", str(case)]) == 0           # no warnings: exit 0
    return case


def test_contacts_json_contract(forensic, case):
    rows = forensic("contacts", "--case", case, "--json").jsonl()
    for r in rows:
        assert tuple(r)[:7] == CONTACT_KEYS
        assert r["source"]["item"] == r["item"] and {"path", "table", "row_id"} <= set(r["source"])
    got = sorted((r["item"], r["app"], r["name"]) for r in rows)
    assert got == [("android", "contacts", "Ana Lima"), ("android", "contacts", "Ana Lima"),
                   ("android", "contacts", "Bruno Deleted"), ("android", "whatsapp", "Ana L."),
                   ("android", "whatsapp", "Carl"), ("iphone", "contacts", "Ana Lima"),
                   ("iphone", "contacts", "Pizza Roma"), ("iphone", "whatsapp", "Ana Lima")]


def test_one_identity_across_apps(forensic, case):
    rows = forensic("contacts", "--case", case, "--json").jsonl()
    ana = [r for r in rows if r["name"] in ("Ana Lima", "Ana L.")]
    ids = {r["identity"]["id"] for r in ana}
    assert ids == {P.ANA_E164}
    ident = ana[0]["identity"]
    assert ident["name"] == "Ana Lima" and ident["other_names"] == ["Ana L."]
    assert sorted((s["item"], s["app"], s["table"]) for s in ident["sources"]) == [
        ("android", "contacts", "raw_contacts"), ("android", "contacts", "raw_contacts"),
        ("android", "whatsapp", "wa_contacts"), ("iphone", "contacts", "ABPerson"),
        ("iphone", "whatsapp", "ZWAADDRESSBOOKCONTACT")]
    android = next(r for r in ana if r["app"] == "contacts" and r["numbers"])
    # the number as found beside the number as compared, and how it was read
    assert android["numbers_read"] == [{"number": "06 12 34 56 78", "normalized": P.ANA_E164,
                                        "how": "national form read with country NL from the item's call log "
                                               "(4 of 4 calls)"}]
    carl = next(r for r in rows if r["name"] == "Carl")
    assert carl["identity"]["id"] == "+447700900999" and len(carl["identity"]["sources"]) == 1


def test_contacts_search(forensic, case):
    by_number = forensic("contacts", "--case", case, "--json", "--search", "0612345678").jsonl()
    # the same number written another way in each: "06 12 34 56 78", +31612345678 (jid), "+31 6 12345678"
    assert {(r["item"], r["app"]) for r in by_number} == {("android", "contacts"), ("android", "whatsapp"),
                                                          ("iphone", "contacts"), ("iphone", "whatsapp")}
    by_name = forensic("contacts", "--case", case, "--json", "--search", "pizza").jsonl()
    assert [r["name"] for r in by_name] == ["Pizza Roma"]
    none = forensic("contacts", "--case", case, "--search", "nobody-here")
    assert none.out == "" and "no contacts matched --search nobody-here" in none.err


def test_calls_json_contract_and_names(forensic, case):
    rows = forensic("calls", "--case", case, "--json").jsonl()
    assert len(rows) == 4 + 3 + 2 + 2
    for r in rows:
        assert tuple(r)[:8] == CALL_KEYS
    times = [r["started_at"] for r in rows]
    assert times == sorted(times)
    first = next(r for r in rows if r["item"] == "android" and r["source"]["table"] == "calls"
                 and r["source"]["row_id"] == 1)
    # the call log had no name: the contact's, and where it came from
    assert (first["number"], first["name"], first["name_source"]) == ("0612345678", "Ana Lima", "contacts")
    assert first["contact"]["number"] == P.ANA_E164 and first["contact"]["sources"]
    logged = next(r for r in rows if r["item"] == "android" and r["source"]["row_id"] == 2
                  and r["source"]["table"] == "calls")
    assert (logged["name"], logged["name_source"]) == ("Ana Lima", "call log")
    unknown = next(r for r in rows if r["number"] == "0201234567")
    assert (unknown["name"], unknown["name_source"], unknown["contact"]) == (None, None, None)
    ios = next(r for r in rows if r["item"] == "iphone" and r["app"] == "phone")
    assert (ios["name"], ios["direction"], ios["duration_s"]) == ("Ana Lima", "incoming", 61.5)
    facetime = next(r for r in rows if r["app"] == "facetime")
    assert facetime["name"] == "Ana Lima" and facetime["contact"]["matched"] == "e-mail address"
    # iOS WhatsApp call to a national number: the iPhone's own address book names it
    pizza = next(r for r in rows if r["app"] == "whatsapp" and r["source"]["table"] == "ZCALLRECORD")
    assert pizza["name"] == "Pizza Roma"
    wa = [r for r in rows if r["item"] == "android" and r["app"] == "whatsapp"]
    assert [(r["direction"], r["name"]) for r in wa] == [("outgoing", "Ana Lima"), ("incoming", "Ana Lima")]
    # WhatsApp iOS: a missed call from an @lid id, named through ContactsV2's ZLID for Ana
    lid = next(r for r in rows if r["number"] == "81234567890123@lid")
    assert (lid["name"], lid["name_source"], lid["contact"]["matched"]) == ("Ana Lima", "contacts", "user id")


def test_calls_time_bounds(forensic, case):
    rows = forensic("calls", "--case", case, "--json", "--since", "2021-03-14T22:00Z").jsonl()
    assert [r["started_at"] for r in rows] == ["2021-03-14T22:06:00Z", "2021-03-14T23:06:00Z",
                                               "2021-03-15T00:06:00Z"]
    rows = forensic("calls", "--case", case, "--json", "--until", "2021-03-14T21:06:30Z").jsonl()
    assert len(rows) == 3
    bad = forensic("calls", "--case", case, "--since", "yesterday", expect=None)
    assert bad.code == 2 and "not an ISO 8601" in bad.err


def test_messages_and_conversations_name_the_sender(forensic, case):
    msgs = forensic("messages", "--case", case, "--json").jsonl()
    msg = next(m for m in msgs if m["body"] == "call me")
    assert msg["sender"] == P.ANA_JID
    assert msg["sender_contact"]["name"] == "Ana Lima" and msg["sender_contact"]["number"] == P.ANA_E164
    assert {s["app"] for s in msg["sender_contact"]["sources"]} == {"contacts", "whatsapp"}
    conv = forensic("conversations", "--case", case, "--json").jsonl()
    assert conv[0]["participant_contacts"][P.ANA_JID]["name"] == "Ana Lima"


def test_lines_in_a_pipe_escape_evidence(forensic, case):
    out = forensic("calls", "--case", case).out.splitlines()
    assert len(out) == 11 and all(line.endswith(("\tandroid", "\tiphone")) for line in out)
    assert any("[Ana Lima (c)]" in line for line in out)
    out = forensic("contacts", "--case", case).out.splitlines()
    assert len(out) == 8


def test_empty_case(forensic, tmp_path):
    forensic("case", "init", tmp_path / "c", "--case-id", "C2", "--examiner", "E")
    r = forensic("calls", "--case", tmp_path / "c", "--json")
    assert r.out == "" and "no calls" in r.err


def test_hostile_names_are_escaped(forensic, tmp_path):
    """A name from evidence with a terminal escape and a bidi override: shown escaped in a
    pipe, written as JSON escapes, never raw."""
    ev = tmp_path / "ev"
    P.build(ev / "wa.db", P.WA_SCHEMA, [("wa_contacts", [
        {"_id": 1, "jid": P.ANA_JID, "is_whatsapp_user": 1, "display_name": "Ana\x1b[31m\u202egpj.exe"}])])
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C3", "--examiner", "E")
    forensic("evidence", "add", ev, "--case", case, "--id", "ev")
    forensic("triage", "--case", case)
    line = forensic("contacts", "--case", case).out
    assert "\x1b" not in line and "\u202e" not in line and "Ana\\x1b[31m\\u202egpj.exe" in line
    raw = forensic("contacts", "--case", case, "--json").out
    assert "\u202e" not in raw and "\\u202e" in raw


def test_tables_at_a_terminal(case, tmp_path):
    """At a real terminal: tables with the identity, the contact's name marked (c), and the
    message's sender named by the contact (its number beside it)."""
    from ptyrun import run_in_pty
    calls = run_in_pty(["calls", "--case", case, "--item", "android"], cwd=tmp_path, columns=160,
                       env={"NO_COLOR": "1"})
    assert calls.code == 0 and "Traceback" not in calls.output, calls.output
    assert "Ana Lima (c)" in calls.output and "in/missed" in calls.output and "(c) from the contacts" in calls.output
    contacts = run_in_pty(["contacts", "--case", case, "--search", "Carl"], cwd=tmp_path, columns=160,
                          env={"NO_COLOR": "1"})
    assert contacts.code == 0 and "+447700900999" in contacts.output and "Carl" in contacts.output
    msgs = run_in_pty(["messages", "--case", case], cwd=tmp_path, columns=160, env={"NO_COLOR": "1"})
    assert msgs.code == 0 and f"Ana Lima ({P.ANA_JID})" in msgs.output, msgs.output
