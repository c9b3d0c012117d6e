"""Red team, issue 18: ``meta.pending_custody`` is a row of the unsigned case store that the
next command with the examiner's key copies into the signed custody log.

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

from forensic.chain_of_custody.pins import pin_details
from forensic.chain_of_custody.signing import Signer, write_keypair
from redteam.redteam_case import cli, edit_store, phone_tree

FIX = ("chain_of_custody/hooks.py record_pending appends entry['action'] and entry['details'] "
       "exactly as the store row gives them. Fix: accept only action 'case.migrated'; rebuild its "
       "details from forensic.store.schema (from/to as integers with from < to == SCHEMA_VERSION, "
       "each step's text taken from MIGRATIONS, not from the row); skip it when the log already has a "
       "case.migrated to that version; anything else in the queue is dropped with a warning and "
       "recorded as a custody.note saying the queue held an unknown entry (never crash)")


@pytest.fixture
def signed(tmp_path) -> dict:
    ann = Signer.generate("ann")
    key, pub = write_keypair(ann, tmp_path / "ann")
    mallory = Signer.generate("mallory")
    mkey, _ = write_keypair(mallory, tmp_path / "mallory")
    phone = phone_tree(tmp_path / "phone")
    case = tmp_path / "case"
    for args in (("case", "init", case, "--case-id", "RT-P", "--examiner", "ann"),
                 ("evidence", "add", phone, "--case", case, "--id", "phone"),
                 ("triage", "phone", "--case", case)):
        assert cli(*args, key=key).returncode in (0, 3)
    return {"case": case, "key": key, "pub": pub, "mallory": mallory, "mkey": mkey}


def plant(case: Path, entries) -> None:
    edit_store(case, "INSERT OR REPLACE INTO meta(key, value) VALUES ('pending_custody', "
                     f"'{json.dumps(entries) if not isinstance(entries, str) else entries}')")


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


@pytest.mark.xfail(strict=True, reason="hole (critical): a note planted in meta.pending_custody is "
                                       "signed into the log by the examiner's next command. " + FIX)
def test_a_planted_note_is_not_signed_by_the_examiners_next_command(signed):
    case = signed["case"]
    plant(case, [{"action": "custody.note",
                  "details": {"text": "the suspect consented to the search of the phone"}}])
    before = log_actions(case)
    cli("files", "--case", case, key=signed["key"])          # any command, read-only even
    assert log_actions(case) == before


@pytest.mark.xfail(strict=True, reason="hole (critical): an outsider's key pin planted in "
                                       "meta.pending_custody is signed in by the examiner, after which "
                                       "the outsider signs checkpoints that `custody verify` accepts. " + FIX)
def test_a_planted_pin_does_not_let_an_outsider_sign(signed):
    case = signed["case"]
    plant(case, [{"action": "examiner.key_pinned", "details": pin_details("mallory", signed["mallory"].public)}])
    cli("files", "--case", case, key=signed["key"])
    m = signed["mallory"].public
    edit_store(case, f"INSERT INTO custody_pins VALUES ('mallory', '{m.id_text}', '{m.base64()}')")
    cli("custody", "note", "the examiner showed the photos to the suspect", "--case", case, key=signed["mkey"])
    assert cli("custody", "verify", "--case", case).returncode == 4


@pytest.mark.parametrize("value", ["{oops", "[1]", '{"a": 1}', '[{"action": "case.migrated"}]'])
@pytest.mark.xfail(strict=True, reason=(
    "hole: forensic/store/schema.py pending_custody() json.loads the row unguarded and hooks."
    "record_pending indexes each entry, from cli/common.py with_case before every command: a damaged "
    "queue ends every command -- custody verify included -- with 'unexpected JSONDecodeError/"
    "TypeError/KeyError', for ever. Fix: pending_custody() returns the well-formed case.migrated "
    "entries and reports the rest (a warning; custody verify names it as a problem); with_case never "
    "fails on the queue"))
def test_a_damaged_queue_does_not_stop_every_command(signed, value):
    case = signed["case"]
    plant(case, value)
    r = cli("custody", "verify", "--case", case)
    assert "unexpected" not in r.stderr, r.stderr
    r = cli("files", "--case", case, key=signed["key"])
    assert r.returncode == 0 and "unexpected" not in r.stderr, r.stderr
