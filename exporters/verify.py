"""``verify-bundle``: check a bundle from its own bytes alone (no case needed).

1. the ZIP opens (a truncated or damaged archive is named as such); encrypted members need the
   password (a wrong one is a :class:`PasswordError`, not a verdict); with ``--hide-names`` the
   bag is the one inner archive. Given a password, the bundle (or its inner ``bag.zip`` member)
   must be encrypted, and every member of an encrypted bundle must be. Every byte of the archive
   (and of the inner one) is one the export writes: its members from byte 0, back to back, then
   the central directory and its end records, with nothing before, between or after
   (:func:`archive_layout`): a ZIP reader that streams from the start, or that looks for the end
   another way, would otherwise read another archive hidden there;
2. the bag: ``bagit.txt`` is BagIt 1.0; every tag file the tag manifest lists and every payload
   file the manifest lists is present with that SHA-256 (else *missing* / *altered*); no other
   file is present (else *extra*; only the tag manifest, its signature and the public key may
   stand unlisted; a payload manifest listing nothing fails); ``manifest-sha256.txt``,
   ``bag-info.txt`` and ``bagit.txt`` must be listed in the tag manifest; ``Payload-Oxum``
   matches; the packaging ``bag-info.txt`` states
   (``Bundle-Encryption``, ``Bundle-Names-Hidden``) is the packaging found;
3. the signature over ``tagmanifest-sha256.txt`` (minisign): with ``pubkey`` the examiner's
   published key, else the key file inside the bundle (which proves only that the bundle is
   unchanged since someone holding that key signed it -- compare its fingerprint); the key
   ``bag-info.txt`` names and ``examiner.pub`` must be that key;
4. the custody excerpt: each entry is canonical and hashes to its own ``hash``; consecutive
   entries chain (``prev``); each has an inclusion proof to the checkpoint's Merkle root; the
   checkpoint is well-formed, its signature (if any) verifies and was made by the key that
   signed the bag, and it is the ``Custody-Head`` of ``bag-info.txt``; a full log is re-verified
   entry by entry. A bag without an excerpt, or an excerpt holding no entry, fails: nothing ties
   it to the custody log; so does an exported message no excerpt entry records;
5. every hash the bundle states agrees (:mod:`forensic.exporters.statements`): the manifest,
   ``files.jsonl``, the custody entries, the report and every other member that names a file's
   SHA-256.

The outcome (:attr:`BundleReport.status`): ``verified`` only when all of it holds and the
signature was checked with the key the caller supplied; ``signer-unconfirmed`` (intact, signed,
but only with the key inside the bundle) and ``unsigned`` (intact, not signed) when no key was
supplied; else ``failed``.
"""
from __future__ import annotations

import hashlib
import io
import json
import struct
import tempfile
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from forensic.chain_of_custody import merkle
from forensic.chain_of_custody.entry import LineError, check_line
from forensic.chain_of_custody.log import Checkpoint
from forensic.chain_of_custody.signing import PublicKey
from forensic.exporters import bagit
from forensic.exporters.bundle import (ENCRYPTION_LABEL, HEAD_KEEP, HIDDEN_MEMBER, HIDDEN_NAMES_LABEL, PUBKEY,
                                       SIGNATURE, UNLISTED_TAG_FILES)
from forensic.exporters.statements import FILES, KEPT, MESSAGES, HashStatements
from forensic.errors import IntegrityError, PasswordError, UsageError

import pyzipper.zipfile as _pz

CHUNK = 1 << 20
_BAD_ZIP = (zipfile.BadZipFile, _pz.BadZipFile, _pz.LargeZipFile)
SPOOL_MAX = 64 << 20
KEEP_MAX = 2 << 30          # a generated member (files.jsonl, the report, ...) read to compare its hashes


VERIFIED = "verified"                     # intact, and signed by the key the caller supplied
SIGNER_UNCONFIRMED = "signer-unconfirmed"   # intact, signed only with the key inside the bundle
UNSIGNED = "unsigned"                     # intact, not signed, no key supplied
FAILED = "failed"


@dataclass
class BundleReport:
    ok: bool = False                          # verified (see the module doc): exit 0
    intact: bool = False                      # no defect found, whoever signed it
    status: str = FAILED
    files_checked: int = 0
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)
    signature: str = "absent"                 # valid | invalid | absent
    custody: str = "absent"                   # valid | invalid | absent
    problems: list[str] = field(default_factory=list)
    encrypted: bool = False
    hidden_names: bool = False
    bag: str | None = None
    case_id: str | None = None
    examiner: str | None = None
    bagging_date: str | None = None
    key_source: str | None = None             # 'given' | 'bundle'
    key_id: str | None = None
    key_fingerprint: str | None = None
    signed_comment: str | None = None
    custody_entries: int = 0
    custody_head: str | None = None
    custody_signer: str | None = None
    custody_key_id: str | None = None
    custody_key_fingerprint: str | None = None
    stated_encrypted: bool | None = None      # bag-info.txt's Bundle-Encryption; None: not stated
    stated_hidden_names: bool | None = None   # bag-info.txt's Bundle-Names-Hidden; None: not stated
    hashes_compared: int = 0                  # things whose stated hashes were compared
    disagreements: list[dict] = field(default_factory=list)
    stray_bytes: list[dict] = field(default_factory=list)    # bytes no member or ZIP record accounts for
    evidence_digest: str | None = None        # of the manifest's lines outside data/report/ (exporters.report.pdf)

    def to_dict(self) -> dict:
        return asdict(self)


class _Unreadable(Exception):
    pass


def _read(zf, info, password_hint: bool = False) -> bytes:
    h = io.BytesIO()
    _stream(zf, info, h.write)
    return h.getvalue()


