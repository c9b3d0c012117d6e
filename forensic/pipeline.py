"""Triage: walk an evidence item, read every file once, store what was found.

For each file the bytes are read exactly once, in chunks, and every consumer is fed
from that one pass: the hashes, the content type (first bytes), and the extractors
that asked for the content. ZIP/TAR archives found inside are walked as nested sources
(depth-limited). Rows go to the case store one transaction per batch; a rerun after an
interruption skips what was already stored, so it completes without duplicates.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo
from pathlib import Path
from typing import Callable, Iterable, Iterator

from extractors.base import Extractor, ExtractorInput
from extractors.records import ArtifactRecord, ExtractionWarning
from forensic.case import Case
from forensic.entry import FileEntry
from forensic.errors import CorruptSourceError, ForensicError, PasswordError
from forensic.filetype import extension_mismatch, identify
from forensic.hashing import new_hashers
from forensic.limits import DEFAULT_LIMITS, Limits
from forensic.sources import open_nested, open_source
from forensic.sources.archive import looks_like_gzip, looks_like_tar, looks_like_zip
from forensic.sources.base import Source, spool
from forensic.timestamps import iso_utc, now_utc

BATCH_FILES = int(os.environ.get("FORENSIC_TRIAGE_BATCH", "2000"))   # entries per transaction
BATCH_BYTES = 256 << 20
HEAD = 8192


@dataclass
class TriageOptions:
    hashes: tuple[str, ...] = ("sha256",)
    workers: int = 2
    limits: Limits = DEFAULT_LIMITS
    password: bytes | None = None
    force: bool = False
    extractors: list[Extractor] | None = None     # None: every available extractor
    extractor_options: dict = field(default_factory=dict)   # e.g. {'assume_tz': 'Europe/Madrid'}


@dataclass
class TriageStats:
    item: str
    files: int = 0
    deleted: int = 0
    bytes: int = 0
    warnings: int = 0
    artifacts: int = 0
    skipped: int = 0          # already stored by an earlier, interrupted run
    seconds: float = 0.0
    options: dict = field(default_factory=dict)   # what shaped the results (assume_tz, hashes, ...)

    def to_json(self) -> dict:
        out = {"item": self.item, "files": self.files, "deleted": self.deleted, "bytes": self.bytes,
               "warnings": self.warnings, "artifacts": self.artifacts, "seconds": round(self.seconds, 3)}
        if self.options:
            out["options"] = self.options
        return out


@dataclass
class _Pending:
    row: dict
    records: list[ArtifactRecord]
    extractor_ids: list[str]
    warnings: list[tuple[str, str]]      # (stage, message)


def _assume(dt: datetime | None, zone: ZoneInfo) -> str | None:
    """A wall-clock time read in the zone the examiner stated, as UTC."""
    if dt is None:
        return None
    return iso_utc(dt.replace(tzinfo=zone))


def _fmt_time(dt: datetime | None, tz_known: bool) -> str | None:
    if dt is None:
        return None
    if tz_known:
        return iso_utc(dt)
    return dt.replace(tzinfo=None).isoformat()


class Triage:
    def __init__(self, case: Case, item: str, options: TriageOptions,
                 progress: Callable[[int, int], None] | None = None,
                 on_batch: Callable[[list[dict]], None] | None = None) -> None:
        self.case = case
        self.item = item
        self.opt = options
        self.progress = progress
        self.on_batch = on_batch
        self.stats = TriageStats(item, options={"hashes": list(options.hashes), **options.extractor_options})
        if options.extractors is None:
            from extractors.registry import available_extractors
            self.extractors = available_extractors()
        else:
            self.extractors = options.extractors
        self.pending: list[_Pending] = []
        self.pending_bytes = 0
        self.done: dict[str, str | None] = {}
        self.pool: ThreadPoolExecutor | None = None
        self.window: deque = deque()
        self.window_size = max(4, 4 * options.workers)
        zone = options.extractor_options.get("assume_tz")
        self.assume_zone = ZoneInfo(zone) if zone else None
        self.source_warnings: list[str] = []

    # -- driver ----------------------------------------------------------------------
    def run(self) -> TriageStats:
        row = self.case.item(self.item)
        start = time.perf_counter()
        if self.opt.force:
            self._clear()
        self.done = dict(self.case.db.execute("SELECT locator, mime FROM files WHERE item=?", (self.item,)))
        path = Path(row["source_path"])
        if not path.exists():
            raise ForensicError(f"evidence item {self.item}: the source {path} is no longer there",
                                hint="reconnect the evidence (same path), then rerun")
        src = open_source(path, row["format"], path.name, self.opt.password, self.opt.limits)
        if self.opt.workers > 1:
            self.pool = ThreadPoolExecutor(self.opt.workers, thread_name_prefix="triage")
        try:
            self._walk(src, depth=0, serial=src.FORMAT == "tar")
            self._drain()
            self.source_warnings.extend(src.warnings)
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)
            src.close()
        self._flush()
        with self.case.transaction() as db:
            for message in self.source_warnings:
                db.execute("INSERT INTO warnings(item, locator, stage, message, at) VALUES (?,?,?,?,?)",
                           (self.item, None, "source", message, iso_utc(now_utc())))
            for ex in self.extractors:
                try:
                    for w in ex.finalize(db, self.item) or ():
                        db.execute("INSERT INTO warnings(item, locator, stage, message, at) VALUES (?,?,?,?,?)",
                                   (self.item, w.locator, f"extract:{ex.NAME}", w.message, iso_utc(now_utc())))
                except Exception as exc:  # a failing extractor never stops a triage
                    db.execute("INSERT INTO warnings(item, locator, stage, message, at) VALUES (?,?,?,?,?)",
                               (self.item, None, f"extract:{ex.NAME}", f"finalize failed: {exc!r}",
                                iso_utc(now_utc())))
            self._recount(db)
            self.stats.seconds = time.perf_counter() - start
            db.execute("UPDATE items SET triaged_at=?, triage_summary=? WHERE item=?",
                       (iso_utc(now_utc()), json.dumps(self.stats.to_json()), self.item))
        return self.stats

    def _clear(self) -> None:
        with self.case.transaction() as db:
            db.execute("DELETE FROM timestamps WHERE artifact_id IN (SELECT id FROM artifacts WHERE item=?)",
                       (self.item,))
            db.execute("DELETE FROM artifacts WHERE item=?", (self.item,))
            db.execute("DELETE FROM warnings WHERE item=?", (self.item,))
            db.execute("DELETE FROM files WHERE item=?", (self.item,))
            db.execute("UPDATE items SET triaged_at=NULL, triage_summary=NULL WHERE item=?", (self.item,))

    def _recount(self, db) -> None:
        r = db.execute("SELECT COUNT(*), COALESCE(SUM(deleted),0), COALESCE(SUM(CASE WHEN kind IN ('file','stream') "
                       "THEN size END),0) FROM files WHERE item=?", (self.item,)).fetchone()
        self.stats.files, self.stats.deleted, self.stats.bytes = r[0], r[1], r[2]
        self.stats.warnings = db.execute("SELECT COUNT(*) FROM warnings WHERE item=?", (self.item,)).fetchone()[0]
        self.stats.artifacts = db.execute("SELECT COUNT(*) FROM artifacts WHERE item=?", (self.item,)).fetchone()[0]

    # -- walking ---------------------------------------------------------------------
    # The walk runs in this thread; each file's read (hashes, type, extractors) runs in a
    # worker thread. hashlib, libmagic (ctypes) and pytsk3 release the GIL while they work,
    # so reading and hashing overlap on both cores. Results are stored in walk order.
    def _walk(self, src: Source, depth: int, serial: bool = False) -> None:
        entries: Iterator[FileEntry] = src.entries()
        while True:
            try:
                entry = next(entries)
            except StopIteration:
                break
            except (OSError, RuntimeError, ForensicError) as exc:  # a damaged structure ends that walk only
                self.source_warnings.append(f"{src.locator}: walk stopped early: {exc}")
                break
            self._entry(entry, depth, serial)

    def _entry(self, entry: FileEntry, depth: int, serial: bool = False) -> None:
        loc = str(entry.locator)
        already = loc in self.done
        warnings = [("walk", w) for w in entry.warnings]
        row = {
            "item": self.item, "locator": loc, "path": entry.path, "layers": json.dumps(entry.locator.to_json(),
                                                                                       ensure_ascii=False),
            "name": entry.name, "kind": entry.kind, "size": entry.size, "sha256": None, "md5": None, "sha1": None,
            "deleted": int(entry.deleted), "allocated": int(entry.allocated), "mime": None, "magic": None,
            "extension_mismatch": 0, "inode": entry.inode, "link_target": entry.link_target,
            "times_tz_known": int(entry.times_tz_known),
            "times_tz_source": "utc" if entry.times_tz_known else "unknown",
        }
        if not entry.times_tz_known and self.assume_zone is not None:
            # the examiner stated the device's zone: local file times get it, as an assumption
            row["times_tz_known"], row["times_tz_source"] = 1, "assumed"
            for label in ("modified", "accessed", "changed", "born"):
                row[f"{label}_at"] = _assume(entry.times.get(label), self.assume_zone)
        else:
            for label in ("modified", "accessed", "changed", "born"):
                row[f"{label}_at"] = _fmt_time(entry.times.get(label), entry.times_tz_known)
        work = None
        # An entry stored by an interrupted run is read again only if it is an archive,
        # so that its members are walked (they are skipped one by one if stored too).
        if entry.has_content and (not already or _is_archive_mime(self.done[loc])):
            if self.pool is not None and not serial:
                work = self.pool.submit(self._read, entry, row, warnings)
            else:
                work = _Done(self._read(entry, row, warnings))
        self.window.append((entry, depth, row, warnings, work, already))
        if len(self.window) > self.window_size:
            self._finish(self.window.popleft())

    def _drain(self) -> None:
        while self.window:
            self._finish(self.window.popleft())

    def _finish(self, job) -> None:
        entry, depth, row, warnings, work, already = job
        head, records, ex_ids = work.result() if work is not None else (b"", [], [])
        if already:
            self.stats.skipped += 1
        else:
            self._add(_Pending(row, records, ex_ids, warnings), entry.size or 0)
        archive = head and (looks_like_zip(head) or looks_like_tar(head) or looks_like_gzip(head))
        if archive and depth < self.opt.limits.max_depth:
            self._nested(entry, head, depth)
        elif archive and not looks_like_gzip(head):
            self.source_warnings.append(f"{row['locator']}: archive nested deeper than "
                                        f"{self.opt.limits.max_depth} levels; not opened (archive bomb?)")

    def _read(self, entry: FileEntry, row: dict, warnings: list) -> tuple[bytes, list, list]:
        hashers = new_hashers(self.opt.hashes)
        updates = [h.update for h in hashers.values()]
        head = b""
        keep: list[bytes] | None = None
        wanted: list[Extractor] = []
        total = 0
        chunk = self.opt.limits.chunk
        try:
            with entry.open() as fh:
                first = fh.read(chunk)
                head = first[:HEAD]
                mime, desc = identify(head)
                row["mime"], row["magic"] = mime, desc
                row["extension_mismatch"] = int(extension_mismatch(entry.name, mime))
                wanted = [x for x in self.extractors if _accepts(x, entry.path, mime, head, warnings)]
                if wanted and (entry.size or 0) <= self.opt.limits.extractor_bytes:
                    keep = []
                data = first
                while data:
                    for u in updates:
                        u(data)
                    if keep is not None:
                        keep.append(data)
                    total += len(data)
                    if self.progress:
                        self.progress(0, len(data))
                    data = fh.read(chunk)
        except (OSError, IOError, EOFError, RuntimeError) as exc:
            warnings.append(("read", f"content unreadable after {total:,} bytes: {exc}"))
            row["size"] = row["size"] if row["size"] is not None else total
            return head, [], []
        for a, h in hashers.items():
            row[a] = h.hexdigest()
        if entry.size is not None and total != entry.size:
            warnings.append(("read", f"read {total:,} bytes but the file system records {entry.size:,}"))
        if row["size"] is None:
            row["size"] = total
        records: list[ArtifactRecord] = []
        ex_ids: list[str] = []
        if wanted:
            data_all = b"".join(keep) if keep is not None else None
            parent = entry.locator.layers[:-1]
            inp = ExtractorInput(entry.path, entry.name, row["mime"], total, data_all,
                                 None if data_all is not None else entry.open, dict(self.opt.extractor_options),
                                 locator=row["locator"], container=" › ".join(l.label for l in parent))
            for stage_or_ident, out in run_extractors(wanted, inp):
                if isinstance(out, ArtifactRecord):
                    records.append(out)
                    ex_ids.append(stage_or_ident)
                else:
                    warnings.append((stage_or_ident, out))
        return head, records, ex_ids

    def _nested(self, entry: FileEntry, head: bytes, depth: int) -> None:
        try:
            reader = entry.open()
            if not (hasattr(reader, "seekable") and reader.seekable()):
                reader = spool(reader)
        except OSError as exc:
            self.source_warnings.append(f"{entry.locator}: archive not opened: {exc}")
            return
        try:
            try:
                nested = open_nested(reader, head, entry.locator, entry.size or 0, self.opt.limits,
                                     self.opt.password)
            except CorruptSourceError as exc:
                if looks_like_zip(head) or looks_like_tar(head):
                    self.source_warnings.append(exc.message)
                return  # a plain .gz file is not an archive to walk
            if nested is None:
                return
            try:
                if getattr(nested, "encrypted", False) and self.opt.password is None:
                    self.source_warnings.append(f"{entry.locator}: encrypted archive; members listed, "
                                                "content not read (no password)")
                # tarfile shares one file position between members: read them in order
                self._walk(nested, depth + 1, serial=nested.FORMAT == "tar")
                self._drain()            # every member read before the archive is closed
                self.source_warnings.extend(nested.warnings)
            finally:
                nested.close()
        finally:
            reader.close()

    # -- storing ---------------------------------------------------------------------
    def _add(self, pending: _Pending, size: int) -> None:
        self.pending.append(pending)
        self.pending_bytes += size
        if self.progress:
            self.progress(1, 0)
        if len(self.pending) >= BATCH_FILES or self.pending_bytes >= BATCH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        now = iso_utc(now_utc())
        cols = list(self.pending[0].row)
        sql_file = f"INSERT OR IGNORE INTO files({', '.join(cols)}, warnings) VALUES ({', '.join('?' * (len(cols) + 1))})"
        leaves: list[dict] = []
        with self.case.transaction() as db:
            for p in self.pending:
                cur = db.execute(sql_file, tuple(p.row[c] for c in cols) + (len(p.warnings),))
                if cur.rowcount == 0:
                    if p.row["locator"] not in self.done:   # never drop an entry silently
                        db.execute("INSERT INTO warnings(item, locator, stage, message, at) VALUES (?,?,?,?,?)",
                                   (self.item, p.row["locator"], "store",
                                    "a second entry with the same location was met; only the first is listed", now))
                    continue
                file_id = cur.lastrowid
                for stage, message in p.warnings:
                    db.execute("INSERT INTO warnings(item, locator, stage, message, at) VALUES (?,?,?,?,?)",
                               (self.item, p.row["locator"], stage, message, now))
                for rec, ident in zip(p.records, p.extractor_ids):
                    fields_json = json.dumps(rec.fields, ensure_ascii=False, default=str)
                    c2 = db.execute(
                        "INSERT INTO artifacts(item, file_id, record_type, extractor, source_ref, fields, corrupted, "
                        "warnings) VALUES (?,?,?,?,?,?,?,?)",
                        (self.item, file_id, rec.record_type, ident, rec.source_ref, fields_json,
                         int(rec.corrupted), json.dumps(list(rec.warnings), ensure_ascii=False)))
                    aid = c2.lastrowid
                    for ts in rec.timestamps:
                        db.execute("INSERT INTO timestamps(artifact_id, file_id, label, utc, local, tz_known, "
                                   "tz_source, raw) VALUES (?,?,?,?,?,?,?,?)",
                                   (aid, file_id, ts.label, ts.iso_utc(),
                                    ts.local.isoformat() if ts.local else None, int(ts.tz_known), ts.tz_source,
                                    ts.raw))
                    leaves.append({"kind": "artifact", "record_type": rec.record_type, "locator": p.row["locator"],
                                   "sha256": p.row["sha256"], "artifact_id": aid,
                                   "record_sha256": hashlib.sha256(fields_json.encode("utf-8")).hexdigest()})
                leaves.append({"kind": "file", "locator": p.row["locator"], "sha256": p.row["sha256"],
                               "deleted": bool(p.row["deleted"]), "file_id": file_id})
            if self.on_batch is not None:
                self.on_batch(leaves)
        self.pending.clear()
        self.pending_bytes = 0


class _Done:
    """A finished result with the interface of a Future (serial mode)."""

    def __init__(self, value) -> None:
        self.value = value

    def result(self):
        return self.value


def _is_archive_mime(mime: str | None) -> bool:
    return bool(mime) and mime in ("application/zip", "application/x-tar", "application/gzip",
                                   "application/x-gzip", "application/java-archive")


def run_extractors(wanted: list[Extractor], inp: ExtractorInput) -> list[tuple[str, object]]:
    """Run extractors on one input: [(ident, record) | (stage, warning message)]. An
    extractor's failure is a warning, never a stopped triage."""
    out: list[tuple[str, object]] = []
    for ex in wanted:
        try:
            for res in ex.extract(inp):
                if isinstance(res, ArtifactRecord):
                    out.append((ex.ident, res))
                elif isinstance(res, ExtractionWarning):
                    out.append((f"extract:{ex.NAME}", res.message))
        except Exception as exc:
            out.append((f"extract:{ex.NAME}", f"extractor failed: {type(exc).__name__}: {exc}"))
    return out


def _accepts(ex: Extractor, path: str, mime: str, head: bytes, warnings: list) -> bool:
    try:
        return bool(ex.accepts(path, mime, head))
    except Exception as exc:
        warnings.append((f"extract:{ex.NAME}", f"accepts() failed: {type(exc).__name__}: {exc}"))
        return False


def triage_item(case: Case, item: str, options: TriageOptions | None = None, progress=None,
                on_batch=None) -> TriageStats:
    return Triage(case, item, options or TriageOptions(), progress, on_batch).run()
