"""Court bundles from a triaged ext4 image: export, verify, and every tampering caught and named.

The case is real: an ext4 image made by mke2fs (photos with EXIF/GPS, a WhatsApp export,
text files with names Windows refuses), intake, triage with the custody hooks, tags, an
examiner key. Tampered bundles are rewritten from the good one by code.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from builders import ext4_image, tiny_jpeg
from forensic.chain_of_custody.signing import PublicKey, Signer, write_keypair
from tests.extractors import fixtures_photo as FP

CASE_ID = "CASE-42"
EXAMINER = "Ada Examiner"
CHAT = ("14/03/2021, 21:05 - Messages and calls are end-to-end encrypted.\n"
        "14/03/2021, 21:06 - Recruiter: Hello <script>alert(1)</script> are you looking for work?\n"
        "14/03/2021, 21:07 - Maria: Who is this & why?\n"
        "14/03/2021, 21:08 - Recruiter: IMG-20210314-WA0001.jpg (file attached)\n")
CHAT_ID = "/WhatsApp/Chat with Recruiter.txt"
FILES = {
    "/DCIM/Camera/IMG_0001.jpg": FP.good_jpeg(),
    "/DCIM/Camera/plain.jpg": tiny_jpeg(),
    "/WhatsApp/Chat with Recruiter.txt": CHAT.encode(),
    "/docs/notes<1>.txt": b"secret notes\n",
    "/docs/private.txt": b"very private words\n",
    "/docs/CON.txt": b"reserved name on Windows\n",
    "/docs/unrelated.txt": b"not selected\n",
}
PREFIX = "ext4.img \u203a file system (ext4) \u203a "


def cli(*args) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A triaged, tagged case, an examiner key, and one signed bundle. The export signs the
    case's custody log, so every later command of the module signs too ($FORENSIC_KEY): an
    unsigned command may not add to a signed log."""
    with pytest.MonkeyPatch.context() as mp:
        yield _build(tmp_path_factory, mp)


def _build(tmp_path_factory, mp):
    tmp = tmp_path_factory.mktemp("bundle")
    img = ext4_image(tmp, FILES)
    case = tmp / "case"
    assert cli("case", "init", case, "--case-id", CASE_ID, "--examiner", EXAMINER, "--organisation", "Lab <North>") == 0
    assert cli("evidence", "add", img, "--id", "PHONE1", "--case", case) == 0
    assert cli("triage", "--case", case) in (0, 3)
    signer = Signer.generate(EXAMINER)
    key, pub = write_keypair(signer, tmp / "keys")
    for path in ("/DCIM/Camera/IMG_0001.jpg", "/docs/notes<1>.txt", "/docs/CON.txt"):
        assert cli("tag", "add", "--case", case, "--tag", "court", PREFIX + path, "--note", "found <here>") == 0
    assert cli("tag", "add", "--case", case, "--tag", "court", PREFIX + "/docs/private.txt", "--sensitive") == 0
    assert cli("tag", "add", "--case", case, "--tag", "court", "--conversation", CHAT_ID) == 0
    bundle = tmp / "bundle.zip"
    assert cli("export", "--case", case, "--out", bundle, "--tag", "court", "--key", key,
               "--recipient", "Prosecutor P") == 0
    mp.setenv("FORENSIC_KEY", str(key))
    return {"tmp": tmp, "img": img, "case": case, "key": key, "pub": pub, "signer": signer, "bundle": bundle}


def verify(path: Path, password: bytes | None = None, pubkey: Path | None = None):
    from forensic.exporters.verify import verify_bundle
    return verify_bundle(path, password, PublicKey.load(pubkey) if pubkey else None)


def members(path: Path) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(path) as zf:
        return [(i, zf.read(i)) for i in zf.infolist()]


def rewrite(src: Path, dst: Path, transform) -> Path:
    """Write a copy of a bundle whose members went through ``transform(list of [name, data])``."""
    items = [[i.filename, d] for i, d in members(src)]
    items = transform(items)
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in items:
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
    return dst


