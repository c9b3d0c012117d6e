"""The custody and examiner commands, through the real CLI; minisign and the stand-alone
verifier in docs/ check what this tool writes."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from forensic.chain_of_custody.log import CHECKPOINTS_NAME, LOG_NAME
from forensic.cli.main import cli
from forensic.case import Case
from tests.chain_of_custody.helpers import build_case, copy_case

REPO = Path(__file__).resolve().parents[2]
VERIFIER = REPO / "docs" / "verify_custody.py"


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False,
                              standalone_mode=False)


def forensic(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The installed command, so exit codes are the real ones."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "forensic.cli.main", *args], cwd=REPO, env=full_env,
                          capture_output=True, text=True)


@pytest.fixture()
def case_dir(tmp_path) -> Path:
    Case.init(tmp_path / "case", "CASE-1", "Examiner Name").close()
    return tmp_path / "case"


@pytest.fixture()
def keys(tmp_path) -> Path:
    out = tmp_path / "keys"
    result = forensic("examiner", "keygen", "alice", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["name"] == "alice" and len(info["key_id"]) == 16
    return out


def test_keygen_files(keys):
    key, pub = keys / "alice.key", keys / "alice.pub"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("forensic examiner key v1\nname: alice\n")
    assert pub.read_text().startswith("untrusted comment: minisign public key ")
    again = forensic("examiner", "keygen", "alice", "--out", str(keys))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_passphrase_protected_key(tmp_path, case_dir):
    pw = tmp_path / "pw"
    pw.write_text("correct horse\n")
    r = forensic("examiner", "keygen", "bob", "--out", str(tmp_path), "--passphrase-file", str(pw))
    assert r.returncode == 0, r.stderr
    assert "ENCRYPTED PRIVATE KEY" in (tmp_path / "bob.key").read_text()
    no_pw = forensic("custody", "note", "hi", "--case", str(case_dir), "--key",
                     str(tmp_path / "bob.key"), env={"FORENSIC_KEY_PASSPHRASE": ""})
    assert no_pw.returncode == 2 and "passphrase" in no_pw.stderr
    ok = forensic("custody", "note", "hi", "--case", str(case_dir),
                  env={"FORENSIC_KEY": str(tmp_path / "bob.key"),
                       "FORENSIC_KEY_PASSPHRASE": "correct horse"})
    assert ok.returncode == 0, ok.stderr
    v = json.loads(forensic("custody", "verify", "--json", "--case", str(case_dir)).stdout)
    assert v["ok"] and v["signatures_verified"] == 1


def test_commands_record_sign_and_verify(case_dir, keys, tmp_path):
    c = ["--case", str(case_dir)]
    assert forensic("custody", "note", "seal intact", *c, "--key", str(keys / "alice.key")).returncode == 0
    r = forensic("custody", "transfer", "--to", "Bob Lab", "--reason", "analysis", "--subject",
                 "case", *c, "--key", str(keys / "alice.key"), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["tree_size"] == 3        # the note, the pin of alice's key, the transfer
    bad = forensic("custody", "transfer", "--to", "X", "--reason", "y", "--subject", "E9", *c,
                   "--key", str(keys / "alice.key"))
    assert bad.returncode == 1 and "no evidence item 'E9'" in bad.stderr
    # the log is signed now: a command without a key may not add to it
    unsigned = forensic("custody", "note", "no key", *c)
    assert unsigned.returncode == 2 and "custody log is signed" in unsigned.stderr
    log = forensic("custody", "log", "--json", *c).stdout.splitlines()
    assert len(log) == 3
    entries = [json.loads(x) for x in log]
    assert entries[1]["action"] == "examiner.key_pinned"          # the first key to sign is pinned
    assert entries[1]["details"]["key_id"] == entries[0]["actor"]["key_id"]
    assert entries[2]["action"] == "custody.transferred" and entries[2]["reason"] == "analysis"
    assert entries[2]["details"] == {"from": "alice", "to": "Bob Lab"}
    assert entries[0]["actor"]["key_id"] and entries[0]["tool"]["name"] == "forensic"
    assert entries[2]["prev"] == entries[1]["hash"]
    assert log[0].encode() == (case_dir / LOG_NAME).read_bytes().split(b"\n")[0]
    v = forensic("custody", "verify", "--json", "--pub", str(keys / "alice.pub"), *c)
    report = json.loads(v.stdout)
    assert v.returncode == 0 and report["ok"] and report["signatures_verified"] == 2
    assert report["first_bad_seq"] is None and report["problem"] is None
    # a key that did not sign is not trusted
    other = tmp_path / "other"
    assert forensic("examiner", "keygen", "mallory", "--out", str(other)).returncode == 0
    v = forensic("custody", "verify", "--json", "--pub", str(other / "mallory.pub"), *c)
    assert v.returncode == 4 and "not among the trusted keys" in json.loads(v.stdout)["problem"]

    p = forensic("custody", "prove", "0", "--json", *c)
    proof = json.loads(p.stdout)
    assert p.returncode == 0 and proof["tree_size"] == 3 and len(proof["proof"]) == 2
    assert forensic("custody", "prove", "5", *c).returncode == 2


def test_minisign_verifies_checkpoint_signatures(case_dir, keys, tmp_path):
    if shutil.which("minisign") is None:
        pytest.skip("minisign not installed (scripts/setup.sh)")
    c = ["--case", str(case_dir), "--key", str(keys / "alice.key")]
    assert forensic("custody", "note", "one", *c).returncode == 0
    cp = json.loads((case_dir / CHECKPOINTS_NAME).read_text().splitlines()[-1])
    body, sig = tmp_path / "checkpoint.txt", tmp_path / "checkpoint.txt.minisig"
    body.write_text(cp["body"], newline="")
    sig.write_text(cp["signature"], newline="")
    ok = subprocess.run(["minisign", "-V", "-p", str(keys / "alice.pub"), "-m", str(body)],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert f"size=2 root={cp['root']}" in ok.stdout           # the note, and the pin of alice's key
    body.write_text(cp["body"].replace("\n2\n", "\n3\n"), newline="")
    bad = subprocess.run(["minisign", "-V", "-p", str(keys / "alice.pub"), "-m", str(body)],
                         capture_output=True, text=True)
    assert bad.returncode != 0


def test_verify_exit_code_and_repair_of_torn_write(case_dir):
    c = ["--case", str(case_dir)]
    assert forensic("custody", "note", "a", *c).returncode == 0
    with open(case_dir / LOG_NAME, "ab") as f:
        f.write(b'{"action":"file.rec')          # what a crash mid-write leaves
    v = forensic("custody", "verify", "--json", *c)
    report = json.loads(v.stdout)
    assert v.returncode == 4 and report["torn_tail"] == LOG_NAME and report["first_bad_seq"] == 1
    blocked = forensic("custody", "note", "b", *c)
    assert blocked.returncode == 4 and "torn" in blocked.stderr and "repair" in blocked.stderr
    r = forensic("custody", "repair", "--json", *c)
    assert r.returncode == 0, r.stderr
    moved = json.loads(r.stdout)["repaired"]
    assert len(moved) == 1 and moved[0]["bytes"] == 19
    assert (case_dir / moved[0]["quarantine"]).read_bytes() == b'{"action":"file.rec'
    v = forensic("custody", "verify", "--json", *c)
    assert v.returncode == 0 and json.loads(v.stdout)["entries"] == 2
    last = json.loads((case_dir / LOG_NAME).read_text().splitlines()[-1])
    assert last["action"] == "custody.repaired" and last["details"]["bytes"] == 19
    assert forensic("custody", "repair", *c).stdout.strip() == "nothing to repair"


def test_repair_refuses_damage_that_is_not_a_torn_tail(case_dir):
    c = ["--case", str(case_dir)]
    for text in ("a", "b"):
        assert forensic("custody", "note", text, *c).returncode == 0
    data = (case_dir / LOG_NAME).read_bytes()
    (case_dir / LOG_NAME).write_bytes(data.replace(b'"text":"a"', b'"text":"X"'))
    r = forensic("custody", "repair", *c)
    assert r.returncode == 4 and "entry 0" in r.stderr
    assert (case_dir / LOG_NAME).read_bytes() == data.replace(b'"text":"a"', b'"text":"X"')


def test_every_command_has_help():
    for args in (["custody"], ["custody", "log"], ["custody", "verify"], ["custody", "prove"],
                 ["custody", "transfer"], ["custody", "note"], ["custody", "repair"],
                 ["examiner", "keygen"]):
        result = CliRunner().invoke(cli, args + ["--help"])
        assert result.exit_code == 0 and len(result.output) > 80, args


def _standalone(root: Path) -> dict:
    r = subprocess.run([sys.executable, str(VERIFIER), str(root)], capture_output=True, text=True)
    out = json.loads(r.stdout)
    assert r.returncode == (0 if out["ok"] else 4)
    return out


def test_standalone_verifier_agrees(tmp_path):
    from forensic.chain_of_custody.signing import Signer
    from forensic.chain_of_custody.verify import verify_log
    good = build_case(tmp_path / "good", signer=Signer.generate("alice"))
    good.close()
    raw = (good.root / LOG_NAME).read_bytes()
    lines = raw.split(b"\n")[:-1]
    at = sum(len(x) + 1 for x in lines[:5]) + 100
    variants = {
        "good": raw,
        "flipped": raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1:],     # in a file leaf, not the pin
        "deleted": b"".join(x + b"\n" for x in lines[:4] + lines[5:]),
        "swapped": b"".join(x + b"\n" for x in lines[:2] + [lines[3], lines[2]] + lines[4:]),
        "duplicated": b"".join(x + b"\n" for x in lines[:8] + [lines[7]] + lines[8:]),
        "torn": raw[:-30],
        "truncated": b"".join(x + b"\n" for x in lines[:12]),
    }
    for name, data in variants.items():
        root = copy_case(good.root, tmp_path / f"v-{name}", data)
        case = Case.open(root)
        ours = verify_log(root, case.db)
        case.close()
        theirs = _standalone(root)
        assert theirs["ok"] == ours.ok == (name == "good"), (name, theirs, ours.problems)
        assert theirs["first_bad_seq"] == ours.first_bad_seq, (name, theirs, ours.problems)
        assert theirs["entries"] == ours.entries, name
        assert theirs["signatures_verified"] == ours.signatures_verified == 5
    # checkpoints file cut back to 2 of 5: only the case store notices
    root = copy_case(good.root, tmp_path / "cpcut")
    cps = (root / CHECKPOINTS_NAME).read_bytes().split(b"\n")[:-1]
    (root / CHECKPOINTS_NAME).write_bytes(b"".join(x + b"\n" for x in cps[:2]))
    (root / LOG_NAME).write_bytes(b"".join(x + b"\n" for x in lines[:6]))
    case = Case.open(root)
    ours = verify_log(root, case.db)
    case.close()
    theirs = _standalone(root)
    assert not theirs["ok"] and not ours.ok
    assert theirs["first_bad_seq"] == ours.first_bad_seq == 6
