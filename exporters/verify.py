"""``verify-bundle``: check a bundle from its own bytes alone (no case needed).

1. the ZIP opens (a truncated or damaged archive is named as such); encrypted members need the
   password (a wrong one is a :class:`PasswordError`, not a verdict); with ``--hide-names`` the
   bag is the one inner archive;
2. the bag: ``bagit.txt`` is BagIt 1.0; every tag file the tag manifest lists and every payload
   file the manifest lists is present with that SHA-256 (else *missing* / *altered*); no other
   file is present (else *extra*; only the tag manifest, its signature and the public key may
   stand unlisted); ``manifest-sha256.txt``, ``bag-info.txt`` and ``bagit.txt`` must be listed in
   the tag manifest; ``Payload-Oxum`` matches;
3. the signature over ``tagmanifest-sha256.txt`` (minisign): with ``pubkey`` the examiner's
   published key, else the key file inside the bundle (which proves only that the bundle is
   unchanged since someone holding that key signed it -- compare its fingerprint);
4. the custody excerpt: each entry is canonical and hashes to its own ``hash``; consecutive
   entries chain (``prev``); each has an inclusion proof to the checkpoint's Merkle root; the
   checkpoint is well-formed, its signature (if any) verifies, and it is the ``Custody-Head`` of
   ``bag-info.txt``; a full log is re-verified entry by entry.
"""
from __future__ import annotations

import hashlib
import io
import json
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
from forensic.exporters.bundle import HIDDEN_MEMBER, PUBKEY, SIGNATURE, UNLISTED_TAG_FILES
from forensic.errors import IntegrityError, PasswordError, UsageError

import pyzipper.zipfile as _pz

CHUNK = 1 << 20
_BAD_ZIP = (zipfile.BadZipFile, _pz.BadZipFile, _pz.LargeZipFile)
SPOOL_MAX = 64 << 20


@dataclass
class BundleReport:
    ok: bool = False
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
            infos = zf.infolist()
            if len(infos) == 1 and infos[0].filename == HIDDEN_MEMBER:
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
                        _verify_bag(inner, report, pubkey)
            else:
                _verify_bag(zf, report, pubkey)
    report.ok = (not report.problems and not report.missing and not report.extra and not report.altered
                 and report.signature != "invalid" and report.custody != "invalid"
                 and not (pubkey is not None and report.signature != "valid"))
    return report


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
    for name, (kind, expected) in sorted(listed.items()):
        info = rel.get(name)
        if kind == "payload" and not name.startswith("data/"):
            report.problems.append(f"{bagit.MANIFEST} lists {name!r}, outside data/")
        if info is None:
            report.missing.append(name)
            continue
        h = hashlib.sha256()
        try:
            _stream(zf, info, h.update)
        except _Unreadable as exc:
            report.altered.append(name)
            report.problems.append(f"{name}: unreadable in the archive ({exc})")
            continue
        report.files_checked += 1
        if kind == "payload":
            oxum_bytes += info.file_size
            oxum_count += 1
        if h.hexdigest() != expected:
            report.altered.append(name)
    info_raw = tag_bytes(bagit.BAG_INFO) if bagit.BAG_INFO in rel else None
    bag_info = bagit.parse_bag_info(info_raw) if info_raw is not None else {}
    report.case_id = (bag_info.get("External-Identifier") or [None])[0]
    report.examiner = (bag_info.get("Contact-Name") or [None])[0]
    report.bagging_date = (bag_info.get("Bagging-Date") or [None])[0]
    oxum = (bag_info.get("Payload-Oxum") or [None])[0]
    if oxum is not None and not report.missing and oxum != f"{oxum_bytes}.{oxum_count}":
        report.problems.append(f"Payload-Oxum says {oxum}, the payload is {oxum_bytes}.{oxum_count}")
    _check_signature(report, rel, tagmanifest_raw, tag_bytes, pubkey, bag_info)
    _check_custody(zf, report, rel, manifest, bag_info)
    report.missing.sort()
    report.altered = sorted(set(report.altered))
    report.extra = sorted(set(report.extra))


