"""The court bundle: the selected evidence and what was found in it, as one verifiable ZIP.

One ZIP holding one BagIt 1.0 bag (folder ``<case>-bundle/``)::

    bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
    tagmanifest-sha256.txt.minisig  examiner.pub          (when signed)
    data/evidence/<item>/<path>      original bytes of the selected files (and the messages' sources)
    data/report/index.html           self-contained report (no network, no scripts)
    data/report/report.pdf           the same report printed (exporters.report.pdf; not with --no-pdf)
    data/files.jsonl  data/messages.jsonl  data/timeline.csv
    data/geotags.geojson  data/geotags.kml  data/case.jsonld  data/bundle.json
    data/name-map.jsonl              original -> stored name, where a name had to change
    data/custody/                    checkpoint, entries (or the whole log), inclusion proofs

Bytes are streamed from the evidence source into the ZIP: each selected file is reopened by
its locator (:mod:`forensic.resolve`), re-hashed while it is written, and the export stops
with an :class:`IntegrityError` (the partial output deleted) when the bytes no longer match
the SHA-256 recorded at triage. The payload manifest holds those recorded hashes, so a
bundle can only be made of bytes that are what the examiner logged.

The ZIP is written with the published API of stdlib ``zipfile`` or, encrypted, pyzipper's
``AESZipFile`` (:func:`forensic.exporters.bagit.open_zip`); the generated members (report,
CASE/UCO, timeline, ...) are made once the evidence has streamed, from the hashes it recorded.

Determinism: fixed member order (evidence in walk order, then generated files, then tag
files), fixed member times and attributes, no creation time anywhere but ``bag-info.txt``
(``Bagging-Date``, ``Bundle-Created``). ``SOURCE_DATE_EPOCH`` fixes even that, and
``custody_size`` pins the custody checkpoint, so the defence can rebuild a byte-identical
(unencrypted) bundle from the same case -- with the same WeasyPrint, Pango and fonts for the
report's PDF (else every member but the PDF: docs/formats.md).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import secrets
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from forensic.chain_of_custody import merkle
from forensic.chain_of_custody.log import CHECKPOINTS_NAME, LOG_NAME, Checkpoint, iter_lines
from forensic.chain_of_custody.signing import PublicKey, Signer
from forensic.exporters import bagit
from forensic.exporters.selection import Selection, SelectionSpec, resolve
from forensic.store import people as store_people, similar as store_similar
from forensic import __version__
from forensic.case import Case, item_source
from forensic.sources.base import display_path
from forensic.outputs import check_output, create_new
from forensic.errors import ForensicError, IntegrityError, SourceError, UsageError
from forensic.resolve import layer_key, resolve_entries
from forensic.timestamps import iso_utc, now_utc

FORMAT = "forensic-bundle/1"
HIDDEN_MEMBER = "bag.zip"
SIGNATURE = bagit.TAGMANIFEST + ".minisig"
PUBKEY = "examiner.pub"
REPORT = "data/report/index.html"
# bag-info.txt: how the bundle was packaged, so a copy re-packed without its encryption (or with
# its names no longer hidden) is told from the bundle made (verify-bundle compares)
ENCRYPTION_LABEL = "Bundle-Encryption"          # "AES-256 (WinZip AE-2)" or "none"
HIDDEN_NAMES_LABEL = "Bundle-Names-Hidden"      # "yes" or "no"
UNLISTED_TAG_FILES = (bagit.TAGMANIFEST, SIGNATURE)
CHUNK = 1 << 20
THUMB_ORIGINAL_CAP = 96 * 1024        # a photo this small is shown as itself
THUMB_BUDGET = 24 << 20               # total bytes of images embedded in the report
HEAD_KEEP = 256 * 1024                # bytes of a photo kept to find its EXIF thumbnail

_DEFLATE_MIMES = ("application/json", "application/xml", "application/x-sqlite3", "application/vnd.sqlite3",
                  "application/csv", "application/x-ndjson", "application/javascript", "image/svg+xml")
_STORED_MIMES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif",
                 "image/avif", "image/jxl", "application/zip", "application/gzip", "application/x-gzip",
                 "application/x-7z-compressed", "application/x-rar", "application/x-xz",
                 "application/x-bzip2", "application/zstd", "application/pdf", "application/java-archive",
                 "application/vnd.rar")


@dataclass
class ExportOptions:
    out: Path
    spec: SelectionSpec
    password: bytes | None = None
    signer: Signer | None = None
    hide_names: bool = False
    full_custody: bool = False
    recipient: str | None = None
    actor: str | None = None
    created_at: datetime | None = None       # None: now (or $SOURCE_DATE_EPOCH)
    custody_size: int | None = None          # None: the latest checkpoint
    evidence_password: bytes | None = None   # for encrypted evidence containers
    pdf: bool = True                         # data/report/report.pdf (exporters.report.pdf; needs WeasyPrint)
    pseudonymise: bool = False               # victims and witnesses as pseudonyms (exporters.pseudonyms)
    pseudonym_passphrase: bytes | None = None   # encrypts the pseudonyms' key file beside the bundle
    pseudonyms: Any = None                   # set by export_bundle when pseudonymise


class _HashingWriter:
    """The bundle file, hashed as it is written. It refuses to seek, so the ZIP writer
    streams (data descriptors after each member) instead of patching headers afterwards:
    every byte passes through here exactly once and the SHA-256 needs no second read.

    Hashing and writing run in one background thread (both release the GIL), fed in order
    with blocks of at least ``BLOCK`` bytes, so they overlap the reading, checking and
    encrypting done by the caller. A block of small files' data is handed over as the list
    of their ``bytes`` (kept, not copied: the thread joins them without the GIL); only
    writes below ``SMALL`` (ZIP headers) are copied into a buffer. Every ``SYNC_EVERY``
    bytes, and at :meth:`sync_soon`, that thread has a third one flush what it wrote so far
    to disk (``fdatasync``) while it goes on writing: the fsync at :meth:`close` then has
    only the last part left to flush, not the whole bundle (~0.25 s for 600 MB here) after
    everything else is done."""

    BLOCK = 1 << 20
    SMALL = 16 << 10
    AHEAD = 8                        # blocks queued at most (memory bound)
    SYNC_EVERY = 64 << 20

    def __init__(self, raw) -> None:
        self.raw = raw
        self.h = hashlib.sha256()
        self.pos = 0
        self.digest: str | None = None
        self._buf = bytearray()                  # small writes, copied
        self._pieces: list[bytes] = []           # the block being gathered, in order
        self._pending = 0                        # its bytes (pieces and buffer)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="bundle-writer")
        self._queued: deque[Future] = deque()
        self._syncer = ThreadPoolExecutor(1, thread_name_prefix="bundle-sync")
        self._syncing: Future | None = None      # the flush to disk running, if any
        self._unsynced = 0                       # bytes written since it started

    def _put(self, data: bytes) -> None:
        queued = self._queued
        while queued and queued[0].done():
            queued.popleft().result()          # re-raises a failed write here
        if len(queued) >= self.AHEAD:
            queued.popleft().result()
        queued.append(self._pool.submit(self._hash_write, data))

    def _hash_write(self, data: bytes | list[bytes]) -> None:
        if type(data) is list:
            data = b"".join(data)           # a block: from 1 MiB on bytes.join releases the GIL
        self.h.update(data)
        view = memoryview(data)
        while view:
            view = view[self.raw.write(view):]
        self._unsynced += len(data)
        if self._unsynced >= self.SYNC_EVERY:
            self._start_sync()

    def _start_sync(self) -> None:
        """(In the writer thread.) Start flushing what was written so far to disk, unless a
        flush still runs (the next one then takes this part too). A failed flush is raised
        here, so as a failed write."""
        if self._syncing is not None:
            if not self._syncing.done():
                return
            self._syncing.result()
        self.raw.flush()
        self._unsynced = 0
        self._syncing = self._syncer.submit(os.fdatasync, self.raw.fileno())

    def _put_buffered(self) -> None:
        if self._buf:
            self._pieces.append(bytes(self._buf))
            self._buf.clear()
        if self._pieces:
            pieces = self._pieces
            self._pieces = []
            self._pending = 0
            self._put(pieces[0] if len(pieces) == 1 else pieces)

    def write(self, data) -> int:
        n = len(data)
        self.pos += n
        if n >= self.BLOCK:
            self._put_buffered()
            self._put(bytes(data))          # no copy for bytes; a copy of a reusable buffer
            return n
        if n >= self.SMALL:
            if self._buf:
                self._pieces.append(bytes(self._buf))
                self._buf.clear()
            self._pieces.append(bytes(data))    # as above
        else:
            self._buf += data
        self._pending += n
        if self._pending >= self.BLOCK:
            self._put_buffered()
        return n

    def _drain(self) -> None:
        self._put_buffered()
        while self._queued:
            self._queued.popleft().result()

    def sync_soon(self) -> None:
        """Start flushing what was written so far to disk (it runs beside what follows)."""
        self._put_buffered()
        self._queued.append(self._pool.submit(self._start_sync))

    def tell(self) -> int:
        return self.pos

    def seek(self, *args):
        raise OSError("the bundle is written as a stream")

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        pass                          # everything reaches the file by close()

    def close(self) -> None:
        if self.digest is None:
            try:
                self._drain()
                if self._syncing is not None:
                    self._syncing.result()
                self.digest = self.h.hexdigest()
                self.raw.flush()
                os.fsync(self.raw.fileno())
            finally:
                self._pool.shutdown(wait=True)
                self._syncer.shutdown(wait=True)
                self.raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _FileHasher:
    """SHA-256 of one file's chunks; large files are hashed in a background thread (in
    order) while the caller writes the same chunks into the ZIP."""

    THREAD_MIN = 4 << 20             # smaller files: hashing inline is cheaper than a hand-off

    def __init__(self, pool: ThreadPoolExecutor, size: int | None) -> None:
        self.h = hashlib.sha256()
        self._pool = pool if (size or 0) >= self.THREAD_MIN else None
        self._queued: deque[Future] = deque()

    def update(self, chunk: bytes) -> None:
        if self._pool is None:
            self.h.update(chunk)
            return
        if len(self._queued) >= 4:
            self._queued.popleft().result()
        self._queued.append(self._pool.submit(self.h.update, chunk))

    def hexdigest(self) -> str:
        while self._queued:
            self._queued.popleft().result()
        return self.h.hexdigest()


def generate_password() -> str:
    """A random passphrase: 8 groups of 5 characters from a 32-letter alphabet (200 bits)."""
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(40))
    return "-".join(raw[i:i + 5] for i in range(0, 40, 5))


def created_time(explicit: datetime | None = None) -> datetime:
    if explicit is not None:
        return explicit.astimezone(timezone.utc)
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    if sde:
        try:
            return datetime.fromtimestamp(int(sde), timezone.utc)
        except (ValueError, OverflowError) as exc:
            raise UsageError(f"SOURCE_DATE_EPOCH={sde!r} is not a Unix time") from exc
    return now_utc()


def bag_root(case_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", case_id).strip("._-") or "case"
    return f"{safe[:64]}-bundle"


# -- names inside the bag ---------------------------------------------------------------------
# Windows' forbidden characters, and every control or line-separator character (C0, DEL,
# C1, U+2028, U+2029), which tools reading a bag's text files line by line may break at.
_BAD_CHARS = re.compile('[<>:"\\\\|?*\x00-\x1f\x7f-\x9f\u2028\u2029]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def safe_component(name: str) -> str:
    """A path component every common file system accepts (Windows rules are the strictest)."""
    s = _BAD_CHARS.sub("_", name)
    s = s.rstrip(" .")
    if not s or s in (".", ".."):
        s = "_"
    if s.split(".")[0].upper() in _RESERVED:
        s = "_" + s
    if len(s.encode("utf-8")) > 200:
        stem, dot, ext = s.rpartition(".")
        ext = (dot + ext) if dot and len(ext) <= 16 else ""
        base = s[: len(s) - len(ext)] if ext else s
        while len((base + ext).encode("utf-8")) > 200:
            base = base[:-1]
        s = base + ext
    return s


def original_components(layers: list[dict]) -> list[str]:
    """The path of a file below its item, from its locator's layers (source layer dropped)."""
    parts: list[str] = []
    for layer in layers[1:]:
        kind, label = layer["kind"], layer["label"]
        if kind == "stream":                  # 'name:stream' replaces the file's own name
            if parts:
                parts.pop()
            parts.append(label)
        elif kind in ("fs", "member"):
            parts.extend(p for p in label.split("/") if p not in ("", "."))
        else:                                 # partition / file system
            parts.append(label)
    return parts or ["_"]