def _stream(zf, info, sink) -> None:
    try:
        with zf.open(info) as src:
            while chunk := src.read(CHUNK):
                sink(chunk)
    except RuntimeError as exc:
        if "password" in str(exc).lower():
            raise PasswordError("the password does not open this bundle",
                                hint="check the password file (its first line is the password)") from None
        raise _Unreadable(str(exc)) from None
    except (*_BAD_ZIP, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise _Unreadable(str(exc) or type(exc).__name__) from None


def _open_zip(fileobj, password: bytes | None, report: BundleReport):
    import pyzipper
    try:
        zf = pyzipper.AESZipFile(fileobj)
    except (*_BAD_ZIP, OSError, ValueError, EOFError) as exc:
        report.problems.append(f"not a readable ZIP archive (truncated or damaged): {exc}")
        return None
    encrypted = any(i.flag_bits & 1 for i in zf.infolist())
    if encrypted:
        report.encrypted = True
        if password is None:
            zf.close()
            raise PasswordError("this bundle is encrypted", hint="pass --password-file F (the password is not in "
                                                                 "the bundle; ask the examiner for it)")
        zf.setpassword(password)
    return zf


def verify_bundle(path: Path, password: bytes | None = None, pubkey: PublicKey | None = None) -> BundleReport:
    report = BundleReport()
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no bundle at {path}")
    with open(path, "rb") as fh:
        zf = _open_zip(fh, password, report)
        if zf is None:
            return report
        with zf:
            _check_layout(fh, None, report)
            infos = zf.infolist()
            hidden = len(infos) == 1 and infos[0].filename == HIDDEN_MEMBER
            _check_encryption(infos, password, hidden, report)
            if hidden:
                report.hidden_names = True
                with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX, prefix="forensic-bag-") as spool:
                    try:
                        _stream(zf, infos[0], spool.write)
                    except _Unreadable as exc:
                        report.problems.append(f"the inner archive {HIDDEN_MEMBER} is damaged: {exc}")
                        report.altered.append(HIDDEN_MEMBER)
                        return report
                    spool.seek(0)
                    inner = _open_zip(spool, None, report)
                    if inner is None:
                        return report
                    with inner:
                        _check_layout(spool, HIDDEN_MEMBER, report)
                        _verify_bag(inner, report, pubkey)
            else:
                _verify_bag(zf, report, pubkey)
    _conclude(report, pubkey)
    return report


# -- the archive's layout ---------------------------------------------------------------------------
# APPNOTE.TXT 4.3: local file header (+ name, extra, data, data descriptor) for each member, then
# the central directory, the ZIP64 end records when needed, and the end of central directory
# record. zipfile and pyzipper write exactly that from byte 0, with no archive comment; they
# read past bytes before it (taken for a self-extractor's stub), between members, and up to
# 64 KiB after it, and so would not tell a second archive hidden there.

_LOCAL, _CENTRAL, _DESCRIPTOR = b"PK\x03\x04", b"PK\x01\x02", b"PK\x07\x08"
_END, _END64, _LOCATOR64 = b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07"
_END_SIZE, _END64_SIZE, _LOCATOR64_SIZE = 22, 56, 20
_ZIP64_EXTRA = 0x0001
_USE_DESCRIPTOR = 0x08
_SEARCH = (1 << 16) + _END_SIZE      # where zipfile looks for the end record: the last 64 KiB + 22


class LayoutError(Exception):
    """The archive's records contradict one another (not only bytes left over)."""


@dataclass(slots=True)
class _Member:
    name: bytes
    flags: int
    method: int
    crc: int
    csize: int
    usize: int
    offset: int                       # of its local header, as the central directory states it


def _zip64_values(extra: bytes, wanted: list[str], values: dict[str, int]) -> None:
    """Replace the 32-bit fields a ZIP64 extra field stands in for (those that read all ones),
    in APPNOTE order: uncompressed size, compressed size, local header offset."""
    at = 0
    while at + 4 <= len(extra):
        kind, n = struct.unpack_from("<2H", extra, at)
        if kind == _ZIP64_EXTRA:
            body = extra[at + 4:at + 4 + n]
            for i, name in enumerate(wanted):
                if len(body) < 8 * (i + 1):
                    raise LayoutError("a ZIP64 extra field is too short for the sizes it stands in for")
                values[name] = struct.unpack_from("<Q", body, 8 * i)[0]
            return
        at += 4 + n
    if wanted:
        raise LayoutError("a size or offset reads 0xFFFFFFFF but no ZIP64 extra field gives it")


def _has_zip64(extra: bytes) -> bool:
    at = 0
    while at + 4 <= len(extra):
        kind, n = struct.unpack_from("<2H", extra, at)
        if kind == _ZIP64_EXTRA:
            return True
        at += 4 + n
    return False


def _read_at(fh, offset: int, n: int) -> bytes:
    fh.seek(offset)
    return fh.read(n)


