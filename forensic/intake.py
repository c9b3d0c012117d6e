"""Evidence intake: identify a source, hash all of it, record it in the case.

What an item's ``sha256``/``md5`` cover, by format:
  * zip, tar, raw: the source file's bytes;
  * e01: the acquired media (the bytes the E01 holds, as libewf returns them) — the
    same bytes the acquisition hashes stored in the E01 cover; the segment files'
    own SHA-256 values are recorded in ``details.segments``. The same pass has libewf
    check every chunk's checksum: the spans that fail (libewf reads them as zeros) are
    recorded in ``details.checksum_errors``, and any makes the acquisition unverified;
  * qcow2, vmdk, vhd, vhdx, dmg, split: the disk the container holds (the bytes its library
    returns, front to back), as for an E01: a QCOW2 or VMDK copy of a raw image has the raw
    image's hashes. Each file the container is made of (the file given; backing files,
    parent disks, extents, segments) is hashed too, its SHA-256 recorded in
    ``details.segments``. A read error on the way is a CorruptSourceError;
  * apfs, bitlocker, luks: the source file's bytes (an APFS container, or one encrypted
    volume as seized: the encrypted bytes; the key is never stored, only the path of the
    --password-file it was read from);
  * directory, itunes (an iTunes/Finder backup folder, as seized: encrypted files as stored):
    a canonical listing (kind, size, SHA-256, path of every entry, sorted),
    see :func:`forensic.sources.directory.tree_digest`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from forensic.case import Case, item_source, stored_path
from forensic.errors import CaseError, UsageError
from forensic.hashing import hash_stream, new_hashers
from forensic.locator import Locator
from forensic.sources import detect_format, open_source
from forensic.sources.base import display_path, open_readonly
from forensic.sources.containers import FORMATS as CONTAINER_FORMATS
from forensic.timestamps import iso_utc, now_utc
from forensic.store import items as store_items
from forensic.store.records import Item

if TYPE_CHECKING:
    from forensic.sources.containers import ContainerMedia
    from forensic.sources.ewf import BadChunk, EwfMedia

_ITEM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class SourceHashes:
    format: str
    size: int
    sha256: str
    md5: str
    acquisition_hashes: dict
    # E01: the media match the stored hashes and no chunk fails its checksum (None: no stored hash)
    acquisition_hash_verified: bool | None
    details: dict
    # E01: the media match the stored hashes (None: nothing to compare)
    acquisition_hash_match: bool | None = None
    # E01: the spans that fail their chunk checksum; None: not checked
    checksum_errors: list[BadChunk] | None = None
    warnings: list[str] = field(default_factory=list)     # problems found with the source as a whole


def read_password(password_file: Path | None) -> bytes | None:
    if password_file is None:
        return None
    try:
        data = Path(password_file).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the password file {password_file}: {exc.strerror or exc}") from exc
    return data.splitlines()[0] if data else b""


def hash_source(path: Path, fmt: str, progress: Callable[[int], None] | None = None) -> SourceHashes:
    details: dict = {}
    acq: dict = {}
    verified: bool | None = None
    match: bool | None = None
    bad: list[BadChunk] | None = None
    warnings: list[str] = []
    if fmt in ("directory", "itunes"):      # an iTunes/Finder backup is hashed as the folder it is
        from forensic.sources.directory import DirectorySource, tree_digest
        hashers = new_hashers(("sha256", "md5"))
        size = tree_digest(DirectorySource(path, Locator.root(display_path(path.name))), hashers)
        digests = {a: h.hexdigest() for a, h in hashers.items()}
        details["hash_of"] = "canonical listing of the folder (see docs/formats.md)"
    elif fmt == "e01":
        from forensic.sources.ewf import acquisition_info, open_ewf
        media, files = open_ewf(path)
        try:
            acq, headers = acquisition_info(media)
            digests, size = hash_stream(_EwfStream(media), ("sha256", "md5", "sha1"), progress=progress)
            bad = media.checksum_errors()
            unchecked = media.unchecked_reason
        except (OSError, RuntimeError) as exc:
            from forensic.errors import CorruptSourceError
            from forensic.sources.ewf import ewf_error
            raise CorruptSourceError(f"{path.name}: reading the E01 media failed: {ewf_error(exc)}",
                                     hint="a segment may be missing, truncated or corrupt") from exc
        finally:
            media.close()
        details["headers"] = headers
        details["media_sha1"] = digests.pop("sha1")
        details["segments"] = []
        for seg in files:
            with open_readonly(Path(seg)) as fh:
                d, n = hash_stream(fh, ("sha256",))
            details["segments"].append({"name": Path(seg).name, "size": n, "sha256": d["sha256"]})
        details["hash_of"] = "acquired media (E01 content)"
        checks = []
        if "md5" in acq:
            checks.append(acq["md5"] == digests["md5"])
        if "sha1" in acq:
            checks.append(acq["sha1"] == details["media_sha1"])
        match = all(checks) if checks else None
        # A bad chunk reads as zeros: over a chunk that held zeros the hashes still match,
        # so the chunk checksums decide as much as the hashes do.
        verified = False if bad else match
        details["acquisition_hash_match"] = match
        details["checksum_errors"] = None if bad is None else [c.to_json() for c in bad]
        warnings = [c.warning() for c in bad or ()]
        if bad is None:
            warnings.append(f"E01 chunk checksums not checked: {unchecked}")
    elif fmt in CONTAINER_FORMATS:
        digests, size = _hash_container(path, fmt, details, progress)
    else:
        with open_readonly(path) as fh:
            digests, size = hash_stream(fh, ("sha256", "md5"), progress=progress)
        details["hash_of"] = "source file bytes"
    return SourceHashes(fmt, size, digests["sha256"], digests["md5"], acq, verified, details, match, bad, warnings)


def _hash_container(path: Path, fmt: str, details: dict,
                    progress: Callable[[int], None] | None) -> tuple[dict[str, str], int]:
    """The hashes of the disk a container holds, and of every file it is made of."""
    from forensic.errors import CorruptSourceError
    from forensic.sources.containers import NAMES, open_media
    media = open_media(path, fmt)
    try:
        digests, size = hash_stream(_EwfStream(media), ("sha256", "md5"), progress=progress)
    except OSError as exc:
        raise CorruptSourceError(f"{path.name}: reading the disk in the {NAMES[fmt]} container failed: {exc}",
                                 hint="the container may be truncated or damaged, or one of its parts") from exc
    finally:
        media.close()
    details["segments"] = []
    for part in media.files:
        with open_readonly(part) as fh:
            d, n = hash_stream(fh, ("sha256",))
        details["segments"].append({"name": display_path(part.name), "size": n, "sha256": d["sha256"]})
    details["hash_of"] = f"the disk in the {NAMES[fmt]} container (its content)"
    details.update(media.details)
    return digests, size


class _EwfStream:
    """The whole media of an E01 (or of a container), front to back, as a stream."""

    def __init__(self, media: EwfMedia | ContainerMedia) -> None:
        self.media = media
        self.pos = 0

    def read(self, n: int) -> bytes:
        if self.pos >= self.media.size:
            return b""
        data = self.media.read_at(self.pos, n)
        if not data:
            raise OSError("unexpected end of media data")
        self.pos += len(data)
        return data


def default_item_id(case: Case, path: Path) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", path.name).strip("._-") or "item"
    base = base[:48]
    existing = set(store_items.ids(case.db))
    candidate, n = base, 2
    while candidate in existing:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def add_evidence(case: Case, source: Path, item: str | None, description: str | None,
                 password: bytes | None, progress: Callable[[int], None] | None = None,
                 extra: dict | None = None) -> dict:
    source = Path(source)
    fmt = detect_format(source)
    if item is None:
        item = default_item_id(case, source)
    elif not _ITEM_RE.match(item):
        raise UsageError(f"invalid item id {item!r}",
                         hint="use letters, digits, '.', '_' or '-' (up to 64 characters)")
    if store_items.get(case.db, item) is not None:
        raise CaseError(f"evidence item {item!r} already exists in this case", hint="choose another --id")
    store_items.check_source_path(case.db, stored_path(source.resolve()))      # before hours of hashing
    media_first = fmt == "e01" or fmt in CONTAINER_FORMATS
    if media_first:  # reading all the media first names a truncated segment precisely
        hashes = hash_source(source, fmt, progress)
    # Open it once to fail early on a wrong password or a damaged container.
    src = open_source(source, fmt, source.name, password)
    try:
        source_details = dict(src.details)
        source_warnings = list(src.warnings)
    finally:
        src.close()
    if not media_first:
        hashes = hash_source(source, fmt, progress)
    # The same bytes already in the case under another id: allowed (the examiner may have
    # reasons, e.g. two seizures of one card), but said and recorded.
    duplicate_of = store_items.with_sha256(case.db, hashes.sha256)
    source_warnings = hashes.warnings + source_warnings      # e.g. E01 chunks failing their checksum
    details = {**hashes.details, **source_details, **(extra or {})}
    if duplicate_of:
        details["duplicate_of"] = duplicate_of
    if source_warnings:
        details["source_warnings"] = source_warnings
    if password is not None:
        details["encrypted"] = True
    row = {
        "item": item, "source_path": stored_path(source.resolve()), "format": fmt, "description": description,
        "size": hashes.size, "sha256": hashes.sha256, "md5": hashes.md5,
        "acquisition_hashes": json.dumps(hashes.acquisition_hashes, sort_keys=True),
        "acquisition_hash_verified": None if hashes.acquisition_hash_verified is None
        else int(hashes.acquisition_hash_verified),
        "details": json.dumps(details, sort_keys=True, ensure_ascii=False), "added_at": iso_utc(now_utc()),
    }
    with case.transaction() as db:
        store_items.add(db, row)
    return {**item_json(case.item(item)), "duplicate_of": duplicate_of}


def item_json(row: Item) -> dict:
    details = row.details
    out = {
        "item": row.item, "format": row.format, "source": display_path(row.source),
        "description": row.description, "size": row.size, "sha256": row.sha256, "md5": row.md5,
        "acquisition_hashes": row.acquisition_hashes,
        "acquisition_hash_verified": row.acquisition_hash_verified,
        "added_at": row.added_at, "triaged_at": row.triaged_at,
    }
    if details.get("segments"):
        out["segments"] = details["segments"]
    if "checksum_errors" in details:           # E01s added since chunk checksums are checked
        out["acquisition_hash_match"] = details.get("acquisition_hash_match")
        out["checksum_errors"] = details["checksum_errors"]
    if details.get("partitions"):
        out["partitions"] = details["partitions"]
    # a phone's acquisition (UFDR, Android backup): the extraction facts it gives
    for key in ("extraction", "android_backup"):
        if details.get(key):
            out[key] = details[key]
    if details.get("device"):                  # the device's facts a phone backup records (Info.plist)
        out["device"] = details["device"]
    if details.get("source_warnings"):
        out["source_warnings"] = details["source_warnings"]
    return out


def verify_evidence(case: Case, item: str, progress: Callable[[int], None] | None = None) -> dict:
    row = case.item(item)
    source = item_source(row)
    result: dict[str, Any] = {"item": item, "source": str(source), "expected_sha256": row.sha256,
                              "expected_md5": row.md5}
    if not source.exists():
        return {**result, "ok": False, "sha256": None, "md5": None,
                "problem": f"the source {source} is no longer there"}
    hashes = hash_source(source, row.format, progress)
    problems = []
    if hashes.sha256 != row.sha256 or hashes.md5 != row.md5:
        problems.append("the source's hashes differ from those recorded at intake")
    if row.format == "e01":
        # An E01 vouches for itself too: the acquisition hashes stored in it, and a checksum
        # in every chunk. Either failing is a problem even where intake saw the same.
        if hashes.acquisition_hash_match is False:
            stored = ", ".join(f"{k.upper()} {v}" for k, v in sorted(hashes.acquisition_hashes.items()))
            problems.append(f"its media do not match the acquisition hashes stored in the E01 ({stored})")
        if hashes.checksum_errors:
            spans = "; ".join(c.describe() for c in hashes.checksum_errors)
            n = len(hashes.checksum_errors)
            problems.append(f"{n} span{'s' if n > 1 else ''} of E01 chunks fail{'' if n > 1 else 's'} "
                            f"{'their checksums' if n > 1 else 'its checksum'} (libewf reads "
                            f"{'them' if n > 1 else 'it'} as zeros): {spans}")
        result["acquisition_hash_verified"] = hashes.acquisition_hash_verified
        result["acquisition_hash_match"] = hashes.acquisition_hash_match
        result["checksum_errors"] = hashes.details["checksum_errors"]
        result["warnings"] = hashes.warnings
    if row.format in CONTAINER_FORMATS:
        # the disk may read the same while a file of the container changed (bytes past its end,
        # an unused table): each file's own hash is checked as well
        was = {s["name"]: s["sha256"] for s in row.details.get("segments") or []}
        now = {s["name"]: s["sha256"] for s in hashes.details.get("segments") or []}
        changed = sorted(n for n in was.keys() | now.keys() if was.get(n) != now.get(n))
        if changed:
            problems.append(f"files of the container differ from those recorded at intake: {', '.join(changed)}")
        result["segments"] = hashes.details.get("segments")
    ok = not problems
    result.update({"sha256": hashes.sha256, "md5": hashes.md5, "ok": ok,
                   "problem": "; ".join(problems) if problems else None})
    return result