class BagNamer:
    """Stored names under ``data/evidence/<item>/``: the original path where possible;
    otherwise a safe one, never colliding (also not case-insensitively, and never a file
    where a folder is needed); every change is recorded for the name map."""

    def __init__(self) -> None:
        self.kinds: dict[str, str] = {}        # lower-case bag path -> 'file' | 'dir'
        self.dir_renames: dict[str, str] = {}  # original dir prefix -> stored dir prefix

    def _free(self, prefix: str, name: str, kind: str) -> str:
        candidate = name
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem or kind == "dir":
            stem, ext = name, ""
        else:
            ext = "." + ext
        n = 2
        while True:
            existing = self.kinds.get(f"{prefix}/{candidate}".lower())
            if existing is None or (existing == "dir" and kind == "dir"):
                return candidate
            candidate = f"{stem}~{n}{ext}"
            n += 1

    def name(self, item: str, layers: list[dict]) -> tuple[str, str]:
        """(original path, stored bag path) of one file."""
        comps = original_components(layers)
        original = f"data/evidence/{item}/" + "/".join(comps)
        stored = f"data/evidence/{item}"
        orig_prefix = stored
        for i, comp in enumerate(comps):
            last = i == len(comps) - 1
            orig_prefix = f"{orig_prefix}/{comp}"
            if not last and orig_prefix in self.dir_renames:
                stored = self.dir_renames[orig_prefix]
                continue
            safe = self._free(stored, safe_component(comp), "file" if last else "dir")
            stored = f"{stored}/{safe}"
            self.kinds[stored.lower()] = "file" if last else "dir"
            if not last:
                self.dir_renames[orig_prefix] = stored
        return original, stored


