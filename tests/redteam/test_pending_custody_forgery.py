"""Red team, issue 18: the case store queues what the custody log is owed after a migration,
and the next command with the examiner's key records it in the signed log. The store is not
signed: nothing written into it may choose what that command signs.

Found as a hole (a queue of whole entries, ``meta.pending_custody``, was copied into the log
as it stood) and fixed: the store now keeps only the version it migrated from
(``meta.migrated_from``), and the entry is built from the code's own migration steps.

docs/threat-model.md (protects, 2): someone who can write the case folder but does not hold
the examiner's key cannot put entries in the examiner's name. The queue lets them: whatever
they write there is appended by the examiner's next command -- any command, a plain
``forensic files`` with $FORENSIC_KEY exported as the examiner guide advises -- and signed
with the examiner's key. A pin of their own key so written makes their key "established".
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import casestore
from forensic.chain_of_custody.pins import pin_details
from forensic.chain_of_custody.signing import Signer, write_keypair
from redteam.redteam_case import cli, edit_store, phone_tree

FIX = ("chain_of_custody/hooks.py record_pending appends entry['action'] and entry['details'] "
       "exactly as the store row gives them. Fix: accept only action 'case.migrated'; rebuild its "
       "details from forensic.store.schema (from/to as integers with from < to == SCHEMA_VERSION, "
       "each step's text taken from MIGRATIONS, not from the row); skip it when the log already has a "
       "case.migrated to that version; anything else in the queue is dropped with a warning and "
       "recorded as a custody.note saying the queue held an unknown entry (never crash)")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """A case triaged and signed by ann; mallory's key beside it. Made once for the module."""
    tmp = tmp_path_factory.mktemp("pending")
    ann = Signer.generate("ann")
    key, pub = write_keypair(ann, tmp / "ann")
    mallory = Signer.generate("mallory")
    mkey, _ = write_keypair(mallory, tmp / "mallory")
    phone = phone_tree(tmp / "phone")
    case = tmp / "case"
    for args in (("case", "init", case, "--case-id", "RT-P", "--examiner", "ann"),
                 ("evidence", "add", phone, "--case", case, "--id", "phone"),
                 ("triage", "phone", "--case", case)):
        assert cli(*args, key=key).returncode in (0, 3)
    return {"case": case, "key": key, "pub": pub, "mallory": mallory, "mkey": mkey}


@pytest.fixture
def signed(built, tmp_path) -> dict:
    """Each test plants its forgeries in a copy of that case (the evidence folder is shared:
    no test writes to it); the keys are only read."""
    casestore.copy_case(built["case"], tmp_path / "case")
    return dict(built, case=tmp_path / "case")


UPSERT = " ON CONFLICT(key) DO UPDATE SET value = excluded.value"      # SQL of both store backends


def plant(case: Path, entries) -> None:
    edit_store(case, "INSERT INTO meta(key, value) VALUES ('pending_custody', "
                     f"'{json.dumps(entries) if not isinstance(entries, str) else entries}')" + UPSERT)


def log_actions(case: Path) -> list[str]:
    return [json.loads(line)["action"] for line in (case / "custody.jsonl").read_text().splitlines()]


def test_appended_entries_without_the_key_are_still_refused(signed):
    """The defended path (docs/custody-log.md): lines appended to custody.jsonl by hand."""
    case = signed["case"]
    lines = (case / "custody.jsonl").read_bytes().splitlines()
    last = json.loads(lines[-1])
    forged = dict(last, seq=last["seq"] + 1, prev=last["hash"], action="custody.note",
                  subject={"case": "RT-P"}, details={"text": "forged"})
    from forensic.chain_of_custody.canonical import encode
    import hashlib
    forged.pop("hash")

    def raw(value) -> bytes:
        text = encode(value)
        return text.encode("utf-8") if isinstance(text, str) else text
    forged["hash"] = hashlib.sha256(raw(forged)).hexdigest()
    with open(case / "custody.jsonl", "ab") as f:
        f.write(raw(forged) + b"\n")
    assert cli("custody", "verify", "--case", case).returncode == 4
    assert cli("files", "--case", case, key=signed["key"]).returncode == 0
    assert cli("custody", "note", "a note", "--case", case, key=signed["key"]).returncode != 0


def test_a_planted_note_is_not_signed_by_the_examiners_next_command(signed):
    case = signed["case"]
    plant(case, [{"action": "custody.note",
                  "details": {"text": "the suspect consented to the search of the phone"}}])
    before = log_actions(case)
    cli("files", "--case", case, key=signed["key"])          # any command, read-only even
    assert log_actions(case) == before


def test_a_planted_pin_does_not_let_an_outsider_sign(signed):
    case = signed["case"]
    plant(case, [{"action": "examiner.key_pinned", "details": pin_details("mallory", signed["mallory"].public)}])
    cli("files", "--case", case, key=signed["key"])
    m = signed["mallory"].public
    edit_store(case, "INSERT INTO custody_pins(examiner, key_id, public_key) "
                     f"VALUES ('mallory', '{m.id_text}', '{m.base64()}')")
    r = cli("custody", "note", "the examiner showed the photos to the suspect", "--case", case, key=signed["mkey"])
    assert r.returncode != 0 and "not pinned" in r.stderr     # the log's own pins decide
    assert "mallory" not in (case / "custody.jsonl").read_text()
    assert cli("custody", "verify", "--case", case, "--pub", signed["pub"]).returncode == 0


@pytest.mark.parametrize("value", ["{oops", "[1]", '{"a": 1}', '[{"action": "case.migrated"}]'])
def test_a_damaged_queue_does_not_stop_every_command(signed, value):
    case = signed["case"]
    plant(case, value)
    edit_store(case, f"INSERT INTO meta(key, value) VALUES ('migrated_from', '{value}')" + UPSERT)
    r = cli("custody", "verify", "--case", case)
    assert "unexpected" not in r.stderr, r.stderr
    r = cli("files", "--case", case, key=signed["key"])
    assert r.returncode == 0 and "unexpected" not in r.stderr, r.stderr


@pytest.mark.parametrize("value", ["1", " 1", "0", "2", "99", "-1"])
def test_a_planted_migration_records_at_most_the_codes_own_steps_once(signed, value):
    """What remains possible: a planted ``migrated_from`` of a version this code migrates
    from makes the next signed command record one ``case.migrated`` -- with this code's own
    steps, once. Anything else planted there records nothing."""
    from forensic.store import schema
    case = signed["case"]
    edit_store(case, f"INSERT INTO meta(key, value) VALUES ('migrated_from', '{value}')" + UPSERT)
    before = log_actions(case)
    assert cli("files", "--case", case, key=signed["key"]).returncode == 0
    assert cli("files", "--case", case, key=signed["key"]).returncode == 0
    added = log_actions(case)[len(before):]
    if value.strip() in [str(n) for n in schema.MIGRATIONS]:
        assert added.count("case.migrated") == 1
        [entry] = [e for e in map(json.loads, (case / "custody.jsonl").read_text().splitlines())
                   if e["action"] == "case.migrated"]
        assert entry["details"]["steps"] == [{"from": n, "to": n + 1, "what": schema.STEPS[n]}
                                             for n in range(int(value), schema.SCHEMA_VERSION)]
    else:
        assert "case.migrated" not in added
    assert cli("custody", "verify", "--case", case, "--pub", signed["pub"]).returncode == 0
