"""What partitions hold beyond a file system TSK reads: encrypted volumes (reported with what
opens them, never skipped in silence), APFS containers (walked), and the same inside a
virtual-disk container."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct

import pytest

from builders import disk_image, ext4_image, need, run, sha256, sha256_file

NOTE = b"the shipment leaves on friday\n"
LUKS_UUID = b"5d7b5ad4-3c1f-4e0a-9a57-0c1b2d3e4f50"


def luks1_volume(path, size=1 << 20):
    """A LUKS1 header (cryptsetup's layout: magic, version, cipher, mode, hash, payload
    offset, key bytes, digest, salt, iterations, UUID at byte 168), the rest random-looking."""
    head = bytearray(size)
    head[0:6] = b"LUKS\xba\xbe"
    head[6:8] = (1).to_bytes(2, "big")
    head[8:11] = b"aes"
    head[40:51] = b"xts-plain64"
    head[72:78] = b"sha256"
    head[104:108] = (4096).to_bytes(4, "big")
    head[108:112] = (64).to_bytes(4, "big")
    head[168:168 + len(LUKS_UUID)] = LUKS_UUID
    head[4096:] = bytes((i * 131 + 7) % 256 for i in range(size - 4096))
    path.write_bytes(bytes(head))
    return path


def bitlocker_volume(path, size=1 << 20):
    """A volume boot sector with BitLocker's signature; its metadata blocks absent."""
    data = bytearray(size)
    data[0:3] = b"\xeb\x58\x90"
    data[3:11] = b"-FVE-FS-"
    data[11:13] = (512).to_bytes(2, "little")
    data[510:512] = b"\x55\xaa"
    path.write_bytes(bytes(data))
    return path


def corestorage_volume(path, size=1 << 20):
    """A Core Storage (FileVault 2) physical volume header: 'CS' and version 1 at byte 88."""
    data = bytearray(size)
    data[88:90] = b"CS"
    data[90:92] = (1).to_bytes(2, "little")
    path.write_bytes(bytes(data))
    return path


def _case(forensic, tmp_path):
    case = tmp_path / "case"
    forensic("case", "init", case, "--case-id", "C-1", "--examiner", "Ann")
    return case


def test_encrypted_partitions_are_reported_with_what_opens_them(forensic, tmp_path):
    p1 = ext4_image(tmp_path, {"/notes.txt": NOTE}, size_mib=4, name="p1.img")
    p2 = luks1_volume(tmp_path / "p2.img")
    p3 = bitlocker_volume(tmp_path / "p3.img")
    p4 = corestorage_volume(tmp_path / "p4.img")
    disk = disk_image(tmp_path, [p1, p2, p3, p4])
    before = sha256_file(disk)
    case = _case(forensic, tmp_path)
    added = forensic("evidence", "add", disk, "--case", case, "--id", "disk", "--json").json()
    parts = {p["number"]: p for p in added["partitions"]}
    assert parts[2]["encryption"]["scheme"] == "LUKS1"
    assert parts[2]["encryption"]["uuid"] == LUKS_UUID.decode()
    assert parts[3]["encryption"]["scheme"] == "BitLocker"
    assert parts[4]["encryption"]["scheme"] == "FileVault 2 (Core Storage)"
    said = added["source_warnings"]
    luks = [w for w in said if w.startswith("partition 2 ")]
    assert len(luks) == 1 and "encrypted with LUKS1" in luks[0] and "passphrase" in luks[0]
    assert "libluksde" in luks[0]
    assert any(w.startswith("partition 3 ") and "BitLocker" in w and "recovery password" in w for w in said)
    assert any(w.startswith("partition 4 ") and "FileVault 2" in w and "recovery key" in w for w in said)
    assert not any("no readable file system" in w for w in said)
    summary = forensic("triage", "--case", case, "--json", expect=3).json()
    assert summary["warnings"] >= 3
    files = {r["path"]: r for r in forensic("files", "--case", case, "--json").jsonl()}
    assert files["/notes.txt"]["sha256"] == sha256(NOTE)
    assert sha256_file(disk) == before