# -- custody ----------------------------------------------------------------------------------
@dataclass
class CustodyExcerpt:
    checkpoint: Checkpoint | None = None
    checkpoint_line: bytes = b""
    lines: list[bytes] = field(default_factory=list)          # the first tree_size lines
    entries: list[dict] = field(default_factory=list)         # parsed, same order
    concerned: list[int] = field(default_factory=list)        # seqs included in the excerpt
    checkpoints_lines: list[bytes] = field(default_factory=list)
    proofs: dict[int, list[str]] = field(default_factory=dict)
    verify: dict = field(default_factory=dict)                # result of verify_log at export
    file_seqs: dict[tuple[str, str], list[int]] = field(default_factory=dict)   # (item, locator) -> seqs
    leaves: list[bytes] = field(default_factory=list)         # Merkle leaf hashes of the lines
    detailed: bool = False                                    # entries .. file_seqs filled in


def _checkpoints(case: Case) -> list[tuple[bytes, Checkpoint]]:
    out = []
    for line in iter_lines(case.root / CHECKPOINTS_NAME):
        try:
            out.append((line, Checkpoint.from_line(line)))
        except ValueError as exc:
            raise IntegrityError(f"a custody checkpoint is unreadable: {exc}",
                                 hint="run 'forensic custody verify'") from exc
    return out


def _subject_refs(e: dict) -> tuple[set, set]:
    """(items, (item, locator) pairs) an entry's subject names."""
    s = e.get("subject")
    items, locs = set(), set()
    if isinstance(s, dict):
        item = s.get("item")
        if item is None and s.get("type") in ("evidence", "item", "file") and isinstance(s.get("id"), str):
            item = s.get("id")
        if isinstance(item, str):
            items.add(item)
            if isinstance(s.get("locator"), str):
                locs.add((item, s["locator"]))
    return items, locs


def _is_case_level(e: dict) -> bool:
    s = e.get("subject")
    return isinstance(s, dict) and ("case" in s or s.get("type") == "case") and "item" not in s \
        and "locator" not in s


def custody_excerpt(case: Case, sel: Selection, custody_size: int | None, full: bool) -> CustodyExcerpt:
    """The custody log as the bundle cites it: :func:`custody_head`, then :func:`add_concerned`."""
    ex = custody_head(case, custody_size)
    add_concerned(ex, case, sel)
    return ex


