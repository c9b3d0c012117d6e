"""Re-verify a case's custody log from its files: chain, Merkle roots, checkpoints, signatures.

What is checked (docs/custody-log.md states the same rules for independent verifiers):

1. every checkpoint line: well-formed, canonical, its body matching its fields, its compact
   range folding to its root, its signature (when signed) verifying with its embedded key,
   and -- given ``trusted_keys`` -- that key being one of them;
2. each checkpoint is consistent with the one before (RFC 9162 consistency proof);
3. the case store's latest checkpoint is one of the file's checkpoints (or, when the files
   were cut, a tree size the log must still reach);
4. every log line: canonical JSON, ``seq`` = its position, ``prev`` = the previous entry's
   ``hash``, ``hash`` = SHA-256 of the canonical entry without ``hash``;
5. at each checkpoint's size, the Merkle root over the lines so far equals the checkpoint's
   root (and its offset / last hash match);
6. the log reaches the largest checkpointed size, and ends with a complete line;
7. it holds at least one entry (a case records ``case.created`` when it is made): a folder
   whose log was removed, with its checkpoints, is not "intact";
8. with ``trusted_keys``, at least one checkpoint is signed by one of them; a log that pins an
   examiner key has a signed checkpoint (the first signed command pins and signs in one
   commit): removing every signed checkpoint (and the store's copy) does not downgrade a
   signed log to an unsigned one.

``first_bad_seq`` is the first entry that fails, or -- for a problem found only through a
checkpoint -- the first entry that checkpoint vouches for that no earlier good checkpoint
does. Memory stays flat: lines are checked in blocks, roots kept as compact ranges. Large
logs are checked by a pool of worker processes, one block each.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Iterator, Sequence

from forensic.chain_of_custody import merkle
from forensic.chain_of_custody.entry import ZERO_HASH, check_line, check_lines
from forensic.chain_of_custody.log import (CHECKPOINTS_NAME, LOG_NAME, Checkpoint)
from forensic.chain_of_custody.pins import established, scan_pins
from forensic.chain_of_custody.signing import PublicKey
from forensic.store import custody as store_custody

BLOCK_BYTES = 1 << 22
PARALLEL_MIN_BYTES = 64 << 20
# The problem of a log that pins a key no signed checkpoint vouches for (rule 8): a crash of
# the first signed command before its checkpoint leaves it too, which ``CustodyLog.repair``
# recognises by this text (with the conditions it checks itself).
UNSIGNED_PIN = "it pins an examiner key, but no checkpoint is signed"


@dataclass
class VerifyReport:
    ok: bool = True
    entries: int = 0
    checkpoints: int = 0
    signatures_verified: int = 0
    unsigned_checkpoints: int = 0
    first_bad_seq: int | None = None
    problem: str | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    torn_tail: str | None = None          # file name whose last line is torn
    tree_size: int = 0                    # latest good checkpoint
    root: str | None = None
    signers: list[str] = field(default_factory=list)
    signed_from: int | None = None        # index of the first signed checkpoint
    pinned_keys: list[str] = field(default_factory=list)
    unchecked_tail: int = 0               # entries after the latest checkpoint

    def fail(self, seq: int | None, message: str) -> None:
        self.ok = False
        self.problems.append(message if seq is None else f"entry {seq}: {message}")
        if seq is not None and (self.first_bad_seq is None or seq < self.first_bad_seq):
            self.first_bad_seq = seq
            self.problem = self.problems[-1]
        elif self.problem is None:
            self.problem = self.problems[-1]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- block checking (runs in worker processes for large logs) ----------------------------------
@dataclass
class _Block:
    n: int                                   # good lines
    error: str | None                        # what is wrong with line n (if anything)
    first_prev: str | None                   # "prev" of the block's first line
    last_hash: str | None
    pieces: list                             # compact range of the good lines
    marks: dict[int, tuple[list, str, int]]  # size -> (pieces, last hash, end offset in block)


def _check_block(data: bytes, start_seq: int, marks: Sequence[int]) -> _Block:
    """Check the complete lines of ``data`` (what follows its last newline is not checked:
    the start of the next block)."""
    lines = data.split(b"\n")
    lines.pop()                              # b"", or the start of a line
    n, first_prev, last_hash, error = check_lines(lines, start_seq)
    leaves = merkle.leaf_hashes(lines[:n])
    rng = merkle.CompactRange(start_seq)
    got: dict[int, tuple[list, str, int]] = {}
    done = 0
    for mark in sorted(m for m in marks if start_seq < m <= start_seq + n):
        k = mark - start_seq                 # the mark falls after line k - 1 of the block
        rng.extend(leaves[done:k])
        done = k
        offset = sum(map(len, lines[:k])) + k
        got[mark] = (list(rng.pieces), check_line(lines[k - 1], mark - 1, None)[0], offset)
    rng.extend(leaves[done:])
    return _Block(n, error, first_prev, last_hash, rng.pieces, got)


def _check_block_at(path: Path, offset: int, size: int, start_seq: int,
                    marks: Sequence[int]) -> _Block:
    """:func:`_check_block` on bytes a worker reads itself (cheaper than sending them)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.pread(fd, size, offset)
    finally:
        os.close(fd)
    if len(data) != size:
        return _Block(0, f"{LOG_NAME} changed while it was verified", None, None, [], {})
    return _check_block(data, start_seq, marks)


