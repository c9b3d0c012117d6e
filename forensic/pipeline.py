"""Triage: walk an evidence item, read every file once, store what was found.

For each file the bytes are read exactly once, in chunks, and every consumer is fed
from that one pass: the hashes, the content type (first bytes), and the extractors
that asked for the content. ZIP/TAR archives found inside are walked as nested sources
(depth-limited). Rows go to the case store one transaction per batch; a rerun after an
interruption skips what was already stored, so it completes without duplicates.

An extractor that reads companion files beside its input (``Extractor.SIBLINGS``: a
database's ``-journal``/``-wal``) runs once the input's source has been walked, when every
companion has been met: such an input's row is stored then, after the source's other files
(the order is the same on every run).
"""
from __future__ import annotations

import json
import mmap
import os
import pickle
import select
import signal
import sqlite3
import struct
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo
from typing import Any, Callable, Iterable, Iterator

from forensic.extractors.base import Extractor, ExtractorInput, Sibling
from forensic.extractors.records import ArtifactRecord, ExtractionWarning, RecordBatch
from forensic.case import Case
from forensic.store import artifacts, chats, items as store_items, timeline as store_timeline, triage as store_triage
from forensic.store.records import Item, Link, fields_json, record_sha256
from forensic.store.view import StoreView
from forensic.entry import FileEntry
from forensic.errors import CaseError, CorruptSourceError, ForensicError
from forensic.filetype import extension_mismatch, identify
from forensic.hashing import new_hashers
from forensic import hashsets
from forensic.limits import DEFAULT_LIMITS, Limits
from forensic.sources import open_nested, open_source
from forensic.sources.archive import looks_like_gzip, looks_like_tar, looks_like_zip
from forensic.sources.base import Source, spool
from forensic.sources.carve import broken_photo
from forensic.sources.embedded import EmbeddedSource, SignatureScan, document_parts, scanner, wanted as has_embedded
from forensic.sources.tsk import TskImageSource
from forensic.timestamps import iso_utc, now_utc

BATCH_FILES = int(os.environ.get("FORENSIC_TRIAGE_BATCH", "2000"))   # entries per transaction
BATCH_BYTES = 256 << 20
HEAD = 8192
# Extraction in worker processes (Extractor.OFFLOAD): files up to OFFLOAD_BYTES go through a
# shared arena in batches of OFFLOAD_BATCH; up to READY_MAX files read wait for their results.
OFFLOAD_BYTES = 8 << 20
OFFLOAD_BATCH = 32
ARENA_BYTES = 32 << 20
ARENA_WRAP = 4 << 20             # allocations go back to the arena's start past this, when they can
BATCHES_IN_FLIGHT = 4            # per worker process
READY_MAX = 512
# Small files are handed to the reading threads in groups (fewer hand-overs between threads).
SMALL_FILE = 256 << 10
GROUP = 8
WINDOW_BYTES = 256 << 20        # content the files being read may hold in memory
PARK_BYTES = 256 << 20          # content of inputs waiting for their companions held in memory (the rest is read again)


SECRET_OPTIONS = ("signal_desktop_key", "signal_desktop_password")   # recorded by their SHA-256 only


def _recorded(extractor_options: dict) -> dict:
    """Extractor options as the triage's summary keeps them: a key or password as its SHA-256."""
    import hashlib
    return {(f"{k}_sha256" if k in SECRET_OPTIONS else k):
            (hashlib.sha256(str(v).encode()).hexdigest() if k in SECRET_OPTIONS else v)
            for k, v in extractor_options.items()}


@dataclass
class TriageOptions:
    hashes: tuple[str, ...] = ("sha256",)
    workers: int = 2
    limits: Limits = DEFAULT_LIMITS
    password: bytes | None = None
    force: bool = False
    extractors: list[Extractor] | None = None     # None: every available extractor
    extractor_options: dict = field(default_factory=dict)   # e.g. {'assume_tz': 'Europe/Madrid'}
    # worker processes for the extractors that allow it (Extractor.OFFLOAD); None: one when
    # there are worker threads and a second CPU, 0: every extractor runs in the reading threads
    extract_processes: int | None = None
    extract_timeout: float = 60.0       # seconds one file may take in a worker process


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


def _assume(dt: datetime | None, zone: ZoneInfo) -> str | None:
    """A wall-clock time read in the zone the examiner stated, as UTC."""
    if dt is None:
        return None
    return iso_utc(dt.replace(tzinfo=zone))


def _zone_gap(dt: datetime | None, zone: ZoneInfo) -> str | None:
    """Why a wall-clock time has no single reading in ``zone`` (a daylight-saving change):
    it was skipped (spring forward) or occurs twice (fall back); None when it has one."""
    if dt is None:
        return None
    local = dt.replace(tzinfo=None)
    early, late = local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1)
    if early.utcoffset() == late.utcoffset():
        return None
    if early.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) != local:
        return f"{local.isoformat()} does not exist in {zone.key} (its clocks skipped that hour)"
    return (f"{local.isoformat()} occurs twice in {zone.key} ({early.isoformat()} or "
            f"{late.isoformat()})")


def _fmt_time(dt: datetime | None, tz_known: bool) -> str | None:
    if dt is None:
        return None
    if tz_known:
        return iso_utc(dt)
    return dt.replace(tzinfo=None).isoformat()