def archive_layout(fh) -> list[dict]:
    """The stretches of a ZIP archive that no member or ZIP record accounts for: ``[{offset,
    length, where}]``, empty for an archive as the export writes it. Raises
    :class:`LayoutError` where the records contradict one another (overlapping members, a
    local header that is not its central directory entry's, a central directory elsewhere than
    its end record says)."""
    size = fh.seek(0, io.SEEK_END)
    window = min(size, _SEARCH)
    tail = _read_at(fh, size - window, window)
    at = tail.rfind(_END)              # the record zipfile takes: the last one in its window
    while at >= 0 and at + _END_SIZE > len(tail):
        at = tail.rfind(_END, 0, at)
    if at < 0:
        raise LayoutError("no end of central directory record")
    end = size - window + at
    stray: list[dict] = []
    if end + _END_SIZE < size:
        stray.append({"offset": end + _END_SIZE, "length": size - end - _END_SIZE,
                      "where": "after its end of central directory record"})
    disk, cd_disk, on_disk, count, cd_size, cd_offset, _ = struct.unpack_from("<4H2LH", tail, at + 4)
    cd_end = end
    locator = _read_at(fh, end - _LOCATOR64_SIZE, _LOCATOR64_SIZE) if end >= _LOCATOR64_SIZE else b""
    if locator[:4] == _LOCATOR64:
        _, record_at, _ = struct.unpack_from("<LQL", locator, 4)
        cd_end = end - _LOCATOR64_SIZE - _END64_SIZE
        record = _read_at(fh, cd_end, _END64_SIZE) if cd_end >= 0 else b""
        if record[:4] != _END64 or record_at != cd_end or struct.unpack_from("<Q", record, 4)[0] != _END64_SIZE - 12:
            raise LayoutError("the ZIP64 end of central directory record is not where its locator says, or "
                              "not of the size the export writes")
        disk, cd_disk, on_disk, count, cd_size, cd_offset = struct.unpack_from("<2L4Q", record, 16)
    if disk or cd_disk or on_disk != count:
        raise LayoutError("the archive says it spans several disks")
    # zipfile takes the central directory to end where the end records begin; bytes in front
    # of the archive (``cat stub.zip bundle.zip``) then shift every offset it states: zipfile
    # adds that shift to them, and so is it done here (they are then bytes before the first member)
    shift = cd_end - cd_size - cd_offset
    if shift < 0:
        raise LayoutError(f"the end of central directory record puts the central directory at byte {cd_offset:,}, "
                          f"{cd_size:,} bytes long, past where it ends (byte {cd_end:,})")
    cd_offset += shift
    members = _central_directory(_read_at(fh, cd_offset, cd_size), cd_size, count)
    for m in members:
        m.offset += shift
    for m in members:
        if m.offset + 30 > cd_offset:        # before any seek: a ZIP64 offset of 2**64-1 cannot be sought
            raise LayoutError(f"member {m.name.decode('utf-8', 'replace')}: the central directory puts its local "
                              f"header at byte {m.offset:,}, past where the central directory begins "
                              f"(byte {cd_offset:,})")
    pos = 0
    previous = None
    for m in sorted(members, key=lambda m: m.offset):
        if m.offset > pos:
            stray.append({"offset": pos, "length": m.offset - pos,
                          "where": "before its first member" if previous is None else
                                   f"after its member {previous.name.decode('utf-8', 'replace')}"})
        elif m.offset < pos:
            raise LayoutError(f"member {m.name.decode('utf-8', 'replace')} overlaps the one before it")
        pos = _local_end(fh, m, cd_offset)
        previous = m
    if cd_offset > pos:
        stray.append({"offset": pos, "length": cd_offset - pos,
                      "where": "before its first member" if previous is None else
                               "between its last member and its central directory"})
    elif cd_offset < pos:
        raise LayoutError("the last member runs into the central directory")
    return sorted(stray, key=lambda s: s["offset"])


def _central_directory(cd: bytes, cd_size: int, count: int) -> list[_Member]:
    if len(cd) != cd_size:
        raise LayoutError("the central directory is cut short")
    out = []
    at = 0
    while at < cd_size:
        if cd[at:at + 4] != _CENTRAL or at + 46 > cd_size:
            raise LayoutError(f"byte {at:,} of the central directory is not an entry")
        (_, _, _, flags, method, _, _, crc, csize, usize, nlen, elen, clen, _, _, _,
         offset) = struct.unpack_from("<4s6H3L5H2L", cd, at)
        name = cd[at + 46:at + 46 + nlen]
        extra = cd[at + 46 + nlen:at + 46 + nlen + elen]
        values = {"usize": usize, "csize": csize, "offset": offset}
        _zip64_values(extra, [k for k in ("usize", "csize", "offset") if values[k] == 0xFFFFFFFF], values)
        out.append(_Member(name, flags, method, crc, values["csize"], values["usize"], values["offset"]))
        at += 46 + nlen + elen + clen
    if at != cd_size or len(out) != count:
        raise LayoutError(f"the central directory holds {len(out)} entries in {at:,} bytes, its end record says "
                          f"{count} in {cd_size:,}")
    return out


def _local_end(fh, m: _Member, limit: int) -> int:
    """Where member ``m`` ends: its local header, name, extra field, data and data descriptor,
    each checked against its central directory entry (a reader that streams the archive goes
    by these). Nothing of it may lie past ``limit`` (where the central directory begins)."""
    shown = m.name.decode("utf-8", "replace")
    head = _read_at(fh, m.offset, 30)
    if len(head) < 30 or head[:4] != _LOCAL:
        raise LayoutError(f"member {shown}: no local header where the central directory says")
    _, _, flags, method, _, _, crc, csize, usize, nlen, elen = struct.unpack("<4s5H3L2H", head)
    rest = _read_at(fh, m.offset + 30, nlen + elen)
    name, extra = rest[:nlen], rest[nlen:]
    if name != m.name or method != m.method or (flags ^ m.flags) & _USE_DESCRIPTOR:
        raise LayoutError(f"member {shown}: its local header names another file or method than its central "
                          "directory entry")
    data_end = m.offset + 30 + nlen + elen + m.csize
    if data_end > limit:
        raise LayoutError(f"member {shown}: its data runs past the central directory")
    zip64 = _has_zip64(extra)
    if flags & _USE_DESCRIPTOR:
        desc = _read_at(fh, data_end, 24)
        signed = desc[:4] == _DESCRIPTOR
        body = desc[4:] if signed else desc
        fmt = "<LQQ" if zip64 else "<3L"
        length = struct.calcsize(fmt)
        if len(body) < length:
            raise LayoutError(f"member {shown}: its data descriptor is cut short")
        stated = struct.unpack_from(fmt, body)
        end = data_end + length + 4 * signed
    else:
        values = {"usize": usize, "csize": csize}
        _zip64_values(extra, [k for k in ("usize", "csize") if values[k] == 0xFFFFFFFF], values)
        stated = (crc, values["csize"], values["usize"])
        end = data_end
    if stated != (m.crc, m.csize, m.usize):
        raise LayoutError(f"member {shown}: its local header or data descriptor states another size or CRC than "
                          "its central directory entry")
    return end


