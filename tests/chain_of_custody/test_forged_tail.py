"""Issue 13, item 1: someone who can write the case folder, but has not the examiner's key,
tries to put words in the examiner's mouth. Each attack is made as that person would: a
line appended with a correct ``prev`` and ``hash``, then an unsigned checkpoint for it,
then a checkpoint signed with their own key and their key "pinned" beside it. None may
verify, and no later command of the examiner may sign it in."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from forensic.chain_of_custody import merkle
from forensic.chain_of_custody.canonical import encode
from forensic.chain_of_custody.log import (CHECKPOINTS_NAME, LOG_NAME, Checkpoint, checkpoint_body,
                                           trusted_comment)
from forensic.chain_of_custody.pins import pin_details
from forensic.chain_of_custody.signing import PublicKey, Signer, write_keypair

import casestore
from builders import ext4_image, tiny_jpeg

FORENSIC = [sys.executable, "-m", "forensic.cli.main"]


def forensic(*args, key: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FORENSIC_KEY", "FORENSIC_CASE")}
    if key is not None:
        env["FORENSIC_KEY"] = str(key)
    return subprocess.run(FORENSIC + [str(a) for a in args], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def built_case(tmp_path_factory) -> dict:
    """A case made and triaged with the examiner's key, pinned at case init: made once."""
    tmp = tmp_path_factory.mktemp("signed-case")
    examiner = Signer.generate("ann")
    key, pub = write_keypair(examiner, tmp / "keys")
    img = ext4_image(tmp, {"DCIM/a.jpg": tiny_jpeg(), "notes.txt": b"notes"}, size_mib=4)
    case = tmp / "case"
    for args in (("case", "init", case, "--case-id", "F-1", "--examiner", "ann"),
                 ("evidence", "add", img, "--id", "phone", "--case", case),
                 ("triage", "--case", case)):
        r = forensic(*args, key=key)
        assert r.returncode in (0, 3), r.stderr
    return {"case": case, "key": key, "pub": pub, "signer": examiner}


@pytest.fixture()
def signed_case(built_case, tmp_path) -> dict:
    """That case and key, copied for one test to attack (the evidence image stays shared: no
    test writes to it)."""
    case, keys = tmp_path / "case", tmp_path / "keys"
    casestore.copy_case(built_case["case"], case)
    shutil.copytree(built_case["key"].parent, keys)
    return {"case": case, "key": keys / built_case["key"].name, "pub": keys / built_case["pub"].name,
            "signer": built_case["signer"], "tmp": tmp_path}


def forge_entry(case: Path, action: str = "custody.note", details: dict | None = None) -> bytes:
    """Append an entry with the right seq, prev and hash, as anyone can compute them."""
    lines = (case / LOG_NAME).read_bytes().splitlines()
    last = json.loads(lines[-1])
    entry = dict(last, seq=last["seq"] + 1, prev=last["hash"], action=action,
                 subject={"case": "F-1"}, sha256=None, reason=None,
                 details=details or {"text": "the suspect was shown the photos and agreed"})
    entry.pop("hash")
    entry["hash"] = hashlib.sha256(encode(entry).encode()).hexdigest()
    line = encode(entry).encode()
    with open(case / LOG_NAME, "ab") as f:
        f.write(line + b"\n")
    return line


def spoofed_signature(signer: Signer, claimed_id: bytes, body: bytes, comment: str) -> str:
    """A minisign signature by ``signer``'s key that names another key id (the id is a label
    in the format, not derived from the key)."""
    raw = base64.b64decode(signer.sign(body, comment).splitlines()[1])[10:]
    sig = base64.b64encode(b"ED" + claimed_id + raw).decode()
    lines = signer.sign(body, comment).splitlines()
    return "\n".join([lines[0], sig, lines[2], lines[3]]) + "\n"


