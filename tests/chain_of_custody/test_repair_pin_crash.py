"""The first signed command of a case crashes between the entry that pins its key and the
checkpoint that signs it (chain_of_custody/log.py ``CustodyLog.commit``: ``_write_pending``
writes the command's entries with the pin last, fsyncs, then ``_write_checkpoint`` writes the
checkpoint line and its store copy, and the store commits the pin with that copy).

The crash is made by the log's own fault hook (``FORENSIC_TEST_CUSTODY_CRASH=kill:N``, the
process SIGKILLs itself once its first N entries are in custody.jsonl, before any checkpoint)
in a real ``forensic`` process. Verify fails on that log (a pin no signed checkpoint vouches
for); repair, signed by that key, sets the crash's entries aside and pins the key again, after
which the log verifies. A signed log whose signed checkpoints were removed looks the same in
its files; repair refuses it (the case store still holds the pin).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from forensic.case import Case
from forensic.chain_of_custody.log import CHECKPOINTS_NAME, CRASH_ENV, LOG_NAME, QUARANTINE_DIR, CustodyLog
from forensic.chain_of_custody.signing import Signer, write_keypair
from forensic.chain_of_custody.verify import UNSIGNED_PIN, verify_log
from forensic.errors import IntegrityError, UsageError
from tests.chain_of_custody.test_processes import spawn

import casestore

REPO = Path(__file__).resolve().parents[2]
STANDALONE = REPO / "docs" / "verify_custody.py"
PIN = b'{"action":"examiner.key_pinned"'


def forensic(*args, key: Path | None = None, crash: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FORENSIC_KEY", "FORENSIC_CASE", CRASH_ENV)}
    if key is not None:
        env["FORENSIC_KEY"] = str(key)
    if crash is not None:
        env[CRASH_ENV] = crash
    return subprocess.run([sys.executable, "-m", "forensic.cli.main", *map(str, args)], cwd=REPO,
                          env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def standalone(case: Path) -> tuple[int, dict]:
    res = subprocess.run([sys.executable, str(STANDALONE), str(case)], capture_output=True,
                         text=True, timeout=120)
    return res.returncode, json.loads(res.stdout)


def verify(case: Path, expect: int) -> dict:
    r = forensic("custody", "verify", "--case", case, "--json")
    assert r.returncode == expect, r.stdout + r.stderr
    return json.loads(r.stdout)


def snapshot(case: Path) -> tuple[bytes, bytes, list]:
    """The log, the checkpoints file and the store's checkpoints and pins, byte for byte."""
    db = casestore.connect(case)
    try:
        rows = [tuple(r) for r in db.execute("SELECT record FROM custody_checkpoints ORDER BY rowid")] \
            + [tuple(r) for r in db.execute("SELECT public_key FROM custody_pins ORDER BY rowid")]
    finally:
        db.close()
    return (case / LOG_NAME).read_bytes(), (case / CHECKPOINTS_NAME).read_bytes(), rows


@pytest.fixture()
def unsigned_case(tmp_path) -> dict:
    """A case made and noted without a key, and two examiners' keys."""
    case = tmp_path / "case"
    for args in (("case", "init", case, "--case-id", "P-1", "--examiner", "ann"),
                 ("custody", "note", "unsigned so far", "--case", case)):
        r = forensic(*args)
        assert r.returncode == 0, r.stderr
    ann, bob = Signer.generate("ann"), Signer.generate("bob")
    ann_key, ann_pub = write_keypair(ann, tmp_path / "keys")
    bob_key, _ = write_keypair(bob, tmp_path / "keys")
    return {"case": case, "key": ann_key, "pub": ann_pub, "bob": bob_key}


