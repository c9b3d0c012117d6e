"""Issue 13, item 8: bundles forged by someone without the examiner's key, written as the attacks.

The case is real (``photo_case``: an ext4 image made by mke2fs, triaged, its custody log kept
with the examiner's key, so every checkpoint is signed), and so are the bundles (``forensic
export``). The forger works as an attacker would: Python's ``zipfile``/``pyzipper`` to unpack
and re-pack, the BagIt manifests recomputed, ``minisign`` (or the project's signing module)
with a key of their own, which they ship as ``examiner.pub``.

What must hold: without ``--pubkey`` no bundle is ever "VERIFIED" (an honest one is intact with
its signer unconfirmed, exit 5, its key's fingerprint shown); every hash a bundle states must
agree; the key that signed the custody checkpoint must be the key that signed the bag; and a
bundle made encrypted (or with hidden names) that arrives without is refused.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import os
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from forensic.chain_of_custody.log import Checkpoint, trusted_comment
from forensic.chain_of_custody.signing import PublicKey, Signer, write_keypair
from forensic.exporters import bagit
from builders import ext4_image
from tests.exporters.photo_case import PHONE_FILES, cli

ROOT = "C-4-bundle/"
PHOTO_LOCATOR = "phone.img \u203a file system (ext4) \u203a /DCIM/Camera/offset_gps.jpg"
PHOTO = "data/evidence/phone/file system (ext4)/DCIM/Camera/offset_gps.jpg"
PASSWORD = b"correct horse battery staple"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A triaged case whose custody log is signed by the examiner's key, and the bundles the
    examiner exported from it: plain, encrypted, and encrypted with hidden names."""
    tmp = tmp_path_factory.mktemp("attacks")
    examiner = Signer.generate("Ann Examiner")
    key, pub = write_keypair(examiner, tmp / "keys")
    case = tmp / "case"
    cli("case", "init", case, "--case-id", "C-4", "--examiner", "Ann Examiner")
    saved = os.environ.get("FORENSIC_KEY")
    os.environ["FORENSIC_KEY"] = str(key)      # every later command signs its custody checkpoint
    try:
        cli("evidence", "add", ext4_image(tmp, PHONE_FILES, name="phone.img"), "--case", case, "--id", "phone")
        cli("triage", "--case", case, expect=3)      # 3: the null-island photo's warning is recorded
        cli("tag", "add", "--case", case, "--tag", "court", "--geotagged")
        pw = tmp / "pw.txt"
        pw.write_bytes(PASSWORD + b"\n")
        cli("export", "--case", case, "--out", tmp / "bundle.zip", "--tag", "court")
        cli("export", "--case", case, "--out", tmp / "enc.zip", "--tag", "court", "--password-file", pw)
        cli("export", "--case", case, "--out", tmp / "hidden.zip", "--tag", "court", "--password-file", pw,
            "--hide-names")
    finally:
        if saved is None:
            os.environ.pop("FORENSIC_KEY", None)
        else:
            os.environ["FORENSIC_KEY"] = saved
    return {"tmp": tmp, "case": case, "examiner": examiner, "key": key, "pub": pub, "pw": pw,
            "bundle": tmp / "bundle.zip", "enc": tmp / "enc.zip", "hidden": tmp / "hidden.zip"}