class Triage:
    """One item's triage. Its two halves may run on different machines (forensic.cluster):
    :meth:`read_source` walks and reads, handing each entry to storing (or to ``sink``, on a
    worker that has no case); ``feed``, when set, stands in for :meth:`read_source` where the
    entries read elsewhere are stored."""

    def __init__(self, case: Case | None, item: str, options: TriageOptions,
                 progress: Callable[[int, int], None] | None = None,
                 on_batch: Callable[[list[dict]], None] | None = None,
                 on_committed: Callable[[], None] | None = None) -> None:
        self._case = case
        self.item = item
        self.opt = options
        self.progress = progress
        self.on_batch = on_batch            # each batch's stored rows, before it commits
        self.on_committed = on_committed    # after each batch has committed
        self.stats = TriageStats(item, options={"hashes": list(options.hashes),
                                                **_recorded(options.extractor_options)})
        if options.extractors is None:
            from forensic.extractors.registry import available_extractors
            self.extractors = available_extractors()
        else:
            self.extractors = options.extractors
        self.pending: list[store_triage.Entry] = []
        self.pending_bytes = 0
        self.done: dict[str, str | None] = {}
        self.pool: ThreadPoolExecutor | None = None
        self.window: deque = deque()
        self.window_size = max(4, 4 * options.workers) + 2 * GROUP * options.workers
        self.window_bytes = 0
        self.group: _Group | None = None
        zone = options.extractor_options.get("assume_tz")
        self.assume_zone = ZoneInfo(zone) if zone else None
        self.source_warnings: list[str] = []
        # files read, in walk order, whose rows wait for a worker process's extraction
        self.ready: deque = deque()
        self.procs: _ExtractProcesses | None = None
        offload = [ex for ex in self.extractors if getattr(ex, "OFFLOAD", False)]
        self.offload = {id(ex): n for n, ex in enumerate(offload)}       # extractor -> its index there
        self.offload_extractors = offload
        # name suffixes of the companion files some extractor reads beside its input
        self.sibling_suffixes = tuple(sorted({s for ex in self.extractors for s in getattr(ex, "SIBLINGS", ())}))
        self.parked_bytes = 0
        self.home: _Home | None = None      # the source being walked (a nested one inside its parent's walk)
        # photo signatures met inside files during their read, by id() of the file's row,
        # until the walking thread looks into the file (_embedded)
        self.embedded_hits: dict[int, list[tuple[str, int]]] = {}
        # forensic.cluster: a worker reads the top-level entries at the walk positions of
        # ``span`` and hands their entries to ``sink``; the coordinator's ``feed`` stores them
        self.span: range | None = None
        self.top = 0
        self.sink: Callable[[store_triage.Entry], None] | None = None
        self.feed: Callable[[Triage], None] | None = None

    @property
    def case(self) -> Case:
        if self._case is None:
            raise CaseError(f"this triage of {self.item} only reads (a cluster worker): it has no case")
        return self._case

    # -- driver ----------------------------------------------------------------------
    def run(self) -> TriageStats:
        # One triage of an item at a time: a second one at once (another process) is
        # refused before it reads or stores anything, as both would store the item.
        self.case.item(self.item)                 # an unknown item: its error, no lock file
        with self.case.item_lock(self.item, "triage"):
            return self._run()

    def _run(self) -> TriageStats:
        row = self.case.item(self.item)
        if row.triaged_at and not self.opt.force:
            # Read under the item's lock: another command may have finished this item between
            # the caller's look and the lock; triaging it again would record it twice.
            raise CaseError(f"evidence item {self.item} was triaged by another forensic command "
                            f"(finished at {row.triaged_at})", hint="use --force to redo it")
        start = time.perf_counter()
        if self.opt.force:
            self._clear()
        self.done = store_triage.stored_locators(self.case.db, self.item)
        path = row.source
        if not path.exists():
            raise ForensicError(f"evidence item {self.item}: the source {path} is no longer there",
                                hint="reconnect the evidence (same path), then rerun")
        if self.feed is not None:
            self.feed(self)
        else:
            self.read_source(path, row.format, recorded_bad_chunks(row) if row.format == "e01" else None)
        return self._end(start)

    def read_source(self, path: Path, fmt: str, bad_chunks: list | None = None) -> None:
        """Walk the source at ``path`` and read each file once (hashes, type, extractors); the
        entries go to storing in walk order. ``bad_chunks``: an E01's chunks intake found
        failing their checksum."""
        src = open_source(path, fmt, path.name, self.opt.password, self.opt.limits)
        checked = src if isinstance(src, TskImageSource) and fmt == "e01" else None
        if checked is not None:    # the chunks intake found failing their checksum
            checked.note_bad_chunks(bad_chunks)
        processes = self._processes()
        try:
            if processes:
                # forked before the reading threads exist
                self.procs = _ExtractProcesses(self.offload_extractors, processes, self.opt.extract_timeout)
            if self.opt.workers > 1:
                self.pool = ThreadPoolExecutor(self.opt.workers, thread_name_prefix="triage")
            self._walk(src, depth=0, serial=src.FORMAT == "tar")
            self._drain()
            self._settle(wait=True)
            self.source_warnings.extend(src.warnings)
            if checked is not None:    # every read is done: each bad chunk span known, once
                self.source_warnings.extend(checked.bad_chunk_warnings())
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)
            if self.procs is not None:
                self.procs.close()
            src.close()

    def _end(self, start: float) -> TriageStats:
        """Store what is left and the item's end: source warnings, finalize, indexes, totals."""
        self._flush()
        with self.case.transaction() as db:
            now = iso_utc(now_utc())
            store_triage.add_warnings(db, [(self.item, None, "source", m, now) for m in self.source_warnings])
            self._finalize(db, now)
            chats.index_messages(db, self.item)
            hashsets.mark_item(db, self.item, now)       # every file against the examiner's hash set library
            for key, value in store_triage.totals(db, self.item).items():
                setattr(self.stats, key, value)
            self.stats.seconds = time.perf_counter() - start
            store_items.set_triaged(db, self.item, iso_utc(now_utc()), self.stats.to_json())
            store_timeline.update_index(db)              # the timeline's order and the map's places
        return self.stats

    def _finalize(self, db: sqlite3.Connection, now: str) -> None:
        """Each extractor's work on the whole item (``Extractor.finalize``): its warnings are
        stored, its links stored and logged (``artifact.linked``) before this transaction
        commits, as a batch's leaves are."""
        view = StoreView(db)
        for ex in self.extractors:
            warnings: list[ExtractionWarning] = []
            links: list[Link] = []
            try:
                given: Iterable[object] = ex.finalize(view, self.item) or ()   # checked, whatever it declares
                for out in given:
                    if isinstance(out, Link):
                        links.append(out)
                    elif isinstance(out, ExtractionWarning):
                        warnings.append(out)
                    else:
                        warnings.append(ExtractionWarning(ex.NAME, f"finalize gave {type(out).__name__!r}, "
                                                                   "neither a warning nor a link; ignored"))
            except Exception as exc:  # a failing extractor never stops a triage
                warnings = [ExtractionWarning(ex.NAME, f"finalize failed: {exc!r}")]
                links = []
            linked, refused = artifacts.apply_links(db, self.item, links)
            store_triage.add_warnings(db, [(self.item, w.locator, f"extract:{ex.NAME}", w.message, now)
                                           for w in warnings] +
                                          [(self.item, None, f"extract:{ex.NAME}", f"link refused: {why}", now)
                                           for why in refused])
            if linked and self.on_batch is not None:
                self.on_batch([_link_leaf(x) for x in linked])

    def _processes(self) -> int:
        if not self.offload or not _can_fork():
            return 0
        if self.opt.extract_processes is not None:
            return max(0, self.opt.extract_processes)
        return 1 if self.opt.workers > 1 and (os.cpu_count() or 1) > 1 else 0

    def _clear(self) -> None:
        with self.case.transaction() as db:
            store_items.clear_triage(db, self.item)

    # -- walking ---------------------------------------------------------------------
    # The walk runs in this thread; each file's read (hashes, type, extractors) runs in a
    # worker thread. hashlib, libmagic (ctypes) and pytsk3 release the GIL while they work,
    # so reading and hashing overlap on both cores. Results are stored in walk order.
    def _walk(self, src: Source, depth: int, serial: bool = False) -> None:
        home = _Home() if self.sibling_suffixes else None
        outer, self.home = self.home, home
        try:
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
        finally:
            self.home = outer
        if home is not None:
            self._drain()                # every entry of this source finished: its inputs parked
            self._unpark(home)

    def _entry(self, entry: FileEntry, depth: int, serial: bool = False) -> None:
        loc = str(entry.locator)
        already = loc in self.done
        home = self.home
        if home is not None and entry.has_content and not entry.deleted and entry.name.endswith(self.sibling_suffixes):
            home.siblings.setdefault((entry.locator.layers[:-1], entry.path), entry)
        if depth == 0 and self.span is not None:      # another piece's entry (forensic.cluster)
            self.top += 1
            if self.top - 1 not in self.span:
                return
        warnings = [("walk", w) for w in entry.warnings]
        row = {
            "item": self.item, "locator": loc, "path": entry.path, "layers": json.dumps(entry.locator.to_json(),
                                                                                       ensure_ascii=False),
            "name": entry.name, "kind": entry.kind, "size": entry.size, "sha256": None, "md5": None, "sha1": None,
            "deleted": int(entry.deleted), "allocated": int(entry.allocated), "mime": None, "magic": None,
            "extension_mismatch": 0, "inode": entry.inode, "link_target": entry.link_target,
            "times_tz_known": int(entry.times_tz_known),
            "times_tz_source": (entry.times_tz_source or "utc") if entry.times_tz_known else "unknown",
            "recovery": entry.recovery, "recovery_confidence": entry.recovery_confidence,
        }
        # A local time the stated zone skipped or holds twice (a daylight-saving change) has
        # no one UTC reading: the entry's times then stay as recorded, zone unknown, flagged.
        gaps = [f"{label} time {why}" for label in ("modified", "accessed", "changed", "born")
                if self.assume_zone is not None and not entry.times_tz_known
                and (why := _zone_gap(entry.times.get(label), self.assume_zone))]
        if gaps:
            warnings.append(("walk", "; ".join(gaps) + ": the times are kept as recorded, zone unknown, not "
                                     "shifted by --assume-tz"))
        if not entry.times_tz_known and self.assume_zone is not None and not gaps:
            # the examiner stated the device's zone: local file times get it, as an assumption
            row["times_tz_known"], row["times_tz_source"] = 1, "assumed"
            for label in ("modified", "accessed", "changed", "born"):
                row[f"{label}_at"] = _assume(entry.times.get(label), self.assume_zone)
        else:
            for label in ("modified", "accessed", "changed", "born"):
                row[f"{label}_at"] = _fmt_time(entry.times.get(label), entry.times_tz_known)
        work: _Done | _InGroup | Future | None = None
        # An entry stored by an interrupted run is read again only if it is an archive,
        # so that its members are walked (they are skipped one by one if stored too).
        size = 0
        if entry.has_content and (not already or _is_archive_mime(self.done[loc])):
            size = entry.size or 0
            if self.pool is None or serial:
                work = _Done(self._read(entry, row, warnings))
            elif entry.size is not None and size <= SMALL_FILE:
                if self.group is None:
                    self.group = _Group(self)
                work = self.group.add(entry, row, warnings)
                if len(self.group.items) >= GROUP:
                    self._submit_group()
            else:
                self._submit_group()
                work = self.pool.submit(self._read, entry, row, warnings)   # (pool: not None here)
        self.window.append((entry, depth, row, warnings, work, already, size, home))
        self.window_bytes += size
        while len(self.window) > self.window_size or self.window_bytes > WINDOW_BYTES:
            self._finish(self.window.popleft())

    def _submit_group(self) -> None:
        group, self.group = self.group, None
        if group is not None and self.pool is not None:
            group.future = self.pool.submit(group.read)

    def _drain(self) -> None:
        while self.window:
            self._finish(self.window.popleft())

    def _finish(self, job: tuple) -> None:
        entry, depth, row, warnings, work, already, size, home = job
        self.window_bytes -= size
        head, outputs, offjob = work.result() if work is not None else (b"", None, None)
        if already:
            self.stats.skipped += 1
        elif isinstance(outputs, _Parked):
            self._park(home, outputs, row, warnings, entry.size or 0)
        else:
            if offjob is not None and self.procs is not None:
                self.procs.submit(offjob)
            self.ready.append((row, warnings, outputs, offjob, entry.size or 0))
            self._settle()
        archive = head and (looks_like_zip(head) or looks_like_tar(head) or looks_like_gzip(head))
        hits = self.embedded_hits.pop(id(row), None)
        if archive and depth < self.opt.limits.max_depth:
            self._nested(entry, head, depth)
        elif head and has_embedded(head, hits) and depth < self.opt.limits.max_depth:
            self._embedded(entry, head, hits, depth)
        elif archive and not looks_like_gzip(head):
            self.source_warnings.append(f"{row['locator']}: archive nested deeper than "
                                        f"{self.opt.limits.max_depth} levels; not opened (archive bomb?)")

    def _read(self, entry: FileEntry, row: dict, warnings: list) -> tuple[bytes, list | _Parked | None,
                                                                         _OffloadJob | None]:
        hashers = new_hashers(self.opt.hashes)
        updates = [h.update for h in hashers.values()]
        head = b""
        keep: list[bytes] | None = None
        wanted: list[Extractor] = []
        total = 0
        chunk = self.opt.limits.chunk
        fh = None
        scan: SignatureScan | None = None
        try:
            with entry.open() as fh:
                first = fh.read(chunk)
                head = first[:HEAD]
                scan = scanner(head, entry.size)    # photos hidden inside: signatures noted in this one read
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
                    if scan is not None:
                        scan.feed(data)
                    if keep is not None:
                        keep.append(data)
                    total += len(data)
                    if self.progress:
                        self.progress(0, len(data))
                    data = fh.read(chunk)
        except (OSError, IOError, EOFError, RuntimeError) as exc:
            warnings.append(("read", f"content unreadable after {total:,} bytes: {exc}"))
            warnings.extend(("read", w) for w in _damage_warnings(fh))
            row["size"] = row["size"] if row["size"] is not None else total
            return head, None, None
        warnings.extend(("read", w) for w in _damage_warnings(fh))
        for a, h in hashers.items():
            row[a] = h.hexdigest()
        if scan is not None and scan.found:
            self.embedded_hits[id(row)] = scan.found
        if entry.size is not None and total != entry.size:
            warnings.append(("read", f"read {total:,} bytes but the file system records {entry.size:,}"))
        if row["size"] is None:
            row["size"] = total
        if not wanted:
            return head, None, None
        data_all = b"".join(keep) if keep is not None else None
        if entry.deleted and data_all is not None and entry.recovery != "carved":
            broken = broken_photo(row["mime"], data_all)      # a deleted photo read back wrong says so
            if broken is not None:
                warnings.append(("read", broken))
                row["recovery_confidence"] = "low"
        parent = entry.locator.layers[:-1]
        inp = ExtractorInput(entry.path, entry.name, row["mime"], total, data_all,
                             None if data_all is not None else entry.open, dict(self.opt.extractor_options),
                             locator=row["locator"], container=" › ".join(layer.label for layer in parent),
                             batches=True)
        if self.sibling_suffixes and not entry.deleted and any(getattr(ex, "SIBLINGS", ()) for ex in wanted):
            return head, _Parked(entry, inp, wanted), None      # extracted once its companions are known
        offload = self.offload
        if self.procs is None or data_all is None or total > OFFLOAD_BYTES \
                or not any(id(ex) in offload for ex in wanted):
            return head, [_extract(wanted, inp)], None
        # per extractor, in order: its output now, or None where a worker process runs it
        outputs = [None if id(ex) in offload else _extract([ex], inp) for ex in wanted]
        return head, outputs, _OffloadJob(inp, [offload[id(ex)] for ex in wanted if id(ex) in offload])

    def _park(self, home: _Home, parked: _Parked, row: dict, warnings: list, size: int) -> None:
        data = parked.inp.data
        if data is not None:
            if self.parked_bytes + len(data) > PARK_BYTES:
                parked.inp.data, parked.inp.reopen = None, parked.entry.open      # read again when extracted
            else:
                self.parked_bytes += len(data)
        home.parked.append((parked, row, warnings, size))

    def _unpark(self, home: _Home) -> None:
        """Extract the inputs of a walked source that wait for their companions, handing over
        those met beside them (allocated, same folder, same name + suffix), and store them."""
        for parked, row, warnings, size in home.parked:
            entry, inp = parked.entry, parked.inp
            found = {}
            for suffix in sorted({s for ex in parked.wanted for s in getattr(ex, "SIBLINGS", ())}):
                sib = home.siblings.get((entry.locator.layers[:-1], entry.path + suffix))
                if sib is not None:
                    found[suffix] = Sibling(sib.name, str(sib.locator), sib.size, sib.open)
            inp.siblings = found or None
            outputs = [_extract(parked.wanted, inp)]
            if inp.data is not None:
                self.parked_bytes -= len(inp.data)
                inp.data = None
            self.ready.append((row, warnings, outputs, None, size))
            self._settle()
        home.parked.clear()

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
            nested = document_parts(nested)      # an OOXML/ODF document's parts are embedded objects
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

    def _embedded(self, entry: FileEntry, head: bytes, hits: list[tuple[str, int]] | None, depth: int) -> None:
        """Walk the objects inside a file (forensic.sources.embedded) as a nested source."""
        src = EmbeddedSource(entry, head, hits, self.opt.limits)
        try:
            self._walk(src, depth + 1)
            self._drain()                # every object read before the file is closed
            self.source_warnings.extend(src.warnings)
        finally:
            src.close()

    # -- storing ---------------------------------------------------------------------
    def _settle(self, wait: bool = False) -> None:
        """Store the files read, in walk order, as far as their extraction is done; with
        ``wait``, or when too many are waiting, wait for the worker processes."""
        ready = self.ready
        if self.procs is not None and ready and ready[0][3] is not None and ready[0][3].results is None \
                and (wait or len(ready) % OFFLOAD_BATCH == 0):
            # a look at the pipes releases the interpreter lock, which the reading threads then
            # hold for a while: look once per batch's worth of files, not for every file
            self.procs.collect()
        while ready:
            row, warnings, outputs, offjob, size = ready[0]
            if offjob is not None and offjob.results is None:
                if not wait and len(ready) <= READY_MAX:
                    return
                assert self.procs is not None      # an offloaded job exists only with them
                self.procs.wait(offjob)
            ready.popleft()
            artifacts: list[tuple] = []
            if outputs is not None:
                results = iter(offjob.results or ()) if offjob is not None else iter(())
                for out in outputs:
                    for stage, res in (out if out is not None else next(results)):
                        if stage is None:
                            artifacts.append(res)
                        else:
                            warnings.append((stage, res))
            self._add(store_triage.Entry(row, artifacts, warnings), size)

    def store(self, entry: store_triage.Entry, size: int) -> None:
        """Store one entry read (``size``: its content's bytes), in its turn."""
        self._add(entry, size)

    def flush(self) -> None:
        """Store now the entries :meth:`store` holds for the next batch (a cluster's piece:
        committed, and its leaves logged, before the piece's custody entry)."""
        self._flush()

    def _add(self, pending: store_triage.Entry, size: int) -> None:
        if self.sink is not None:        # read here, stored elsewhere
            self.sink(pending)
            return
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
        with self.case.transaction() as db:
            stored = store_triage.store_entries(db, self.item, self.pending, now, self.done)
            if self.on_batch is not None:
                self.on_batch([_file_leaf(*s[1:]) if s[0] == "file" else _artifact_leaf(*s[1:])
                               for s in stored])
        if self.on_committed is not None:
            self.on_committed()
        self.pending.clear()
        self.pending_bytes = 0