def flip(data: bytes, at: int | None = None) -> bytes:
    at = len(data) // 2 if at is None else at
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


ROOT = f"{CASE_ID}-bundle/"


# -- the good bundle -------------------------------------------------------------------------
def test_bundle_verifies(built, forensic):
    # without the examiner's key: intact, but only checked with the key inside the bundle (exit 5)
    res = forensic("verify-bundle", built["bundle"], "--json", expect=5)
    out = res.json()
    assert out["ok"] is False and out["intact"] is True and out["status"] == "signer-unconfirmed"
    assert out["signature"] == "valid" and out["custody"] == "valid" and out["key_source"] == "bundle"
    assert out["missing"] == out["extra"] == out["altered"] == [] == out["problems"] == out["disagreements"]
    assert out["files_checked"] >= 15
    assert "INTACT, SIGNER UNCONFIRMED" in res.err and built["signer"].fingerprint in res.err
    assert "exactly as the examiner recorded" not in res.err
    res = forensic("verify-bundle", built["bundle"], "--pubkey", built["pub"])
    assert res.out.startswith("VERIFIED: ")                 # the verdict: on stdout without --json
    assert "made with the key you supplied" in res.out


def test_bundle_content_is_the_selection(built):
    got = {i.filename[len(ROOT):]: d for i, d in members(built["bundle"])}
    evidence = {k: v for k, v in got.items() if k.startswith("data/evidence/")}
    base = "data/evidence/PHONE1/file system (ext4)/"
    assert evidence == {base + "DCIM/Camera/IMG_0001.jpg": FILES["/DCIM/Camera/IMG_0001.jpg"],
                        base + "docs/notes_1_.txt": FILES["/docs/notes<1>.txt"],
                        base + "docs/_CON.txt": FILES["/docs/CON.txt"],
                        base + "WhatsApp/Chat with Recruiter.txt": FILES[CHAT_ID]}     # the messages' source
    # data minimisation: no untagged file, no sensitive content anywhere in the bundle
    blob = b"".join(got.values())
    assert b"not selected" not in blob and b"very private words" not in blob
    files = [json.loads(x) for x in got["data/files.jsonl"].splitlines()]
    private = [f for f in files if f["path"] == "/docs/private.txt"][0]
    assert private["withheld"] is True and private["bag_path"] is None
    assert private["sha256"] == sha(FILES["/docs/private.txt"])
    exported = [f for f in files if not f["withheld"]]
    assert all(f["custody_seqs"] for f in exported), "every exported file has its custody entry"
    names = [json.loads(x) for x in got["data/name-map.jsonl"].splitlines()]
    assert {(n["original"].rsplit("/", 1)[1], n["stored"].rsplit("/", 1)[1]) for n in names} == \
        {("notes<1>.txt", "notes_1_.txt"), ("CON.txt", "_CON.txt")}
    msgs = [json.loads(x) for x in got["data/messages.jsonl"].splitlines()]
    assert len(msgs) == 4 and msgs[1]["fields"]["sender"] == "Recruiter"
    assert msgs[1]["source"]["sha256"] == sha(FILES[CHAT_ID]) and msgs[1]["source"]["ref"] == "line 2"
    info = got["bag-info.txt"].decode()
    for label in ("External-Identifier: CASE-42", "Source-Organization: Lab <North>", "Contact-Name: Ada Examiner",
                  "Bagging-Date: ", "Payload-Oxum: ", "Custody-Head: "):
        assert label in info
    geo = json.loads(got["data/geotags.geojson"])
    assert len(geo["features"]) == 1
    assert got["data/timeline.csv"].startswith(b"message,datetime,timestamp_desc,timestamp")


