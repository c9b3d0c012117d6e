"""The custody log of a case: append-only, hash-chained, Merkle-checkpointed, signed.

Files in the case folder:

* ``custody.jsonl`` -- one canonical JSON entry per line (see :mod:`forensic.chain_of_custody.entry`);
* ``custody.checkpoints.jsonl`` -- one checkpoint per line, written at the end of every command
  that appended: tree size, Merkle root, time, consistency proof from the previous
  checkpoint, and (when a key was given) a minisign signature;
* ``case.db`` table ``custody_checkpoints`` -- a copy of every checkpoint, so cutting
  entries *and* checkpoints off the end of the files is still detected;
* ``custody.quarantine/`` -- torn writes moved aside by ``forensic custody repair``.

Public API (what other commands call)::

    from forensic.chain_of_custody.log import CustodyLog
    from forensic.chain_of_custody.signing import signer_from_env

    signer = signer_from_env(key_path)           # --key FILE or $FORENSIC_KEY; None: unsigned
    log = CustodyLog(case.root, case.db, case.case_id, signer=signer, actor=examiner)
    log.append("evidence.received", {"item": "E1"}, actor=examiner, sha256=digest,
               details={...}, reason=None)       # buffered
    log.extend({"action": "file.recorded", "subject": {"item": "E1", "locator": loc},
                "sha256": digest} for ...)       # bulk leaves, written in batches of 10,000
    checkpoint = log.commit()                     # write, fsync, checkpoint (signed if a key)
    log.discard()                                 # after an interruption: drop what was not
                                                  # written, re-read the file at the next commit

``append``/``extend`` raise ``ValueError`` for an entry that cannot be recorded (a float, a
lone surrogate, a malformed hash); ``commit`` raises ``IntegrityError`` when the log on
disk is damaged (run ``forensic custody verify``/``repair``). Writers in several processes
are serialised by an exclusive ``flock`` on ``custody.jsonl``; each batch is one ``write``
on an ``O_APPEND`` descriptor and seq/prev are assigned under the lock after re-reading
what other processes appended. ``commit`` takes the case store's write lock before the
``flock`` (the lock order of :mod:`forensic.case`), as the checkpoint keeps a copy there.

A full disk (ENOSPC) raises ``DiskFullError`` after cutting the files back to where they
ended before: a commit that did not fit (its entries, its checkpoint or the checkpoint's
copy in the store) leaves nothing behind, and the log still verifies.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shlex
import signal
import socket
import sqlite3
import sys
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from forensic.chain_of_custody import merkle
from forensic.chain_of_custody.canonical import canonical_bytes
from forensic.chain_of_custody.entry import (ZERO_HASH, LineBuilder, LineError, Pending, check_line,
                                    is_hex64)
from forensic.chain_of_custody.pins import PIN_ACTION, Pin, established, pin_details, scan_pins, store_pin
from forensic.chain_of_custody.signing import PublicKey, Signer
from forensic import __version__
from forensic.store import custody as store_custody
from forensic.store.db import commit as store_commit, is_disk_full, write_transaction
from forensic.errors import DiskFullError, IntegrityError, UsageError

LOG_NAME = "custody.jsonl"
if TYPE_CHECKING:
    from forensic.chain_of_custody.verify import VerifyReport   # verify imports this module

CHECKPOINTS_NAME = "custody.checkpoints.jsonl"
QUARANTINE_DIR = "custody.quarantine"
BATCH_SIZE = 10_000
CHECKPOINT_HEADER = "forensic custody checkpoint v1"

_REPAIR_HINT = "run 'forensic custody verify' to see what is wrong; 'forensic custody repair' " \
               "moves a torn last line aside"

# Fault injection for tests (tests/chain_of_custody/test_processes.py): a writer that dies at
# an exact point, so that a test gets the crash it is about every time instead of sending a
# SIGKILL at a guessed moment. "kill:N": the process SIGKILLs itself as soon as the first N
# entries it writes are in custody.jsonl, before any checkpoint covers them. "tear:N:B": it
# writes its first N entries whole and the first B bytes of the next entry's line (no
# newline), then SIGKILLs itself: a torn last line.
CRASH_ENV = "FORENSIC_TEST_CUSTODY_CRASH"


# -- checkpoints --------------------------------------------------------------------------------
def checkpoint_body(case_id: str, tree_size: int, root: str, at: str) -> bytes:
    """The exact text a checkpoint signature covers."""
    case = json.dumps(case_id, ensure_ascii=False)
    return f"{CHECKPOINT_HEADER}\n{case}\n{tree_size}\n{root}\n{at}\n".encode("utf-8")


def trusted_comment(case_id: str, tree_size: int, root: str) -> str:
    return (f"forensic custody checkpoint case={json.dumps(case_id, ensure_ascii=True)} "
            f"size={tree_size} root={root}")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    case_id: str
    tree_size: int
    root: str                    # hex
    at: str
    offset: int                  # bytes of custody.jsonl the tree covers
    last_hash: str               # "hash" of entry tree_size-1 (64 zeros when empty)
    prev_size: int               # tree size of the checkpoint before (0 for the first)
    consistency: tuple[str, ...]  # RFC 9162 consistency proof prev_size -> tree_size
    pieces: tuple[str, ...]      # compact range of [0, tree_size): lets appenders go on
    signature: str | None = None  # minisign signature of body()
    public_key: str | None = None  # minisign public key line of the signer
    signer: str | None = None

    def body(self) -> bytes:
        return checkpoint_body(self.case_id, self.tree_size, self.root, self.at)

    def to_record(self) -> dict[str, Any]:
        return {
            "v": 1, "case_id": self.case_id, "tree_size": self.tree_size, "root": self.root,
            "at": self.at, "offset": self.offset, "last_hash": self.last_hash,
            "prev_size": self.prev_size, "consistency": list(self.consistency),
            "pieces": list(self.pieces), "body": self.body().decode("utf-8"),
            "signature": self.signature, "public_key": self.public_key, "signer": self.signer,
        }

    def line(self) -> bytes:
        return canonical_bytes(self.to_record())

    @classmethod
    def from_record(cls, d: Any) -> "Checkpoint":
        """Parse a record; ``ValueError`` when it is malformed (not when it is forged)."""
        if type(d) is not dict or d.get("v") != 1:
            raise ValueError("not a version 1 checkpoint record")
        try:
            cp = cls(d["case_id"], d["tree_size"], d["root"], d["at"], d["offset"],
                     d["last_hash"], d["prev_size"], tuple(d["consistency"]),
                     tuple(d["pieces"]), d["signature"], d["public_key"], d["signer"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"checkpoint record lacks {exc}") from None
        ints = (cp.tree_size, cp.offset, cp.prev_size)
        if any(type(i) is not int or i < 0 for i in ints) or cp.prev_size > cp.tree_size:
            raise ValueError("checkpoint sizes are not valid")
        if not (is_hex64(cp.root) and is_hex64(cp.last_hash)
                and all(is_hex64(h) for h in cp.consistency + cp.pieces)):
            raise ValueError("checkpoint hashes are not 64 lower-case hex digits")
        if type(cp.case_id) is not str or type(cp.at) is not str:
            raise ValueError("checkpoint case_id/at are not text")
        if any(v is not None and type(v) is not str for v in (cp.signature, cp.public_key, cp.signer)):
            raise ValueError("checkpoint signature/public_key/signer are not text")
        if d.get("body") != cp.body().decode("utf-8"):
            raise ValueError("checkpoint body does not match its fields")
        return cp

    @classmethod
    def from_line(cls, line: bytes) -> "Checkpoint":
        return cls.from_record(json.loads(line))

    def verify_signature(self) -> str:
        """Check the signature with the embedded public key; return that key's id.
        Raises ValueError when unsigned or when the signature does not verify."""
        if self.signature is None or self.public_key is None:
            raise ValueError("unsigned")
        key = PublicKey.from_base64(self.public_key)
        trusted = key.verify(self.body(), self.signature)
        if trusted != trusted_comment(self.case_id, self.tree_size, self.root):
            raise ValueError("trusted comment does not match the checkpoint")
        return key.id_text


def read_last_line(path: Path) -> tuple[bytes | None, int, bytes]:
    """(last complete line or None, file size, torn trailing bytes (b"" if none))."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return None, 0, b""
    with f:
        size = os.fstat(f.fileno()).st_size
        block = 1 << 16
        tail = b""
        pos = size
        while pos > 0:
            step = min(block, pos)
            pos -= step
            f.seek(pos)
            tail = f.read(step) + tail
            last_nl = tail.rfind(b"\n")
            if last_nl >= 0:
                prev_nl = tail.rfind(b"\n", 0, last_nl)
                if prev_nl >= 0 or pos == 0:
                    return tail[prev_nl + 1:last_nl], size, tail[last_nl + 1:]
            block <<= 1
        return None, size, tail