def _artifact_leaf(row: dict, record_type: str, artifact_id: int, record_sha256: str | None,
                   row_sha256: str, times_sha256: str) -> dict:
    """What the custody log records for one stored artifact (forensic.chain_of_custody.hooks)."""
    return {"kind": "artifact", "record_type": record_type, "locator": row["locator"],
            "sha256": row["sha256"], "artifact_id": artifact_id, "record_sha256": record_sha256,
            "row_sha256": row_sha256, "times_sha256": times_sha256}


def _file_leaf(row: dict, file_id: int, row_sha256: str) -> dict:
    return {"kind": "file", "locator": row["locator"], "sha256": row["sha256"],
            "deleted": bool(row["deleted"]), "file_id": file_id, "row_sha256": row_sha256}


def _link_leaf(linked: artifacts.Linked) -> dict:
    """What the custody log records for a record completed by its extractor's ``finalize``."""
    return {"kind": "link", "record_type": linked.record_type, "locator": linked.locator,
            "sha256": linked.file_sha256, "artifact_id": linked.artifact_id,
            "record_sha256": linked.record_sha256, "reason": linked.reason}


@dataclass(slots=True)
class _Home:
    """One source's walk: the companion files met (by parent layers and path) and the inputs
    waiting for them (_Parked, row, warnings, size)."""

    siblings: dict = field(default_factory=dict)
    parked: list = field(default_factory=list)