def crash_first_signed_note(c: dict) -> tuple[bytes, bytes]:
    """The first signed command (a note: its entry, then the pin) killed once both entries
    are in the log, before its checkpoint. (log before, log after)"""
    before = (c["case"] / LOG_NAME).read_bytes()
    r = forensic("custody", "note", "signed", "--case", c["case"], key=c["key"], crash="kill:2")
    assert r.returncode == -9, r.stderr
    after = (c["case"] / LOG_NAME).read_bytes()
    assert after.startswith(before)
    tail = after[len(before):].splitlines()
    assert len(tail) == 2 and b'"custody.note"' in tail[0] and tail[1].startswith(PIN)
    return before, after


def test_crash_after_the_pin_fails_verify_and_repair_sets_it_aside(unsigned_case):
    c = unsigned_case
    case = c["case"]
    before, after = crash_first_signed_note(c)
    n = before.count(b"\n")
    out = verify(case, 4)
    assert UNSIGNED_PIN in out["problem"] and "repair" in out["problem"]
    assert (out["entries"], out["tree_size"], out["signatures_verified"]) == (n + 2, n, 0)

    # nothing records on top of it without the key, and no other key repairs it
    r = forensic("custody", "note", "x", "--case", case)
    assert r.returncode != 0 and "signed" in r.stderr
    r = forensic("custody", "repair", "--case", case)
    assert r.returncode != 0 and "--key" in r.stderr
    r = forensic("custody", "repair", "--case", case, key=c["bob"])
    assert r.returncode != 0 and "not pinned" in r.stderr
    assert (case / LOG_NAME).read_bytes() == after and not (case / QUARANTINE_DIR).exists()

    r = forensic("custody", "repair", "--case", case, "--json", key=c["key"])
    assert r.returncode == 0, r.stderr
    (moved,) = json.loads(r.stdout)["repaired"]
    assert (moved["file"], moved["offset"], moved["entries"], moved["first_seq"], moved["last_seq"]) \
        == (LOG_NAME, len(before), 2, n, n + 1)
    assert (case / moved["quarantine"]).read_bytes() == after[len(before):]

    log = (case / LOG_NAME).read_bytes()
    assert log.startswith(before)                      # covered history untouched
    new = [json.loads(x) for x in log[len(before):].splitlines()]
    assert [e["action"] for e in new] == ["custody.repaired", "examiner.key_pinned"]
    assert new[0]["details"]["sha256"] == moved["sha256"] and "pinned again" in new[0]["reason"]
    out = verify(case, 0)
    assert out["ok"] and out["signatures_verified"] == 1 and out["entries"] == n + 2
    r = forensic("custody", "verify", "--case", case, "--pub", c["pub"], "--json")
    assert r.returncode == 4          # its first, unsigned, checkpoints: --pub wants every one signed
    code, got = standalone(case)
    assert code == 0 and got["signatures_verified"] == 1

    # the case goes on, signed by the key pinned again
    assert forensic("custody", "note", "after", "--case", case, key=c["key"]).returncode == 0
    assert forensic("custody", "note", "x", "--case", case).returncode != 0
    assert verify(case, 0)["signatures_verified"] == 2
    assert forensic("custody", "repair", "--case", case, key=c["key"]).stdout.strip() == "nothing to repair"


def test_signed_log_stripped_of_its_signed_checkpoints_is_not_repaired(unsigned_case):
    """The same files as the crash leaves: a signed note whose checkpoint (the only signed
    one) is removed from the file and the store. The store's pin shows it was checkpointed;
    repair refuses and moves nothing, and verify still fails."""
    c = unsigned_case
    case = c["case"]
    before = (case / LOG_NAME).read_bytes()
    r = forensic("custody", "note", "signed", "--case", case, key=c["key"])
    assert r.returncode == 0, r.stderr
    cps = (case / CHECKPOINTS_NAME).read_bytes().splitlines(keepends=True)
    assert b'"signature":null' not in cps[-1]
    (case / CHECKPOINTS_NAME).write_bytes(b"".join(cps[:-1]))
    with casestore.tampered(case) as db:
        assert db.execute("DELETE FROM custody_checkpoints WHERE record NOT LIKE "
                          "'%\"signature\":null%'").rowcount == 1
    assert (case / LOG_NAME).read_bytes()[len(before):].splitlines()[-1].startswith(PIN)
    files = snapshot(case)

    assert UNSIGNED_PIN in verify(case, 4)["problem"]
    r = forensic("custody", "repair", "--case", case, key=c["key"])
    assert r.returncode != 0 and "damaged, not just torn" in r.stderr
    assert snapshot(case) == files and not (case / QUARANTINE_DIR).exists()
    assert UNSIGNED_PIN in verify(case, 4)["problem"]