def latest_db_checkpoint(db: sqlite3.Connection | None) -> Checkpoint | None:
    if db is None:
        return None
    line = store_custody.latest_checkpoint(db)
    return Checkpoint.from_line(line.encode("utf-8")) if line is not None else None


# -- state of the log as this process knows it ---------------------------------------------------
@dataclass
class _State:
    checkpoint: Checkpoint | None
    left: list                       # pieces of [0, checkpoint.tree_size)
    right: merkle.CompactRange       # leaves appended since that checkpoint
    size: int                        # entries in the log
    offset: int                      # bytes of the log read/written
    last_hash: str
    cp_bytes: int = 0                # size of the checkpoints file when last read
    verified_base: bool = field(default=False)

    @classmethod
    def from_checkpoint(cls, cp: Checkpoint | None, cp_bytes: int) -> "_State":
        if cp is None:
            return cls(None, [], merkle.CompactRange(0), 0, 0, ZERO_HASH, cp_bytes)
        left = merkle.pieces_for(cp.tree_size, [bytes.fromhex(h) for h in cp.pieces])
        if merkle.fold(left).hex() != cp.root:
            raise IntegrityError("the latest custody checkpoint's compact range does not match "
                                 "its root", hint=_REPAIR_HINT)
        return cls(cp, left, merkle.CompactRange(cp.tree_size), cp.tree_size, cp.offset,
                   cp.last_hash, cp_bytes)