@dataclass(slots=True)
class _Parked:
    """An input read and hashed whose extraction waits for the end of its source's walk."""

    entry: FileEntry
    inp: ExtractorInput
    wanted: list


class _Group:
    """Small files read one after the other by one reading thread."""

    def __init__(self, triage: Triage) -> None:
        self.triage = triage
        self.items: list[tuple] = []
        self.future: Future[list[tuple]] | None = None

    def add(self, entry: FileEntry, row: dict, warnings: list) -> "_InGroup":
        self.items.append((entry, row, warnings))
        return _InGroup(self, len(self.items) - 1)

    def read(self) -> list:
        read = self.triage._read
        return [read(*item) for item in self.items]


class _InGroup:
    """One file's share of a group, with the interface of a Future."""

    __slots__ = ("group", "index")

    def __init__(self, group: _Group, index: int) -> None:
        self.group = group
        self.index = index

    def result(self) -> tuple:
        group = self.group
        if group.future is None:                  # not handed over yet: now
            group.triage._submit_group()
        assert group.future is not None
        result: tuple = group.future.result()[self.index]
        return result


class _Done:
    """A finished result with the interface of a Future (serial mode)."""

    def __init__(self, value: tuple) -> None:
        self.value = value

    def result(self) -> tuple:
        return self.value


