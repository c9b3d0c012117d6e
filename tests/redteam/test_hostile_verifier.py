"""Red team, issue 17 part 3: a verifier that checks nothing must not say ok.

Found: ``docs/verify_custody.py data/custody`` on a bundle's excerpt (which has no
``custody.jsonl``) printed ``"entries": 0`` and exited 0; ``verify-bundle`` called an excerpt
emptied of its entries and proofs "valid (0 entries proved)", a bag whose payload manifest
lists nothing "INTACT", and a bag with its custody excerpt cut out went on without it;
``forensic custody verify`` called a case folder whose log and checkpoints were deleted (and
its store's copy of the checkpoint with them) "intact: 0 entries".

Each attack below is made on a real case and a real bundle (``forensic export``), edited as an
attacker would: files removed or emptied, the BagIt manifests recomputed. Each must fail,
saying what could not be checked (docs/threat-model.md lists them).
"""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import casestore
from builders import ext4_image, tiny_jpeg
from forensic.chain_of_custody.signing import Signer, write_keypair
from forensic.exporters import bagit
from redteam.redteam_case import CHAT, edit_store

REPO = Path(__file__).resolve().parents[2]
STANDALONE = REPO / "docs" / "verify_custody.py"
CASE_ID = "C-RT17"
ROOT = f"{CASE_ID}-bundle/"
FILES = {
    "/WhatsApp/Chat.txt": CHAT,
    "/DCIM/photo.jpg": tiny_jpeg(b"Canon", b"EOS"),
    "/DCIM/other.jpg": tiny_jpeg(b"Nikon", b"D1"),
    "/notes.txt": b"not exported\n",
}
PREFIX = "phone.img \u203a file system (ext4) \u203a "


def cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A triaged case, tagged, and two bundles of it: one signed by the examiner (whose
    custody log is then signed too), one unsigned made before (to be resealed by a forger)."""
    tmp = tmp_path_factory.mktemp("verifier")
    case = tmp / "case"
    assert cli("case", "init", case, "--case-id", CASE_ID, "--examiner", "Ann Examiner") == 0
    assert cli("evidence", "add", ext4_image(tmp, FILES, name="phone.img"), "--id", "phone", "--case", case) == 0
    assert cli("triage", "--case", case) in (0, 3)
    assert cli("tag", "add", "--case", case, "--tag", "court", PREFIX + "/DCIM/photo.jpg") == 0
    assert cli("tag", "add", "--case", case, "--tag", "court", "--conversation", "/WhatsApp/Chat.txt") == 0
    unsigned = tmp / "unsigned.zip"
    assert cli("export", "--case", case, "--out", unsigned, "--tag", "court") == 0
    full = tmp / "full.zip"
    assert cli("export", "--case", case, "--out", full, "--tag", "court", "--full-custody") == 0
    examiner = Signer.generate("Ann Examiner")
    key, pub = write_keypair(examiner, tmp / "keys")
    assert cli("custody", "note", "--case", case, "--key", key, "about to export") == 0   # signs the log
    signed = tmp / "signed.zip"
    assert cli("export", "--case", case, "--out", signed, "--tag", "court", "--key", key) == 0
    return {"tmp": tmp, "case": case, "unsigned": unsigned, "full": full, "signed": signed, "key": key,
            "pub": pub}


def unzip(bundle: Path, dest: Path) -> Path:
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(dest)
    return dest / ROOT / "data" / "custody"


def standalone(folder: Path, *args) -> tuple[int, dict]:
    res = subprocess.run([sys.executable, str(STANDALONE), str(folder), *map(str, args)],
                         capture_output=True, text=True, timeout=120)
    return res.returncode, json.loads(res.stdout)


def reseal(src: Path, dst: Path, edit) -> Path:
    """A copy of an unsigned bundle with its bag edited by ``edit(rel: dict name -> bytes)``,
    and the payload manifest, Payload-Oxum and tag manifest recomputed: the bag is
    consistent again, as a careful forger leaves it."""
    with zipfile.ZipFile(src) as zf:
        rel = {i.filename[len(ROOT):]: zf.read(i) for i in zf.infolist()}
    edit(rel)
    payload = {k: v for k, v in rel.items() if k.startswith("data/")}
    rel["manifest-sha256.txt"] = bagit.manifest_text(sorted((k, sha(v)) for k, v in payload.items()))
    oxum = f"{sum(map(len, payload.values()))}.{len(payload)}"
    rel["bag-info.txt"] = re.sub(rb"Payload-Oxum: [^\n]*", f"Payload-Oxum: {oxum}".encode(), rel["bag-info.txt"])
    tags = {k: sha(v) for k, v in rel.items() if not k.startswith("data/") and k != bagit.TAGMANIFEST}
    rel[bagit.TAGMANIFEST] = bagit.manifest_text(sorted(tags.items()))
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in rel.items():
            zf.writestr(ROOT + name, data)
    return dst


def verify(path: Path):
    from forensic.exporters.verify import verify_bundle
    return verify_bundle(path)


# -- the stand-alone verifier (docs/verify_custody.py) on a bundle's excerpt ---------------------
def test_standalone_verifies_an_honest_excerpt(made, tmp_path):
    custody = unzip(made["signed"], tmp_path)
    code, out = standalone(custody, "--pub", made["pub"])
    assert code == 0 and out["ok"] is True and out["mode"] == "excerpt", out
    entries = (custody / "entries.jsonl").read_bytes().count(b"\n")
    assert out["entries"] == entries > 5 and out["signatures_verified"] == 1
    assert out["key_fingerprint"] == hashlib.sha256(
        __import__("base64").b64decode(made["pub"].read_text().splitlines()[1])[10:]).hexdigest()


@pytest.mark.parametrize("gone", ["proofs.jsonl", "checkpoint.json", "entries.jsonl"])
def test_standalone_fails_on_an_excerpt_with_a_file_removed(made, tmp_path, gone):
    custody = unzip(made["signed"], tmp_path)
    (custody / gone).unlink()
    code, out = standalone(custody)
    assert code == 4 and out["ok"] is False
    assert f"the excerpt lacks {gone}" in out["problem"]


def test_standalone_fails_on_an_excerpt_whose_proofs_are_emptied(made, tmp_path):
    custody = unzip(made["signed"], tmp_path)
    (custody / "proofs.jsonl").write_bytes(b"")
    code, out = standalone(custody)
    assert code == 4 and out["entries"] == 0
    assert out["problem"] == "entry 0 has no inclusion proof: it cannot be shown to be in the log"


def test_standalone_fails_on_an_excerpt_emptied_of_entries_and_proofs(made, tmp_path):
    custody = unzip(made["signed"], tmp_path)
    (custody / "proofs.jsonl").write_bytes(b"")
    (custody / "entries.jsonl").write_bytes(b"")
    code, out = standalone(custody)
    assert code == 4 and "the excerpt holds no entry" in out["problem"]


def test_standalone_fails_on_an_entry_rewritten_with_its_hash_recomputed(made, tmp_path):
    """The entry is self-consistent again (canonical, its hash recomputed): only its inclusion
    proof, to the checkpoint's root, shows it is not the entry the log holds."""
    custody = unzip(made["signed"], tmp_path)
    lines = (custody / "entries.jsonl").read_bytes().split(b"\n")
    e = json.loads(lines[0])
    e["actor"]["name"] = "Eve Examiner"
    del e["hash"]
    e["hash"] = sha(json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
    lines[0] = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    (custody / "entries.jsonl").write_bytes(b"\n".join(lines))
    code, out = standalone(custody)
    assert code == 4 and out["first_bad_seq"] == 0
    assert "proof is for another entry" in out["problem"] or "inclusion proof fails" in out["problem"]


def test_standalone_fails_on_a_proof_whose_leaf_hash_is_dropped(made, tmp_path):
    """Without the leaf hash the proof is still checked against the entry's own bytes."""
    custody = unzip(made["signed"], tmp_path)
    proofs = [json.loads(x) for x in (custody / "proofs.jsonl").read_text().splitlines()]
    for p in proofs:
        del p["leaf_hash"]
    proofs[1]["proof"][0] = "00" * 32
    (custody / "proofs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in proofs))
    code, out = standalone(custody)
    assert code == 4 and out["first_bad_seq"] == proofs[1]["seq"] and "inclusion proof fails" in out["problem"]


def test_standalone_with_pub_refuses_an_unsigned_checkpoint(made, tmp_path):
    custody = unzip(made["unsigned"], tmp_path)
    assert standalone(custody)[0] == 0
    code, out = standalone(custody, "--pub", made["pub"])
    assert code == 4 and "unsigned" in out["problem"]


def test_standalone_fails_on_a_folder_with_nothing_to_verify(tmp_path):
    code, out = standalone(tmp_path)
    assert code == 4 and out["ok"] is False and "nothing to verify" in out["problem"]


def test_standalone_fails_on_a_case_whose_log_is_empty(made, tmp_path):
    case = tmp_path / "case"
    casestore.copy_case(made["case"], case)
    (case / "custody.jsonl").write_bytes(b"")
    (case / "custody.checkpoints.jsonl").write_bytes(b"")
    for store in ("case.db", "store.json"):          # its store gone, on SQLite or PostgreSQL
        (case / store).unlink(missing_ok=True)
    code, out = standalone(case)
    assert code == 4 and "the log holds no entry" in out["problem"]


# -- forensic custody verify ----------------------------------------------------------------------
def test_custody_verify_fails_on_a_case_whose_log_was_deleted(made, tmp_path, forensic):
    case = tmp_path / "case"
    casestore.copy_case(made["case"], case)
    (case / "custody.jsonl").unlink()
    (case / "custody.checkpoints.jsonl").unlink()
    edit_store(case, "DELETE FROM custody_checkpoints")
    res = forensic("custody", "verify", "--case", case, "--json", expect=4)
    out = res.json()
    assert out["ok"] is False and out["entries"] == 0
    assert "holds no entry" in out["problem"]


def _unvouched(made, tmp_path) -> Path:
    """The signed case with every checkpoint removed, and the store's copy: a downgrade to a log
    no signature vouches for, whose entries could then all be rewritten with fresh hashes."""
    case = tmp_path / "case"
    casestore.copy_case(made["case"], case)
    (case / "custody.checkpoints.jsonl").unlink()
    edit_store(case, "DELETE FROM custody_checkpoints")
    return case


def test_custody_verify_fails_on_a_signed_case_whose_checkpoints_were_removed(made, tmp_path, forensic):
    case = _unvouched(made, tmp_path)
    out = forensic("custody", "verify", "--case", case, "--json", expect=4).json()
    assert "pins an examiner key, but no checkpoint is signed" in out["problem"]
    out = forensic("custody", "verify", "--case", case, "--pub", made["pub"], "--json", expect=4).json()
    assert "no checkpoint is signed by a trusted key" in out["problem"]
    code, got = standalone(case)
    assert code == 4 and "no checkpoint is signed" in got["problem"]
    code, got = standalone(case, "--pub", made["pub"])
    assert code == 4 and "no checkpoint is signed by a trusted key" in got["problem"]


def test_the_signed_case_itself_verifies(made, forensic):
    """(Signed from its fourth command on: with --pub its first, unsigned, checkpoints fail.)"""
    out = forensic("custody", "verify", "--case", made["case"], "--json").json()
    assert out["ok"] is True and out["signatures_verified"] >= 1
    code, got = standalone(made["case"])
    assert code == 0 and got["signatures_verified"] == out["signatures_verified"]


# -- verify-bundle ------------------------------------------------------------------------------
def test_verify_bundle_excerpt_emptied_of_entries_and_proofs_is_invalid(made, tmp_path):
    def empty(rel):
        rel["data/custody/entries.jsonl"] = b""
        rel["data/custody/proofs.jsonl"] = b""
    rep = verify(reseal(made["unsigned"], tmp_path / "x.zip", empty))
    assert rep.custody == "invalid" and not rep.intact
    assert any("custody excerpt holds no entry" in p for p in rep.problems)


def test_verify_bundle_excerpt_without_proofs_is_invalid(made, tmp_path):
    def no_proofs(rel):
        del rel["data/custody/proofs.jsonl"]
    rep = verify(reseal(made["unsigned"], tmp_path / "x.zip", no_proofs))
    assert rep.custody == "invalid" and not rep.intact
    assert any("has no inclusion proof" in p for p in rep.problems)


def test_verify_bundle_without_its_custody_excerpt_is_not_intact(made, tmp_path):
    def cut(rel):
        for name in [n for n in rel if n.startswith("data/custody/")]:
            del rel[name]
        rel["bag-info.txt"] = re.sub(rb"Custody-Head: [^\n]*\n", b"", rel["bag-info.txt"])
    rep = verify(reseal(made["unsigned"], tmp_path / "x.zip", cut))
    assert rep.custody == "absent" and not rep.intact and rep.status == "failed"
    assert any("holds no custody excerpt" in p for p in rep.problems)


def test_verify_bundle_with_an_empty_payload_is_not_intact(made, tmp_path):
    def gut(rel):
        for name in [n for n in rel if n.startswith("data/")]:
            del rel[name]
        rel["bag-info.txt"] = re.sub(rb"Custody-Head: [^\n]*\n", b"", rel["bag-info.txt"])
    rep = verify(reseal(made["unsigned"], tmp_path / "x.zip", gut))
    assert not rep.intact and rep.status == "failed"
    assert any("lists no payload file" in p for p in rep.problems)


def test_verify_bundle_with_the_signature_file_removed(made, tmp_path, forensic):
    """bag-info.txt (in the signed tag manifest) says the bundle was signed: without the
    signature file that is a failure, never an unsigned-but-intact bundle."""
    with zipfile.ZipFile(made["signed"]) as zf, zipfile.ZipFile(tmp_path / "x.zip", "w") as out:
        for info in zf.infolist():
            if not info.filename.endswith(".minisig"):
                out.writestr(info.filename, zf.read(info))
    rep = verify(tmp_path / "x.zip")
    assert rep.signature == "invalid" and rep.status == "failed"
    assert "the signature file is missing" in " ".join(rep.problems)
    forensic("verify-bundle", tmp_path / "x.zip", "--pubkey", made["pub"], expect=4)


def test_verify_bundle_message_whose_custody_entries_were_cut_fails(made, tmp_path):
    """The excerpt stays valid (each entry left keeps its proof), but an exported message no
    entry records was tied to the custody log by nothing: it is named."""
    with zipfile.ZipFile(made["unsigned"]) as zf:
        messages = [json.loads(x) for x in zf.read(ROOT + "data/messages.jsonl").splitlines()]
    victim = messages[0]["artifact_id"]

    def cut(rel):
        keep = []
        for line in rel["data/custody/entries.jsonl"].splitlines():
            e = json.loads(line)
            if not (e["action"].startswith("artifact.") and e["details"]["artifact_id"] == victim):
                keep.append((e["seq"], line))
        seqs = {s for s, _ in keep}
        rel["data/custody/entries.jsonl"] = b"".join(line + b"\n" for _, line in keep)
        rel["data/custody/proofs.jsonl"] = b"".join(
            p + b"\n" for p in rel["data/custody/proofs.jsonl"].splitlines() if json.loads(p)["seq"] in seqs)
    rep = verify(reseal(made["unsigned"], tmp_path / "x.zip", cut))
    assert rep.custody == "valid" and not rep.intact
    assert any(f"no custody entry in the bundle records message {victim} " in p for p in rep.problems), rep.problems


def test_verify_bundle_full_log_without_its_checkpoints_fails(made, tmp_path):
    assert verify(made["full"]).intact
    def drop(rel):
        del rel["data/custody/custody.checkpoints.jsonl"]
    rep = verify(reseal(made["full"], tmp_path / "x.zip", drop))
    assert rep.custody == "invalid" and any("without its checkpoints" in p for p in rep.problems)


def test_verify_bundle_full_log_with_a_forged_earlier_checkpoint_fails(made, tmp_path):
    """The bundle's own checkpoint still matches the log; an earlier one in the checkpoints
    file was rewritten (its root): the history the file tells is checked, not skipped."""
    def forge(rel):
        lines = rel["data/custody/custody.checkpoints.jsonl"].split(b"\n")
        cp = json.loads(lines[0])
        cp["root"] = "0" * 64
        lines[0] = json.dumps(cp, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        rel["data/custody/custody.checkpoints.jsonl"] = b"\n".join(lines)
    rep = verify(reseal(made["full"], tmp_path / "x.zip", forge))
    assert rep.custody == "invalid" and any("the full custody log does not verify" in p for p in rep.problems)


def test_standalone_fails_on_a_checkpoint_resigned_by_a_key_no_pin_names(made, tmp_path):
    """The same checkpoint (same root, every proof still good) signed again by Mallory: on
    its own a valid signature, but the excerpt carries the case's key pins, and none is hers."""
    import dataclasses
    from forensic.chain_of_custody.log import Checkpoint, trusted_comment
    custody = unzip(made["signed"], tmp_path)
    assert any(json.loads(x)["action"] == "examiner.key_pinned"
               for x in (custody / "entries.jsonl").read_text().splitlines())
    cp = Checkpoint.from_line((custody / "checkpoint.json").read_bytes().strip())
    mallory = Signer.generate("Mallory")
    forged = dataclasses.replace(cp, signature=mallory.sign(cp.body(), trusted_comment(cp.case_id, cp.tree_size,
                                                                                         cp.root)),
                                 public_key=mallory.public.base64(), signer="Mallory")
    (custody / "checkpoint.json").write_bytes(forged.line() + b"\n")
    code, out = standalone(custody)
    assert code == 4 and "none of the excerpt's key pins names" in out["problem"]