def _blocks(path: Path) -> Iterator[tuple[int, bytes, int]]:
    """(offset, data, end) in blocks of ~4 MiB: ``data`` was read at ``offset`` and its
    complete lines end at ``end``; the bytes after that are read again as the start of the
    next block (no block is copied to join them). ``end`` is 0 for a last line without a
    line end (torn)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        offset, size = 0, BLOCK_BYTES
        while data := os.pread(fd, size, offset):
            end = data.rfind(b"\n") + 1
            if end:
                yield offset, data, end
                offset, size = offset + end, BLOCK_BYTES
            elif len(data) < size:
                yield offset, data, 0
                return
            else:
                size *= 2                    # a line longer than a block
    finally:
        os.close(fd)


# -- the verifier ------------------------------------------------------------------------------
def verify_log(case_root: Path, db: sqlite3.Connection | None = None, *,
               case_id: str | None = None, trusted_keys: Sequence[PublicKey] = (),
               workers: int | None = None) -> VerifyReport:
    """Verify the custody log in ``case_root`` (see module doc). Never raises for damage:
    everything found is in the report."""
    root = Path(case_root)
    report = VerifyReport()
    log_path = root / LOG_NAME
    lock_fd = os.open(log_path, os.O_RDONLY) if log_path.exists() else None
    try:
        if lock_fd is not None:
            fcntl.flock(lock_fd, fcntl.LOCK_SH)   # no writer mid-batch while we read
        targets = _check_checkpoints(root, db, case_id, trusted_keys, report)
        _check_entries(log_path, targets, report, workers)
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    if report.ok and trusted_keys and report.signatures_verified == 0:
        # --pub asks that the examiner's key vouch for the log: with no checkpoint (all of them
        # removed, with the store's copy) none does, and any entry could have been rewritten
        report.fail(0, "no checkpoint is signed by a trusted key: nothing vouches for the log's "
                       f"{report.entries} entries (its checkpoints were removed?)")
    elif report.ok and report.signed_from is None and report.pinned_keys:
        # the first signed command pins its key and signs its checkpoint in one commit: a log
        # with a pin and no signed checkpoint had its signed checkpoints removed, or that
        # command crashed between the two (which repair recognises and sets aside)
        first = min(p.seq for p in scan_pins(log_path))
        report.fail(first, f"{UNSIGNED_PIN}: the signed checkpoints were removed (with the "
                           "case store's copy), or the first signed command crashed before its "
                           "checkpoint ('forensic custody repair --key KEY' sets such a crash's "
                           "entries aside); no signature vouches for the entries")
    if report.ok and report.entries == 0:
        # every case records case.created when it is made: a log with nothing in it (deleted,
        # emptied, with its checkpoints) verifies nothing, and must not be called intact
        report.fail(0, f"the custody log holds no entry ({LOG_NAME} "
                       f"{'is empty' if log_path.exists() else 'is missing'}): nothing was verified")
    if not report.ok and report.first_bad_seq is None:
        report.first_bad_seq = report.tree_size
    return report


def _check_checkpoints(root: Path, db: sqlite3.Connection | None, case_id: str | None,
                       trusted: Sequence[PublicKey], report: VerifyReport) -> list[Checkpoint]:
    """Check the checkpoints among themselves; return those the log must match, by size."""
    path = root / CHECKPOINTS_NAME
    trusted_ids = {k.key_id: k for k in trusted}
    pins = scan_pins(root / LOG_NAME)
    report.pinned_keys = [f"{p.name} {p.key.id_text} (entry {p.seq})" for p in pins]
    good: list[Checkpoint] = []
    signers: set[str] = set()
    data = path.read_bytes() if path.exists() else b""
    lines = data.split(b"\n")
    torn = lines.pop()
    report.checkpoints = len(lines)
    for i, line in enumerate(lines):
        covered = good[-1].tree_size if good else 0
        try:
            cp = Checkpoint.from_line(line)
            if cp.line() != line:
                raise ValueError("not in canonical JSON form")
        except ValueError as exc:
            report.fail(covered, f"checkpoint {i} is malformed: {exc}")
            break
        if case_id is not None and cp.case_id != case_id:
            report.fail(covered, f"checkpoint {i} is for case {cp.case_id!r}, not {case_id!r}")
            break
        pieces = merkle.pieces_for(cp.tree_size, [bytes.fromhex(h) for h in cp.pieces]) \
            if len(cp.pieces) == len(merkle.decompose(0, cp.tree_size)) else None
        if pieces is None or merkle.fold(pieces).hex() != cp.root:
            report.fail(covered, f"checkpoint {i}: its compact range does not give its root")
            break
        if cp.signature is None:
            report.unsigned_checkpoints += 1
            if trusted_ids:
                report.fail(covered, f"checkpoint {i} is unsigned, but signatures by "
                                     "trusted keys were required")
                break
            if report.signed_from is not None:
                report.fail(covered, f"checkpoint {i} is unsigned, but the log is signed from "
                                     f"checkpoint {report.signed_from} on: a command without the "
                                     "examiner's key, or entries added by someone else")
                break
        else:
            try:
                key_id = cp.verify_signature()
            except ValueError as exc:
                report.fail(covered, f"checkpoint {i}: signature does not verify: {exc}")
                break
            key = PublicKey.from_base64(cp.public_key or "")
            if trusted_ids and trusted_ids.get(key.key_id) != key:   # the whole key, not its id
                report.fail(covered, f"checkpoint {i} is signed by key {key_id}, "
                                     "which is not among the trusted keys")
                break
            # Keys pinned by entries an earlier checkpoint covers are the ones that may sign.
            prior = good[-1].tree_size if good else 0
            allowed = established(pins, prior)
            if allowed and key.raw not in allowed:
                report.fail(covered, f"checkpoint {i} is signed by key {key_id}, which no earlier "
                                     "checkpoint pinned for this case (pinned: "
                                     + ", ".join(f"{p.name} {p.key.id_text}" for p in allowed.values())
                                     + "): entries added and signed by someone else")
                break
            if report.signed_from is None:
                report.signed_from = i
            report.signatures_verified += 1
            signers.add(f"{cp.signer or '?'} (key {key_id}, fingerprint {key.fingerprint})")
        prev = good[-1] if good else None
        old_size, old_root = (prev.tree_size, bytes.fromhex(prev.root)) if prev \
            else (0, merkle.EMPTY_ROOT)
        if cp.prev_size != old_size or cp.tree_size < old_size:
            report.fail(covered, f"checkpoint {i} does not follow checkpoint {i - 1} "
                                 f"(sizes {old_size} -> {cp.prev_size}/{cp.tree_size})")
            break
        if not merkle.verify_consistency(old_size, cp.tree_size, old_root,
                                         bytes.fromhex(cp.root),
                                         [bytes.fromhex(h) for h in cp.consistency]):
            report.fail(covered, f"checkpoint {i} is not consistent with checkpoint {i - 1}: "
                                 "history before it was rewritten")
            break
        good.append(cp)
    if torn and report.ok:
        report.torn_tail = CHECKPOINTS_NAME
        report.fail(good[-1].tree_size if good else 0,
                    f"{CHECKPOINTS_NAME} ends in a torn (incomplete) line: a command was "
                    "interrupted while writing its checkpoint ('forensic custody repair')")
    report.signers = sorted(signers)
    if good:
        report.tree_size, report.root = good[-1].tree_size, good[-1].root
    if any(cp.signature is None for cp in good) and report.ok:
        report.warnings.append(f"{report.unsigned_checkpoints} of {len(good)} checkpoints are "
                               "unsigned (no --key / $FORENSIC_KEY was given)")
    targets = list(good)
    stored = _stored_checkpoint(db, report)
    if stored is not None:
        stored_line = stored.line()
        last = good[-1].tree_size if good else 0
        if stored_line in lines:
            if good and stored_line in (cp.line() for cp in good) and stored_line != good[-1].line():
                report.warnings.append("the case store's copy of the latest checkpoint is behind "
                                       "(a command was interrupted after writing its checkpoint)")
        elif stored.tree_size > max([last] + [_size_of(ln) for ln in lines]):
            report.fail(None, f"the case store holds a checkpoint of {stored.tree_size} entries "
                              f"but {CHECKPOINTS_NAME} stops at {last}: checkpoints were cut off")
            targets.append(stored)
        else:
            report.fail(min(stored.prev_size, last), "the case store's checkpoint is not in "
                                                     f"{CHECKPOINTS_NAME}")
    return targets


def _size_of(line: bytes) -> int:
    try:
        return Checkpoint.from_line(line).tree_size
    except ValueError:
        return 0


def _stored_checkpoint(db: sqlite3.Connection | None, report: VerifyReport) -> Checkpoint | None:
    if db is None:
        return None
    try:
        line = store_custody.latest_checkpoint(db)
        return Checkpoint.from_line(line.encode("utf-8")) if line is not None else None
    except Exception as exc:
        if not (isinstance(exc, ValueError) or store_custody.is_store_error(exc)):
            raise
        report.fail(None, f"the case store's checkpoint is unreadable: {exc}")
        return None


def _check_entries(log_path: Path, targets: list[Checkpoint], report: VerifyReport,
                   workers: int | None) -> None:
    by_size: dict[int, list[Checkpoint]] = {}
    for cp in targets:
        by_size.setdefault(cp.tree_size, []).append(cp)
    marks = tuple(sorted(by_size))
    covered_before = {cp.tree_size: cp.prev_size for cp in targets}
    if not log_path.exists():
        if marks and marks[-1] > 0:
            report.fail(0, f"{LOG_NAME} is missing but checkpoints cover {marks[-1]} entries")
        return
    size = log_path.stat().st_size
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if size >= PARALLEL_MIN_BYTES else 1
    pieces: list = []
    seq = 0
    last_hash = ZERO_HASH
    stopped = False
    for offset, block, result in _results(log_path, marks, workers):
        if result is None:                       # torn tail
            report.torn_tail = LOG_NAME
            report.fail(seq, f"{LOG_NAME} ends in a torn (incomplete) entry ({len(block)} "
                             "bytes): a command was interrupted mid-write "
                             "('forensic custody repair' moves it aside)")
            break
        if result.n and result.first_prev != last_hash:
            report.fail(seq, "prev does not match the hash of the entry before "
                             "(an entry was deleted, inserted or moved)")
            stopped = True
            break
        for mark in sorted(result.marks):
            mark_pieces, mark_hash, mark_end = result.marks[mark]
            root = merkle.fold(merkle.merge_ranges(pieces, mark_pieces)).hex()
            for cp in by_size[mark]:
                if cp.root != root:
                    report.fail(covered_before[mark],
                                f"the entries up to {mark - 1} do not have the Merkle root of "
                                f"the checkpoint at tree size {mark}: an entry from "
                                f"{covered_before[mark]} on was rewritten (chain recomputed)")
                elif cp.last_hash != mark_hash or cp.offset != offset + mark_end:
                    report.fail(mark - 1, f"the checkpoint at tree size {mark} names another "
                                          "last entry or byte offset")
        pieces = merkle.merge_ranges(pieces, result.pieces)
        seq += result.n
        if result.last_hash is not None:     # None: the block has no good line
            last_hash = result.last_hash
        if result.error is not None:
            report.fail(seq, result.error)
            stopped = True
            break
    report.entries = seq
    if stopped:
        return
    biggest = marks[-1] if marks else 0
    if seq < biggest:
        report.fail(seq, f"the log has {seq} entries but a checkpoint covers {biggest}: "
                         "entries were cut off the end")
    elif seq > report.tree_size:
        report.unchecked_tail = seq - report.tree_size
        if report.signed_from is not None:
            # Every command checkpoints what it writes, under the same lock: entries no
            # checkpoint covers come from a crash or were added by hand, and no key vouches
            # for them.
            report.fail(report.tree_size, f"{seq - report.tree_size} entries after the latest "
                        "checkpoint are signed by no key (a command that crashed, or entries "
                        "added by someone else); 'forensic custody repair' sets them aside "
                        "and records that")
        elif report.ok:
            report.warnings.append(f"{seq - report.tree_size} entries after the latest checkpoint "
                                   "(a command was interrupted before it checkpointed); the "
                                   "next command that records anything will checkpoint them")


def _results(path: Path, marks: tuple[int, ...], workers: int
             ) -> Iterator[tuple[int, bytes, _Block | None]]:
    """Check blocks in order, in this process or in a pool; (offset, data, result)."""
    if workers <= 1:
        seq = 0
        for offset, data, end in _blocks(path):
            if not end:
                yield offset, data, None
                return
            result = _check_block(data, seq, marks)
            seq += result.n
            yield offset, data, result
            if result.error is not None:
                return
        return
    # Worker processes: block boundaries need the starting seq, known only after the block
    # before is split into lines, so count newlines here (cheap) and let workers read their
    # block from the file again and do the rest (the file is locked against writers).
    window: list[tuple[int, bytes, Future | None]] = []
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        seq = 0
        for offset, data, end in _blocks(path):
            if not end:
                window.append((offset, data, None))
                break
            window.append((offset, b"", pool.submit(_check_block_at, path, offset, end,
                                                    seq, marks)))
            seq += data.count(b"\n")
            while len(window) > 2 * workers:
                yield _take(window)
        while window:
            item = _take(window)
            yield item
            if item[2] is not None and item[2].error is not None:
                for _, _, fut in window:
                    if fut is not None:
                        fut.cancel()
                return


def _take(window: list) -> tuple[int, bytes, _Block | None]:
    offset, data, fut = window.pop(0)
    return offset, data, fut.result() if fut is not None else None