class _OffloadJob:
    """One file's extraction by a worker process: its input, the extractors (indexes among
    the OFFLOAD ones), where its bytes are in the arena, and in time the outputs."""

    __slots__ = ("inp", "positions", "seq", "offset", "length", "results", "attempts")

    def __init__(self, inp: ExtractorInput, positions: list[int]) -> None:
        self.inp = inp
        self.positions = positions
        self.seq = -1
        self.offset = self.length = 0
        self.results: list[list[tuple]] | None = None   # per position: _extract() of that extractor
        self.attempts = 0


_STATE = struct.Struct("dd")


class _Worker:
    """One worker process: its pipe, a poller on it, its shared state (the file it is on),
    and the batches sent to it whose results have not come back."""

    __slots__ = ("proc", "conn", "poller", "state", "inflight")
    proc: Any
    conn: Any                  # multiprocessing.connection.Connection
    poller: select.poll
    state: mmap.mmap
    inflight: deque[list[_OffloadJob]]


class _ExtractProcesses:
    """Forked worker processes that run the OFFLOAD extractors on batches of files.

    Used from the walking thread only. A file's bytes are copied into an arena of shared
    memory mapped before the fork; the pipes carry short messages (a batch's offsets and
    inputs, then its outputs), so neither side ever waits for the other to drain a pipe.
    Each worker writes the file it is on into shared state: when a worker dies, or spends
    more than ``timeout`` seconds on one file, it is killed and replaced; that file gets a
    warning instead of its records, and the other files it held go to the new worker.
    """

    def __init__(self, extractors: list[Extractor], processes: int, timeout: float) -> None:
        import multiprocessing
        self.ctx = multiprocessing.get_context("fork")
        self.extractors = extractors
        self.timeout = timeout
        self.arena = mmap.mmap(-1, ARENA_BYTES)          # anonymous and shared: seen by the forks
        self.allocs: deque[_OffloadJob] = deque()       # jobs holding arena space, oldest first
        self.head = 0                                   # where the next allocation goes
        self.batch: list[_OffloadJob] = []
        self.queue: deque[list[_OffloadJob]] = deque()  # batches to send
        self.seq = 0
        self.workers: list[_Worker] = []
        for _ in range(processes):
            self.workers.append(self._start())

    # -- processes ---------------------------------------------------------------------
    def _start(self) -> _Worker:
        w = _Worker()
        parent_end, child_end = self.ctx.Pipe()
        w.state = mmap.mmap(-1, _STATE.size)            # shared: the file being read (seq or -1), since
        _STATE.pack_into(w.state, 0, -1.0, 0.0)
        others = [x.conn for x in self.workers if x is not None] + [parent_end]
        w.proc = self.ctx.Process(target=_serve, name="forensic-extract", daemon=True,
                                  args=(child_end, others, self.arena, w.state, self.extractors))
        w.proc.start()
        child_end.close()
        w.conn = parent_end
        w.poller = select.poll()
        w.poller.register(parent_end.fileno(), select.POLLIN)
        w.inflight = deque()
        return w

    def close(self) -> None:
        for w in self.workers:
            try:
                w.conn.send(None)
            except OSError:
                pass
        for w in self.workers:
            w.proc.join(2)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join()
            w.conn.close()
            w.state.close()
        self.workers = []
        self.arena.close()

    def _fail(self, w: _Worker, why: str) -> None:
        """A worker died or hung: kill it, warn for the file it was on, resend the others."""
        culprit = int(_STATE.unpack_from(w.state)[0])
        if w.proc.is_alive():
            w.proc.kill()
        w.proc.join()
        if not why:
            why = f"exit code {w.proc.exitcode}"
        w.conn.close()
        again: list[_OffloadJob] = []
        for batch in w.inflight:
            for job in batch:
                if culprit < 0:
                    job.attempts += 1            # which file it was is not known: a few retries
                if job.seq == culprit or job.attempts > 2:
                    message = f"extractor process failed on this file ({why}); not extracted"
                    job.results = [[(f"extract:{self.extractors[i].NAME}", message)] for i in job.positions]
                    job.inp.data = None
                else:
                    again.append(job)
        w.state.close()
        self.workers[self.workers.index(w)] = self._start()
        if again:
            self.queue.appendleft(again)
        self._release()

    # -- feeding -----------------------------------------------------------------------
    def submit(self, job: _OffloadJob) -> None:
        data = job.inp.data
        assert data is not None            # only content held in memory is offloaded
        n = len(data)
        while (offset := self._alloc(n)) is None:
            self._flush()
            self._receive()
        self.arena[offset:offset + n] = data
        job.offset, job.length = offset, n
        job.inp.data = None
        job.seq = self.seq
        self.seq += 1
        self.allocs.append(job)
        self.head = offset + max(n, 1)
        self.batch.append(job)
        if len(self.batch) >= OFFLOAD_BATCH:
            self._flush()

    def _alloc(self, n: int) -> int | None:
        """An arena offset for n bytes (a ring: space is freed oldest first), or None."""
        n = max(n, 1)
        if not self.allocs:
            self.head = 0
            return 0
        tail = self.allocs[0].offset
        if self.head > tail:                     # in use: [tail, head)
            if self.head + n <= ARENA_BYTES and (self.head < ARENA_WRAP or n >= tail):
                return self.head
            return 0 if n < tail else None       # back to the start early: fewer pages touched
        return self.head if self.head + n < tail else None   # in use: [tail, end) and [0, head)

    def _release(self) -> None:
        allocs = self.allocs
        while allocs and allocs[0].results is not None:
            allocs.popleft()

    def _flush(self) -> None:
        if self.batch:
            self.queue.append(self.batch)
            self.batch = []
        self._dispatch()

    def _dispatch(self) -> None:
        while self.queue:
            w = min(self.workers, key=lambda x: len(x.inflight))
            if len(w.inflight) >= BATCHES_IN_FLIGHT:
                return
            batch = self.queue.popleft()
            w.inflight.append(batch)
            try:
                w.conn.send([(job.seq, job.positions, job.offset, job.length, job.inp.path, job.inp.name,
                              job.inp.mime, job.inp.size, job.inp.options, job.inp.locator, job.inp.container)
                             for job in batch])
            except OSError:
                self._fail(w, "")

    # -- results -----------------------------------------------------------------------
    def collect(self) -> None:
        """Take the results that have arrived, without waiting."""
        for w in self.workers:
            while w.inflight and w.poller.poll(0):
                self._take(w)
        self._dispatch()

    def wait(self, job: _OffloadJob) -> None:
        while job.results is None:
            self._flush()
            self._receive()

    def _receive(self) -> None:
        """Wait for results from any worker (and watch for dead or stuck ones)."""
        from multiprocessing.connection import wait
        busy = [w for w in self.workers if w.inflight]
        if not busy:
            return
        ready = wait([w.conn for w in busy], timeout=min(1.0, self.timeout))
        for w in busy:
            if w.conn in ready:
                self._take(w)
            elif not w.proc.is_alive():
                self._fail(w, "")
            else:
                seq, since = _STATE.unpack_from(w.state)
                if seq >= 0 and time.monotonic() - since > self.timeout:
                    self._fail(w, f"no result after {self.timeout:g} s")
        self._dispatch()

    def _take(self, w: _Worker) -> None:
        try:
            out = w.conn.recv()
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            self._fail(w, "" if isinstance(exc, EOFError) else f"unreadable answer: {exc}")
            return
        batch = w.inflight.popleft()
        for job, results in zip(batch, out, strict=True):
            job.results = results
            job.inp.data = None
        self._release()