def forge_checkpoint(case: Path, signer: Signer | None, claim: PublicKey | None = None) -> None:
    """A checkpoint over the whole (forged) log, appended to the file and the case store;
    with ``claim``, signed by ``signer`` but naming ``claim``'s key id."""
    data = (case / LOG_NAME).read_bytes()
    lines = data.splitlines()
    old = Checkpoint.from_line((case / CHECKPOINTS_NAME).read_bytes().splitlines()[-1])
    leaves = merkle.leaf_hashes(lines)
    rng = merkle.CompactRange(0)
    rng.extend(leaves)
    root = merkle.fold(rng.pieces).hex()
    at = "2026-12-04T20:00:00.000000Z"
    proof = [h.hex() for h in merkle.consistency_proof(
        old.tree_size, len(lines), lambda a, b: merkle.root_of_leaves(leaves[a:b]))]
    body = checkpoint_body("F-1", len(lines), root, at)
    signature = public_key = name = None
    if signer is not None and claim is not None:
        signature = spoofed_signature(signer, claim.key_id, body, trusted_comment("F-1", len(lines), root))
        public_key = base64.b64encode(b"Ed" + claim.key_id + signer.public.raw).decode()
        name = "ann"
    elif signer is not None:
        signature = signer.sign(body, trusted_comment("F-1", len(lines), root))
        public_key, name = signer.public.base64(), signer.name
    cp = Checkpoint("F-1", len(lines), root, at, len(data), json.loads(lines[-1])["hash"], old.tree_size,
                    tuple(proof), tuple(p[2].hex() for p in rng.pieces), signature, public_key, name)
    with open(case / CHECKPOINTS_NAME, "ab") as f:
        f.write(cp.line() + b"\n")
    with casestore.tampered(case) as db:
        db.execute("INSERT INTO custody_checkpoints(tree_size, root, at, record) VALUES (?, ?, ?, ?)",
                   (cp.tree_size, cp.root, cp.at, cp.line().decode()))


VERIFIER = Path(__file__).resolve().parents[2] / "docs" / "verify_custody.py"


def verify(case: Path, *extra) -> tuple[int, dict]:
    """``forensic custody verify``, and the stand-alone verifier of docs/ must agree."""
    r = forensic("custody", "verify", "--case", case, "--json", *extra)
    alone = subprocess.run([sys.executable, VERIFIER, case, *map(str, extra)], capture_output=True,
                           text=True)
    assert alone.returncode == r.returncode, (alone.stdout, r.stdout)
    return r.returncode, json.loads(r.stdout)


def test_a_forged_tail_fails_verification_and_is_never_signed_in(signed_case):
    case, key = signed_case["case"], signed_case["key"]
    before = (case / CHECKPOINTS_NAME).read_bytes()
    forged = forge_entry(case)
    code, report = verify(case)
    assert code == 4 and not report["ok"]
    assert "signed by no key" in report["problem"]
    # The examiner's next command refuses to sign it in.
    r = forensic("custody", "note", "routine check", "--case", case, key=key)
    assert r.returncode == 4, r.stderr
    assert "will not sign them" in r.stderr and "Traceback" not in r.stderr
    assert (case / CHECKPOINTS_NAME).read_bytes() == before
    r = forensic("triage", "--case", case, "--force", key=key)
    assert r.returncode == 4 and (case / CHECKPOINTS_NAME).read_bytes() == before
    # Repair sets it aside, says so in a signed entry, and the log verifies again.
    r = forensic("custody", "repair", "--case", case, "--json", key=key)
    assert r.returncode == 0, r.stderr
    moved = json.loads(r.stdout)["repaired"]
    assert len(moved) == 1 and moved[0]["entries"] == 1
    assert (case / moved[0]["quarantine"]).read_bytes() == forged + b"\n"
    assert forged not in (case / LOG_NAME).read_bytes()
    code, report = verify(case, "--pub", signed_case["pub"])
    assert code == 0 and report["ok"], report
    last = json.loads((case / LOG_NAME).read_bytes().splitlines()[-1])
    assert last["action"] == "custody.repaired" and last["details"]["entries"] == 1
    assert last["details"]["sha256"] == hashlib.sha256(forged + b"\n").hexdigest()