def custody_head(case: Case, custody_size: int | None) -> CustodyExcerpt:
    """The checkpoint the bundle cites (the latest, or the one of ``custody_size`` entries)
    and the log lines it covers, checked against its Merkle root: the export stops here,
    before any evidence is read, when the log does not match."""
    cps = _checkpoints(case)
    ex = CustodyExcerpt()
    if not cps:
        if custody_size is not None:
            raise UsageError("the custody log has no checkpoint to pin with --custody-size")
        return ex
    if custody_size is None:
        chosen = len(cps) - 1
    else:
        matches = [i for i, (_, cp) in enumerate(cps) if cp.tree_size == custody_size]
        if not matches:
            raise UsageError(f"no custody checkpoint covers exactly {custody_size} entries",
                             hint="sizes: " + ", ".join(str(cp.tree_size) for _, cp in cps[-10:]))
        chosen = matches[-1]
    ex.checkpoint_line, ex.checkpoint = cps[chosen]
    ex.checkpoints_lines = [line for line, _ in cps[:chosen + 1]]
    size = ex.checkpoint.tree_size
    leaves = ex.leaves
    for line in iter_lines(case.root / LOG_NAME):
        if len(ex.lines) >= size:
            break
        ex.lines.append(line)
        leaves.append(merkle.leaf_hash(line))
    if len(leaves) != size or merkle.root_of_leaves(leaves).hex() != ex.checkpoint.root:
        raise IntegrityError("the custody log does not match its checkpoint",
                             hint="run 'forensic custody verify' before exporting")
    return ex


def _check_checkpoint_key(ex: CustodyExcerpt, signer: Signer | None) -> None:
    """A signed bundle cites a custody checkpoint signed by the same key (or not signed):
    ``verify-bundle`` takes a bag and checkpoint signed by two keys for a bag re-signed by
    someone else, so such a bundle is refused here, before anything is written."""
    cp = ex.checkpoint
    if signer is None or cp is None or cp.signature is None or cp.public_key is None:
        return
    try:
        same = PublicKey.from_base64(cp.public_key).raw == signer.public.raw
    except ValueError:
        same = False
    if not same:
        raise UsageError(f"the custody checkpoint this bundle would cite ({cp.tree_size} entries) was signed by "
                         f"another key ({cp.signer}) than the one signing the bundle ({signer.key_id})",
                         hint="record something with this key first, so that it signs the latest checkpoint "
                              "(e.g. forensic custody note 'export' --key KEY), or export with that checkpoint's "
                              "key")


def add_concerned(ex: CustodyExcerpt, case: Case, sel: Selection) -> None:
    """Fill in the entries that concern the selection, their inclusion proofs and the
    verification of the whole log. Only the generated members use these, so an export
    does this once the evidence has streamed (in :func:`_generated`).

    An entry concerns the selection when it is about the case as a whole (and the examiners'
    key pins, which say what keys may sign its checkpoints), an exported item
    (received, verified, triaged), a selected file or the chat file an exported message came
    from (``file.recorded``, a tag), or an exported record: a record's ``artifact.*`` entries
    only for the records the bundle carries (its messages, photos and videos, and the records
    made of an exported photo or video: thumbnail, perceptual hashes), and a tag on a message
    or conversation only for the exported ones -- not the thousands of other messages of the
    same chat file."""
    if ex.detailed or ex.checkpoint is None:
        return
    size = ex.checkpoint.tree_size
    leaves = ex.leaves
    exported_items = {f["item"] for f in sel.files} | {m["item"] for m in sel.messages}
    file_keys = {(f["item"], f["locator"]) for f in sel.files}
    file_keys |= {(s["item"], s["locator"]) for s in sel.chat_sources.values() if s["locator"]}
    media = [*sel.photos, *sel.videos]
    record_ids = {r["artifact_id"] for r in [*sel.messages, *media]}
    media_keys = {(r["item"], r["locator"]) for r in media}
    message_refs = {(m["item"], str(m["artifact_id"])) for m in sel.messages}
    conversations = {(m["item"], str((m["fields"].get("conversation") or {}).get("id"))) for m in sel.messages}
    shas = {f["sha256"] for f in sel.files if f["sha256"]}
    by_sha: dict[str, list] = {}
    for f in sel.files:
        if f["sha256"]:
            by_sha.setdefault(f["sha256"], []).append((f["item"], f["locator"]))
    for seq, line in enumerate(ex.lines):
        try:
            e = json.loads(line)
        except ValueError:
            e = {}
        ex.entries.append(e)
        items, locs = _subject_refs(e)
        s = e.get("subject") if isinstance(e.get("subject"), dict) else {}
        details = e.get("details") if isinstance(e.get("details"), dict) else {}
        item = next(iter(items), None)
        record = details.get("artifact_id") if str(e.get("action")).startswith("artifact.") else None
        hit = False
        if record is not None:
            hit = record in record_ids or bool(locs & media_keys)
        elif "message" in s:
            hit = (item, str(s["message"])) in message_refs
        elif "conversation" in s:
            hit = (item, str(s["conversation"])) in conversations
        elif locs:
            hit = bool(locs & file_keys)
        elif items:
            hit = bool(items & exported_items)
        elif _is_case_level(e) or e.get("action") == "examiner.key_pinned":     # a pin: which keys may sign
            hit = True
        if not hit and not locs and record is None and e.get("sha256") in shas \
                and "message" not in s and "conversation" not in s:
            hit = True
        if not hit:
            continue
        ex.concerned.append(seq)
        for k in locs & file_keys:
            ex.file_seqs.setdefault(k, []).append(seq)
        if not locs and e.get("sha256") in shas:
            for k in by_sha.get(e["sha256"], []):
                if k[0] in items or not items:
                    ex.file_seqs.setdefault(k, []).append(seq)
    memo: dict[tuple[int, int], bytes] = {}

    def node(a: int, b: int) -> bytes:
        if b - a == 1:
            return leaves[a]
        got = memo.get((a, b))
        if got is None:
            k = merkle.split_point(b - a)
            got = memo[(a, b)] = merkle.node_hash(node(a, a + k), node(a + k, b))
        return got

    for seq in ex.concerned:
        ex.proofs[seq] = [h.hex() for h in merkle.inclusion_proof(seq, size, node)]
    from forensic.chain_of_custody.verify import verify_log
    rep = verify_log(case.root, case.db, case_id=case.case_id)
    # only what does not change as the log grows, so a pinned export is reproducible
    ex.verify = {"ok": rep.ok, "problem": rep.problem}
    ex.detailed = True