def _check_layout(fh, inner: str | None, report: BundleReport) -> None:
    """Every byte of the bundle (or of its ``inner`` archive) accounted for (see
    :func:`archive_layout`), else a problem; the stray bytes are listed in ``stray_bytes``."""
    archive = f"the inner archive {inner}" if inner else "the bundle"
    try:
        stray = archive_layout(fh)
    except (LayoutError, ValueError, OverflowError, OSError, struct.error) as exc:
        report.problems.append(f"{archive} is not laid out as the export writes it: {exc}")
        return
    for s in stray:
        fh.seek(s["offset"])
        begins = fh.read(4)
        what = ("; they begin as a ZIP member (another archive)" if begins == _LOCAL else
                "; they begin as a ZIP directory record (another archive's)" if begins in (_CENTRAL, _END) else "")
        report.stray_bytes.append({"archive": inner or "bundle", **s})
        report.problems.append(
            f"{archive} holds {s['length']:,} bytes {s['where']} (bytes {s['offset']:,} to "
            f"{s['offset'] + s['length'] - 1:,}) that the export never writes{what}: a ZIP reader that streams the "
            "file from its start, or finds its end another way, can read another archive there than the one "
            "verified")


def _check_encryption(infos: list, password: bytes | None, hidden: bool, report: BundleReport) -> None:
    """A password given means the prosecutor was handed an encrypted bundle: one that is not
    (or only partly) encrypted was stripped or replaced by someone without the password."""
    plain = [i.filename for i in infos if not i.is_dir() and not i.flag_bits & 1]
    if report.encrypted and plain:
        shown = ", ".join(plain[:3]) + (f" and {len(plain) - 3} more" if len(plain) > 3 else "")
        report.problems.append(f"not every member of this encrypted bundle is encrypted ({shown}): members were "
                               "added or replaced without the password")
    if password is not None and not report.encrypted:
        report.problems.append(
            f"you gave a password, but the inner archive {HIDDEN_MEMBER} is not encrypted: it was replaced by "
            "someone without the password" if hidden else
            "you gave a password, but this bundle is not encrypted: it is not the encrypted bundle the examiner "
            "made (its encryption was removed, or it was replaced)")


def _conclude(report: BundleReport, pubkey: PublicKey | None) -> None:
    if pubkey is not None and report.signature == "absent" and report.bag is not None:
        report.problems.append("the bundle is not signed, but you supplied the examiner's key: nothing shows that "
                               "the examiner made it")
    report.intact = (not report.problems and not report.missing and not report.extra and not report.altered
                     and report.bag is not None and report.signature != "invalid" and report.custody != "invalid")
    report.ok = report.intact and pubkey is not None and report.signature == "valid"
    if report.ok:
        report.status = VERIFIED
    elif not report.intact or pubkey is not None:
        report.status = FAILED
    else:
        report.status = SIGNER_UNCONFIRMED if report.signature == "valid" else UNSIGNED


def extract_bundle(path: Path, password: bytes | None, dest: Path) -> int:
    """Extract a (verified) bundle's bag into ``dest`` (which must not exist yet); returns the
    number of files written. Member names are checked: none may leave ``dest``."""
    dest = Path(dest)
    if dest.exists():
        raise UsageError(f"{dest} already exists", hint="name a new folder to extract into")
    dest.mkdir(parents=True)
    root = dest.resolve()
    count = 0

    def write_all(zf) -> None:
        nonlocal count
        for info in zf.infolist():
            name = info.filename
            parts = PurePosixPath(name).parts
            target = (root / PurePosixPath(name)).resolve()
            if (name.startswith("/") or "\\" in name or ".." in parts or not parts
                    or (target != root and root not in target.parents)):
                raise IntegrityError(f"the bundle holds a member name that would leave the folder: {name!r}")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as out:
                _stream(zf, info, out.write)
            count += 1

    with open(path, "rb") as fh:
        report = BundleReport()
        zf = _open_zip(fh, password, report)
        if zf is None:
            raise IntegrityError(report.problems[0] if report.problems else "unreadable bundle")
        with zf:
            infos = zf.infolist()
            if len(infos) == 1 and infos[0].filename == HIDDEN_MEMBER:
                with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX, prefix="forensic-bag-") as spool:
                    _stream(zf, infos[0], spool.write)
                    spool.seek(0)
                    inner = _open_zip(spool, None, report)
                    if inner is None:
                        raise IntegrityError(f"the inner archive {HIDDEN_MEMBER} is damaged")
                    with inner:
                        write_all(inner)
            else:
                write_all(zf)
    return count


