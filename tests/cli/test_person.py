"""``forensic person mark|unmark|list``: a person named as ``forensic contacts`` shows them (an
identity id, an E.164 or national number, an e-mail address, a WhatsApp jid, a user id) is one
identity; each mark and unmark is a custody entry; pseudonym letters follow the order of first
marking and stay with the person. A real case: tests/phone_dbs.py's databases, triaged."""
from __future__ import annotations

import pytest

import phone_dbs as P


@pytest.fixture
def case(tmp_path, capsys):
    from forensic.cli.main import main
    android = tmp_path / "android"
    P.contacts2(android / "data/com.android.providers.contacts/databases/contacts2.db")
    P.calllog(android / "data/com.android.providers.contacts/databases/calllog.db")
    P.wa(android / "data/com.whatsapp/databases/wa.db")
    (android / "WhatsApp").mkdir(parents=True)
    (android / "WhatsApp/WhatsApp Chat with Bruno.txt").write_bytes(
        b"14/03/2021, 21:00 - Bruno: where are you\n14/03/2021, 21:01 - Ana Lima: at home\n")
    iphone = tmp_path / "iphone"
    P.wa_ios_contacts(iphone / "mobile/Containers/Shared/AppGroup/A1/ContactsV2.sqlite")
    case = tmp_path / "case"
    assert main(["case", "init", str(case), "--case-id", "P1", "--examiner", "E"]) == 0
    assert main(["evidence", "add", str(android), "--case", str(case), "--id", "android"]) == 0
    assert main(["evidence", "add", str(iphone), "--case", str(case), "--id", "iphone"]) == 0
    assert main(["triage", "--case", str(case)]) == 0
    capsys.readouterr()
    return case


@pytest.mark.parametrize("given", [P.ANA_E164, "0612345678", "+31 6 12345678", "ana@example.org", P.ANA_JID,
                                   "81234567890123@lid"])
def test_every_way_of_naming_her_is_one_identity(forensic, case, given):
    out = forensic("person", "mark", given, "--role", "victim", "--case", case, "--json").json()
    assert out["identity"] == P.ANA_E164 and out["name"] == "Ana Lima" and out["pseudonym"] == "Victim-A"
    [row] = forensic("person", "list", "--case", case, "--json").jsonl()
    assert (row["identity"], row["role"], row["given"], row["in_contacts"]) == (P.ANA_E164, "victim", given, True)


def test_marks_are_custody_entries_and_letters_follow_the_order(forensic, case):
    forensic("person", "mark", P.ANA_E164, "--role", "victim", "--note", "reported", "--case", case)
    carl = forensic("person", "mark", "+447700900999", "--role", "witness", "--case", case, "--json").json()
    assert carl["pseudonym"] == "Witness-B" and carl["name"] == "Carl"
    forensic("person", "mark", "+447700900999", "--role", "suspect", "--case", case)
    rows = forensic("person", "list", "--case", case, "--json").jsonl()
    assert [(r["identity"], r["role"], r["pseudonym"], r["note"]) for r in rows] == [
        (P.ANA_E164, "victim", "Victim-A", "reported"), ("+447700900999", "suspect", None, None)]
    forensic("person", "unmark", "ana@example.org", "--case", case)
    assert [r["identity"] for r in forensic("person", "list", "--case", case, "--json").jsonl()] == ["+447700900999"]
    # marked again: the same letter (it was hers first)
    again = forensic("person", "mark", P.ANA_E164, "--role", "witness", "--case", case, "--json").json()
    assert again["pseudonym"] == "Witness-A" and again["note"] == "reported"
    log = forensic("custody", "log", "--case", case, "--json").jsonl()
    persons = [(e["action"], e["subject"], e["details"].get("role")) for e in log if e["action"].startswith("person.")]
    assert persons == [("person.marked", {"person": P.ANA_E164}, "victim"),
                       ("person.marked", {"person": "+447700900999"}, "witness"),
                       ("person.marked", {"person": "+447700900999"}, "suspect"),
                       ("person.unmarked", {"person": P.ANA_E164}, "victim"),
                       ("person.marked", {"person": P.ANA_E164}, "witness")]
    forensic("custody", "verify", "--case", case)


def test_marks_are_signed_with_the_examiners_key(forensic, tmp_path, monkeypatch):
    """In a case whose log is signed, a mark is an entry by the examiner's key, covered by a
    signed checkpoint; without the key it is refused (nothing stored), as a tag would be."""
    keys = forensic("examiner", "keygen", "ann", "--out", tmp_path / "keys", "--json").json()
    monkeypatch.setenv("FORENSIC_KEY", str(tmp_path / "keys" / "ann.key"))
    phone = tmp_path / "phone"
    P.wa(phone / "data/com.whatsapp/databases/wa.db")
    case = tmp_path / "signed"
    forensic("case", "init", case, "--case-id", "P2", "--examiner", "Ann")
    forensic("evidence", "add", phone, "--case", case, "--id", "phone")
    forensic("triage", "--case", case)
    forensic("person", "mark", P.ANA_JID, "--role", "victim", "--case", case)
    [entry] = [e for e in forensic("custody", "log", "--case", case, "--json").jsonl()
               if e["action"] == "person.marked"]
    assert entry["actor"]["key_id"] == keys["key_id"] and entry["subject"] == {"person": P.ANA_E164}
    ver = forensic("custody", "verify", "--case", case, "--json").json()
    assert ver["ok"] is True and ver["signatures_verified"] == ver["checkpoints"]
    monkeypatch.delenv("FORENSIC_KEY")
    forensic("person", "mark", "+447700900999", "--role", "witness", "--case", case, expect=None)
    assert [r["identity"] for r in forensic("person", "list", "--case", case, "--json").jsonl()] == [P.ANA_E164]


def test_refusals(forensic, case):
    res = forensic("person", "mark", "nobody at all", "--role", "victim", "--case", case, expect=2)
    assert "names no person of the case" in res.err
    forensic("person", "mark", P.ANA_E164, "--role", "bystander", "--case", case, expect=2)
    res = forensic("person", "unmark", P.ANA_E164, "--case", case, expect=2)
    assert "is not marked" in res.err
    assert [e for e in forensic("custody", "log", "--case", case, "--json").jsonl()
            if e["action"].startswith("person.")] == []


def test_a_number_in_no_contact_list_can_be_marked(forensic, case):
    out = forensic("person", "mark", "+49 30 1234567", "--role", "witness", "--case", case, "--json")
    assert out.json()["identity"] == "+49301234567" and out.json()["in_contacts"] is False
    assert "in no contact list" in out.err


def test_a_name_as_contacts_or_a_chat_give_it(forensic, case):
    ana = forensic("person", "mark", "ana lima", "--role", "victim", "--case", case, "--json").json()
    assert ana["identity"] == P.ANA_E164                      # a contact's name, case ignored
    bruno = forensic("person", "mark", "Bruno", "--role", "witness", "--case", case, "--json").json()
    assert bruno["identity"] == "name:Bruno" and bruno["in_contacts"] is False and bruno["pseudonym"] == "Witness-B"
    forensic("person", "mark", "Nobody Here", "--role", "witness", "--case", case, expect=2)