# -- the attacker's tools ----------------------------------------------------------------------
class MinisignKey:
    """A key of the forger's own, made and used with the minisign command."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("minisign") is None:
            pytest.skip("minisign is not installed (run scripts/setup.sh)")
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.pub_path, sec = folder / "forger.pub", folder / "forger.key"
        subprocess.run(["minisign", "-G", "-W", "-p", str(self.pub_path), "-s", str(sec)], check=True,
                       capture_output=True)
        self.sec = sec
        self.pub_text = self.pub_path.read_bytes()
        self.public = PublicKey.from_text(self.pub_text.decode())

    def sign(self, data: bytes, comment: str) -> str:
        msg = self.folder / "msg"
        msg.write_bytes(data)
        subprocess.run(["minisign", "-S", "-s", str(self.sec), "-m", str(msg), "-t", comment], check=True,
                       capture_output=True)
        return (self.folder / "msg.minisig").read_text()


class ModuleKey:
    """A key of the forger's own, made with the project's signing module."""

    def __init__(self) -> None:
        self.signer = Signer.generate("Mallory")
        self.public = self.signer.public
        self.pub_text = self.public.to_text().encode()

    def sign(self, data: bytes, comment: str) -> str:
        return self.signer.sign(data, comment)


def unpack(path: Path, password: bytes | None = None) -> dict[str, bytes]:
    import pyzipper
    with pyzipper.AESZipFile(path) as zf:
        if password:
            zf.setpassword(password)
        return {i.filename: zf.read(i) for i in zf.infolist()}


def pack(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def reseal(d: dict[str, bytes], key) -> dict[str, bytes]:
    """Recompute the payload manifest, Payload-Oxum and the tag manifest; name the forger's key
    in bag-info.txt and ship it as examiner.pub; sign with it -- a careful forger."""
    payload = {n[len(ROOT):]: b for n, b in d.items() if n.startswith(ROOT + "data/")}
    d[ROOT + "manifest-sha256.txt"] = bagit.manifest_text((n, sha(b)) for n, b in payload.items())
    info = []
    for line in d[ROOT + "bag-info.txt"].decode().splitlines():
        label = line.split(":", 1)[0]
        if label == "Payload-Oxum":
            line = f"Payload-Oxum: {sum(map(len, payload.values()))}.{len(payload)}"
        elif label == "Signature-Key-Id":
            line = f"Signature-Key-Id: {key.public.id_text}"
        elif label == "Signature-Key-Fingerprint":
            line = f"Signature-Key-Fingerprint: {key.public.fingerprint}"
        info.append(line + "\n")
    d[ROOT + "bag-info.txt"] = "".join(info).encode()
    d[ROOT + "examiner.pub"] = key.pub_text
    tags = {n: d[ROOT + n] for n in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "examiner.pub")}
    tagmanifest = bagit.manifest_text((n, sha(b)) for n, b in tags.items())
    d[ROOT + "tagmanifest-sha256.txt"] = tagmanifest
    d[ROOT + "tagmanifest-sha256.txt.minisig"] = key.sign(
        tagmanifest, f'forensic bundle case="C-4" tagmanifest-sha256={sha(tagmanifest)}').encode()
    return d


def resign_checkpoint(d: dict[str, bytes], key) -> None:
    """Re-sign the custody checkpoint (same tree, same root) with the forger's key."""
    name = ROOT + "data/custody/checkpoint.json"
    cp = Checkpoint.from_line(d[name].strip())
    signature = key.sign(cp.body(), trusted_comment(cp.case_id, cp.tree_size, cp.root))
    forged = dataclasses.replace(cp, signature=signature, public_key=key.public.base64(), signer="Mallory")
    d[name] = forged.line() + b"\n"


def altered_photo(d: dict[str, bytes]) -> tuple[bytes, bytes]:
    """The photo with one byte of its image data changed (same size); (old, new)."""
    old = d[ROOT + PHOTO]
    new = old[:-3] + bytes([old[-3] ^ 0x55]) + old[-2:]
    d[ROOT + PHOTO] = new
    return old, new


def verify(path: Path, password: bytes | None = None, pubkey: PublicKey | None = None):
    from forensic.exporters.verify import verify_bundle
    return verify_bundle(path, password, pubkey)


# -- an honest bundle ----------------------------------------------------------------------------
def test_honest_bundle_without_pubkey_is_intact_with_its_signer_unconfirmed(made, forensic):
    res = forensic("verify-bundle", made["bundle"], expect=5)
    first = res.out.splitlines()[0]
    assert first.startswith("INTACT, SIGNER UNCONFIRMED: ")
    assert made["examiner"].fingerprint in first and made["examiner"].key_id in first
    assert "compare that fingerprint with the one the examiner gave you" in first
    assert "VERIFIED" not in res.out and "exactly as the examiner recorded" not in res.out
    out = forensic("verify-bundle", made["bundle"], "--json", expect=5).json()
    assert out["ok"] is False and out["intact"] is True and out["status"] == "signer-unconfirmed"
    assert out["key_fingerprint"] == made["examiner"].fingerprint == out["custody_key_fingerprint"]
    assert out["problems"] == [] and out["disagreements"] == [] and out["hashes_compared"] > 10
    assert out["stated_encrypted"] is False and out["stated_hidden_names"] is False