def _verify_bag(zf, report: BundleReport, pubkey: PublicKey | None) -> None:
    members: dict[str, object] = {}
    for info in zf.infolist():
        if info.is_dir():
            continue
        if info.filename in members:
            report.extra.append(info.filename)
            report.problems.append(f"{info.filename} appears twice in the archive")
            continue
        members[info.filename] = info
    roots = sorted({n.split("/", 1)[0] for n in members if n.count("/") == 1 and n.endswith("/" + bagit.BAGIT)})
    if len(roots) != 1:
        report.problems.append("no BagIt bag found in the archive (no <folder>/bagit.txt)" if not roots
                               else f"more than one bag in the archive: {', '.join(roots)}")
        return
    root = roots[0]
    report.bag = root
    prefix = root + "/"
    rel = {n[len(prefix):]: i for n, i in members.items() if n.startswith(prefix)}
    report.extra.extend(sorted(n for n in members if not n.startswith(prefix)))

    def tag_bytes(name: str) -> bytes | None:
        info = rel.get(name)
        if info is None:
            return None
        try:
            return _read(zf, info)
        except _Unreadable as exc:
            report.altered.append(name)
            report.problems.append(f"{name} cannot be read from the archive: {exc}")
            return None

    bagit_txt = tag_bytes(bagit.BAGIT)
    if bagit_txt is not None:
        tags = bagit.parse_bag_info(bagit_txt)
        if tags.get("BagIt-Version") != ["1.0"] or tags.get("Tag-File-Character-Encoding") != ["UTF-8"]:
            report.problems.append("bagit.txt does not declare BagIt 1.0 with UTF-8 tag files")
    tagmanifest_raw = tag_bytes(bagit.TAGMANIFEST)
    manifest_raw = tag_bytes(bagit.MANIFEST)
    if tagmanifest_raw is None and bagit.TAGMANIFEST not in report.altered:
        report.missing.append(bagit.TAGMANIFEST)
    if manifest_raw is None and bagit.MANIFEST not in report.altered:
        report.missing.append(bagit.MANIFEST)
    tagman: dict[str, str] = {}
    manifest: dict[str, str] = {}
    try:
        tagman = bagit.parse_manifest(tagmanifest_raw) if tagmanifest_raw is not None else {}
    except bagit.ManifestError as exc:
        report.altered.append(bagit.TAGMANIFEST)
        report.problems.append(f"{bagit.TAGMANIFEST} is malformed: {exc}")
    try:
        manifest = bagit.parse_manifest(manifest_raw) if manifest_raw is not None else {}
    except bagit.ManifestError as exc:
        report.altered.append(bagit.MANIFEST)
        report.problems.append(f"{bagit.MANIFEST} is malformed: {exc}")
    if manifest_raw is not None and not manifest and bagit.MANIFEST not in report.altered:
        report.problems.append(f"{bagit.MANIFEST} lists no payload file: nothing in the bundle could be checked")
    for required in (bagit.BAGIT, bagit.BAG_INFO, bagit.MANIFEST):
        if tagmanifest_raw is not None and required not in tagman:
            report.problems.append(f"{required} is not covered by {bagit.TAGMANIFEST}")
    # every file: listed in a manifest, present, with its hash
    listed = {**{k: ("tag", v) for k, v in tagman.items()}, **{k: ("payload", v) for k, v in manifest.items()}}
    for name in sorted(rel):
        if name in listed or name in UNLISTED_TAG_FILES:
            continue
        report.extra.append(name)
    oxum_bytes = oxum_count = 0
    kept: dict[str, bytes] = {}            # generated members whose bytes match the manifest
    statements: HashStatements | None = None

    def check(name: str, kind: str, expected: str) -> None:
        nonlocal oxum_bytes, oxum_count
        info = rel.get(name)
        if kind == "payload" and not name.startswith("data/"):
            report.problems.append(f"{bagit.MANIFEST} lists {name!r}, outside data/")
        if info is None:
            report.missing.append(name)
            return
        h = hashlib.sha256()
        size = 0
        keep = kind == "payload" and name in KEPT
        wanted = statements.wants(name) if statements is not None and kind == "payload" else None
        extra = {a: hashlib.new(a, usedforsecurity=False) for a in (wanted.digests if wanted else ())}
        head: list[bytes] | None = [] if keep or (wanted is not None and wanted.images) else None
        limit = KEEP_MAX if keep else HEAD_KEEP
        held = 0

        def sink(chunk: bytes) -> None:
            nonlocal size, held
            h.update(chunk)
            size += len(chunk)
            for x in extra.values():
                x.update(chunk)
            if head is not None and held < limit:
                head.append(chunk)
                held += len(chunk)
        try:
            _stream(zf, info, sink)
        except _Unreadable as exc:
            report.altered.append(name)
            report.problems.append(f"{name}: unreadable in the archive ({exc})")
            return
        report.files_checked += 1
        if kind == "payload":
            oxum_bytes += size
            oxum_count += 1
        if h.hexdigest() != expected:
            report.altered.append(name)
            return
        if keep and size > KEEP_MAX:
            report.problems.append(f"{name} is larger than verify-bundle compares ({KEEP_MAX >> 30} GiB): the "
                                   "hashes it states cannot be checked")
        elif keep:
            kept[name] = b"".join(head)
        elif statements is not None and kind == "payload":
            digests = {"sha256": expected, **{a: x.hexdigest() for a, x in extra.items()}}
            statements.observe(name, size, digests, b"".join(head)[:HEAD_KEEP] if head is not None else None)

    # the generated members first: what they state decides what is computed for the evidence
    ordered = sorted(listed.items(), key=lambda kv: (not (kv[1][0] == "payload" and kv[0] in KEPT), kv[0]))
    for name, (kind, expected) in ordered:
        if statements is None and not (kind == "payload" and name in KEPT):
            statements = HashStatements(kept, manifest)
        check(name, kind, expected)
    if statements is None:
        statements = HashStatements(kept, manifest)
    info_raw = tag_bytes(bagit.BAG_INFO) if bagit.BAG_INFO in rel else None
    bag_info = bagit.parse_bag_info(info_raw) if info_raw is not None else {}
    report.case_id = (bag_info.get("External-Identifier") or [None])[0]
    report.examiner = (bag_info.get("Contact-Name") or [None])[0]
    report.bagging_date = (bag_info.get("Bagging-Date") or [None])[0]
    oxum = (bag_info.get("Payload-Oxum") or [None])[0]
    if oxum is not None and not report.missing and oxum != f"{oxum_bytes}.{oxum_count}":
        report.problems.append(f"Payload-Oxum says {oxum}, the payload is {oxum_bytes}.{oxum_count}")
    _check_packaging(report, bag_info)
    # the evidence digest the report's PDF names the bundle by, as the checked manifest gives it
    from forensic.exporters.report.pdf import BAG_INFO_LABEL, evidence_digest
    report.evidence_digest = evidence_digest(manifest.items())
    stated_digest = (bag_info.get(BAG_INFO_LABEL) or [None])[0]
    if stated_digest is not None and stated_digest.strip() != report.evidence_digest:
        report.problems.append(f"bag-info.txt gives the evidence digest {stated_digest.strip()[:64]}, but the "
                               f"manifest's lines outside data/report/ give {report.evidence_digest}")
    # the report shows it (summary, footer): a value the bundle states, as any hash it shows
    statements.say(("digest", "evidence"), "sha256", report.evidence_digest, "the manifest (evidence digest)")
    _check_signature(report, rel, tagmanifest_raw, tag_bytes, pubkey, bag_info)
    custody_lines = _check_custody(zf, report, rel, manifest, bag_info)
    _check_custody_key(report)
    statements.finish(custody_lines if report.custody == "valid" else None, report.custody_head)
    if report.custody == "valid":
        _check_messages_vouched(kept.get(MESSAGES), kept.get(FILES), custody_lines, report)
    report.problems.extend(statements.problems)
    report.disagreements = statements.disagreements
    report.hashes_compared = statements.checked
    report.missing.sort()
    report.altered = sorted(set(report.altered))
    report.extra = sorted(set(report.extra))


