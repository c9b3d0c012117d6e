"""Triage on a Dask distributed cluster: workers read, the coordinator alone stores.

``forensic triage --cluster tcp://SCHEDULER:8786`` sends each evidence item to the cluster
as one task, or -- an item larger than ``PIECE_BYTES`` -- as several *pieces*: contiguous
ranges of the item's top-level walk (the entries its source yields, in order; an archive
or embedded file found in a range is walked by that range's task). A piece's task walks the
item's metadata (every piece does: a range is known by its walk positions, and companion
files such as a database's ``-wal`` may sit across a range's edge), reads, hashes and
extracts only the entries of its range, with the very code of a local triage
(:meth:`forensic.pipeline.Triage.read_source`), and returns plain data: the entries as they
are stored (rows, records, warnings), the source's warnings, and its host.

Workers open the evidence read-only at the same path as the coordinator, or at the path
given by a mapping (``--path-map SRC=DST``), and check first that it is the same evidence:
its size and the SHA-256 of 16 MiB sampled across it, its first and last MiB and 14 evenly
between (a folder: of its listing, names, kinds and sizes) as the coordinator reads them.
They never write the case store or the custody log: the coordinator stores each item's
pieces in order through the storing half of a local triage
(:attr:`forensic.pipeline.Triage.feed`), so the custody log stays one hash chain with one
signer, and the command records which host read each piece (``triage.piece``); what a
worker returns must be the piece asked for (its item and number), or nothing of it is stored.

A worker that dies mid-task has its task run again by the scheduler (and a task that fails
is retried ``RETRIES`` times); what the coordinator stores is keyed by the item and the
entry's location, so nothing is stored twice. A coordinator interrupted resumes as a local
triage does: the locations already stored are handed to the workers, which skip them.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
import socket
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from forensic.case import Case, item_source
from forensic.errors import SourceError, UsageError
from forensic.pipeline import Triage, TriageOptions, TriageStats, recorded_bad_chunks
from forensic.locator import Locator
from forensic.sources import open_source
from forensic.sources.base import open_readonly
from forensic.sources.directory import DirectorySource
from forensic.store import triage as store_triage
from forensic.store.records import Item

PIECE_BYTES = 1 << 30        # an item's bytes per piece (FORENSIC_CLUSTER_PIECE_BYTES overrides it)
RETRIES = 2                  # a task that raises is run again this many times (a dead worker's: by the scheduler)
FINGERPRINT_BYTES = 1 << 20  # bytes of each sample the identity check reads
FINGERPRINT_SAMPLES = 16     # samples: the first and last, the others evenly between
CONNECT_TIMEOUT = 10         # seconds to reach the scheduler
_ADDRESS = re.compile(r"(?:tcp|tls)://[^\s/]+:\d{1,5}\Z")


def exposed(address: str) -> bool:
    """Whether ``address`` is a plain ``tcp://`` scheduler on another machine: Dask's messages
    (pickles) then travel unencrypted and unauthenticated, and whoever can answer on that
    address -- the scheduler, a worker, a machine in between -- can run code on this one."""
    import ipaddress
    scheme, _, rest = address.partition("://")
    host = rest.rsplit(":", 1)[0].strip("[]").lower()
    if scheme != "tcp" or host == "localhost":
        return False
    try:
        ip = ipaddress.ip_address(host)
        return not (ip.is_loopback or ip.is_unspecified)      # 0.0.0.0: this machine
    except ValueError:
        return True                 # a host name other than localhost


def parse_path_map(spec: str) -> tuple[str, str]:
    """``SRC=DST``: evidence under the coordinator's folder SRC is at DST on the workers."""
    src, sep, dst = spec.partition("=")
    if not sep or not src or not dst:
        raise UsageError(f"--path-map {spec!r} is not SRC=DST",
                         hint="e.g. --path-map /mnt/evidence=/srv/evidence (the coordinator's folder, then "
                              "the workers')")
    return os.path.normpath(src), os.path.normpath(dst)