def test_honest_bundle_with_the_examiners_key_is_verified(made, forensic):
    res = forensic("verify-bundle", made["bundle"], "--pubkey", made["pub"])
    assert res.out.startswith("VERIFIED: every one of the ") and "exactly as the examiner recorded it" in res.out
    assert "Packaging: not encrypted, as bag-info.txt states." in res.out.splitlines()
    for name in ("enc", "hidden"):
        out = forensic("verify-bundle", made[name], "--pubkey", made["pub"], "--password-file", made["pw"],
                       "--json").json()
        assert out["ok"] is True and out["status"] == "verified" and out["encrypted"] is True
        assert out["stated_encrypted"] is True and out["stated_hidden_names"] is (name == "hidden")
        assert out["stray_bytes"] == [] and out["problems"] == []


# -- the attack of issue 13, item 8 ---------------------------------------------------------------
@pytest.mark.parametrize("tool", ["minisign", "module"])
def test_photo_altered_resealed_and_resigned_with_a_new_key_is_not_verified(made, forensic, tmp_path, tool):
    key = MinisignKey(tmp_path / "forger") if tool == "minisign" else ModuleKey()
    d = unpack(made["bundle"])
    old, new = altered_photo(d)
    forged = tmp_path / "forged.zip"
    forged.write_bytes(pack(reseal(d, key)))
    # the forgery holds together as a bag signed by its own key ...
    rep = verify(forged)
    assert rep.signature == "valid" and rep.key_source == "bundle" and rep.key_fingerprint == key.public.fingerprint
    assert rep.missing == rep.extra == rep.altered == []
    # ... but it is not VERIFIED, not even "intact": files.jsonl, the custody entries, the report ... disagree
    res = forensic("verify-bundle", forged, "--json", expect=4)
    out = res.json()
    assert out["ok"] is False and out["intact"] is False and out["status"] == "failed"
    assert "NOT VERIFIED" in res.err and "VERIFIED: every" not in res.err
    photo = [x for x in out["disagreements"] if x.get("locator") == PHOTO_LOCATOR]
    assert len(photo) == 1 and photo[0]["algorithm"] == "sha256" and set(photo[0]["values"]) == {sha(old), sha(new)}
    assert photo[0]["values"][sha(new)] == ["manifest-sha256.txt (the bytes in the bundle)"]
    said_old = photo[0]["values"][sha(old)]
    assert "data/files.jsonl" in said_old and any(p.startswith("custody entry ") for p in said_old)
    assert any(p.startswith("the report") for p in said_old)
    problems = " ".join(out["problems"])
    assert "different SHA-256 values for " + PHOTO_LOCATOR in problems
    # the custody checkpoint is the examiner's, the bag the forger's
    assert f"the custody checkpoint was signed by key {made['examiner'].key_id}" in problems
    # with the examiner's key: the signature is not theirs
    res = forensic("verify-bundle", forged, "--pubkey", made["pub"], expect=4)
    assert res.out.startswith("NOT VERIFIED: ") and "was not signed with the key you supplied" in res.out


def test_files_jsonl_rewritten_too_still_fails_on_the_custody_excerpt(made, forensic, tmp_path):
    """The forger rewrites every member that names the photo's SHA-256 (files.jsonl, timeline,
    geo files, CASE/UCO, the report and its picture) and even re-signs the custody checkpoint with
    their key; only the custody entries, held by the Merkle proofs, still give the old hash."""
    key = ModuleKey()
    d = unpack(made["bundle"])
    old, new = altered_photo(d)
    pairs = [(sha(old).encode(), sha(new).encode()), (sha(old).upper().encode(), sha(new).upper().encode()),
             (base64.b64encode(old), base64.b64encode(new))]
    for name in list(d):
        if name.startswith(ROOT + "data/") and not name.startswith(ROOT + "data/custody/") and name != ROOT + PHOTO:
            for a, b in pairs:
                d[name] = d[name].replace(a, b)
    resign_checkpoint(d, key)
    forged = tmp_path / "forged.zip"
    forged.write_bytes(pack(reseal(d, key)))
    rep = verify(forged)
    assert rep.signature == "valid" and rep.custody == "valid"          # the excerpt itself is untouched
    assert rep.custody_key_fingerprint == rep.key_fingerprint == key.public.fingerprint
    assert rep.status == "failed" and not rep.intact
    photo = [x for x in rep.disagreements if x.get("locator") == PHOTO_LOCATOR]
    assert len(photo) == 1
    said_old = photo[0]["values"][sha(old)]
    assert said_old and all(p.startswith("custody entry ") for p in said_old)
    assert "data/files.jsonl" in photo[0]["values"][sha(new)]
    res = forensic("verify-bundle", forged, expect=4)
    assert res.out.startswith("NOT VERIFIED: ") and "custody entr" in res.out     # "custody entries 23 (...)"