def custody_members(ex: CustodyExcerpt, full: bool) -> dict[str, bytes]:
    if ex.checkpoint is None:
        return {}
    out = {"data/custody/checkpoint.json": ex.checkpoint_line + b"\n"}
    proofs = []
    for seq in ex.concerned:
        proofs.append(json.dumps({"seq": seq, "leaf_hash": merkle.leaf_hash(ex.lines[seq]).hex(),
                                  "tree_size": ex.checkpoint.tree_size, "root": ex.checkpoint.root,
                                  "proof": ex.proofs[seq]}, sort_keys=True, separators=(",", ":")))
    out["data/custody/proofs.jsonl"] = "".join(p + "\n" for p in proofs).encode("utf-8")
    if full:
        out["data/custody/custody.jsonl"] = b"".join(line + b"\n" for line in ex.lines)
        out["data/custody/custody.checkpoints.jsonl"] = b"".join(line + b"\n" for line in ex.checkpoints_lines)
    else:
        out["data/custody/entries.jsonl"] = b"".join(ex.lines[s] + b"\n" for s in ex.concerned)
    return out


# -- evidence streaming ---------------------------------------------------------------------
@dataclass
class Written:
    bag_path: str
    sha256: str
    size: int


def _compress(mime: str | None) -> bool:
    """Evidence is stored as is (most of it is compressed media already, and deflating
    incompressible bytes costs ten times the copy), except text-like types that shrink well.
    The choice depends only on the recorded MIME type, so it is deterministic."""
    if not mime:
        return False
    return mime.startswith("text/") or mime in _DEFLATE_MIMES


def stream_evidence(case: Case, zf, root: str, sel: Selection, names: dict[tuple[str, str], str],
                    password: bytes | None, on_photo: Callable[[dict, bytes, bytes | None], None] | None,
                    progress: Callable[[int], None] | None = None) -> dict[tuple[str, str], Written]:
    """Write every exported file's bytes; verify them against the recorded SHA-256."""
    photos = {(p["item"], p["locator"]) for p in sel.photos}
    written: dict[tuple[str, str], Written] = {}
    by_item: dict[str, list[dict]] = {}
    for f in sel.exported_files:
        by_item.setdefault(f["item"], []).append(f)
    with ThreadPoolExecutor(1, thread_name_prefix="file-hasher") as hasher:
        for item in sorted(by_item):
            _stream_item(case, zf, root, item, by_item[item], names, photos, password, on_photo,
                         progress, hasher, written)
    return written


def _stream_item(case: Case, zf, root: str, item: str, files: list[dict],
                 names: dict[tuple[str, str], str], photos: set, password: bytes | None,
                 on_photo, progress, hasher: ThreadPoolExecutor,
                 written: dict[tuple[str, str], Written]) -> None:
    """Stream one evidence item's selected files into the ZIP (see :func:`stream_evidence`)."""
    row = case.item(item)
    wanted = {layer_key(f["layers"]): f for f in files}
    try:
        for key, entry in resolve_entries(item_source(row), row.format, wanted, password):
            f = wanted[key]
            bag_path = names[(item, f["locator"])]
            is_photo = (item, f["locator"]) in photos
            h = _FileHasher(hasher, f["size"])
            total = 0
            start: list[bytes] | None = [] if is_photo else None    # a photo's first chunks, as read
            kept = 0
            zi = bagit.member_info(zf, f"{root}/{bag_path}", _compress(f["mime"]))
            with entry.open() as src, zf.open(zi, "w", force_zip64=(f["size"] or 0) > (1 << 31)) as dst:
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                    dst.write(chunk)
                    total += len(chunk)
                    if start is not None and kept < HEAD_KEEP:
                        start.append(chunk)
                        kept += len(chunk)
                    if progress:
                        progress(len(chunk))
            digest = h.hexdigest()
            if digest != f["sha256"] or total != f["size"]:
                raise IntegrityError(
                    f"{f['locator']}: its bytes no longer match the SHA-256 recorded at triage "
                    f"(recorded {f['sha256']}, read now {digest}, {total:,} bytes)",
                    hint="the evidence source changed or is damaged: run 'forensic evidence verify "
                         f"{item}'; nothing was exported")
            written[(item, f["locator"])] = Written(bag_path, digest, total)
            if on_photo is not None and is_photo:
                # its first HEAD_KEEP bytes, and all of it when small (no copy when read in one piece)
                first = start[0] if len(start) == 1 else b"".join(start)
                on_photo(f, first[:HEAD_KEEP], first if total <= THUMB_ORIGINAL_CAP else None)
    except (OSError, RuntimeError) as exc:
        raise SourceError(f"evidence item {item}: reading the source failed: {exc}",
                          hint="check that the evidence source is connected and readable") from exc
    missing = [f["locator"] for f in files if (item, f["locator"]) not in written]
    if missing:
        raise IntegrityError(f"{len(missing)} selected file(s) of {item} are no longer in the source, "
                             f"e.g. {missing[0]}", hint=f"run 'forensic evidence verify {item}'; nothing was exported")


# -- the export -------------------------------------------------------------------------------
_LINE_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def _json_line(obj: Any) -> str:
    return _LINE_JSON(obj) + "\n"


