"""Red team, issue 15: contacts planted so that `forensic calls` names the wrong person.

Identities are resolved across every item of a case (by E.164 number). A seized phone whose
address book gives a number a name of its owner's choosing must not rename that number in
another phone's call log, where the other phone's own address book names it."""
from __future__ import annotations

import pytest

import phone_dbs as P

AB = "mobile/Library/AddressBook/AddressBook.sqlitedb"
CH = "mobile/Library/CallHistoryDB/CallHistory.storedata"


def _addressbook(path, first: str, number: str):
    return P.build(path, P.ADDRESSBOOK_SCHEMA, [
        ("ABMultiValueLabel", [("_$!<Mobile>!$_",)]),
        ("ABPerson", [{"ROWID": 1, "First": first, "CreationDate": P.T0_CORE_DATA}]),
        ("ABMultiValue", [(1, 1, 3, 0, 1, number, None)])])


def _one_call(path, number: bytes):
    return P.build(path, P.CALLHISTORY_SCHEMA, [("ZCALLRECORD", [
        {"Z_PK": 1, "Z_ENT": 2, "Z_OPT": 1, "ZANSWERED": 1, "ZCALLTYPE": 1, "ZORIGINATED": 0, "ZDATE": P.T0_CORE_DATA,
         "ZDURATION": 10.0, "ZADDRESS": number, "ZISO_COUNTRY_CODE": "nl",
         "ZSERVICE_PROVIDER": "com.apple.Telephony"}])])


@pytest.fixture(scope="module")
def two_phones(tmp_path_factory):
    """'a-suspect' names +31 6 12345678 "The Boss" (and is listed first); 'b-victim' names it
    "Ana Lima" and has a call from it with no name in its call log."""
    from forensic.cli.main import main
    tmp = tmp_path_factory.mktemp("ids")
    a, b = tmp / "a", tmp / "b"
    _addressbook(a / AB, "The Boss", "0612345678")          # national form: read with NL from its call log
    _one_call(a / CH, b"+31699999999")
    _addressbook(b / AB, "Ana Lima", "+31 6 12345678")
    _one_call(b / CH, b"+31612345678")
    case = tmp / "case"
    assert main(["case", "init", str(case), "--case-id", "RT-P", "--examiner", "E"]) == 0
    assert main(["evidence", "add", str(a), "--case", str(case), "--id", "a-suspect"]) == 0
    assert main(["evidence", "add", str(b), "--case", str(case), "--id", "b-victim"]) == 0
    assert main(["triage", "--case", str(case)]) == 0
    return case


def test_a_call_is_named_by_its_own_phones_contacts_not_another_items(forensic, two_phones):
    [call] = [c for c in forensic("calls", "--case", two_phones, "--json").jsonl() if c["item"] == "b-victim"]
    assert call["number"] == "+31612345678"
    assert call["name"] == "Ana Lima" and call["name_source"] == "contacts"
    # the identity is still one across the case, the other phone's name listed beside it
    assert "The Boss" in [call["contact"]["name"], *call["contact"].get("other_names", [])]
    assert {s["item"] for s in call["contact"]["sources"]} == {"a-suspect", "b-victim"}


def test_the_same_call_alone_in_its_item_is_named_the_same(forensic, two_phones):
    [call] = [c for c in forensic("calls", "--case", two_phones, "--item", "b-victim", "--json").jsonl()]
    assert call["name"] == "Ana Lima"


def test_contacts_listing_names_the_identity_as_each_phone_does(forensic, two_phones):
    rows = forensic("contacts", "--case", two_phones, "--json").jsonl()
    assert {(r["item"], r["identity"]["name"]) for r in rows} == {("a-suspect", "The Boss"), ("b-victim", "Ana Lima")}
    assert len({r["identity"]["id"] for r in rows}) == 1


def test_a_contact_holding_two_peoples_numbers_does_not_rename_either(forensic, tmp_path):
    """One planted contact lists Ana's number and Bob's: the two are one identity (numbers
    shared), but a call from Bob's number is named by the contact that holds that number."""
    from forensic.training.formats import CALLLOG_SCHEMA, CONTACTS2_SCHEMA
    dbs = tmp_path / "phone/data/com.android.providers.contacts/databases"
    P.build(dbs / "contacts2.db", CONTACTS2_SCHEMA, [
        ("accounts", [(1, "x@gmail.com", "com.google", None)]),
        ("mimetypes", [(1, "vnd.android.cursor.item/name"), (2, "vnd.android.cursor.item/phone_v2")]),
        ("raw_contacts", [{"_id": i, "account_id": 1, "contact_id": i, "display_name": n}
                          for i, n in ((1, "Ana Lima"), (2, "Bob Stone"), (3, "Merge"))]),
        ("data", [{"mimetype_id": 2, "raw_contact_id": 1, "data1": "+31 6 12345678", "data2": "2"},
                  {"mimetype_id": 2, "raw_contact_id": 2, "data1": "+31 6 87654321", "data2": "2"},
                  {"mimetype_id": 2, "raw_contact_id": 3, "data1": "+31 6 12345678", "data2": "2"},
                  {"mimetype_id": 2, "raw_contact_id": 3, "data1": "+31 6 87654321", "data2": "2"}])])
    P.build(dbs / "calllog.db", CALLLOG_SCHEMA, [("calls", [
        {"_id": 1, "number": "+31687654321", "date": P.T0_MS, "duration": 5, "type": 1, "countryiso": "NL"}])])
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "RT-M", "--examiner", "E")
    forensic("evidence", "add", tmp_path / "phone", "--case", case, "--id", "phone")
    forensic("triage", "--case", case)
    [call] = forensic("calls", "--case", case, "--json").jsonl()
    assert call["name"] == "Bob Stone", call["contact"]
    assert {"Ana Lima", "Merge"} <= set(call["contact"].get("other_names", []))