def test_repair_of_a_signed_log_needs_the_key(signed_case):
    forge_entry(signed_case["case"])
    r = forensic("custody", "repair", "--case", signed_case["case"])
    assert r.returncode == 2 and "signed" in r.stderr
    assert verify(signed_case["case"])[0] == 4


def test_a_forged_tail_with_an_unsigned_checkpoint_fails(signed_case):
    case = signed_case["case"]
    forge_entry(case)
    forge_checkpoint(case, None)
    code, report = verify(case)
    assert code == 4 and "is unsigned, but the log is signed" in report["problem"]


def test_a_forged_tail_signed_and_pinned_by_another_key_fails(signed_case):
    case = signed_case["case"]
    mallory = Signer.generate("mallory")
    forge_entry(case, "examiner.key_pinned", pin_details("mallory", mallory.public))
    forge_entry(case)
    forge_checkpoint(case, mallory)
    code, report = verify(case)
    assert code == 4
    assert "no earlier checkpoint pinned" in report["problem"], report
    # Even the checks a prosecutor runs with only the checkpoint's embedded keys fail.
    assert report["signatures_verified"] < report["checkpoints"]


def test_an_unsigned_command_may_not_add_to_a_signed_log(signed_case):
    case = signed_case["case"]
    size = (case / LOG_NAME).stat().st_size
    for args in (("custody", "note", "x", "--case", case), ("evidence", "verify", "phone", "--case", case),
                 ("triage", "--case", case, "--force")):
        r = forensic(*args)
        assert r.returncode == 2 and "custody log is signed" in r.stderr, r.stderr
    assert (case / LOG_NAME).stat().st_size == size


def test_a_key_not_pinned_is_refused_until_a_pinned_examiner_adds_it(signed_case):
    case, tmp = signed_case["case"], signed_case["tmp"]
    bob = Signer.generate("bob")
    bob_key, bob_pub = write_keypair(bob, tmp / "bob")
    r = forensic("custody", "note", "bob here", "--case", case, key=bob_key)
    assert r.returncode == 2 and "not pinned" in r.stderr
    # Bob cannot pin himself.
    r = forensic("examiner", "add", bob_pub, "--case", case, key=bob_key)
    assert r.returncode == 2 and "not pinned" in r.stderr
    # Ann, pinned at case init, adds Bob: a signed event in the log.
    r = forensic("examiner", "add", bob_pub, "--case", case, "--json", key=signed_case["key"])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["key_id"] == bob.public.id_text
    r = forensic("custody", "note", "bob here", "--case", case, key=bob_key)
    assert r.returncode == 0, r.stderr
    code, report = verify(case, "--pub", signed_case["pub"], "--pub", bob_pub)
    assert code == 0 and report["ok"]
    assert any("bob" in p for p in report["pinned_keys"])


def test_every_batch_of_a_triage_is_checkpointed(signed_case):
    # A triage writes no entry that a checkpoint does not cover, so another command never
    # sees a live command's entries as an unvouched tail.
    code, report = verify(signed_case["case"])
    assert code == 0 and report["ok"] and report["unchecked_tail"] == 0


@pytest.mark.parametrize("block", [5, 31, 64, 1 << 22])
def test_pins_are_found_at_their_seq_across_blocks(tmp_path, block):
    from forensic.chain_of_custody import pins
    keys = [Signer.generate(f"k{i}").public for i in range(3)]
    lines = []
    for i in range(40):
        if i in (0, 13, 39):
            k = keys[(0, 13, 39).index(i)]
            lines.append(encode({"action": pins.PIN_ACTION, "details": pin_details(f"e{i}", k), "seq": i}))
        else:
            lines.append(encode({"action": "file.recorded", "seq": i, "subject": "x" * (i * 3)}))
    path = tmp_path / "log"
    path.write_bytes("\n".join(lines).encode() + b"\n")
    found = [(seq, line) for seq, line in pins._marked_lines(path, block)]
    assert [seq for seq, _ in found] == [0, 13, 39]
    assert [json.loads(line)["seq"] for _, line in found] == [0, 13, 39]
    # a torn last line holding the mark is not an entry
    with open(path, "ab") as f:
        f.write(lines[13].encode()[:-5])
    assert [seq for seq, _ in pins._marked_lines(path, block)] == [0, 13, 39]