def _serve(conn: Any, others: list, arena: mmap.mmap, state: mmap.mmap, extractors: list[Extractor]) -> None:
    """A worker process: read batches, run the extractors, answer with their outputs."""
    for c in others:                 # the parent's ends: the parent's death must end recv()
        c.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C is the parent's to handle
    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):
            return
        if batch is None:
            return
        out = []
        for seq, positions, offset, length, path, name, mime, size, options, locator, container in batch:
            _STATE.pack_into(state, 0, seq, time.monotonic())
            inp = ExtractorInput(path, name, mime, size, arena[offset:offset + length], None, options,
                                 locator=locator, container=container)
            out.append([_extract([extractors[i]], inp) for i in positions])
        _STATE.pack_into(state, 0, -1.0, 0.0)
        try:
            conn.send(out)
        except OSError:
            return
        except Exception:            # an output that cannot be pickled: a warning for its file
            conn.send([_transferable(res, job[1], extractors) for job, res in zip(batch, out, strict=True)])


def _transferable(results: list, positions: list[int], extractors: list[Extractor]) -> list:
    try:
        pickle.dumps(results)
        return results
    except Exception as exc:
        message = f"extractor output not transferable: {type(exc).__name__}: {exc}"
        return [[(f"extract:{extractors[i].NAME}", message)] for i in positions]