def _xts(key, data):
    """AES-XTS, plain64 IVs (the sector number), as dm-crypt and LUKS use it."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    out = bytearray()
    for i in range(0, len(data), 512):
        enc = Cipher(algorithms.AES(key), modes.XTS((i // 512).to_bytes(16, "little"))).encryptor()
        out += enc.update(data[i:i + 512]) + enc.finalize()
    return bytes(out)


def _af_split(key, stripes):
    """LUKS's anti-forensic split (SHA-256 diffusion), as its specification gives it."""
    def diffuse(block):
        return b"".join(hashlib.sha256(struct.pack(">I", j // 32) + block[j:j + 32]).digest()[:len(block[j:j + 32])]
                        for j in range(0, len(block), 32))
    d, parts = bytes(len(key)), []
    for _ in range(stripes - 1):
        s = os.urandom(len(key))
        parts.append(s)
        d = diffuse(bytes(a ^ b for a, b in zip(d, s, strict=True)))
    parts.append(bytes(a ^ b for a, b in zip(d, key, strict=True)))
    return b"".join(parts)


def real_luks1(path, plain, passphrase, iterations=1000, stripes=4000):
    """A real LUKS1 volume (aes-xts-plain64, sha256, one key slot) holding ``plain``, written
    as the LUKS1 on-disk format specification lays it out (cryptsetup is not needed)."""
    master, digest_salt, slot_salt = os.urandom(64), os.urandom(32), os.urandom(32)
    digest = hashlib.pbkdf2_hmac("sha256", master, digest_salt, iterations, 20)
    material, sectors = 8, (64 * stripes + 511) // 512
    payload = (material + sectors + 7) // 8 * 8
    head = bytearray(payload * 512)
    struct.pack_into(">6sH32s32s32sII20s32sI40s", head, 0, b"LUKS\xba\xbe", 1, b"aes", b"xts-plain64", b"sha256",
                     payload, 64, digest, digest_salt, iterations, LUKS_UUID)
    struct.pack_into(">II32sII", head, 208, 0x00AC71F3, iterations, slot_salt, material, stripes)
    for k in range(1, 8):
        struct.pack_into(">II32sII", head, 208 + 48 * k, 0x0000DEAD, 0, bytes(32), material + k * sectors, stripes)
    split = _af_split(master, stripes)
    split += bytes(sectors * 512 - len(split))
    head[material * 512:(material + sectors) * 512] = _xts(
        hashlib.pbkdf2_hmac("sha256", passphrase, slot_salt, iterations, 64), split)
    path.write_bytes(bytes(head) + _xts(master, plain))
    return path


@pytest.fixture
def luks(tmp_path):
    fs = ext4_image(tmp_path, {"/plans.txt": NOTE}, size_mib=4, name="fs.img")
    vol = real_luks1(tmp_path / "laptop.luks", fs.read_bytes(), b"correct horse battery")
    (tmp_path / "key.txt").write_text("correct horse battery\n")
    (tmp_path / "wrong.txt").write_text("incorrect horse\n")
    return vol


def test_luks_volume_without_the_key_is_refused_with_what_opens_it(forensic, tmp_path, luks):
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", luks, "--case", case, expect=1)
    assert "laptop.luks is encrypted with LUKS1 and no key was given" in res.err
    assert "--password-file" in res.err and "passphrase" in res.err
    res = forensic("evidence", "add", luks, "--case", case, "--password-file", tmp_path / "wrong.txt", expect=1)
    assert "the key given does not open it" in res.err
    assert forensic("evidence", "list", "--case", case, "--json").jsonl() == []


def test_luks_volume_opened_with_the_key_and_walked_decrypted(forensic, tmp_path, luks):
    before = sha256_file(luks)
    case = _case(forensic, tmp_path)
    added = forensic("evidence", "add", luks, "--case", case, "--password-file", tmp_path / "key.txt",
                     "--json").json()
    assert added["format"] == "luks" and added["sha256"] == before        # the encrypted bytes, as seized
    summary = forensic("triage", "--case", case, "--json").json()
    assert summary["warnings"] == 0
    files = {r["locator"]: r for r in forensic("files", "--case", case, "--json").jsonl()}
    assert files["laptop.luks › LUKS1 (decrypted) › file system (ext4) › /plans.txt"]["sha256"] == sha256(NOTE)
    assert sha256_file(luks) == before


def test_luks_partition_of_a_disk_opened_with_the_key(forensic, tmp_path, luks):
    p1 = ext4_image(tmp_path, {"/notes.txt": b"outside"}, size_mib=4, name="p1.img")
    disk = disk_image(tmp_path, [p1, luks])
    case = _case(forensic, tmp_path)
    added = forensic("evidence", "add", disk, "--case", case, "--password-file", tmp_path / "key.txt",
                     "--json").json()
    assert added["partitions"][1]["encryption"]["decrypted"] is True
    forensic("triage", "--case", case, "--json")
    files = {r["locator"]: r for r in forensic("files", "--case", case, "--json").jsonl()}
    key = "disk.img › partition 2 (LUKS1, decrypted) › file system (ext4) › /plans.txt"
    assert files[key]["sha256"] == sha256(NOTE)


def test_luks_volume_in_a_qcow2_opened_with_the_key(forensic, tmp_path, luks):
    need("qemu-img")
    image = tmp_path / "laptop.qcow2"
    run("qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", luks, image)
    case = _case(forensic, tmp_path)
    forensic("evidence", "add", image, "--case", case, "--password-file", tmp_path / "key.txt")
    forensic("triage", "--case", case, "--json")
    files = {r["locator"]: r for r in forensic("files", "--case", case, "--json").jsonl()}
    assert files["laptop.qcow2 › LUKS1 (decrypted) › file system (ext4) › /plans.txt"]["sha256"] == sha256(NOTE)


def test_encrypted_volume_inside_a_container_is_refused_with_the_reason(forensic, tmp_path):
    need("qemu-img")
    raw = bitlocker_volume(tmp_path / "vol.raw")
    image = tmp_path / "vol.vhdx"
    run("qemu-img", "convert", "-q", "-f", "raw", "-O", "vhdx", raw, image)
    case = _case(forensic, tmp_path)
    res = forensic("evidence", "add", image, "--case", case, expect=1)
    assert "the disk in vol.vhdx is encrypted with BitLocker" in res.err
    assert forensic("evidence", "list", "--case", case, "--json").jsonl() == []


def _apfs(corpus):
    path = corpus / "disk-images" / "dfvfs" / "apfs.raw"
    if not path.exists():
        pytest.skip("apfs.raw not in the corpus")
    return path


@pytest.mark.corpus
def test_apfs_partition_of_a_disk_is_walked(forensic, tmp_path, corpus):
    p1 = ext4_image(tmp_path, {"/notes.txt": NOTE}, size_mib=4, name="p1.img")
    p2 = tmp_path / "p2.img"
    shutil.copy(_apfs(corpus), p2)
    disk = disk_image(tmp_path, [p1, p2], name="mac.img")
    case = _case(forensic, tmp_path)
    added = forensic("evidence", "add", disk, "--case", case, "--json").json()
    part = added["partitions"][1]
    assert part["file_system"] == "apfs" and part["apfs_volumes"][0]["name"] == "apfs_test"
    assert part["apfs_volumes"][0]["snapshots"] == []        # listed (there are none), not unknown (None)
    summary = forensic("triage", "--case", case, "--json", expect=None).json()
    files = {r["locator"]: r for r in forensic("files", "--case", case, "--json").jsonl()}
    assert files["mac.img › partition 1 (ext4) › /notes.txt"]["sha256"] == sha256(NOTE)
    pw = files["mac.img › partition 2 (apfs) › APFS volume 1 (apfs_test) › /passwords.txt"]
    assert pw["size"] == 116
    warnings = forensic("warnings", "--case", case, "--json", expect=None).jsonl()
    assert not [w for w in warnings if "partition 2" in (w["message"] or "") and "no readable" in w["message"]]
    assert summary["files"] >= 12


@pytest.mark.corpus
def test_apfs_inside_a_qcow2_is_walked(forensic, tmp_path, corpus):
    need("qemu-img")
    image = tmp_path / "mac.qcow2"
    run("qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", _apfs(corpus), image)
    case = _case(forensic, tmp_path)
    added = forensic("evidence", "add", image, "--case", case, "--json").json()
    assert added["format"] == "qcow2" and added["sha256"] == sha256_file(_apfs(corpus))
    forensic("triage", "--case", case, "--json")
    files = forensic("files", "--case", case, "--json").jsonl()
    paths = {r["path"] for r in files}
    assert {"/passwords.txt", "/a_directory/another_file", "/a_link"} <= paths
    assert all(re.match(r"mac\.qcow2 › APFS volume 1 \(apfs_test\) › /", r["locator"]) for r in files)