def _item_json(case: Case, item: str, ex: CustodyExcerpt) -> dict:
    row = case.item(item)
    verified = None
    for e in ex.entries:
        items, _ = _subject_refs(e)
        if item in items and isinstance(e.get("action"), str) and "verif" in e["action"]:
            verified = {"at": e.get("at"), "action": e["action"], "sha256": e.get("sha256"),
                        "seq": e.get("seq"), "ok": (e.get("sha256") == row.sha256) if e.get("sha256") else None}
    return {"item": item, "format": row.format, "description": row.description,
            "source_name": display_path(item_source(row).name), "size": row.size, "sha256": row.sha256,
            "md5": row.md5, "acquisition_hashes": row.acquisition_hashes,
            "acquisition_hash_verified": row.acquisition_hash_verified,
            "added_at": row.added_at, "triaged_at": row.triaged_at, "last_verification": verified}


def export_bundle(case: Case, opts: ExportOptions, progress: Callable[[int], None] | None = None) -> dict:
    from forensic.exporters import report as report_mod
    from forensic.exporters.report import pdf as pdf_mod
    if opts.hide_names and opts.password is None:
        raise UsageError("--hide-names needs encryption", hint="add --password-file F or --generate-password")
    out = Path(opts.out)
    if out.exists() and out.is_dir():
        raise UsageError(f"{out} is a folder; give the bundle's file name (e.g. bundle.zip)")
    check_output(out, case)
    check_output(out.with_name(out.name + ".partial"), case)
    if opts.pdf:                     # WeasyPrint's libraries missing: said before anything is read or written
        pdf_mod.check_available()
    sel = resolve(case, opts.spec)
    if opts.pseudonymise:            # files naming a marked person are withheld before anything is named
        from forensic.exporters import pseudonyms
        opts = replace(opts, pseudonyms=pseudonyms.prepare(case, sel, opts))
    meta = case.meta()
    created = created_time(opts.created_at)
    root = bag_root(meta["case_id"])
    ex = custody_head(case, opts.custody_size)     # the rest of the excerpt: in _generated
    _check_checkpoint_key(ex, opts.signer)

    namer = BagNamer()
    names: dict[tuple[str, str], str] = {}
    name_map = []
    for f in sel.exported_files:
        original, stored = namer.name(f["item"], f["layers"])
        names[(f["item"], f["locator"])] = stored
        if original != stored:
            name_map.append({"item": f["item"], "locator": f["locator"], "original": original, "stored": stored})

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    thumbs = report_mod.ThumbnailCollector(THUMB_BUDGET)
    media = [*sel.photos, *sel.videos]           # thumbnails made at triage, of those not withheld
    thumbs.preload(media, store_similar.thumbnails(case.db, (m["file_id"] for m in media if not m["withheld"])))
    try:
        # A stale .partial (a crashed export, or a planted symlink) is removed, never written
        # through: the bundle is always a new file.
        partial.unlink(missing_ok=True)
        bundle_file = _HashingWriter(os.fdopen(create_new(partial, 0o644), "wb"))
        with bundle_file, contextlib.ExitStack() as stack:
            if opts.hide_names:
                # the bag is one inner archive, streamed straight into one encrypted member
                outer = stack.enter_context(bagit.open_zip(bundle_file, opts.password))
                hidden = bagit.member_info(outer, HIDDEN_MEMBER, compress=False)
                target, zip_password = stack.enter_context(outer.open(hidden, "w", force_zip64=True)), None
            else:
                target, zip_password = bundle_file, opts.password
            zf = stack.enter_context(bagit.open_zip(target, zip_password))
            payload: dict[str, str] = {}
            sizes: dict[str, int] = {}
            written = stream_evidence(case, zf, root, sel, names, opts.evidence_password,
                                      thumbs.add, progress)
            bundle_file.sync_soon()    # the evidence's last part reaches the disk while the rest is written
            for w in written.values():
                payload[w.bag_path] = w.sha256
                sizes[w.bag_path] = w.size
            generated = _generated(case, sel, ex, written, name_map, meta, opts)
            # names the bundle in the report, its PDF and bag-info.txt: the payload outside data/report/
            evidence_digest = pdf_mod.evidence_digest(
                [*((w.bag_path, w.sha256) for w in written.values()),
                 *((name, hashlib.sha256(data).hexdigest()) for name, data in generated.items() if name != REPORT)])
            view = generated[REPORT]          # the PDF lays out the same view (its paper edition)
            generated[REPORT] = report_mod.render(view, thumbs, evidence_digest)
            if opts.pseudonyms is not None:      # a member still naming a marked person stops the export
                opts.pseudonyms.check(generated)
            for key, jpeg in thumbs.triage.items():      # each picture the report shows, as a member too
                if key in written:
                    generated[report_mod.thumbnail_member(written[key].bag_path)] = jpeg
            if opts.pdf:
                generated[pdf_mod.PDF_MEMBER] = pdf_mod.render_paper(view, thumbs, meta["case_id"], evidence_digest)
            for name in sorted(generated):
                data = generated[name]
                # the report is mostly base64 images, which deflate barely shrinks
                bagit.write_member(zf, f"{root}/{name}", data, compress=name not in (REPORT, pdf_mod.PDF_MEMBER))
                payload[name] = hashlib.sha256(data).hexdigest()
                sizes[name] = len(data)
            manifest = bagit.manifest_text(payload.items())
            oxum = f"{sum(sizes.values())}.{len(sizes)}"
            info = _bag_info(meta, created, oxum, ex, sel, opts)
            info += bagit.bag_info_text([(pdf_mod.BAG_INFO_LABEL, evidence_digest)])
            tags = {bagit.BAGIT: bagit.BAGIT_TXT, bagit.BAG_INFO: info, bagit.MANIFEST: manifest}
            if opts.signer is not None:      # the key file is covered by the tag manifest too
                tags[PUBKEY] = opts.signer.public.to_text(
                    f"minisign public key {opts.signer.key_id} (forensic examiner "
                    f"{' '.join(opts.signer.name.split())})").encode("utf-8")
            tagmanifest = bagit.manifest_text((k, hashlib.sha256(v).hexdigest()) for k, v in tags.items())
            for name in (bagit.BAGIT, bagit.BAG_INFO, bagit.MANIFEST, PUBKEY):
                if name in tags:
                    bagit.write_member(zf, f"{root}/{name}", tags[name])
            bagit.write_member(zf, f"{root}/{bagit.TAGMANIFEST}", tagmanifest)
            if opts.signer is not None:
                digest = hashlib.sha256(tagmanifest).hexdigest()
                comment = (f"forensic bundle case={json.dumps(meta['case_id'], ensure_ascii=True)} "
                           f"tagmanifest-sha256={digest}")
                sig = opts.signer.sign(tagmanifest, comment)
                bagit.write_member(zf, f"{root}/{SIGNATURE}", sig.encode("ascii"))
        bundle_sha = bundle_file.digest            # hashed as written
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    exported = sel.exported_files
    summary = {
        "bundle": str(out), "sha256": bundle_sha, "files": len(exported),
        "bytes": sum(f["size"] or 0 for f in exported),
        "withheld": len(sel.withheld_files) + len(sel.withheld_messages),
        "not_recoverable": len(sel.not_recoverable_files),      # unreadable at triage: not the examiner's choice
        "signed": opts.signer is not None, "encrypted": opts.password is not None, "hide_names": opts.hide_names,
        "messages": len(sel.messages), "photos": len(sel.photos), "videos": len(sel.videos),
        "message_sources": sum(1 for f in exported if f.get("message_source")),
        "evidence_digest": evidence_digest, "pdf": opts.pdf,
        "bundle_bytes": out.stat().st_size,
        "custody_head": {"tree_size": ex.checkpoint.tree_size, "root": ex.checkpoint.root} if ex.checkpoint else None,
        "created_at": iso_utc(created),
    }
    if opts.signer is not None:
        summary["key_id"] = opts.signer.key_id
        summary["key_fingerprint"] = opts.signer.fingerprint
    summary["pseudonymised"] = opts.pseudonyms is not None
    if opts.pseudonyms is not None:
        summary.update(pseudonyms.finish(opts.pseudonyms, opts, bundle_sha, meta["case_id"], iso_utc(created)))
    return summary