def _can_fork() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import multiprocessing
    return "fork" in multiprocessing.get_all_start_methods()


def _is_archive_mime(mime: str | None) -> bool:
    return bool(mime) and mime in ("application/zip", "application/x-tar", "application/gzip",
                                   "application/x-gzip", "application/java-archive")


def run_extractors(wanted: list[Extractor], inp: ExtractorInput) -> Iterator[tuple[str, object]]:
    """Run extractors on one input: (ident, record or batch) | (stage, warning message), as
    they come. An extractor's failure is a warning, never a stopped triage."""
    for ex in wanted:
        try:
            for res in ex.extract(inp):
                if isinstance(res, (ArtifactRecord, RecordBatch)):
                    yield ex.ident, res
                elif isinstance(res, ExtractionWarning):
                    yield f"extract:{ex.NAME}", res.message
        except Exception as exc:
            yield f"extract:{ex.NAME}", f"extractor failed: {type(exc).__name__}: {exc}"


def _extract(wanted: list[Extractor], inp: ExtractorInput) -> list[tuple]:
    """run_extractors(), with each record turned into what is stored as it comes (a batch's
    records, a million messages' worth, are never all held at once): a list of (None,
    StoredRecord | StoredBatch) and (stage, warning message), in order. Done where the
    extractor runs (a reading thread or a worker process), so storing is inserts only."""
    out: list[tuple] = []
    for ident, res in run_extractors(wanted, inp):
        if isinstance(res, ArtifactRecord):
            try:
                out.append((None, _artifact_rows(ident, res)))
            except Exception as exc:
                out.append((f"extract:{ident.split('@')[0]}",
                            f"record not storable: {type(exc).__name__}: {exc}"))
        elif isinstance(res, RecordBatch):
            stored, refused = _batch_rows(ident, res)
            out.append((None, stored))
            out.extend((f"extract:{ident.split('@')[0]}", why) for why in refused)
        else:
            out.append((ident, res))
    return out