@dataclass(frozen=True, slots=True)
class _Crash:
    """Where :data:`CRASH_ENV` asks the writer to die: after ``entries`` whole entries of its
    own and ``torn`` bytes of the next line."""

    entries: int
    torn: int

    @classmethod
    def from_env(cls) -> "_Crash | None":
        spec = os.environ.get(CRASH_ENV)
        if not spec:
            return None
        kind, _, rest = spec.partition(":")
        try:
            if kind == "kill":
                return cls(int(rest), 0)
            if kind == "tear":
                entries, torn = rest.split(":")
                if int(torn) > 0:
                    return cls(int(entries), int(torn))
        except ValueError:
            pass
        raise ValueError(f"{CRASH_ENV}={spec!r}: expected kill:N or tear:N:BYTES (BYTES > 0)")

    def strike(self, fd: int, written: int, lines: list[bytes]) -> None:
        """If the crash point lies in the batch ``lines`` (``written``: entries this process
        wrote before it), write the batch up to that point and die there."""
        k = self.entries - written
        if not 0 <= k <= len(lines) or (self.torn and k == len(lines)):
            return
        _write_all(fd, b"".join(line + b"\n" for line in lines[:k])
                   + (lines[k][:self.torn] if self.torn else b""))
        os.kill(os.getpid(), signal.SIGKILL)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class _Writer(threading.Thread):
    """Writes one batch in a thread; :meth:`finish` waits and re-raises its error."""

    def __init__(self, fd: int, data: bytes) -> None:
        super().__init__(name="custody-writer", daemon=True)
        self.fd, self.data = fd, data
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            _write_all(self.fd, self.data)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            self.error = exc

    def finish(self) -> None:
        self.join()
        if self.error is not None:
            raise self.error


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def default_tool() -> dict[str, str]:
    # Arguments that are not UTF-8 (a seized file's name) are recorded with their bytes as
    # \xNN escapes: the log is UTF-8 text.
    argv = [os.fsencode(a).decode("utf-8", "backslashreplace") for a in sys.argv] or ["forensic"]
    argv[0] = os.path.basename(argv[0])
    return {"name": "forensic", "version": __version__, "command": shlex.join(argv)}