@pytest.mark.parametrize("member", ["data/files.jsonl", "data/timeline.csv", "data/geotags.geojson",
                                    "data/geotags.kml", "data/case.jsonld", "data/report/index.html"])
def test_one_member_stating_another_hash_fails(made, tmp_path, member):
    """The photo is untouched; one member alone gives it another SHA-256 (the report a
    prosecutor reads, say), resealed and re-signed: the bundle fails, naming that member."""
    key = ModuleKey()
    d = unpack(made["bundle"])
    real = sha(d[ROOT + PHOTO])
    fake = sha(b"another photo")
    before = d[ROOT + member]
    d[ROOT + member] = before.replace(real.encode(), fake.encode()).replace(real.upper().encode(),
                                                                           fake.upper().encode())
    assert d[ROOT + member] != before
    resign_checkpoint(d, key)
    forged = tmp_path / "forged.zip"
    forged.write_bytes(pack(reseal(d, key)))
    rep = verify(forged)
    assert rep.signature == "valid" and rep.status == "failed"
    photo = [x for x in rep.disagreements if x.get("locator") == PHOTO_LOCATOR]
    assert len(photo) == 1 and set(photo[0]["values"]) == {real, fake}
    assert all(p == member or p.startswith(member) or (member.endswith("index.html") and p.startswith("the report"))
               for p in photo[0]["values"][fake])


def test_report_showing_another_picture_fails(made, tmp_path):
    """The report's picture of a photo is swapped (the photo and every hash untouched)."""
    key = ModuleKey()
    d = unpack(made["bundle"])
    report = d[ROOT + "data/report/index.html"].decode()
    pictures = [p.split('"', 1)[0] for p in report.split('<img src="data:image/jpeg;base64,')[1:]]
    assert pictures
    other = base64.b64encode(b"\xff\xd8\xff\xd9 another picture").decode()
    d[ROOT + "data/report/index.html"] = report.replace(pictures[0], other).encode()
    resign_checkpoint(d, key)
    forged = tmp_path / "forged.zip"
    forged.write_bytes(pack(reseal(d, key)))
    rep = verify(forged)
    assert rep.status == "failed" and rep.disagreements == []
    assert any("the report's picture of" in p and "neither that photo nor the thumbnail" in p for p in rep.problems)


# -- encryption removed or bypassed ------------------------------------------------------------------
def test_hidden_names_inner_archive_replaced_without_the_password(made, forensic, tmp_path):
    """The forger cannot open bag.zip; they put an unencrypted one of their own in its place
    (a forged bag, resealed with their key, stating the packaging the examiner's did)."""
    key = ModuleKey()
    d = unpack(made["bundle"])
    altered_photo(d)
    info = d[ROOT + "bag-info.txt"].decode()
    d[ROOT + "bag-info.txt"] = info.replace("Bundle-Encryption: none", "Bundle-Encryption: AES-256 (WinZip AE-2)") \
        .replace("Bundle-Names-Hidden: no", "Bundle-Names-Hidden: yes").encode()
    inner = pack(reseal(d, key))
    with zipfile.ZipFile(made["hidden"]) as zf:
        assert [i.filename for i in zf.infolist()] == ["bag.zip"] and zf.infolist()[0].flag_bits & 1
    forged = tmp_path / "hidden-forged.zip"
    with zipfile.ZipFile(forged, "w") as zf:
        zf.writestr(zipfile.ZipInfo("bag.zip", (1980, 1, 1, 0, 0, 0)), inner)
    res = forensic("verify-bundle", forged, "--password-file", made["pw"], "--json", expect=4)
    out = res.json()
    assert out["ok"] is False and out["hidden_names"] is True and out["encrypted"] is False
    assert any("the inner archive bag.zip is not encrypted" in p for p in out["problems"])
    res = forensic("verify-bundle", forged, "--password-file", made["pw"], "--pubkey", made["pub"], expect=4)
    assert "NOT VERIFIED" in res.out