def _artifact_rows(ident: str, rec: ArtifactRecord) -> store_triage.StoredRecord:
    """A record as it is stored (its fields as JSON, their SHA-256, its timestamp rows)."""
    text = fields_json(rec.fields)
    return store_triage.StoredRecord(ident, rec.record_type, rec.source_ref, text, int(rec.corrupted),
                                     fields_json(list(rec.warnings)) if rec.warnings else "[]",
                                     record_sha256(text), tuple(ts.row() for ts in rec.timestamps))


def _batch_rows(ident: str, batch: RecordBatch) -> tuple[store_triage.StoredBatch, list[str]]:
    """A batch of records as stored, column by column: each record's texts and hash made as
    ``_artifact_rows`` makes them (fields given as their JSON text are taken as they are); and
    why a record could not be stored (the rest are)."""
    stored = store_triage.StoredBatch(ident, batch.record_type)
    refused: list[str] = []
    for fields, times, corrupted, warnings, source_ref in batch.rows():
        try:
            text = fields if type(fields) is str else fields_json(fields)
            digest = record_sha256(text)
            warnings_json = fields_json(list(warnings)) if warnings else "[]"
        except Exception as exc:
            refused.append(f"record not storable: {type(exc).__name__}: {exc}")
            continue
        stored.add(source_ref, text, int(corrupted), warnings_json, digest, times)
    return stored, refused


def _damage_warnings(reader: object) -> list[str]:
    """What the reader of a file's content knows of damage under it (an E01 chunk that
    fails its checksum); asked once the content is read."""
    damage = getattr(reader, "damage_warnings", None)
    if damage is None:
        return []
    try:
        return list(damage())
    except (OSError, RuntimeError) as exc:     # libewf's C calls; never stop the triage
        return [f"could not check this content against the E01's bad chunks: {exc}"]


def recorded_bad_chunks(row: Item) -> list | None:
    """The E01 chunk spans found failing their checksum when the item was added (None:
    not checked then)."""
    from forensic.sources.ewf import recorded_bad_chunks as recorded
    return recorded(row.details)


def _accepts(ex: Extractor, path: str, mime: str, head: bytes, warnings: list) -> bool:
    try:
        return bool(ex.accepts(path, mime, head))
    except Exception as exc:
        warnings.append((f"extract:{ex.NAME}", f"accepts() failed: {type(exc).__name__}: {exc}"))
        return False


def triage_item(case: Case, item: str, options: TriageOptions | None = None,
                progress: Callable[[int, int], None] | None = None,
                on_batch: Callable[[list[dict]], None] | None = None,
                on_committed: Callable[[], None] | None = None) -> TriageStats:
    return Triage(case, item, options or TriageOptions(), progress, on_batch, on_committed).run()