def _check_messages_vouched(messages: bytes | None, files: bytes | None, custody: dict[int, bytes],
                            report: BundleReport) -> None:
    """Every exported message is a record the custody excerpt vouches for: an ``artifact.*``
    entry of its ``artifact_id``, for its item and source file. (The entry's hash of the
    record's fields is not compared: a withheld message's text is not in the bundle.) Not for
    a message whose source file is withheld (a pseudonymised export leaves out the entries
    naming a marked person, as a chat file named after her does) or not recoverable."""
    if not messages:
        return
    withheld: set[tuple] = set()
    for line in (files or b"").splitlines():
        try:
            row = json.loads(line)
            if row.get("withheld") is True or row.get("not_recoverable") is True:
                withheld.add((row["item"], row["locator"]))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            continue                      # the hash statements report an unreadable row
    vouched: set[tuple] = set()
    for line in custody.values():
        try:
            e = json.loads(line)
            s, d = e["subject"], e["details"]
            if str(e["action"]).startswith("artifact."):
                vouched.add((d["artifact_id"], s.get("item"), s.get("locator")))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            continue                      # the excerpt's own check reports a broken entry
    missing = []
    for line in messages.splitlines():
        try:
            m = json.loads(line)
            key = (m["artifact_id"], m["item"], (m.get("source") or {}).get("locator"))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            continue                      # the hash statements report an unreadable row
        if (type(key[0]) is not int or key not in vouched) and key[1:] not in withheld:
            missing.append(str(key[0])[:20])
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        report.problems.append(f"no custody entry in the bundle records message {shown} of {MESSAGES}: nothing "
                               "ties it to the custody log")


def _check_packaging(report: BundleReport, bag_info: dict) -> None:
    """The packaging the signed ``bag-info.txt`` states is the packaging found: a bundle made
    encrypted (or with hidden names) and handed over without is a copy someone re-packed --
    with the password, or with a forged bag. Bundles made before these fields existed state
    nothing (reported as ``None``)."""
    enc = (bag_info.get(ENCRYPTION_LABEL) or [None])[0]
    hid = (bag_info.get(HIDDEN_NAMES_LABEL) or [None])[0]
    report.stated_encrypted = None if enc is None else enc.strip().lower() != "none"
    report.stated_hidden_names = None if hid is None else hid.strip().lower() == "yes"
    if report.stated_encrypted is not None and report.stated_encrypted != report.encrypted:
        report.problems.append(
            "bag-info.txt says the bundle was made encrypted, but it is not: its encryption was removed"
            if report.stated_encrypted else
            "bag-info.txt says the bundle was made unencrypted, but it is encrypted: it was re-packed")
    if report.stated_hidden_names is not None and report.stated_hidden_names != report.hidden_names:
        report.problems.append(
            f"bag-info.txt says the bag was made as the hidden inner archive {HIDDEN_MEMBER}, but it is not: "
            "it was re-packed" if report.stated_hidden_names else
            f"bag-info.txt says the bag's names were not hidden, but it is an inner archive {HIDDEN_MEMBER}: it "
            "was re-packed")


def _check_custody_key(report: BundleReport) -> None:
    """The custody checkpoint in the bundle is signed by the examiner's key when the log was
    kept with one; then it must be the key that signed the bag: a bag re-signed by anyone
    else no longer matches the checkpoint it cites."""
    if report.custody_key_fingerprint is None or report.signature != "valid":
        return
    if report.custody_key_fingerprint != report.key_fingerprint:
        report.problems.append(
            f"the custody checkpoint was signed by key {report.custody_key_id} (fingerprint "
            f"{report.custody_key_fingerprint}), the bag by key {report.key_id} (fingerprint "
            f"{report.key_fingerprint}): the bag was signed by someone other than the keeper of the custody log")