def test_hidden_names_inner_archive_replaced_by_the_examiners_own_plain_bag(made, forensic, tmp_path):
    """Even a bag the examiner did sign (from another, unencrypted bundle) put in place of the
    encrypted bag.zip is refused: with the password given, and by what its bag-info states."""
    inner = made["bundle"].read_bytes()
    forged = tmp_path / "hidden-swapped.zip"
    with zipfile.ZipFile(forged, "w") as zf:
        zf.writestr(zipfile.ZipInfo("bag.zip", (1980, 1, 1, 0, 0, 0)), inner)
    res = forensic("verify-bundle", forged, "--password-file", made["pw"], "--pubkey", made["pub"], expect=4)
    assert "the inner archive bag.zip is not encrypted" in res.out
    out = forensic("verify-bundle", forged, "--pubkey", made["pub"], "--json", expect=4).json()
    assert out["signature"] == "valid" and out["stated_hidden_names"] is False and out["hidden_names"] is True
    assert any("re-packed" in p for p in out["problems"])


@pytest.mark.parametrize("name", ["enc", "hidden"])
def test_encryption_stripped_from_a_bundle_signed_by_the_examiner(made, forensic, tmp_path, name):
    """Someone holding the password hands the prosecutor an unencrypted copy of the examiner's
    signed bag: the examiner's signature is valid, but the bag-info it covers says encrypted."""
    d = unpack(made[name], PASSWORD)
    if name == "hidden":
        d = unpack_bytes(d["bag.zip"])
    stripped = tmp_path / "stripped.zip"
    stripped.write_bytes(pack(d))
    out = forensic("verify-bundle", stripped, "--pubkey", made["pub"], "--json", expect=4).json()
    assert out["signature"] == "valid" and out["custody"] == "valid" and out["disagreements"] == []
    assert out["stated_encrypted"] is True and out["encrypted"] is False and out["ok"] is False
    assert any("made encrypted, but it is not" in p for p in out["problems"])
    res = forensic("verify-bundle", stripped, "--pubkey", made["pub"], "--password-file", made["pw"], expect=4)
    assert "you gave a password, but this bundle is not encrypted" in res.out