def log_export(case: Case, summary: dict, spec: SelectionSpec, recipient: str | None, signer: Signer | None,
               actor: str) -> Any:
    """Record ``export.created`` in the custody log (bundle SHA-256, selection, recipient)."""
    from forensic.chain_of_custody.log import CustodyLog
    details = {"bundle": Path(summary["bundle"]).name, "selection": spec.to_json(), "recipient": recipient,
               "files": summary["files"], "bytes": summary["bytes"], "withheld": summary["withheld"],
               "not_recoverable": summary["not_recoverable"],
               "include_sensitive": spec.include_sensitive, "signed": summary["signed"],
               "encrypted": summary["encrypted"], "hide_names": summary["hide_names"],
               "custody_head": summary["custody_head"], "format": FORMAT,
               "pseudonymised": summary.get("pseudonymised", False)}
    if summary.get("pseudonymised"):
        details["pseudonyms"] = summary["pseudonyms"]
    with CustodyLog(case.root, case.db, case.case_id, signer=signer, actor=actor) as log:
        log.append("export.created", {"case": case.case_id, "bundle": Path(summary["bundle"]).name},
                   actor=actor, sha256=summary["sha256"], details=details,
                   reason=f"bundle for {recipient}" if recipient else None)
        return log.commit()


def _bag_info(meta: dict, created: datetime, oxum: str, ex: CustodyExcerpt, sel: Selection,
              opts: ExportOptions) -> bytes:
    fields = [("External-Identifier", meta["case_id"]),
              ("Source-Organization", meta.get("organisation") or "-"),
              ("Contact-Name", meta["examiner"]),
              ("Bagging-Date", created.date().isoformat()),
              ("Bundle-Created", iso_utc(created)),
              ("Bag-Software-Agent", f"forensic {__version__} ({FORMAT})"),
              ("Payload-Oxum", oxum)]
    if ex.checkpoint is not None:
        fields.append(("Custody-Head", f"{ex.checkpoint.tree_size} {ex.checkpoint.root}"))
    else:
        fields.append(("Custody-Head", "none"))
    fields.append(("Custody-Excerpt", "full" if opts.full_custody else "concerned entries"))
    fields.append((ENCRYPTION_LABEL, "AES-256 (WinZip AE-2)" if opts.password is not None else "none"))
    fields.append((HIDDEN_NAMES_LABEL, "yes" if opts.hide_names else "no"))
    if opts.signer is not None:
        fields.append(("Signature-Key-Id", opts.signer.key_id))
        fields.append(("Signature-Key-Fingerprint", opts.signer.fingerprint))
    if opts.recipient:
        fields.append(("Recipient", opts.recipient))
    fields.append(("Withheld-Items", str(len(sel.withheld_files) + len(sel.withheld_messages))))
    fields.append(("Not-Recoverable-Items", str(len(sel.not_recoverable_files))))
    fields.append(("Internal-Sender-Description",
                   "Evidence selected by the examiner; see data/report/index.html and docs/prosecutor-guide.md"))
    return bagit.bag_info_text(fields)