def test_export_is_logged(built, forensic):
    res = forensic("custody", "log", "--case", built["case"], "--json", "--action", "export.created")
    entries = res.jsonl()
    assert entries, "export.created recorded"
    e = entries[0]
    assert e["sha256"] == sha(built["bundle"].read_bytes())
    assert e["details"]["recipient"] == "Prosecutor P" and e["details"]["selection"]["tags"] == ["court"]
    assert e["details"]["include_sensitive"] is False and e["details"]["withheld"] == 1


@pytest.fixture()
def unsigned_case(built, tmp_path, monkeypatch):
    """The same evidence and tags in a case no key ever signed (the module's case is signed,
    and a signed log takes no unsigned export)."""
    monkeypatch.delenv("FORENSIC_KEY")
    case = tmp_path / "unsigned-case"
    assert cli("case", "init", case, "--case-id", CASE_ID, "--examiner", EXAMINER) == 0
    assert cli("evidence", "add", built["img"], "--id", "PHONE1", "--case", case) == 0
    assert cli("triage", "--case", case) in (0, 3)
    for path in ("/DCIM/Camera/IMG_0001.jpg", "/docs/notes<1>.txt", "/docs/CON.txt"):
        assert cli("tag", "add", "--case", case, "--tag", "court", PREFIX + path) == 0
    assert cli("tag", "add", "--case", case, "--tag", "court", PREFIX + "/docs/private.txt", "--sensitive") == 0
    return case


def test_export_json_fields(unsigned_case, forensic, tmp_path):
    res = forensic("export", "--case", unsigned_case, "--out", tmp_path / "b.zip", "--tag", "court", "--json")
    out = res.json()
    assert {"bundle", "sha256", "files", "bytes", "withheld", "signed"} <= out.keys()
    assert out["signed"] is False and out["files"] == 3 and out["withheld"] == 1
    assert out["bytes"] == sum(len(FILES[p]) for p in ("/DCIM/Camera/IMG_0001.jpg", "/docs/notes<1>.txt",
                                                         "/docs/CON.txt"))
    rep = verify(tmp_path / "b.zip")
    assert rep.intact and not rep.ok and rep.status == "unsigned" and rep.signature == "absent"
    res = forensic("verify-bundle", tmp_path / "b.zip", expect=5)       # intact, but unsigned
    assert res.out.startswith("INTACT, UNSIGNED: ") and "not signed" in res.out


def test_include_sensitive_is_logged(built, forensic, tmp_path):
    out = forensic("export", "--case", built["case"], "--out", tmp_path / "s.zip", "--tag", "court",
                   "--include-sensitive", "--json").json()
    assert out["withheld"] == 0 and out["files"] == 5      # 4 tagged files and the tagged chat's export
    assert any(d == FILES["/docs/private.txt"] for _, d in members(tmp_path / "s.zip"))
    entries = forensic("custody", "log", "--case", built["case"], "--json", "--action", "export.created").jsonl()
    assert entries[-1]["details"]["include_sensitive"] is True
    assert entries[-1]["sha256"] == out["sha256"]


# -- tampering ---------------------------------------------------------------------------------
def test_flipped_bit_in_every_file_is_caught(built, tmp_path):
    names = [i.filename for i, _ in members(built["bundle"])]
    assert len(names) > 15
    for name in names:
        rel = name[len(ROOT):]
        bad = rewrite(built["bundle"], tmp_path / "bad.zip",
                      lambda items, name=name: [[n, flip(d) if n == name else d] for n, d in items])
        rep = verify(bad)
        assert not rep.ok, f"flipped bit in {rel} not detected"
        if rel in ("tagmanifest-sha256.txt", "tagmanifest-sha256.txt.minisig"):
            assert rep.signature == "invalid", rel
        else:
            assert rel in rep.altered, rel