def test_a_checkpoint_signed_by_another_key_under_the_examiners_key_id_fails(signed_case):
    # Red team: the key id in a minisign key line is a label; a key must be compared whole.
    case, key = signed_case["case"], signed_case["key"]
    mallory = Signer.generate("mallory")
    forge_entry(case)
    forge_checkpoint(case, mallory, claim=signed_case["signer"].public)
    code, report = verify(case)
    assert code == 4 and "no earlier checkpoint pinned" in report["problem"], report
    before = (case / CHECKPOINTS_NAME).read_bytes()
    r = forensic("custody", "note", "routine", "--case", case, key=key)
    assert r.returncode == 4 and "had not pinned" in r.stderr, r.stderr
    assert (case / CHECKPOINTS_NAME).read_bytes() == before


def test_commands_without_key_options_are_refused_before_they_work(signed_case, tmp_path):
    case = signed_case["case"]
    mallory_key, _ = write_keypair(Signer.generate("mallory"), tmp_path / "mallory")
    files = [json.loads(x) for x in forensic("files", "--case", case, "--json").stdout.splitlines()]
    digest = next(f["sha256"] for f in files if f["sha256"])
    size = (case / LOG_NAME).stat().st_size
    for key in (None, mallory_key):
        r = forensic("tag", "add", "--case", case, "--tag", "t", digest, key=key)
        assert r.returncode == 2, r.stderr
        r = forensic("timeline", "--case", case, "--out", tmp_path / "t.jsonl", key=key)
        assert r.returncode == 2 and not (tmp_path / "t.jsonl").exists(), r.stderr
    assert (case / LOG_NAME).stat().st_size == size
    assert forensic("tag", "list", "--case", case, "--json").stdout == ""       # nothing tagged
    assert verify(case)[0] == 0
    # with the pinned key both work, and a tag's removal is recorded too
    assert forensic("tag", "add", "--case", case, "--tag", "t", digest, key=signed_case["key"]).returncode == 0
    assert forensic("tag", "remove", "--case", case, "--tag", "t", digest, key=signed_case["key"]).returncode == 0
    last = json.loads((case / LOG_NAME).read_bytes().splitlines()[-1])
    assert last["action"] == "tag.removed" and last["details"]["removed"] == 1


def test_a_case_made_without_a_key_pins_the_first_key_that_signs(tmp_path):
    ann, mallory = Signer.generate("ann"), Signer.generate("mallory")
    ann_key, _ = write_keypair(ann, tmp_path / "ann")
    case = tmp_path / "case"
    assert forensic("case", "init", case, "--case-id", "F-1", "--examiner", "ann").returncode == 0
    assert forensic("custody", "note", "first signed act", "--case", case, key=ann_key).returncode == 0
    entries = [json.loads(x) for x in (case / LOG_NAME).read_bytes().splitlines()]
    assert [e["action"] for e in entries] == ["case.created", "custody.note", "examiner.key_pinned"]
    assert entries[2]["details"]["key_id"] == ann.public.id_text
    # mallory's own key, pinned in the forged tail itself, is not established
    forge_entry(case, "examiner.key_pinned", pin_details("mallory", mallory.public))
    forge_entry(case)
    forge_checkpoint(case, mallory)
    assert verify(case)[0] == 4