def unpack_bytes(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


# -- keys ---------------------------------------------------------------------------------------
def test_export_refuses_to_cite_a_checkpoint_signed_by_another_key(made, forensic, tmp_path):
    other = Signer.generate("Someone Else")
    key, _ = write_keypair(other, tmp_path / "keys")
    res = forensic("export", "--case", made["case"], "--out", tmp_path / "b.zip", "--tag", "court", "--key", key,
                   expect=2)
    # a key the case has not pinned is refused before anything is written
    assert "is not pinned in this case" in res.err and "forensic examiner add" in res.err
    assert not (tmp_path / "b.zip").exists()


def test_bundle_from_before_the_packaging_fields_still_verifies(made, forensic, tmp_path):
    """A bundle made before bag-info.txt stated its packaging (here: the examiner's, re-signed
    by the examiner without those two lines) verifies, the packaging reported as not stated."""
    class Examiner:
        signer = made["examiner"]
        public = signer.public
        pub_text = unpack(made["bundle"])[ROOT + "examiner.pub"]

        def sign(self, data, comment):
            return self.signer.sign(data, comment)
    d = unpack(made["bundle"])
    d[ROOT + "bag-info.txt"] = b"".join(line for line in d[ROOT + "bag-info.txt"].splitlines(keepends=True)
                                        if not line.startswith((b"Bundle-Encryption:", b"Bundle-Names-Hidden:")))
    old = tmp_path / "old.zip"
    old.write_bytes(pack(reseal(d, Examiner())))
    res = forensic("verify-bundle", old, "--pubkey", made["pub"])
    assert res.out.startswith("VERIFIED: ")
    assert "bag-info.txt does not state how the bundle was packaged" in res.out
    out = forensic("verify-bundle", old, "--pubkey", made["pub"], "--json").json()
    assert out["stated_encrypted"] is None and out["stated_hidden_names"] is None


# -- another archive in the same file ---------------------------------------------------------------
def fake_archive() -> bytes:
    """What a reader that streams a ZIP from its start would take for the bundle: a bag of the
    same name whose report says something else."""
    return pack({ROOT + "bagit.txt": bagit.BAGIT_TXT,
                 ROOT + "data/report/index.html": b"<h1>Nothing was found on the phone</h1>"})


def streamed_names(data: bytes) -> list[str]:
    """The member names a reader that streams the file from its start meets first: local
    headers read one after the other (sizes from the header, as zipfile's writer on a
    seekable file leaves them), until one is not a local header."""
    names, at = [], 0
    while data[at:at + 4] == b"PK\x03\x04":
        flags, csize, nlen, elen = (struct.unpack_from("<H", data, at + 6)[0],
                                    *struct.unpack_from("<L", data, at + 18), *struct.unpack_from("<2H", data, at + 26))
        names.append(data[at + 30:at + 30 + nlen].decode())
        if flags & 8:
            break                  # sizes in a data descriptor: enough for what this test shows
        at += 30 + nlen + elen + csize
    return names


def insert(data: bytes, at: int, extra: bytes) -> bytes:
    """``extra`` put at byte ``at`` of an archive (0, or where a member starts) by a careful
    forger: every offset its central directory and end record state is moved past it, so that
    zipfile reads a consistent archive (no shift to take for a self-extractor's stub)."""
    end = data.rindex(b"PK\x05\x06")
    cd_size, cd_offset = struct.unpack_from("<2L", data, end + 12)
    cd = bytearray(data[cd_offset:cd_offset + cd_size])
    pos = 0
    while pos < len(cd):
        offset = struct.unpack_from("<L", cd, pos + 42)[0]
        if offset >= at:
            struct.pack_into("<L", cd, pos + 42, offset + len(extra))
        nlen, elen, clen = struct.unpack_from("<3H", cd, pos + 28)
        pos += 46 + nlen + elen + clen
    record = bytearray(data[end:])
    struct.pack_into("<L", record, 16, cd_offset + len(extra))
    return data[:at] + extra + data[at:cd_offset] + bytes(cd) + bytes(record)


def _refused(forensic, path: Path, stray: list[dict], pubkey: Path, *more) -> tuple[str, dict]:
    """NOT VERIFIED (exit 4) for the stray bytes alone: the bag itself is the examiner's."""
    res = forensic("verify-bundle", path, "--pubkey", pubkey, *more, expect=4)
    assert res.out.startswith("NOT VERIFIED: ") and "VERIFIED: every" not in res.out
    out = forensic("verify-bundle", path, "--pubkey", pubkey, *more, "--json", expect=4).json()
    assert out["ok"] is False and out["status"] == "failed" and out["stray_bytes"] == stray
    assert out["signature"] == "valid" and out["custody"] == "valid" and out["disagreements"] == []
    assert out["missing"] == out["extra"] == out["altered"] == [] and len(out["problems"]) == len(stray)
    return res.out, out


def test_fake_archive_in_front_of_the_bundle_is_not_verified(made, forensic, tmp_path):
    """``cat fake.zip bundle.zip > poly.zip``: zipfile reads past the fake (as a self-extractor's
    stub), a reader that streams from the start sees only the fake."""
    fake = fake_archive()
    poly = tmp_path / "poly.zip"
    poly.write_bytes(fake + made["bundle"].read_bytes())
    assert streamed_names(poly.read_bytes())[:2] == [ROOT + "bagit.txt", ROOT + "data/report/index.html"]
    text, _ = _refused(forensic, poly, [{"archive": "bundle", "offset": 0, "length": len(fake),
                                         "where": "before its first member"}], made["pub"])
    assert (f"Problem: the bundle holds {len(fake):,} bytes before its first member (bytes 0 to {len(fake) - 1:,}) "
            "that the export never writes; they begin as a ZIP member (another archive): a ZIP reader that streams "
            "the file from its start") in text


def test_fake_archive_in_front_with_the_offsets_moved_is_not_verified(made, forensic, tmp_path):
    fake = fake_archive()
    poly = tmp_path / "poly.zip"
    poly.write_bytes(insert(made["bundle"].read_bytes(), 0, fake))
    with zipfile.ZipFile(poly) as zf:
        assert zf.testzip() is None and min(i.header_offset for i in zf.infolist()) == len(fake)
    _refused(forensic, poly, [{"archive": "bundle", "offset": 0, "length": len(fake),
                               "where": "before its first member"}], made["pub"])


def test_fake_archive_between_members_is_not_verified(made, forensic, tmp_path):
    data = made["bundle"].read_bytes()
    with zipfile.ZipFile(made["bundle"]) as zf:
        first, second = sorted(zf.infolist(), key=lambda i: i.header_offset)[:2]
    fake = fake_archive()
    poly = tmp_path / "poly.zip"
    poly.write_bytes(insert(data, second.header_offset, fake))
    with zipfile.ZipFile(poly) as zf:
        assert zf.testzip() is None
    _refused(forensic, poly, [{"archive": "bundle", "offset": second.header_offset, "length": len(fake),
                               "where": f"after its member {first.filename}"}], made["pub"])


@pytest.mark.parametrize("name", ["bundle", "hidden"])
def test_junk_after_the_end_of_the_bundle_is_not_verified(made, forensic, tmp_path, name):
    """Bytes after the end of central directory record (zipfile looks for it in the last 64 KiB
    and reads past them); an encrypted bundle with hidden names too."""
    data = made[name].read_bytes()
    junk = b"junk after the end" + b"\0" * 100
    poly = tmp_path / "poly.zip"
    poly.write_bytes(data + junk)
    more = ("--password-file", made["pw"]) if name == "hidden" else ()
    text, _ = _refused(forensic, poly, [{"archive": "bundle", "offset": len(data), "length": len(junk),
                                         "where": "after its end of central directory record"}], made["pub"], *more)
    assert (f"Problem: the bundle holds {len(junk)} bytes after its end of central directory record (bytes "
            f"{len(data):,} to {len(data) + len(junk) - 1:,}) that the export never writes: ") in text


def test_fake_archive_in_front_of_an_encrypted_bundle_is_not_verified(made, forensic, tmp_path):
    fake = fake_archive()
    poly = tmp_path / "poly.zip"
    poly.write_bytes(fake + made["enc"].read_bytes())
    _, out = _refused(forensic, poly, [{"archive": "bundle", "offset": 0, "length": len(fake),
                                        "where": "before its first member"}], made["pub"], "--password-file",
                      made["pw"])
    assert out["encrypted"] is True


def test_junk_after_the_hidden_inner_archive_is_not_verified(made, forensic, tmp_path):
    """Someone holding the password re-packs the examiner's inner bag.zip with bytes after it."""
    import pyzipper
    with pyzipper.AESZipFile(made["hidden"]) as zf:
        zf.setpassword(PASSWORD)
        inner = zf.read("bag.zip")
    junk = b"junk" * 10
    repacked = tmp_path / "repacked.zip"
    with pyzipper.AESZipFile(repacked, "w", encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(PASSWORD)
        zf.writestr("bag.zip", inner + junk)
    _refused(forensic, repacked, [{"archive": "bag.zip", "offset": len(inner), "length": len(junk),
                                   "where": "after its end of central directory record"}],
             made["pub"], "--password-file", made["pw"])


def test_layout_of_an_archive_with_zip64_end_records(tmp_path):
    """More than 65,535 members: the writer the export uses adds the ZIP64 end records; the
    archive is still all accounted for, and a byte after it is not."""
    from forensic.exporters.verify import archive_layout

    class Stream(io.RawIOBase):                 # not seekable, as the export's bundle file
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:
            self.data += b
            return len(b)
    out = Stream()
    with bagit.open_zip(out) as zf:
        for i in range(1 << 16):
            bagit.write_member(zf, f"b/{i}", b"")
    data = bytes(out.data)
    assert data[-98:-94] == b"PK\x06\x06"      # the ZIP64 end of central directory record
    assert archive_layout(io.BytesIO(data)) == []
    assert archive_layout(io.BytesIO(data + b"x")) == [
        {"offset": len(data), "length": 1, "where": "after its end of central directory record"}]


# -- members and records written to crash or stall the verifier ---------------------------------------
def _not_verified(forensic, path: Path, *more) -> dict:
    """NOT VERIFIED (exit 4), naming a problem: never a traceback, never "unexpected"."""
    res = forensic("verify-bundle", path, *more, expect=4)
    assert res.out.startswith("NOT VERIFIED: ") and "unexpected" not in (res.out + res.err).lower()
    assert "Traceback" not in res.err
    out = forensic("verify-bundle", path, *more, "--json", expect=4).json()
    assert out["ok"] is False and out["status"] == "failed"
    return out


def test_report_files_table_with_rows_that_never_reach_a_hash_finishes_and_fails(made, forensic, tmp_path):
    """Thousands of files-table rows cut short before their SHA-256 cell (a pattern that let a
    cell run on into the next rows took minutes on them), then the photo's row stating another
    hash: the verifier gets through them and still reads that row."""
    key = ModuleKey()
    d = unpack(made["bundle"])
    real, fake = sha(d[ROOT + PHOTO]), sha(b"another photo")
    report = d[ROOT + "data/report/index.html"].decode()
    at = report.index('<section id="files">')
    row = report.index("<tr><td>", at)
    stalls = '<tr><td>a</td><td><code>b</code></td><td><code>c</code></td><td>1</td><td>x</td></tr>' * 12000
    report = report[:row] + stalls + report[row:].replace(real, fake, 1)
    d[ROOT + "data/report/index.html"] = report.encode()
    resign_checkpoint(d, key)
    forged = tmp_path / "forged.zip"
    forged.write_bytes(pack(reseal(d, key)))
    out = _not_verified(forensic, forged)
    photo = [x for x in out["disagreements"] if x.get("locator") == PHOTO_LOCATOR]
    assert len(photo) == 1 and set(photo[0]["values"]) == {real, fake}
    assert any(p.startswith("the report") for p in photo[0]["values"][fake])


def test_files_jsonl_citing_a_custody_entry_by_a_list_is_not_verified(made, forensic, tmp_path):
    """``"custody_seqs": [[1]]``: a seq that is not a whole number is a problem, not a crash."""
    import json
    key = ModuleKey()
    d = unpack(made["bundle"])
    rows = [json.loads(x) for x in d[ROOT + "data/files.jsonl"].decode().splitlines()]
    assert any(r.get("custody_seqs") for r in rows)
    for r in rows:
        if r.get("custody_seqs"):
            r["custody_seqs"] = [[1]]
    d[ROOT + "data/files.jsonl"] = "".join(json.dumps(r) + "\n" for r in rows).encode()
    resign_checkpoint(d, key)
    forged = tmp_path / "forged.zip"
    forged.write_bytes(pack(reseal(d, key)))
    out = _not_verified(forensic, forged)
    assert any("cites custody entry [1]" in p and "not a whole number" in p for p in out["problems"])


def test_central_directory_entry_with_a_zip64_offset_past_the_file_is_not_verified(made, forensic, tmp_path):
    """One central directory entry's local header offset is 0xFFFFFFFF, its ZIP64 extra field
    giving 2**64-1 (no file has such a byte; seeking to it fails): a layout problem."""
    data = made["bundle"].read_bytes()
    end = data.rindex(b"PK\x05\x06")
    cd_size, cd_offset = struct.unpack_from("<2L", data, end + 12)
    cd = bytearray(data[cd_offset:cd_offset + cd_size])
    assert cd[:4] == b"PK\x01\x02"
    nlen, elen, clen = struct.unpack_from("<3H", cd, 28)
    zip64 = struct.pack("<2HQ", 1, 8, 2 ** 64 - 1)
    struct.pack_into("<L", cd, 42, 0xFFFFFFFF)
    struct.pack_into("<H", cd, 30, elen + len(zip64))
    at = 46 + nlen + elen
    cd[at:at] = zip64
    record = bytearray(data[end:])
    struct.pack_into("<L", record, 12, len(cd))
    bad = tmp_path / "z64.zip"
    bad.write_bytes(data[:cd_offset] + bytes(cd) + bytes(record))
    out = _not_verified(forensic, bad, "--pubkey", made["pub"])
    assert any("is not laid out as the export writes it" in p and "central directory" in p for p in out["problems"])


@pytest.mark.parametrize("member", ["data/files.jsonl", "data/bundle.json"])
def test_member_nested_past_the_recursion_limit_is_not_verified(made, forensic, tmp_path, member):
    """``[[[[…`` 200,000 deep: a problem for that member, not a RecursionError."""
    key = ModuleKey()
    d = unpack(made["bundle"])
    assert ROOT + member in d
    d[ROOT + member] = b"[" * 200000
    resign_checkpoint(d, key)
    forged = tmp_path / "forged.zip"
    forged.write_bytes(pack(reseal(d, key)))
    out = _not_verified(forensic, forged)
    assert any(p.startswith(f"{member} cannot be read") for p in out["problems"])