def _check_signature(report: BundleReport, rel: dict, tagmanifest: bytes | None, tag_bytes,
                     pubkey: PublicKey | None, bag_info: dict) -> None:
    stated_id = (bag_info.get("Signature-Key-Id") or [None])[0]
    stated_fp = (bag_info.get("Signature-Key-Fingerprint") or [None])[0]
    if SIGNATURE not in rel:
        report.signature = "absent"
        if stated_id:
            report.signature = "invalid"
            report.problems.append("bag-info.txt says the bundle was signed, but the signature file is missing")
        return
    sig = tag_bytes(SIGNATURE)
    bundled = None
    raw = tag_bytes(PUBKEY) if PUBKEY in rel else None
    if raw is not None:
        try:
            bundled = PublicKey.from_text(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            report.signature = "invalid"
            report.problems.append(f"{PUBKEY} is not a minisign public key: {exc}")
            return
    key = pubkey
    report.key_source = "given"
    if key is None:
        report.key_source = "bundle"
        key = bundled
        if key is None:
            report.signature = "invalid"
            report.problems.append("the bundle is signed but holds no public key; pass --pubkey EXAMINER.pub")
            return
    report.key_id, report.key_fingerprint = key.id_text, key.fingerprint
    if sig is None or tagmanifest is None:
        report.signature = "invalid"
        return
    try:
        trusted = key.verify(tagmanifest, sig.decode("utf-8", "replace"))
    except ValueError as exc:
        report.signature = "invalid"
        if pubkey is not None and str(exc).startswith("signed with key "):
            report.problems.append(f"the bundle was not signed with the key you supplied (key id {pubkey.id_text}, "
                                   f"fingerprint {pubkey.fingerprint}): it was {exc}")
        else:
            report.problems.append(f"signature: {exc}")
        return
    digest = hashlib.sha256(tagmanifest).hexdigest()
    if f"tagmanifest-sha256={digest}" not in trusted:
        report.signature = "invalid"
        report.problems.append("the signature's trusted comment names another tag manifest")
        return
    report.signed_comment = trusted
    report.signature = "valid"
    if bundled is not None and bundled.raw != key.raw:
        report.problems.append(f"{PUBKEY} inside the bundle is key {bundled.id_text}, not the key that signed it "
                               f"({key.id_text})")
    if (stated_id and stated_id != key.id_text) or (stated_fp and stated_fp != key.fingerprint):
        report.problems.append(f"bag-info.txt names the signing key {stated_id} ({stated_fp}), but the signature "
                               f"was made with key {key.id_text} ({key.fingerprint})")


def _check_custody(zf, report: BundleReport, rel: dict, manifest: dict, bag_info: dict) -> dict[int, bytes]:
    """Check the custody excerpt (see the module doc); returns its entries (seq -> line)."""
    cp_name = "data/custody/checkpoint.json"
    head = (bag_info.get("Custody-Head") or [None])[0]
    report.custody_head = head
    if cp_name not in rel:
        report.custody = "absent"
        if head not in (None, "none"):
            report.custody = "invalid"
            report.problems.append("bag-info.txt names a custody head, but the custody excerpt is missing")
        else:       # every export cites a checkpoint: a bag without one was cut, not made so
            report.problems.append("the bundle holds no custody excerpt (data/custody/checkpoint.json): nothing "
                                   "ties its files to the case's custody log")
        return {}
    problems: list[str] = []

    def read(name: str) -> bytes | None:
        info = rel.get(name)
        if info is None:
            return None
        try:
            return _read(zf, info)
        except _Unreadable:
            return None

    try:
        cp = Checkpoint.from_line((read(cp_name) or b"").strip())
    except (ValueError, TypeError) as exc:
        report.custody = "invalid"
        report.problems.append(f"custody checkpoint is malformed: {exc}")
        return {}
    if cp.signature is not None:
        try:
            report.custody_signer = f"{cp.signer} (key {cp.verify_signature()})"
            cp_key = PublicKey.from_base64(cp.public_key)
            report.custody_key_id, report.custody_key_fingerprint = cp_key.id_text, cp_key.fingerprint
        except ValueError as exc:
            problems.append(f"custody checkpoint signature: {exc}")
    if report.case_id is not None and cp.case_id != report.case_id:
        problems.append("the custody checkpoint belongs to another case")
    if head != f"{cp.tree_size} {cp.root}":
        problems.append("the custody checkpoint is not the Custody-Head of bag-info.txt")
    full = read("data/custody/custody.jsonl")
    lines: dict[int, bytes] = {}
    if full is not None:
        all_lines = full.split(b"\n")
        if all_lines and all_lines[-1] == b"":
            all_lines.pop()
        prev = "0" * 64
        for seq, line in enumerate(all_lines):
            try:
                prev, _ = check_line(line, seq, prev)
            except LineError as exc:
                problems.append(f"custody entry {seq}: {exc}")
                break
            lines[seq] = line
        if len(all_lines) != cp.tree_size:
            problems.append(f"the custody log holds {len(all_lines)} entries, the checkpoint {cp.tree_size}")
        elif not problems and merkle.root_of_leaves([merkle.leaf_hash(x) for x in all_lines]).hex() != cp.root:
            problems.append("the custody log's Merkle root differs from the checkpoint's")
        if not problems and cp.last_hash != prev:
            problems.append("the checkpoint names another last entry")
        if not problems:
            problems.extend(_check_full_checkpoints(full, read("data/custody/custody.checkpoints.jsonl"), cp))
    else:
        entries = read("data/custody/entries.jsonl") or b""
        for line in entries.split(b"\n"):
            if not line:
                continue
            try:
                seq = json.loads(line)["seq"]
            except (ValueError, KeyError, TypeError, RecursionError):
                problems.append("a custody entry is not readable JSON")
                continue
            if type(seq) is not int:
                problems.append(f"a custody entry gives its seq as {seq!r:.40}, not a whole number")
                continue
            lines[seq] = line
    proofs_raw = read("data/custody/proofs.jsonl") or b""
    proved = set()
    for pline in proofs_raw.split(b"\n"):
        if not pline:
            continue
        try:
            p = json.loads(pline)
            seq, proof = p["seq"], [bytes.fromhex(h) for h in p["proof"]]
        except (ValueError, KeyError, TypeError, RecursionError):
            problems.append("an inclusion proof is malformed")
            continue
        if type(seq) is not int:
            problems.append("an inclusion proof is malformed")
            continue
        line = lines.get(seq)
        if line is None:
            problems.append(f"custody entry {seq} has a proof but is not in the bundle")
            continue
        if not merkle.verify_inclusion(seq, cp.tree_size, merkle.leaf_hash(line), proof, bytes.fromhex(cp.root)):
            problems.append(f"custody entry {seq} is not in the checkpointed log (inclusion proof fails)")
        proved.add(seq)
    if full is None:
        ordered = sorted(lines)
        for seq in ordered:
            line = lines[seq]
            try:
                h, prev_of = check_line(line, seq, None)
            except LineError as exc:
                problems.append(f"custody entry {seq}: {exc}")
                continue
            if seq - 1 in lines:
                try:
                    check_line(lines[seq - 1], seq - 1, None)
                    prev_hash = json.loads(lines[seq - 1])["hash"]
                except (LineError, ValueError, KeyError):
                    prev_hash = None
                if prev_hash is not None and prev_of != prev_hash:
                    problems.append(f"custody entry {seq} does not chain to entry {seq - 1}")
            if seq not in proved:
                problems.append(f"custody entry {seq} has no inclusion proof")
    report.custody_entries = len(lines)
    if not lines and not problems:
        problems.append("the custody excerpt holds no entry: nothing in it is proved against the checkpoint")
    if problems:
        report.custody = "invalid"
        report.problems.extend(problems)
    else:
        report.custody = "valid"
    return lines


def _check_full_checkpoints(log: bytes, checkpoints: bytes | None, cp: Checkpoint) -> list[str]:
    """A full log's checkpoints, as ``forensic custody verify`` checks a case's (consistent,
    signed by established keys from the first signed one on); the bundle's checkpoint is
    the last of them. Without the file, its history and pins would go unchecked."""
    if checkpoints is None:
        return ["the bundle holds the full custody log without its checkpoints "
                "(data/custody/custody.checkpoints.jsonl): its history cannot be checked"]
    from forensic.chain_of_custody.log import CHECKPOINTS_NAME, LOG_NAME
    from forensic.chain_of_custody.verify import verify_log
    with tempfile.TemporaryDirectory(prefix="forensic-custody-") as tmp:
        (Path(tmp) / LOG_NAME).write_bytes(log)
        (Path(tmp) / CHECKPOINTS_NAME).write_bytes(checkpoints)
        rep = verify_log(Path(tmp), None, case_id=cp.case_id, workers=1)
    out = [f"the full custody log does not verify: {p}" for p in rep.problems[:3]]
    if not out and checkpoints.rsplit(b"\n", 2)[-2:] != [cp.line(), b""]:
        out.append("the custody checkpoint is not the last of the full log's checkpoints")
    return out


def verdict(report: BundleReport) -> list[str]:
    """The plain-language verdict, one ``LABEL: sentence`` per line: the outcome, then the
    signature, the custody excerpt and the packaging."""
    out = []
    n = report.files_checked
    if report.status == VERIFIED:
        out.append(f"VERIFIED: every one of the {n} files in this bundle is exactly as the examiner recorded it: "
                   f"signed with the key you supplied (key id {report.key_id}), nothing is missing, nothing was "
                   "added, and every hash it states agrees.")
    elif report.status == SIGNER_UNCONFIRMED:
        out.append(f"INTACT, SIGNER UNCONFIRMED: the {n} files agree with every hash the bundle states, but it is "
                   f"signed by key {report.key_id} (fingerprint {report.key_fingerprint}), which the bundle itself "
                   "supplies: compare that fingerprint with the one the examiner gave you by a separate channel, "
                   "or run again with --pubkey EXAMINER.pub; until then it is not verified as the examiner's.")
    elif report.status == UNSIGNED:
        out.append(f"INTACT, UNSIGNED: the {n} files agree with every hash the bundle states, but nothing shows "
                   "who made it.")
    else:
        out.append("NOT VERIFIED: this bundle is not as the examiner made it (or could not be read).")
        for label, paths in (("missing", report.missing), ("added (not in the manifests)", report.extra),
                             ("altered", report.altered)):
            if paths:
                shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
                out.append(f"Files {label}: {shown}.")
        for p in report.problems[:10]:
            out.append(f"Problem: {p}.")
        if len(report.problems) > 10:
            out.append(f"Problem: and {len(report.problems) - 10} more (see --json).")
    if report.signature == "valid":
        if report.key_source == "given":
            out.append(f"Signature: valid, made with the key you supplied (key id {report.key_id}).")
        else:
            out.append(f"Signature: valid, but checked only with the public key inside the bundle itself (key id "
                       f"{report.key_id}, fingerprint {report.key_fingerprint}), which anyone could have put "
                       "there; compare this fingerprint with the examiner's, or pass --pubkey EXAMINER.pub.")
    elif report.signature == "invalid":
        out.append("Signature: INVALID (the manifests were changed after signing, or another key signed them).")
    else:
        out.append("Signature: absent; the bundle is not signed, so it can only be trusted as far as the way "
                   "it reached you.")
    if report.custody == "valid":
        signed = (f"its checkpoint signed by {report.custody_signer}, fingerprint {report.custody_key_fingerprint}"
                  if report.custody_key_fingerprint else "its checkpoint not signed")
        out.append(f"Custody excerpt: valid ({report.custody_entries} entries proved against the custody "
                   f"checkpoint {report.custody_head}; {signed}).")
    elif report.custody == "invalid":
        out.append("Custody excerpt: INVALID.")
    else:
        out.append("Custody excerpt: ABSENT (nothing ties the files to the case's custody log).")
    if report.bag is not None:
        found = ("encrypted" if report.encrypted else "not encrypted") + (", names hidden" if report.hidden_names
                                                                         else "")
        if report.stated_encrypted is None and report.stated_hidden_names is None:
            out.append(f"Packaging: {found}; bag-info.txt does not state how the bundle was packaged (made by an "
                       "earlier version), so removed encryption cannot be told from none.")
        elif packaging_matches(report):
            out.append(f"Packaging: {found}, as bag-info.txt states.")
        else:
            out.append(f"Packaging: {found}, NOT as bag-info.txt states.")
    return out


def packaging_matches(report: BundleReport) -> bool | None:
    """Whether the packaging found is the one ``bag-info.txt`` states (None: it states none)."""
    if report.stated_encrypted is None and report.stated_hidden_names is None:
        return None
    return (report.stated_encrypted in (None, report.encrypted)
            and report.stated_hidden_names in (None, report.hidden_names))