class CustodyLog:
    """Appends entries to a case's custody log and writes checkpoints (see module doc)."""

    def __init__(self, case_root: Path, db: sqlite3.Connection | None, case_id: str, *,
                 actor: str, signer: Signer | None = None,
                 tool: dict | None = None, host: str | None = None) -> None:
        self.root = Path(case_root)
        self.path = self.root / LOG_NAME
        self.checkpoints_path = self.root / CHECKPOINTS_NAME
        self.db = db
        self.case_id = case_id
        self.signer = signer
        self.actor = actor                       # who records, unless an entry names another
        self.builder = LineBuilder(tool or default_tool(), host or socket.gethostname())
        self._pending: list[tuple[str, Pending]] = []
        self._fd: int | None = None
        self._state: _State | None = None
        self._writing: _Writer | None = None     # a batch write an interruption left running
        self._own_until = -1                     # end offset of the last batch this process wrote
        self._pin_cache: list[Pin] | None = None
        self._vouched: Checkpoint | None = None  # the latest checkpoint, already checked
        self._pinning: tuple[str, PublicKey] | None = None   # the first key, pinned by this commit
        self._crash = _Crash.from_env()          # fault injection for tests (CRASH_ENV)
        self._written = 0                        # entries this process wrote (for _crash)

    # -- recording ----------------------------------------------------------------------------
    def append(self, action: str, subject: str | dict, *, actor: str, sha256: str | None = None,
               details: dict | None = None, reason: str | None = None) -> None:
        """Buffer one entry (written by :meth:`commit`, or when a batch fills)."""
        self._pending.append((actor, self.builder.pending(action, subject, sha256, details,
                                                          reason)))
        if len(self._pending) >= BATCH_SIZE:
            self.flush()

    def extend(self, entries: Iterable[dict]) -> int:
        """Buffer many entries (dicts with action, subject and optionally actor, sha256,
        details, reason); full batches are written as they fill. Returns the count."""
        pending = self._pending
        make = self.builder.pending
        now = self.builder.clock.now
        default_actor = self.actor
        n = 0
        for e in entries:
            if not n & 1023:            # entries handed over together share a time, to 1,024
                at = now()
            actor = e.get("actor", default_actor)
            if not actor:
                raise ValueError("entry has no actor and the log has no default actor")
            pending.append((actor, make(e["action"], e["subject"], e.get("sha256"),
                                        e.get("details"), e.get("reason"), at)))
            n += 1
            if len(pending) >= BATCH_SIZE:
                self.flush()
        return n

    def flush(self) -> None:
        """Write buffered entries now, with a checkpoint (:meth:`commit`). Entries never stay
        on disk without one: every write is checkpointed under the same lock, so entries
        that no checkpoint covers came from a crash or were added by hand, never from a
        command still at work (see :meth:`_refuse_unvouched`)."""
        if not self._pending:
            return
        self.commit()

    def commit(self, signer: Signer | None = None) -> Checkpoint | None:
        """Write everything buffered, fsync, and write a checkpoint covering the whole log.

        Returns the latest checkpoint (a new one if anything was added since the last),
        or None for a log that is still empty."""
        if signer is not None:
            self.signer = signer
        # The store's write lock first, then the flock: a triage holds the store's lock
        # while it writes its batch's leaves, so waiting for the store under the flock (for
        # the checkpoint's copy there) could wait for a command that waits for us.
        own_db = self.db if self.db is not None and not self.db.in_transaction else None
        with write_transaction(own_db, self.root) if own_db is not None else nullcontext(), self._locked() as fd:
            state = self._resync()
            saved = list(self._pending)          # without a pin _refuse_unvouched may add
            self._refuse_unvouched(state)
            start = state.offset
            try:
                self._write_pending()
                self._fsync(fd)
                if self._pinning is not None:
                    name, key = self._pinning
                    if self.db is not None:
                        store_pin(self.db, name, key)
                    self._pin_cache = None            # read again, with the pin's seq
                    self._pinning = None
                cp = state.checkpoint
                if state.size == 0 or (cp is not None and cp.tree_size == state.size):
                    return cp
                return self._write_checkpoint(commit_store=own_db is not None)
            except DiskFullError as error:
                # A commit that does not fit leaves the log (and what is buffered) as it was:
                # entries whose checkpoint could not be written are cut off too, as no
                # checkpoint would ever vouch for them.
                self._pending[:] = saved
                self._pinning = self._pin_cache = None    # a pin cut off is pinned again next time
                self._state = None
                try:
                    os.ftruncate(fd, start)
                except OSError as failure:
                    error.add_note(f"cutting this command's entries off {LOG_NAME} failed too "
                                   f"({failure})")
                raise

    def _refuse_unvouched(self, state: _State) -> None:
        """Refuse to add to a log whose state this command would vouch for wrongly, before it
        writes anything (under the lock):

        * a signed log takes no command without a key;
        * entries after the latest checkpoint that this process did not write (a command
          that crashed, or lines added by hand) are never signed in: ``forensic custody
          repair`` sets them aside;
        * the latest checkpoint must carry a valid signature by a key the log pinned before
          it (the whole key compared, never its id alone);
        * once keys are pinned, only a pinned key signs. The first key to sign a log that
          has none is pinned by this commit (:meth:`_pin_first_key`)."""
        cp = state.checkpoint
        pins = self._pins()
        if self.signer is None:
            if (cp is not None and cp.signature is not None) or pins:
                raise UsageError("this case's custody log is signed: every command that records must "
                                 "be signed too (give --key FILE, or set $FORENSIC_KEY)")
            return
        if cp is not None and cp.signature is not None and cp is not self._vouched:
            # (The checkpoint this command wrote, or checked, last is not checked again: a
            # triage commits a batch at a time.)
            if state.offset > cp.offset and self._own_until != state.offset:
                raise IntegrityError(
                    f"{state.size - cp.tree_size} custody entries after the latest checkpoint were "
                    "written by no command that checkpointed them (a command that crashed, or "
                    "entries added by hand); this command will not sign them",
                    hint="'forensic custody verify' shows them; 'forensic custody repair --key KEY' "
                         "sets them aside and records that")
            try:
                cp.verify_signature()
                key = PublicKey.from_base64(cp.public_key or "")
            except ValueError as exc:
                raise IntegrityError(f"the latest custody checkpoint's signature does not verify: {exc}",
                                     hint=_REPAIR_HINT) from None
            allowed = established(pins, cp.prev_size)
            if allowed and key.raw not in allowed:
                raise IntegrityError(
                    f"the latest custody checkpoint is signed by key {key.id_text}, which this case "
                    "had not pinned: entries added and signed by someone else; this command will not "
                    "sign on top of them", hint="'forensic custody verify' shows what is wrong; keep "
                                                "the case as it is and report it")
            self._vouched = cp
        if pins and not any(p.key.raw == self.signer.public.raw for p in pins):
            raise UsageError(f"key {self.signer.key_id} ({self.signer.name}) is not pinned in this case; "
                             "an examiner whose key is pinned adds it with 'forensic examiner add "
                             "KEY.pub --key THEIR.key'")
        if not pins and self._pending:
            self._pin_first_key(self.signer)

    def _pins(self) -> list[Pin]:
        """The log's pins (read once per command, under the lock; kept up to date with the
        pins this command writes)."""
        if self._pin_cache is None:
            self._pin_cache = scan_pins(self.path)
        return self._pin_cache

    def _pin_first_key(self, signer: Signer) -> None:
        """Buffer the entry that pins ``signer``'s key, the first to sign the log: from
        then on only pinned keys may sign it (forensic.chain_of_custody.pins)."""
        name = signer.name or self.actor or "examiner"
        self._pending.append((self.actor or name, self.builder.pending(
            PIN_ACTION, {"examiner": name}, None, pin_details(name, signer.public), None)))
        self._pinning = (name, signer.public)

    def pending_count(self) -> int:
        return len(self._pending)

    def discard(self) -> int:
        """After an interruption (Ctrl-C, an error) inside :meth:`flush` or :meth:`commit`:
        wait for a batch write still running, drop the buffered entries not yet written
        and forget what this process knew of the log, so that the next ``commit`` takes in
        from the file exactly what reached it. Returns the number of entries dropped
        (written ones stay: a leaf may be repeated later, never lost)."""
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.join()
        dropped = len(self._pending)
        self._pending.clear()
        self._state = None
        return dropped

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "CustodyLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------
    def _open(self) -> int:
        if self._fd is None:
            created = not self.path.exists()
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                if created:
                    _fsync_dir(self.root)
            except OSError as exc:
                if is_disk_full(exc):
                    raise DiskFullError(self.root) from exc
                raise
        return self._fd

    def _fsync(self, fd: int) -> None:
        try:
            os.fsync(fd)
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFullError(self.root) from exc
            raise

    def _cut_back(self, fd: int, size: int, exc: OSError) -> DiskFullError:
        """After a write that did not fit: the file back to ``size`` bytes (where its last
        whole line ends), and the error to raise."""
        error = DiskFullError(self.root)
        try:
            os.ftruncate(fd, size)
        except OSError as failure:
            error.add_note(f"cutting the partly written line off failed too ({failure}): "
                           "'forensic custody repair' moves it aside")
        error.__cause__ = exc
        return error

    @contextmanager
    def _locked(self) -> Iterator[int]:
        fd = self._open()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _resync(self) -> _State:
        """Bring the known state up to what is on disk (other processes may have appended),
        and return it."""
        try:
            cp_bytes = os.stat(self.checkpoints_path).st_size
        except FileNotFoundError:
            cp_bytes = 0
        state = self._state
        if state is None or cp_bytes != state.cp_bytes:
            line, _, torn = read_last_line(self.checkpoints_path)
            if torn:
                raise IntegrityError(f"{CHECKPOINTS_NAME} ends in a torn (incomplete) line",
                                     hint=_REPAIR_HINT)
            try:
                latest = Checkpoint.from_line(line) if line is not None else None
            except ValueError as exc:
                raise IntegrityError(f"the latest custody checkpoint is unreadable: {exc}",
                                     hint=_REPAIR_HINT) from None
            known = state.checkpoint.tree_size if state and state.checkpoint else 0
            latest_size = latest.tree_size if latest else 0
            if state is not None and latest_size < known:
                raise IntegrityError(f"{CHECKPOINTS_NAME} lost checkpoints "
                                     f"(was at tree size {known}, now {latest_size})",
                                     hint=_REPAIR_HINT)
            if state is None or (latest is not None and latest_size > known) \
                    or (latest is not None and state.checkpoint is None):
                if state is None:
                    stored = latest_db_checkpoint(self.db)
                    if stored is not None and stored.tree_size > latest_size:
                        raise IntegrityError(
                            f"the case store holds a checkpoint of {stored.tree_size} entries, "
                            f"but {CHECKPOINTS_NAME} only reaches {latest_size}: checkpoints "
                            "were cut off", hint=_REPAIR_HINT)
                state = _State.from_checkpoint(latest, cp_bytes)
                self._pin_cache = None        # another command's checkpoint: its pins too
                self._check_base(state)
            state.cp_bytes = cp_bytes
            self._state = state
        assert state is not None and self._fd is not None
        log_size = os.fstat(self._fd).st_size
        if log_size < state.offset:
            raise IntegrityError(f"{LOG_NAME} is shorter ({log_size} bytes) than its checkpoint "
                                 f"says ({state.offset} bytes): entries were cut off",
                                 hint=_REPAIR_HINT)
        if log_size > state.offset:
            self._read_new(state, log_size)
            self._pin_cache = None            # another command may have pinned a key
        return state

    def _check_base(self, state: _State) -> None:
        """The line that ends at the checkpoint's offset must be the entry it names."""
        if state.offset == 0:
            return
        with open(self.path, "rb") as f:
            start = max(0, state.offset - (1 << 20))
            f.seek(start)
            chunk = f.read(state.offset - start)
        if not chunk.endswith(b"\n"):
            raise IntegrityError(f"{LOG_NAME} does not end a line where its latest checkpoint "
                                 "says", hint=_REPAIR_HINT)
        line = chunk[:-1].rsplit(b"\n", 1)[-1]
        try:
            h, _ = check_line(line, state.size - 1, None)
        except LineError as exc:
            raise IntegrityError(f"custody entry {state.size - 1} is damaged: {exc}",
                                 hint=_REPAIR_HINT) from None
        if h != state.last_hash:
            raise IntegrityError(f"custody entry {state.size - 1} is not the one the latest "
                                 "checkpoint names", hint=_REPAIR_HINT)

    def _read_new(self, state: _State, log_size: int) -> None:
        """Take in entries other processes (or an interrupted command) appended."""
        with open(self.path, "rb") as f:
            f.seek(state.offset)
            remaining = log_size - state.offset
            carry = b""
            while remaining > 0:
                chunk = f.read(min(remaining, 1 << 22))
                if not chunk:
                    break
                remaining -= len(chunk)
                data = carry + chunk
                cut = data.rfind(b"\n") + 1
                carry = data[cut:]
                for line in data[:cut].split(b"\n")[:-1]:
                    try:
                        h, _ = check_line(line, state.size, state.last_hash)
                    except LineError as exc:
                        raise IntegrityError(f"custody entry {state.size} is damaged: {exc}",
                                             hint=_REPAIR_HINT) from None
                    state.right.append(merkle.leaf_hash(line))
                    state.size += 1
                    state.offset += len(line) + 1
                    state.last_hash = h
            if carry:
                raise IntegrityError(f"{LOG_NAME} ends in a torn (incomplete) entry "
                                     f"after entry {state.size - 1}", hint=_REPAIR_HINT)

    def _write_pending(self) -> None:
        state = self._state
        assert state is not None and self._fd is not None
        pending = self._pending
        builder = self.builder
        signer = self.signer
        key_id = signer.key_id if signer else None
        key_fp = signer.fingerprint if signer else None
        for start in range(0, len(pending), BATCH_SIZE):
            batch = pending[start:start + BATCH_SIZE]
            actors: dict[str, str] = {}
            for actor, _ in batch:
                if actor not in actors:
                    actors[actor] = builder.actor_json(actor, key_id, key_fp)
            lines, last = builder.lines([(actors[a], p) for a, p in batch], state.size,
                                        state.last_hash)
            seq = state.size + len(lines)
            if self._crash is not None:
                self._crash.strike(self._fd, self._written, lines)
            data = b"\n".join([*lines, b""])      # each line ends with \n; one copy of the batch
            # The write (which releases the GIL) runs beside the Merkle hashing of the same
            # lines; the state moves on only once both are done.
            right = state.right
            before = (list(right.pieces), right.end)
            writer = self._writing = _Writer(self._fd, data)
            try:
                right.extend(merkle.leaf_hashes(lines))
            finally:
                try:
                    writer.finish()
                except BaseException as exc:
                    right.pieces, right.end = before
                    if isinstance(exc, OSError) and is_disk_full(exc):
                        # what reached the file of this batch is cut off; the batches
                        # before it are whole and stay, and are no longer pending
                        self._writing = None
                        del pending[:start]
                        raise self._cut_back(self._fd, state.offset, exc) from exc
                    raise
            self._writing = None
            self._written += len(lines)
            state.size = seq
            state.offset += len(data)
            state.last_hash = last
            self._own_until = state.offset
        pending.clear()

    def _write_checkpoint(self, commit_store: bool = False) -> Checkpoint:
        state = self._state
        assert state is not None
        old = state.checkpoint
        old_size = old.tree_size if old else 0
        full = merkle.merge_ranges(state.left, state.right.pieces)
        root = merkle.fold(full).hex()
        index = merkle.PieceIndex(state.left, state.right.pieces)
        proof = merkle.consistency_proof(old_size, state.size, index.node)
        at = self.builder.clock.now()
        signature = public_key = signer_name = None
        if self.signer is not None:
            body = checkpoint_body(self.case_id, state.size, root, at)
            signature = self.signer.sign(body, trusted_comment(self.case_id, state.size, root),
                                         f"forensic custody checkpoint signed by key "
                                         f"{self.signer.key_id}")
            public_key = self.signer.public.base64()
            signer_name = self.signer.name
        cp = Checkpoint(self.case_id, state.size, root, at, state.offset, state.last_hash,
                        old_size, tuple(h.hex() for h in proof),
                        tuple(p[2].hex() for p in full), signature, public_key, signer_name)
        line = cp.line()
        created = not self.checkpoints_path.exists()
        try:
            fd = os.open(self.checkpoints_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFullError(self.root) from exc
            raise
        try:
            size = os.fstat(fd).st_size
            try:
                _write_all(fd, line + b"\n")
            except OSError as exc:
                if is_disk_full(exc):
                    raise self._cut_back(fd, size, exc) from exc
                raise
            self._fsync(fd)
            state.cp_bytes = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.root)
        if self.db is not None:
            try:
                store_custody.add_checkpoint(self.db, cp.tree_size, cp.root, cp.at, line.decode("utf-8"))
                if commit_store:
                    # committed under the flock: a copy that does not fit takes its line
                    # in the checkpoints file with it (below), and both stay as they were
                    store_commit(self.db)
            except Exception as exc:
                if not (store_custody.is_store_error(exc) and is_disk_full(exc, self.root)):
                    raise
                self._state = None            # re-read from the files at the next commit
                error = DiskFullError(self.root)
                try:
                    os.truncate(self.checkpoints_path, size)
                except OSError as failure:
                    error.add_note(f"cutting the checkpoint off {CHECKPOINTS_NAME} failed too "
                                   f"({failure})")
                raise error from exc
        state.checkpoint = cp
        self._vouched = cp                    # signed just now by this command
        state.left = full
        state.right = merkle.CompactRange(state.size)
        return cp

    # -- repair ------------------------------------------------------------------------------
    def repair(self, *, actor: str, reason: str | None = None) -> dict[str, Any]:
        """Move a torn last line of the log (and of the checkpoints file) into quarantine,
        and entries no checkpoint covers in a signed log, or after the crash of the first
        signed command before its checkpoint (:meth:`_crashed_first_pin`); record a
        ``custody.repaired`` entry and checkpoint. Refuses anything else."""
        from forensic.chain_of_custody.verify import verify_log   # verify imports this module
        report = verify_log(self.root, self.db)
        # In a signed log, entries no checkpoint covers fail verification on their own; they
        # are set aside like a torn write (a crash, or lines added by hand).
        unvouched = report.signed_from is not None and report.unchecked_tail > 0 \
            and report.torn_tail is None and len(report.problems) == 1
        # The first signed command that crashed after writing its key's pin, before the
        # checkpoint that signs it: its entries are set aside as well, and the key pinned again.
        pin_crash = self._crashed_first_pin(report)
        if not report.ok and report.torn_tail is None and not unvouched and not pin_crash:
            raise IntegrityError(f"the custody log is damaged, not just torn: {report.problem}",
                                 hint="repair only moves a torn last line, or entries no checkpoint "
                                      "covers, aside; it never rewrites history. Keep the case as "
                                      "it is and report it")
        # Whoever repairs must be able to sign the record of it: checked before anything moves.
        pins = self._pins()
        if (report.signed_from is not None or pins) and self.signer is None:
            raise UsageError("this case's custody log is signed: its repair must be signed too "
                             "(give --key FILE, or set $FORENSIC_KEY)")
        if pins and self.signer is not None and self.signer.public.raw not in {p.key.raw for p in pins}:
            raise UsageError(f"key {self.signer.key_id} ({self.signer.name}) is not pinned in this case: "
                             "its repair must be signed by a pinned key")
        if pin_crash and self.signer is not None and self.signer.public.raw != pins[-1].key.raw:
            # the key of the command that crashed (its pin is the last entry) is pinned again,
            # not one that command's entries only named
            raise UsageError(f"the entries to set aside were written by the first command signed with "
                             f"key {pins[-1].key.id_text} ({pins[-1].name}), which pinned it: the "
                             "repair must be signed by that key")
        moved: list[dict[str, Any]] = []
        with self._locked() as fd:
            for path in (self.checkpoints_path, self.path):
                _, size, torn = read_last_line(path)
                if not torn:
                    continue
                if path == self.path:
                    cp_line, _, _ = read_last_line(self.checkpoints_path)
                    covered = Checkpoint.from_line(cp_line).offset if cp_line else 0
                    if size - len(torn) < covered:
                        raise IntegrityError(
                            f"{LOG_NAME} was cut inside entries a checkpoint covers; that is "
                            "not a torn write and repair will not touch it", hint=_REPAIR_HINT)
                qpath = self._quarantine(f"{path.name}.torn", torn)
                keep = size - len(torn)
                if path == self.path:
                    os.ftruncate(fd, keep)
                    os.fsync(fd)
                else:
                    with open(path, "r+b") as f:
                        f.truncate(keep)
                        os.fsync(f.fileno())
                moved.append({"file": path.name, "offset": keep, "bytes": len(torn),
                              "sha256": hashlib.sha256(torn).hexdigest(),
                              "quarantine": f"{QUARANTINE_DIR}/{qpath.name}"})
            self._state = None
            state = self._resync()    # anything else wrong is not a torn write: refuse
            # Entries after the latest checkpoint of a signed log (found once a torn line
            # after them is gone, too) are set aside in the same repair.
            cp = state.checkpoint
            if cp is not None and cp.signature is not None and state.offset > cp.offset:
                moved.append(self._set_aside_unvouched(fd, cp, state.size - cp.tree_size))
                self._resync()
            elif pin_crash:
                if (cp is not None and cp.signature is not None) or state.size != report.entries:
                    raise IntegrityError("the custody log changed while it was repaired (another "
                                         "command recorded)", hint="run 'forensic custody repair' again")
                moved.append(self._set_aside_unvouched(fd, cp, state.size - (cp.tree_size if cp else 0)))
                self._resync()                # the pin is gone: this repair's commit pins again
        for m in moved:
            default = "torn write after an interrupted command"
            if pin_crash and m.get("entries"):
                default = ("the first signed command's entries and key pin, which no checkpoint "
                           "covered (it crashed before its checkpoint); the key is pinned again")
            elif m.get("entries"):
                default = "entries no checkpoint covered (a crash, or added by hand)"
            self.append("custody.repaired", {"case": self.case_id}, actor=actor,
                        sha256=m["sha256"], details=m, reason=reason or default)
        cp = self.commit()
        return {"repaired": moved, "checkpoint": cp.tree_size if cp else 0}


    def _quarantine(self, name: str, data: bytes) -> Path:
        """Keep ``data`` as a new file of ``custody.quarantine/``, on disk before anything
        is cut from the log."""
        qdir = self.root / QUARANTINE_DIR
        qdir.mkdir(exist_ok=True)
        qpath = qdir / f"{self.builder.clock.now().replace(':', '')}-{name}"
        with open(qpath, "xb") as q:
            q.write(data)
            q.flush()
            os.fsync(q.fileno())
        _fsync_dir(qdir)
        return qpath

    def _crashed_first_pin(self, report: VerifyReport) -> bool:
        """Whether ``report`` (of :func:`verify_log`) shows the log a crash of the first signed
        command leaves between its two writes: its entries, ending with the pin of its key
        (:meth:`_pin_first_key` buffers the pin last), are in the log and the checkpoint that
        would sign them is not. It is told from a signed log whose signed checkpoints were
        removed (which repair must refuse) by what the crash cannot leave:

        * no checkpoint is signed, and verify finds nothing else wrong;
        * every pin is after the latest checkpoint, and the log's last entry is a pin;
        * the case store holds no pin: a command stores its pin in the transaction that
          stores its checkpoint's copy, so a pin that reached the store was checkpointed
          (removing checkpoints from the files and the store leaves that behind).

        The repair itself must be signed by the key pinned there (checked by :meth:`repair`)."""
        from forensic.chain_of_custody.verify import UNSIGNED_PIN
        if report.ok or report.torn_tail is not None or report.signed_from is not None \
                or len(report.problems) != 1 or UNSIGNED_PIN not in report.problems[0]:
            return False
        pins = scan_pins(self.path)
        if not pins or pins[0].seq < report.tree_size or pins[-1].seq != report.entries - 1:
            return False
        return self.db is not None and not store_custody.pins(self.db)

    def _set_aside_unvouched(self, fd: int, cp: Checkpoint | None, entries: int) -> dict[str, Any]:
        """Move the entries after ``cp``, the latest checkpoint (as :meth:`_resync` just read
        it from the checkpoints file; None: all of them), into quarantine (under the lock)."""
        offset, first = (cp.offset, cp.tree_size) if cp is not None else (0, 0)
        size = os.fstat(fd).st_size
        with open(self.path, "rb") as f:
            f.seek(offset)
            tail = f.read(size - offset)
        qpath = self._quarantine(f"{LOG_NAME}.unvouched", tail)
        os.ftruncate(fd, offset)
        os.fsync(fd)
        self._state = None
        return {"file": LOG_NAME, "offset": offset, "bytes": len(tail),
                "sha256": hashlib.sha256(tail).hexdigest(), "entries": entries,
                "first_seq": first, "last_seq": first + entries - 1,
                "quarantine": f"{QUARANTINE_DIR}/{qpath.name}"}


def iter_lines(path: Path, start: int = 0) -> Iterator[bytes]:
    """Complete lines of a log file (without newlines); a torn tail is not yielded."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        carry = b""
        f.seek(start)
        while True:
            chunk = f.read(1 << 22)
            if not chunk:
                return
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            carry = data[cut:]
            yield from data[:cut].split(b"\n")[:-1]