def test_signed_log_with_every_checkpoint_removed_is_not_repaired(tmp_path):
    """Signed from case init on (pin covered by the first checkpoint), then every checkpoint
    removed with the store's copies: verify and repair both still fail."""
    key, _ = write_keypair(Signer.generate("ann"), tmp_path / "keys")
    case = tmp_path / "case"
    for args in (("case", "init", case, "--case-id", "P-2", "--examiner", "ann"),
                 ("custody", "note", "one", "--case", case)):
        assert forensic(*args, key=key).returncode == 0
    (case / CHECKPOINTS_NAME).write_bytes(b"")
    with casestore.tampered(case) as db:
        db.execute("DELETE FROM custody_checkpoints")
    files = snapshot(case)
    assert UNSIGNED_PIN in verify(case, 4)["problem"]
    r = forensic("custody", "repair", "--case", case, key=key)
    assert r.returncode != 0 and "damaged, not just torn" in r.stderr
    assert snapshot(case) == files and not (case / QUARANTINE_DIR).exists()


def test_a_large_first_signed_commit_killed_after_its_pin(tmp_path):
    """Through the library: 1,000 unsigned leaves checkpointed, then a signed writer whose
    first commit (1,000 leaves and the pin) is killed once all 1,001 lines are written."""
    signer = Signer.generate("ann")
    key, _ = write_keypair(signer, tmp_path / "keys")
    Case.init(tmp_path / "case", "CASE-1", "ann").close()
    root = tmp_path / "case"
    p = spawn(root, "u", 1000, 1000)
    assert p.wait(timeout=120) == 0
    before = (root / LOG_NAME).read_bytes()
    p = spawn(root, "w", 3000, 1000, **{CRASH_ENV: "kill:1001", "FORENSIC_KEY": str(key)})
    assert p.wait(timeout=120) == -9
    data = (root / LOG_NAME).read_bytes()
    assert data.count(b"\n") == 2001 and data.splitlines()[-1].startswith(PIN)

    case = Case.open(root)
    report = verify_log(case.root, case.db)
    assert not report.ok and len(report.problems) == 1 and UNSIGNED_PIN in report.problem
    assert (report.entries, report.tree_size, report.first_bad_seq) == (2001, 1000, 2000)
    with CustodyLog(case.root, case.db, "CASE-1", actor="ann") as log, \
            pytest.raises(UsageError, match="--key"):
        log.repair(actor="ann")                # a repair of it is signed, by the key pinned
    with CustodyLog(case.root, case.db, "CASE-1", signer=signer, actor="ann") as log:
        result = log.repair(actor="ann")
    (moved,) = result["repaired"]
    assert (moved["offset"], moved["entries"], moved["first_seq"]) == (len(before), 1001, 1000)
    assert (case.root / moved["quarantine"]).read_bytes() == data[len(before):]
    after = verify_log(case.root, case.db)
    assert after.ok, after.problems
    assert (after.entries, after.tree_size, after.signatures_verified) == (1002, 1002, 1)
    assert (case.root / LOG_NAME).read_bytes().startswith(before)
    case.close()