def _generated(case: Case, sel: Selection, ex: CustodyExcerpt, written: dict, name_map: list,
               meta: dict, opts: ExportOptions) -> dict[str, Any]:
    """Every generated member's bytes, but the report's: what it shows (see
    :func:`forensic.exporters.report.prepare`), laid out with the thumbnails by
    :func:`forensic.exporters.report.render`."""
    from forensic.exporters import case_uco
    from forensic.exporters import report as report_mod
    add_concerned(ex, case, sel)
    scrub = opts.pseudonyms.scrub if opts.pseudonyms is not None else (lambda rows: rows)
    if opts.pseudonyms is not None:       # custody entries naming a marked person left out; strings rewritten
        opts.pseudonyms.trim_custody(ex)
    whole, sel = sel, (opts.pseudonyms.view(sel) if opts.pseudonyms is not None else sel)
    items = sorted({f["item"] for f in sel.files} | {m["item"] for m in sel.messages})
    items_json = [_item_json(case, it, ex) for it in items]
    files_rows = []
    for f in sel.files:
        w = written.get((f["item"], f["locator"]))
        row = {k: v for k, v in f.items() if k not in ("id", "layers")}
        row["layers"] = f["layers"]
        row["bag_path"] = w.bag_path if w else None
        row["custody_seqs"] = ex.file_seqs.get((f["item"], f["locator"]), [])
        files_rows.append(row)
    msg_rows = [message_json(m) for m in sel.messages]
    for m, row in zip(sel.messages, msg_rows, strict=True):    # the member holding the file each message came from
        w = written.get((m["item"], m["locator"]))
        row["source"]["member"] = w.bag_path if w else None
    tool = {"name": "forensic", "version": __version__, "format": FORMAT}
    info = {
        "format": FORMAT, "tool": tool,
        "case": {"case_id": meta["case_id"], "examiner": meta["examiner"],
                 "organisation": meta.get("organisation") or None, "created_at": meta.get("created_at")},
        "selection": opts.spec.to_json(), "recipient": opts.recipient,
        "items": items_json,
        "counts": {"files": len(sel.exported_files), "withheld_files": len(sel.withheld_files),
                   "photos": len(sel.photos), "videos": len(sel.videos), "messages": len(sel.messages),
                   "withheld_messages": len(sel.withheld_messages),
                   "not_recoverable_files": len(sel.not_recoverable_files)},
        "custody": {"tree_size": ex.checkpoint.tree_size if ex.checkpoint else None,
                    "root": ex.checkpoint.root if ex.checkpoint else None,
                    "excerpt": "full" if opts.full_custody else "concerned",
                    "entries": len(ex.concerned), "verified_at_export": ex.verify or None},
        "notes": sel.notes,
    }
    info = scrub(info)                     # evidence descriptions, tag names of the selection
    timeline_rows = scrub(report_mod.selection_timeline(case, sel))
    geo_rows = scrub(report_mod.selection_geo_rows(case, sel))
    out: dict[str, bytes] = {
        "data/bundle.json": (json.dumps(info, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode("utf-8"),
        "data/files.jsonl": "".join(_json_line(r) for r in files_rows).encode("utf-8"),
        "data/messages.jsonl": "".join(_json_line(r) for r in msg_rows).encode("utf-8"),
    }
    from forensic.exporters import geo, timeline
    buf = io.StringIO(newline="")
    timeline.write_csv(timeline_rows, buf)
    out["data/timeline.csv"] = buf.getvalue().encode("utf-8")
    buf = io.StringIO()
    geo.write_geojson(geo_rows, buf)
    out["data/geotags.geojson"] = buf.getvalue().encode("utf-8")
    buf = io.StringIO()
    geo.write_kml(geo_rows, buf, name=f"{meta['case_id']} geotags")
    out["data/geotags.kml"] = buf.getvalue().encode("utf-8")
    hit_rows = scrub(sel.hits)
    if hit_rows:                           # forensic search --save's hits selected (none: no member)
        out["data/search_hits.jsonl"] = "".join(_json_line(r) for r in hit_rows).encode("utf-8")
    if name_map:
        out["data/name-map.jsonl"] = "".join(_json_line(r) for r in scrub(name_map)).encode("utf-8")
    out.update(custody_members(ex, opts.full_custody))
    ctx = report_mod.ReportContext(info=info, files=files_rows, photos=sel.photos, messages=msg_rows,
                                   timeline=timeline_rows, geo=geo_rows, custody=ex,
                                   name_map=scrub(name_map), warnings=scrub(report_mod.case_warnings(case, sel)),
                                   videos=sel.videos, search_hits=hit_rows,
                                   **scrub(report_mod.case_facts(case, whole)),
                                   packaging={"signed": opts.signer is not None,
                                              "key_id": opts.signer.key_id if opts.signer else None,
                                              "fingerprint": opts.signer.fingerprint if opts.signer else None,
                                              "encrypted": opts.password is not None, "hide_names": opts.hide_names},
                                   shown=opts.pseudonyms.text if opts.pseudonyms is not None else None)
    out[REPORT] = report_mod.prepare(ctx)      # laid out once the pictures are in (export_bundle)
    # one participant per person the case's contacts resolve a name or number to (not when
    # pseudonymised: which pseudonyms are one person is the examiner's key's to tell)
    resolve_person = None if opts.pseudonyms is not None else store_people.people(case.db, items).resolve
    out["data/case.jsonld"] = case_uco.render(info, files_rows, sel.photos, msg_rows, ex, sel.videos, resolve_person)
    return out


def message_json(m: dict) -> dict:
    fields = dict(m["fields"])
    if m["withheld"]:
        for k in ("body", "location"):
            if k in fields:
                fields[k] = None
        fields["attachments"] = [{"name": None, "sha256": a.get("sha256"), "locator": a.get("locator"),
                                  "missing": a.get("missing")} for a in fields.get("attachments") or []]
    return {"artifact_id": m["artifact_id"], "item": m["item"], "record_type": "chat/message",
            "extractor": m["extractor"], "source": {"locator": m["locator"], "path": m["path"], "sha256": m["sha256"],
                                                    "ref": m["source_ref"]},
            "fields": fields, "corrupted": m["corrupted"], "warnings": m["warnings"],
            "tags": m["tags"], "sensitive": m["sensitive"], "withheld": m["withheld"]}


__all__ = ["ExportOptions", "export_bundle", "log_export", "generate_password", "ForensicError"]