def _check_signature(report: BundleReport, rel: dict, tagmanifest: bytes | None, tag_bytes,
                     pubkey: PublicKey | None, bag_info: dict) -> None:
    if SIGNATURE not in rel:
        report.signature = "absent"
        if bag_info.get("Signature-Key-Id"):
            report.signature = "invalid"
            report.problems.append("bag-info.txt says the bundle was signed, but the signature file is missing")
        return
    sig = tag_bytes(SIGNATURE)
    key = pubkey
    report.key_source = "given"
    if key is None:
        report.key_source = "bundle"
        raw = tag_bytes(PUBKEY) if PUBKEY in rel else None
        if raw is None:
            report.signature = "invalid"
            report.problems.append("the bundle is signed but holds no public key; pass --pubkey EXAMINER.pub")
            return
        try:
            key = PublicKey.from_text(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            report.signature = "invalid"
            report.problems.append(f"{PUBKEY} is not a minisign public key: {exc}")
            return
    report.key_id, report.key_fingerprint = key.id_text, key.fingerprint
    if sig is None or tagmanifest is None:
        report.signature = "invalid"
        return
    try:
        trusted = key.verify(tagmanifest, sig.decode("utf-8", "replace"))
    except ValueError as exc:
        report.signature = "invalid"
        report.problems.append(f"signature: {exc}")
        return
    digest = hashlib.sha256(tagmanifest).hexdigest()
    if f"tagmanifest-sha256={digest}" not in trusted:
        report.signature = "invalid"
        report.problems.append("the signature's trusted comment names another tag manifest")
        return
    report.signed_comment = trusted
    report.signature = "valid"


def _check_custody(zf, report: BundleReport, rel: dict, manifest: dict, bag_info: dict) -> None:
    cp_name = "data/custody/checkpoint.json"
    head = (bag_info.get("Custody-Head") or [None])[0]
    report.custody_head = head
    if cp_name not in rel:
        report.custody = "absent"
        if head not in (None, "none"):
            report.custody = "invalid"
            report.problems.append("bag-info.txt names a custody head, but the custody excerpt is missing")
        return
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
        return
    if cp.signature is not None:
        try:
            report.custody_signer = f"{cp.signer} (key {cp.verify_signature()})"
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
    else:
        entries = read("data/custody/entries.jsonl") or b""
        for line in entries.split(b"\n"):
            if not line:
                continue
            try:
                seq = json.loads(line)["seq"]
            except (ValueError, KeyError, TypeError):
                problems.append("a custody entry is not readable JSON")
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
        except (ValueError, KeyError, TypeError):
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
    if problems:
        report.custody = "invalid"
        report.problems.extend(problems)
    else:
        report.custody = "valid"


def verdict(report: BundleReport) -> list[str]:
    """The plain-language verdict, one sentence per line."""
    out = []
    if report.ok:
        out.append(f"VERIFIED: every one of the {report.files_checked} files in this bundle is exactly as the "
                   "examiner recorded it; nothing is missing and nothing was added.")
    else:
        out.append("NOT VERIFIED: this bundle is not as the examiner made it (or could not be read).")
        for label, paths in (("missing", report.missing), ("added (not in the manifests)", report.extra),
                             ("altered", report.altered)):
            if paths:
                shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
                out.append(f"Files {label}: {shown}.")
        for p in report.problems[:10]:
            out.append(f"Problem: {p}.")
    if report.signature == "valid":
        if report.key_source == "given":
            out.append(f"Signature: valid, made with the key you supplied (key id {report.key_id}).")
        else:
            out.append(f"Signature: valid, but checked with the public key inside the bundle itself (key id "
                       f"{report.key_id}, fingerprint {report.key_fingerprint}); compare this fingerprint with "
                       "the examiner's published key, or pass --pubkey EXAMINER.pub.")
    elif report.signature == "invalid":
        out.append("Signature: INVALID (the manifests were changed after signing, or another key signed them).")
    else:
        out.append("Signature: absent; the bundle is not signed, so it can only be trusted as far as the way "
                   "it reached you.")
    if report.custody == "valid":
        out.append(f"Custody excerpt: valid ({report.custody_entries} entries proved against the custody "
                   f"checkpoint {report.custody_head}).")
    elif report.custody == "invalid":
        out.append("Custody excerpt: INVALID.")
    else:
        out.append("Custody excerpt: absent.")
    return out