def test_case_init_with_a_key_killed_before_its_first_checkpoint(tmp_path):
    """The crash at the very first commit (case.created and the pin, no checkpoint at all):
    both are set aside, and the repair's own entry starts the log again, signed."""
    key, _ = write_keypair(Signer.generate("ann"), tmp_path / "keys")
    case = tmp_path / "case"
    r = forensic("case", "init", case, "--case-id", "P-3", "--examiner", "ann", key=key, crash="kill:2")
    assert r.returncode == -9, r.stderr
    data = (case / LOG_NAME).read_bytes()
    assert data.count(b"\n") == 2 and data.splitlines()[-1].startswith(PIN)
    assert UNSIGNED_PIN in verify(case, 4)["problem"]
    r = forensic("custody", "repair", "--case", case, "--json", key=key)
    assert r.returncode == 0, r.stderr
    (moved,) = json.loads(r.stdout)["repaired"]
    assert (moved["offset"], moved["entries"], moved["first_seq"]) == (0, 2, 0)
    assert (case / moved["quarantine"]).read_bytes() == data
    out = verify(case, 0)
    assert out["entries"] == 2 and out["signatures_verified"] == 1


def test_the_next_signed_command_by_the_pinned_key_signs_the_crash_in(unsigned_case):
    """Without a repair: the next command with the key the crash pinned checkpoints the
    crash's entries (the log was unsigned; its key is pinned there), and verify passes;
    repair then finds nothing to do."""
    c = unsigned_case
    crash_first_signed_note(c)
    assert forensic("custody", "note", "next", "--case", c["case"], key=c["key"]).returncode == 0
    files = snapshot(c["case"])
    assert verify(c["case"], 0)["signatures_verified"] == 1
    r = forensic("custody", "repair", "--case", c["case"], key=c["key"])
    assert r.returncode == 0 and r.stdout.strip() == "nothing to repair"
    assert snapshot(c["case"]) == files


def test_repair_without_the_store_refuses(unsigned_case):
    """Without the case store nothing tells a crash from removed checkpoints: refused."""
    c = unsigned_case
    _, after = crash_first_signed_note(c)
    signer = Signer.load(c["key"])
    with CustodyLog(c["case"], None, "P-1", signer=signer, actor="ann") as log, \
            pytest.raises(IntegrityError, match="not just torn"):
        log.repair(actor="ann")
    assert (c["case"] / LOG_NAME).read_bytes() == after


def test_a_crashed_first_pin_of_two_keys_is_repaired_by_the_signing_key_only(unsigned_case):
    """'examiner add bob.pub --key ann.key' on a case no key signed yet: bob's pin, then ann's
    (the first signer's, written last), then the crash. Bob's key is named in the tail but
    signed nothing: only ann's key repairs it, and only ann's is pinned again."""
    c = unsigned_case
    case = c["case"]
    before = (case / LOG_NAME).read_bytes()
    bob_pub = c["bob"].with_suffix(".pub")
    r = forensic("examiner", "add", bob_pub, "--case", case, key=c["key"], crash="kill:2")
    assert r.returncode == -9, r.stderr
    tail = (case / LOG_NAME).read_bytes()[len(before):].splitlines()
    assert len(tail) == 2 and all(x.startswith(PIN) for x in tail)
    assert json.loads(tail[-1])["details"]["examiner"] == "ann"
    assert UNSIGNED_PIN in verify(case, 4)["problem"]
    files = snapshot(case)
    r = forensic("custody", "repair", "--case", case, key=c["bob"])
    assert r.returncode != 0 and "must be signed by that key" in r.stderr
    assert snapshot(case) == files and not (case / QUARANTINE_DIR).exists()
    r = forensic("custody", "repair", "--case", case, "--json", key=c["key"])
    assert r.returncode == 0, r.stderr
    assert verify(case, 0)["signatures_verified"] == 1
    pins = [json.loads(x)["details"]["examiner"] for x in (case / LOG_NAME).read_bytes().splitlines()
            if x.startswith(PIN)]
    assert pins == ["ann"]
    assert forensic("custody", "note", "x", "--case", case, key=c["bob"]).returncode != 0