def test_repair_of_a_forged_entry_behind_a_torn_line_records_both(signed_case):
    case, key = signed_case["case"], signed_case["key"]
    forged = forge_entry(case)
    with open(case / LOG_NAME, "ab") as f:
        f.write(b'{"action":"custody.no')
    r = forensic("custody", "repair", "--case", case, "--json", key=key)
    assert r.returncode == 0, r.stderr
    moved = json.loads(r.stdout)["repaired"]
    assert sorted(bool(m.get("entries")) for m in moved) == [False, True]
    assert any((case / m["quarantine"]).read_bytes() == forged + b"\n" for m in moved)
    repaired = [json.loads(x) for x in (case / LOG_NAME).read_bytes().splitlines()
                if b'"custody.repaired"' in x]
    assert len(repaired) == 2
    assert verify(case, "--pub", signed_case["pub"])[0] == 0


def test_a_repair_by_a_key_not_pinned_moves_nothing(signed_case, tmp_path):
    case = signed_case["case"]
    forge_entry(case)
    before = (case / LOG_NAME).read_bytes()
    mallory_key, _ = write_keypair(Signer.generate("mallory"), tmp_path / "m")
    r = forensic("custody", "repair", "--case", case, key=mallory_key)
    assert r.returncode == 2 and "not pinned" in r.stderr
    assert (case / LOG_NAME).read_bytes() == before


def test_verify_names_the_keys_that_signed(signed_case):
    r = forensic("custody", "verify", "--case", signed_case["case"])
    assert r.returncode == 0
    fp = signed_case["signer"].public.fingerprint
    assert f"signed by: ann (key {signed_case['signer'].public.id_text}, fingerprint {fp})" in r.stdout
    assert "compare these fingerprints" in r.stderr


# -- hostile files: a clear verdict or refusal, never a crash ---------------------------------
def _no_crash(r: subprocess.CompletedProcess) -> None:
    assert "unexpected" not in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_checkpoint_with_a_public_key_that_is_not_text(signed_case):
    case, key = signed_case["case"], signed_case["key"]
    lines = (case / CHECKPOINTS_NAME).read_bytes().splitlines()
    last = json.loads(lines[-1])
    last["public_key"] = 5
    (case / CHECKPOINTS_NAME).write_bytes(b"\n".join(lines[:-1] + [encode(last).encode()]) + b"\n")
    code, report = verify(case)
    assert code == 4 and "malformed" in report["problem"]
    for args in (("custody", "note", "x"), ("custody", "repair")):
        r = forensic(*args, "--case", case, key=key)
        _no_crash(r)
        assert r.returncode == 4, r.stderr


@pytest.mark.parametrize("line", [
    b'[{"action":"examiner.key_pinned"}]',
    b'{"action":"examiner.key_pinned","details":' + b"[" * 200_000 + b"]" * 200_000 + b"}",
    b'{"action":"examiner.key_pinned","details":"not an object"}',
    b'{"action":"examiner.key_pinned","details":{"examiner":"m","public_key":"AAAA"}}',
], ids=["list", "deep", "details-text", "short-key"])
def test_hostile_lines_that_look_like_pins(signed_case, line):
    case = signed_case["case"]
    with open(case / LOG_NAME, "ab") as f:
        f.write(line + b"\n")
    r = forensic("custody", "verify", "--case", case, "--json")
    _no_crash(r)
    assert r.returncode == 4                      # and the stand-alone verifier agrees
    assert subprocess.run([sys.executable, VERIFIER, case], capture_output=True).returncode == 4


def test_a_damaged_pin_table_in_the_case_store(signed_case, tmp_path):
    case = signed_case["case"]
    with casestore.tampered(case) as db:
        if casestore.is_postgres(case):       # its text holds no bytes that are not UTF-8
            db.execute("UPDATE custody_pins SET examiner = ?", ("\ufffd\x01",))
        else:
            db.execute("UPDATE custody_pins SET examiner = x'ff'")
    other, _ = write_keypair(Signer.generate("bob"), tmp_path / "bob")
    r = forensic("custody", "note", "x", "--case", case, key=other)
    _no_crash(r)
    assert r.returncode == 2 and "not pinned" in r.stderr