def test_flipped_bit_in_the_raw_zip_is_caught(built, tmp_path):
    raw = bytearray(built["bundle"].read_bytes())
    with zipfile.ZipFile(built["bundle"]) as zf:
        info = zf.getinfo(ROOT + "data/evidence/PHONE1/file system (ext4)/docs/notes_1_.txt")
    # local header: 30 bytes + name + extra, then the (stored or deflated) data
    name_len, extra_len = int.from_bytes(raw[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(raw[info.header_offset + 28:info.header_offset + 30], "little")
    raw[info.header_offset + 30 + name_len + extra_len + 2] ^= 0x04
    bad = tmp_path / "raw.zip"
    bad.write_bytes(bytes(raw))
    rep = verify(bad)
    assert not rep.ok and "data/evidence/PHONE1/file system (ext4)/docs/notes_1_.txt" in rep.altered


@pytest.mark.parametrize("where", ["data/extra.txt", "data/evidence/PHONE1/planted.jpg", "planted-tag.txt"])
def test_added_file_is_caught(built, tmp_path, where):
    bad = rewrite(built["bundle"], tmp_path / "add.zip", lambda items: items + [[ROOT + where, b"planted"]])
    rep = verify(bad)
    assert not rep.ok and rep.extra == [where]


def test_file_outside_the_bag_is_caught(built, tmp_path):
    bad = rewrite(built["bundle"], tmp_path / "out.zip", lambda items: items + [["README.txt", b"hello"]])
    rep = verify(bad)
    assert not rep.ok and rep.extra == ["README.txt"]


def test_removed_file_is_caught(built, tmp_path):
    gone = ROOT + "data/evidence/PHONE1/file system (ext4)/DCIM/Camera/IMG_0001.jpg"
    bad = rewrite(built["bundle"], tmp_path / "rm.zip", lambda items: [x for x in items if x[0] != gone])
    rep = verify(bad)
    assert not rep.ok and rep.missing == [gone[len(ROOT):]] and rep.extra == [] and rep.altered == []


def test_renamed_file_is_caught(built, tmp_path):
    old = ROOT + "data/evidence/PHONE1/file system (ext4)/docs/_CON.txt"
    new = ROOT + "data/evidence/PHONE1/file system (ext4)/docs/CON2.txt"
    bad = rewrite(built["bundle"], tmp_path / "mv.zip",
                  lambda items: [[new if n == old else n, d] for n, d in items])
    rep = verify(bad)
    assert not rep.ok and rep.missing == [old[len(ROOT):]] and rep.extra == [new[len(ROOT):]]


def _reseal(items, target: str, data: bytes, signer: Signer | None = None, pub: Signer | None = None):
    """Replace a payload file and recompute both manifests (what a careful forger would do);
    optionally re-sign with ``signer`` and ship ``pub``'s public key."""
    from forensic.exporters import bagit
    d = dict((n, b) for n, b in items)
    d[ROOT + target] = data
    man = bagit.parse_manifest(d[ROOT + "manifest-sha256.txt"])
    man[target] = sha(data)
    d[ROOT + "manifest-sha256.txt"] = bagit.manifest_text(man.items())
    if pub is not None:
        d[ROOT + "examiner.pub"] = pub.public.to_text().encode()
    tm = bagit.parse_manifest(d[ROOT + "tagmanifest-sha256.txt"])
    tm["manifest-sha256.txt"] = sha(d[ROOT + "manifest-sha256.txt"])
    tm["examiner.pub"] = sha(d[ROOT + "examiner.pub"])
    d[ROOT + "tagmanifest-sha256.txt"] = bagit.manifest_text(tm.items())
    if signer is not None:
        digest = sha(d[ROOT + "tagmanifest-sha256.txt"])
        d[ROOT + "tagmanifest-sha256.txt.minisig"] = signer.sign(
            d[ROOT + "tagmanifest-sha256.txt"],
            f'forensic bundle case="{CASE_ID}" tagmanifest-sha256={digest}').encode()
    return [[n, d[n]] for n, _ in items]


def test_edited_manifest_fails_the_signature(built, tmp_path):
    target = "data/evidence/PHONE1/file system (ext4)/docs/notes_1_.txt"
    bad = rewrite(built["bundle"], tmp_path / "man.zip", lambda items: _reseal(items, target, b"forged notes\n"))
    rep = verify(bad)
    assert rep.altered == [] and rep.missing == [] and rep.extra == []     # the bag itself is consistent
    assert rep.signature == "invalid" and not rep.ok


def test_signature_from_another_key(built, tmp_path, forensic):
    mallory = Signer.generate("Mallory")
    target = "data/evidence/PHONE1/file system (ext4)/docs/notes_1_.txt"
    # re-signed by another key, examiner's public key left in place: invalid
    bad = rewrite(built["bundle"], tmp_path / "k1.zip", lambda items: _reseal(items, target, b"x\n", mallory))
    rep = verify(bad)
    assert rep.signature == "invalid" and not rep.ok
    # the forger also swaps the public key: consistent on its own, caught by the examiner's key
    bad = rewrite(built["bundle"], tmp_path / "k2.zip", lambda items: _reseal(items, target, b"x\n", mallory, mallory))
    rep = verify(bad)
    assert rep.signature == "valid" and rep.key_source == "bundle"
    assert rep.key_fingerprint == mallory.fingerprint != built["signer"].fingerprint
    res = forensic("verify-bundle", bad, "--pubkey", built["pub"], "--json", expect=4)
    assert res.json()["signature"] == "invalid" and "INVALID" in res.err


def test_custody_excerpt_tampering_is_caught_even_when_resigned(built, tmp_path):
    def forge(items):
        d = dict(items)
        lines = d[ROOT + "data/custody/entries.jsonl"].split(b"\n")
        lines[1] = lines[1].replace(b"Ada Examiner", b"Eve Examiner")
        return _reseal(items, "data/custody/entries.jsonl", b"\n".join(lines), built["signer"])
    rep = verify(rewrite(built["bundle"], tmp_path / "cust.zip", forge))
    assert rep.signature == "valid" and rep.custody == "invalid" and not rep.ok


def test_truncated_zip(built, tmp_path, forensic):
    data = built["bundle"].read_bytes()
    for cut in (len(data) - 10, len(data) // 2, 100):
        bad = tmp_path / "cut.zip"
        bad.write_bytes(data[:cut])
        res = forensic("verify-bundle", bad, "--json", expect=4)
        out = res.json()
        assert out["ok"] is False and "not a readable ZIP" in " ".join(out["problems"])
        assert "Traceback" not in res.err and "NOT VERIFIED" in res.err


# -- encryption --------------------------------------------------------------------------------
def test_encrypted_bundle_and_wrong_password(built, tmp_path, forensic):
    pw = tmp_path / "pw.txt"
    pw.write_text("correct horse battery staple\n")
    forensic("export", "--case", built["case"], "--out", tmp_path / "enc.zip", "--tag", "court",
             "--password-file", pw, "--key", built["key"])
    with zipfile.ZipFile(tmp_path / "enc.zip") as zf:
        infos = zf.infolist()
        assert all(i.flag_bits & 1 for i in infos) and all(i.compress_type == 99 for i in infos)  # WinZip AES
        with pytest.raises((RuntimeError, NotImplementedError)):
            zf.read(infos[0])
    import pyzipper
    with pyzipper.AESZipFile(tmp_path / "enc.zip") as zf:
        zf.setpassword(b"correct horse battery staple")
        assert zf.infolist()[0].wz_aes_version == 2 and zf.infolist()[0].wz_aes_strength == 3   # AE-2, 256-bit
    res = forensic("verify-bundle", tmp_path / "enc.zip", "--password-file", pw, "--pubkey", built["pub"], "--json")
    assert res.json()["ok"] is True and res.json()["encrypted"] is True
    # an independent implementation (7-Zip) opens it: every member's HMAC and bytes check out
    seven = shutil.which("7zz") or shutil.which("7z")
    if seven:
        out = tmp_path / "7z-out"
        run = subprocess.run([seven, "x", "-y", "-pcorrect horse battery staple", f"-o{out}",
                              str(tmp_path / "enc.zip")], capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
        with zipfile.ZipFile(tmp_path / "enc.zip") as zf:
            names = [i.filename for i in zf.infolist()]
        manifest = (out / ROOT / "manifest-sha256.txt").read_text()
        for line in manifest.splitlines():
            digest, path = line.split(None, 1)
            assert hashlib.sha256((out / ROOT / path).read_bytes()).hexdigest() == digest
        assert all((out / n).is_file() for n in names)
        bad = subprocess.run([seven, "t", "-y", "-pTr0ub4dor&3", str(tmp_path / "enc.zip")],
                             capture_output=True, text=True)
        assert bad.returncode != 0
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("Tr0ub4dor&3\n")
    res = forensic("verify-bundle", tmp_path / "enc.zip", "--password-file", wrong, expect=1)
    assert "password does not open this bundle" in res.err and "Traceback" not in res.err
    res = forensic("verify-bundle", tmp_path / "enc.zip", expect=1)
    assert "encrypted" in res.err and "Traceback" not in res.err
    # a flipped bit inside an encrypted member fails its HMAC: altered
    raw = bytearray((tmp_path / "enc.zip").read_bytes())
    with zipfile.ZipFile(tmp_path / "enc.zip") as zf:
        info = zf.getinfo(ROOT + "data/evidence/PHONE1/file system (ext4)/docs/_CON.txt")
    n, x = (int.from_bytes(raw[info.header_offset + o:info.header_offset + o + 2], "little") for o in (26, 28))
    raw[info.header_offset + 30 + n + x + 18 + 3] ^= 0x01        # past the 16-byte salt + 2-byte check
    (tmp_path / "enc-bad.zip").write_bytes(bytes(raw))
    rep = verify(tmp_path / "enc-bad.zip", b"correct horse battery staple")
    assert not rep.ok and "data/evidence/PHONE1/file system (ext4)/docs/_CON.txt" in rep.altered


def test_hide_names(built, tmp_path, forensic):
    res = forensic("export", "--case", built["case"], "--out", tmp_path / "hid.zip", "--tag", "court",
                   "--generate-password", "--hide-names", "--json")
    password = res.err.split("not stored anywhere):")[1].split()[0]
    assert len(password) >= 40
    raw = (tmp_path / "hid.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "hid.zip") as zf:
        assert [i.filename for i in zf.infolist()] == ["bag.zip"]
    for secret in (b"notes", b"IMG_0001", b"CON.txt", CASE_ID.encode(), b"evidence"):
        assert secret not in raw
    pw = tmp_path / "pw"
    pw.write_text(password + "\n")
    out = forensic("verify-bundle", tmp_path / "hid.zip", "--password-file", pw, "--json", expect=5).json()
    # signed ($FORENSIC_KEY), checked without the examiner's published key
    assert out["intact"] and out["status"] == "signer-unconfirmed" and out["hidden_names"] and out["encrypted"]
    assert out["stated_encrypted"] is True and out["stated_hidden_names"] is True
    # standard tools: 7-Zip opens the encrypted member, the inner bag.zip is a plain ZIP
    seven = shutil.which("7zz") or shutil.which("7z")
    if seven:
        run = subprocess.run([seven, "x", "-y", f"-p{password}", f"-o{tmp_path / 'outer'}",
                              str(tmp_path / "hid.zip")], capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
        with zipfile.ZipFile(tmp_path / "outer" / "bag.zip") as inner:
            assert inner.testzip() is None
            assert any(n.endswith("/tagmanifest-sha256.txt") for n in inner.namelist())
    res = forensic("export", "--case", built["case"], "--out", tmp_path / "x.zip", "--tag", "court", "--hide-names",
                   expect=2)
    assert "needs encryption" in res.err


# -- determinism ---------------------------------------------------------------------------------
def _custody_size(case: Path) -> int:
    from forensic.chain_of_custody.log import CHECKPOINTS_NAME, Checkpoint, read_last_line
    line, _, _ = read_last_line(case / CHECKPOINTS_NAME)
    return Checkpoint.from_line(line).tree_size


def test_same_selection_same_bytes(built, tmp_path, forensic, monkeypatch):
    size = _custody_size(built["case"])
    args = ("export", "--case", built["case"], "--tag", "court", "--key", built["key"], "--custody-size", size)
    a = forensic(*args, "--out", tmp_path / "a.zip", "--json").json()
    b = forensic(*args, "--out", tmp_path / "b.zip", "--json").json()
    assert (b["files"], b["bytes"]) == (a["files"], a["bytes"])
    ma, mb = members(tmp_path / "a.zip"), members(tmp_path / "b.zip")
    assert [i.filename for i, _ in ma] == [i.filename for i, _ in mb]
    differ = {i.filename[len(ROOT):] for (i, da), (_, db) in zip(ma, mb, strict=True) if da != db}
    assert differ <= {"bag-info.txt", "tagmanifest-sha256.txt", "tagmanifest-sha256.txt.minisig"}
    # with the creation time pinned (SOURCE_DATE_EPOCH) the whole ZIP is identical
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    c = forensic(*args, "--out", tmp_path / "c.zip", "--json").json()
    d = forensic(*args, "--out", tmp_path / "d.zip", "--json").json()
    assert c["sha256"] == d["sha256"] and (tmp_path / "c.zip").read_bytes() == (tmp_path / "d.zip").read_bytes()
    assert a["sha256"] != c["sha256"]


def test_encrypted_bundles_have_identical_plaintext(built, tmp_path, forensic, monkeypatch):
    import pyzipper
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    size = _custody_size(built["case"])
    pw = tmp_path / "pw"
    pw.write_text("pw\n")
    for name in ("e1.zip", "e2.zip"):
        forensic("export", "--case", built["case"], "--tag", "court", "--custody-size", size, "--password-file", pw,
                 "--out", tmp_path / name)
    assert (tmp_path / "e1.zip").read_bytes() != (tmp_path / "e2.zip").read_bytes()    # random AES salts
    plain = []
    for name in ("e1.zip", "e2.zip"):
        with pyzipper.AESZipFile(tmp_path / name) as zf:
            zf.setpassword(b"pw")
            plain.append([(i.filename, zf.read(i)) for i in zf.infolist()])
    assert plain[0] == plain[1]


# -- the export refuses changed evidence ------------------------------------------------------------
def test_export_refuses_bytes_that_no_longer_match(built, tmp_path, forensic):
    from tests import casestore
    case = casestore.copy_case(built["case"], tmp_path / "case")         # its store too (PostgreSQL)
    img = tmp_path / "ext4.img"
    data = bytearray(built["img"].read_bytes())
    at = data.find(b"secret notes")
    assert at > 0
    data[at] ^= 0x20
    img.write_bytes(bytes(data))
    from forensic.case import Case
    c = Case.open(case)
    with c.transaction() as db:
        db.execute("UPDATE items SET source_path=?", (str(img),))
    c.close()
    pw = tmp_path / "pw.txt"
    pw.write_text("correct horse battery staple\n")
    for extra in ((), ("--password-file", pw), ("--password-file", pw, "--hide-names")):
        res = forensic("export", "--case", case, "--out", tmp_path / "bad.zip", "--tag", "court", *extra,
                       expect=4)
        assert "no longer match the SHA-256 recorded" in res.err and "notes<1>.txt" in res.err
        assert "Traceback" not in res.err
        assert not (tmp_path / "bad.zip").exists() and not (tmp_path / "bad.zip.partial").exists()


def test_nothing_selected_is_a_usage_error(built, forensic, tmp_path):
    res = forensic("export", "--case", built["case"], "--out", tmp_path / "n.zip", expect=2)
    assert "nothing selected" in res.err
    res = forensic("export", "--case", built["case"], "--out", tmp_path / "n.zip", "--tag", "nope", expect=2)
    assert "no such tag" in res.err