def map_path(path: Path, maps: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> Path:
    """Where the workers find ``path``: the longest mapped folder holding it, replaced."""
    text = os.path.normpath(str(path))
    for src, dst in sorted(maps, key=lambda m: len(m[0]), reverse=True):
        if text == src or text.startswith(src.rstrip(os.sep) + os.sep):
            return Path(dst) / os.path.relpath(text, src) if text != src else Path(dst)
    return Path(text)


def fingerprint(path: Path) -> dict:
    """What identifies an item's source cheaply: a file's size and the SHA-256 of
    :data:`FINGERPRINT_SAMPLES` samples of :data:`FINGERPRINT_BYTES` (its first and last,
    the others evenly between; a file of no more than that, whole); a folder's listing (every
    entry's path, kind and size, no content), as a SHA-256. Read as the triage reads
    (O_NOATIME where allowed): the evidence's access times stay.

    The first MiB alone does not tell two cards of one model apart (an MBR and nothing up to
    the first partition), nor two acquisitions of one disk (an E01's hashes are at its end)."""
    if path.is_dir():
        digest = hashlib.sha256()
        count = 0
        for entry in DirectorySource(path, Locator.root(path.name)).entries():
            digest.update(f"{entry.kind}\0{entry.size}\0{entry.path}\n".encode("utf-8", "surrogateescape"))
            count += 1
        return {"listing_sha256": digest.hexdigest(), "entries": count}
    digest = hashlib.sha256()
    with open_readonly(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        last = max(0, size - FINGERPRINT_BYTES)
        if size <= FINGERPRINT_BYTES * FINGERPRINT_SAMPLES:
            spans = [(0, size)]
        else:
            spans = [(last * k // (FINGERPRINT_SAMPLES - 1), FINGERPRINT_BYTES) for k in range(FINGERPRINT_SAMPLES)]
        for offset, length in spans:
            fh.seek(offset)
            while length > 0 and (chunk := fh.read(min(length, FINGERPRINT_BYTES))):
                digest.update(chunk)
                length -= len(chunk)
    return {"size": size, "sampled_sha256": digest.hexdigest()}


@dataclass(frozen=True)
class PieceTask:
    """What a worker needs to read one piece (plain data; the evidence is read where it runs)."""
    item: str
    path: str                    # as the workers see it
    fmt: str
    expected: dict               # fingerprint() as the coordinator read it
    options: TriageOptions
    piece: int
    pieces: int
    bad_chunks: list | None = None


@dataclass
class PieceResult:
    """A piece read: its entries in walk order, as a local triage would store them."""
    item: str
    piece: int
    entries: list                # store_triage.Entry
    source_warnings: list[str]
    skipped: int                 # already stored by an earlier, interrupted run
    span: tuple[int, int] | None
    host: str
    worker: str
    pid: int
    seconds: float


def _where() -> tuple[str, str]:
    host = socket.gethostname()
    try:
        from distributed import get_worker
        return host, str(get_worker().address)
    except (ImportError, ValueError):
        return host, ""


def _check_identity(task: PieceTask, host: str) -> Path:
    path = Path(task.path)
    if not path.exists():
        raise SourceError(f"evidence item {task.item}: {task.path} is not there on the worker {host}")
    found = fingerprint(path)
    if found != task.expected:
        raise SourceError(f"evidence item {task.item}: {task.path} on the worker {host} is not the evidence "
                          f"the coordinator reads (size or sampled bytes differ: {found} != {task.expected})")
    return path


def count_entries(task: PieceTask) -> int:
    """A worker's task: the number of top-level entries of the item's walk (what its pieces
    are ranges of)."""
    host, _ = _where()
    path = _check_identity(task, host)
    src = open_source(path, task.fmt, path.name, task.options.password, task.options.limits)
    try:
        return sum(1 for _ in src.entries())
    finally:
        src.close()


def read_piece(task: PieceTask, done: dict[str, str | None], total: int | None) -> PieceResult:
    """A worker's task: read one piece of an item (``total``: its top-level entries, when it
    is split) and return its entries; ``done``: the locations already stored (skipped)."""
    start = time.perf_counter()
    host, worker = _where()
    path = _check_identity(task, host)
    triage = Triage(None, task.item, task.options)
    triage.done = done
    span = None
    if task.pieces > 1 and total is not None:
        span = (task.piece * total // task.pieces, (task.piece + 1) * total // task.pieces)
        # the last piece takes whatever follows: no entry is left out should this walk run longer
        triage.span = range(span[0], span[1] if task.piece < task.pieces - 1 else sys.maxsize)
    entries: list[store_triage.Entry] = []
    triage.sink = entries.append
    triage.read_source(path, task.fmt, task.bad_chunks)
    return PieceResult(task.item, task.piece, entries, triage.source_warnings, triage.stats.skipped, span,
                       host, worker, os.getpid(), time.perf_counter() - start)


def _check_result(res: object, item: str, piece: int, pieces: int) -> None:
    """What came back is the piece asked for: its item and number, every entry of that item.
    (The coordinator cannot read the evidence again to check a worker's hashes; it can refuse
    a result that is not even the task's: a scheduler or worker answering one task with
    another's, a worker of another version.)"""
    if isinstance(res, PieceResult) and res.item == item and res.piece == piece and \
            all(isinstance(e, store_triage.Entry) and isinstance(e.row, dict) and e.row.get("item") == item
                for e in res.entries):
        return
    host = f" from {res.host} ({res.worker})" if isinstance(res, PieceResult) else ""
    got = (f"item {res.item!r}, piece {res.piece + 1}" if isinstance(res, PieceResult) and isinstance(res.piece, int)
           else type(res).__name__)
    raise SourceError(f"evidence item {item}: piece {piece + 1} of {pieces}: the result{host} is not that piece's "
                      f"(it is {got}, or holds entries of another item); nothing of it is stored",
                      hint="check that every worker runs this version of forensic and that only the lab's "
                           "machines reach the scheduler (docs/lab-setup.md)")


@dataclass
class _Submitted:
    pieces: list[Any]            # distributed.Future each, in piece order
    inputs: list[Any]            # the futures they take (held here: a future let go is forgotten)
    stored: set[int] = field(default_factory=set)


def _env_piece_bytes() -> int:
    """:data:`PIECE_BYTES`, or ``FORENSIC_CLUSTER_PIECE_BYTES`` (a positive number of bytes)."""
    text = os.environ.get("FORENSIC_CLUSTER_PIECE_BYTES", "").strip()
    if not text:
        return PIECE_BYTES
    if not text.isdigit() or int(text) <= 0:
        raise UsageError(f"FORENSIC_CLUSTER_PIECE_BYTES={text!r} is not a positive number of bytes",
                         hint="give bytes as digits, e.g. FORENSIC_CLUSTER_PIECE_BYTES=1073741824 (1 GiB), "
                              "or unset it")
    return int(text)


class Cluster:
    """The coordinator's side: a client of the scheduler at ``address``."""

    def __init__(self, address: str, path_maps: list[tuple[str, str]] | None = None,
                 piece_bytes: int | None = None, retries: int = RETRIES) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("--cluster needs Dask distributed, which is not installed",
                             hint="it is a dependency of forensic: reinstall it (pip install distributed)") from None
        if not _ADDRESS.match(address):
            raise UsageError(f"--cluster {address!r} is not a scheduler address",
                             hint="give tcp://HOST:PORT (or tls://HOST:PORT), e.g. tcp://10.0.0.5:8786")
        self.address = address
        self.path_maps = list(path_maps or [])
        self.piece_bytes = piece_bytes or _env_piece_bytes()
        self.retries = retries
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}",
                             hint="start it ('dask scheduler'), check the address and port (tcp://HOST:8786), "
                                  "see docs/lab-setup.md") from None
        self.items: dict[str, _Submitted] = {}

    def close(self) -> None:
        for sub in self.items.values():
            for fut in sub.pieces + sub.inputs:
                fut.cancel()
        self.client.close()  # type: ignore[no-untyped-call]

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    def worker_path(self, row: Item, path: Path) -> Path:
        """Where the workers open an item's source: by this triage's ``--path-map`` when one
        maps it, else at the path recorded at ``evidence add --worker-path``, else at the
        coordinator's own path. (The identity check refuses other bytes wherever it is.)"""
        mapped = map_path(path, self.path_maps)
        recorded = row.details.get("worker_path") if isinstance(row.details, dict) else None
        if mapped == Path(os.path.normpath(str(path))) and isinstance(recorded, str) and recorded:
            return Path(recorded)
        return mapped

    def submit(self, case: Case, item: str, options: TriageOptions) -> None:
        """Send the item's tasks (they run while earlier items are stored)."""
        row = case.item(item)
        path = item_source(row)
        try:
            expected = fingerprint(path)
        except OSError as exc:
            raise SourceError(f"evidence item {item}: the source {path} cannot be read: {exc.strerror or exc}",
                              hint="check the drive and the file's permissions, then rerun") from exc
        size = row.size or 0
        pieces = max(1, math.ceil(size / self.piece_bytes)) if self.piece_bytes > 0 else 1
        worker_opts = replace(options, extract_processes=0)   # no forks inside a worker's thread
        bad = recorded_bad_chunks(row) if row.format == "e01" else None
        tasks = [PieceTask(item, str(self.worker_path(row, path)), row.format, expected, worker_opts, k,
                           pieces, bad) for k in range(pieces)]
        done = {} if options.force else store_triage.stored_locators(case.db, item)
        # ``done`` goes in each task, not scattered: scattered data dies with the worker holding it
        token = os.urandom(4).hex()
        total = None
        if pieces > 1:
            total = self.client.submit(count_entries, tasks[0], key=f"forensic-count-{item}-{token}",
                                       retries=self.retries, pure=False)
        futures = [self.client.submit(read_piece, task, done, total, retries=self.retries, pure=False,
                                      key=f"forensic-piece-{item}-{task.piece}-{token}")
                   for task in tasks]
        self.items[item] = _Submitted(futures, [total] if total is not None else [])

    def triage_item(self, case: Case, item: str, options: TriageOptions,
                    progress: Callable[[int, int], None] | None = None,
                    on_batch: Callable[[list[dict]], None] | None = None,
                    on_committed: Callable[[], None] | None = None,
                    on_piece: Callable[[dict], None] | None = None) -> TriageStats:
        """As forensic.pipeline.triage_item, the reading done by the cluster's workers."""
        if item not in self.items:
            self.submit(case, item, options)
        sub = self.items[item]
        triage = Triage(case, item, options, progress, on_batch, on_committed)
        triage.feed = lambda t: self._feed(t, sub, on_piece)
        return triage.run()

    def _feed(self, triage: Triage, sub: _Submitted, on_piece: Callable[[dict], None] | None) -> None:
        seen: set[str] = set()
        for k, fut in enumerate(sub.pieces):
            try:
                res: PieceResult = fut.result()
            except SourceError as exc:        # the worker's evidence: gone, or not the same
                raise SourceError(exc.message, hint="mount the evidence at the same path on every worker, or "
                                                    "map it: --path-map SRC=DST (docs/lab-setup.md)") from None
            except Exception as exc:          # a task failed RETRIES times, or its workers kept dying
                raise SourceError(f"evidence item {triage.item}: piece {k + 1} of {len(sub.pieces)} failed on "
                                  f"the cluster: {type(exc).__name__}: {exc}",
                                  hint="what was stored is kept; rerun to carry on (see the workers' logs)") from exc
            if k in sub.stored:               # one piece stored once, whatever the scheduler did
                continue
            _check_result(res, triage.item, k, len(sub.pieces))
            files = 0
            for entry in res.entries:
                size = entry.row.get("size") or 0
                if triage.progress is not None:
                    triage.progress(0, size)
                triage.store(entry, size)
                files += 1
            triage.stats.skipped += res.skipped
            for message in res.source_warnings:   # a whole-source warning: said by every piece, kept once
                if message not in seen:
                    seen.add(message)
                    triage.source_warnings.append(message)
            sub.stored.add(k)
            if on_piece is not None:
                triage.flush()                # the piece's entries stored and logged before its entry
                on_piece({"piece": k + 1, "pieces": len(sub.pieces), "span": list(res.span) if res.span else None,
                          "files": files, "skipped": res.skipped, "host": res.host, "worker": res.worker,
                          "pid": res.pid, "milliseconds": round(res.seconds * 1000)})
            fut.release()
        for fut in sub.inputs:
            fut.release()
