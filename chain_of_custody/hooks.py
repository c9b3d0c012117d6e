"""Recording actions from the commands that do them.

Every command that acts on a case records what it did here, automatically: the case's
creation, evidence received and verified, triage started and finished with one leaf per
file and per artifact, exports, transfers. Each command ends with a checkpoint (signed
when the examiner gave a key).

A triage is recorded as a session: ``triage.started`` -- or ``triage.resumed`` when the
item's previous triage did not finish -- then the leaves, then ``triage.finished``. The
start is recorded with the first batch the case store keeps (or before ``--force`` clears
earlier results), so a triage that fails before it changes the case records nothing. One
that stops after that (an error, Ctrl-C, SIGTERM) records ``triage.interrupted``: why, and
how far it got, then the usual checkpoint.
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Protocol

from forensic.chain_of_custody.log import CHECKPOINTS_NAME, LOG_NAME, Checkpoint, CustodyLog, read_last_line
from forensic.chain_of_custody.pins import (PIN_ACTION, pin_details, pinned_in_store, scan_pins,
                                            signing_problem, store_pin)
from forensic.chain_of_custody.signing import PublicKey, Signer, signer_from_env
from forensic.case import Case
from forensic.store import schema, triage as store_triage
from forensic.store.db import dialect
from forensic.store.records import Item
from forensic.errors import UsageError

# Fault injection for tests (tests/cli/test_interrupted.py): after the first batch of a
# triage is recorded, "raise" fails with an error; "hold:PATH" creates PATH and waits until
# it is removed (or a signal ends the command), so a test can signal a triage mid-run
# without guessing at timing; "pause:PATH" does the same once the first batch is committed
# to the store (holding no lock: another command may store meanwhile). "kill:N": the process
# SIGKILLs itself once the N-th batch's leaves are in the custody log, before that batch is
# committed to the case store (a crash at the worst moment, every time).
FAULT_ENV = "FORENSIC_TEST_TRIAGE_FAULT"

_TRIAGE = b'{"action":"triage.'
_LEAVES = (b'{"action":"file.recorded"', b'{"action":"artifact.recorded"')


def open_log(case: Case, key_path: Path | None = None, passphrase_file: Path | None = None,
             examiner: str | None = None) -> CustodyLog:
    signer: Signer | None = signer_from_env(key_path, passphrase_file)
    actor = examiner or (signer.name if signer and signer.name else None) or case.examiner
    return CustodyLog(case.root, case.db, case.case_id, signer=signer, actor=actor)


def latest_checkpoint(case_root: Path) -> Checkpoint | None:
    """The last checkpoint of the file, or None (none yet, or unreadable: the log's own
    checks report that)."""
    line, _, _ = read_last_line(Path(case_root) / CHECKPOINTS_NAME)
    try:
        return Checkpoint.from_line(line) if line else None
    except ValueError:
        return None


def may_record(case: Case, signer: Signer | None) -> None:
    """Refuse, before a command does its work, to record into a signed log without a key, or
    with a key that is not pinned in the case (:mod:`forensic.chain_of_custody.pins`)."""
    latest = latest_checkpoint(case.root)
    pinned = pinned_in_store(case.db)
    if signer is not None and signer.public.raw in pinned and dialect(case.db) == "postgresql":
        # on PostgreSQL every examiner may add to the store's copy of the pins (each command
        # pins there): a key is taken as pinned only when the log pins it too, so a command
        # the log would refuse at recording is refused before it stores anything
        in_log = {pin.key.raw for pin in scan_pins(Path(case.root) / LOG_NAME)}
        pinned = {raw: name for raw, name in pinned.items() if raw in in_log}
    problem = signing_problem(bool(latest and latest.signature), signer, pinned)
    if problem:
        raise UsageError(problem)


def preflight(case: Case, key_path: Path | None, passphrase_file: Path | None) -> None:
    """:func:`may_record` for a command given ``--key``/``--passphrase-file`` (or neither)."""
    may_record(case, signer_from_env(key_path, passphrase_file))


def record_pending(case: Case, key_path: Path | None = None, passphrase_file: Path | None = None) -> bool:
    """Record ``case.migrated`` for a store an older version wrote and this one migrated, when
    this command may record: an unsigned log, or a pinned key (a signed log opened without a
    key leaves it for the next command that has one). Its details come from this code's own
    steps, never from the store (:func:`forensic.store.schema.migration_to_record`). The
    store's lock is taken first, then the log's (the documented order); the migration is
    re-read under it and marked recorded in the transaction that keeps the checkpoint's copy,
    so two commands at once record it once."""
    if schema.migration_to_record(case.db) is None:
        return False
    signer = signer_from_env(key_path, passphrase_file)
    latest = latest_checkpoint(case.root)
    if signing_problem(bool(latest and latest.signature), signer, pinned_in_store(case.db)):
        return False
    actor = (signer.name if signer and signer.name else None) or case.examiner
    with CustodyLog(case.root, case.db, case.case_id, signer=signer, actor=actor) as log, \
            case.transaction() as db:
        details = schema.migration_to_record(db)
        if details is None:                  # another command recorded it meanwhile
            return False
        log.append("case.migrated", {"case": case.case_id}, actor=actor, details=_clean(details))
        log.commit()
        schema.forget_migration(db)
    return True


def pin_key(log: CustodyLog, name: str, key: PublicKey) -> None:
    """Buffer the entry that pins ``key`` for ``name`` (written with the log's next commit;
    call :func:`pinned` after that commit)."""
    log.append(PIN_ACTION, {"examiner": name}, actor=log.actor, details=pin_details(name, key))


def pinned(case: Case, name: str, key: PublicKey) -> None:
    """Keep the case store's copy of a pin the log has committed."""
    with case.transaction() as db:
        store_pin(db, name, key)


def record(case: Case, action: str, subject: dict | str, *, sha256: str | None = None,
           details: dict | None = None, reason: str | None = None, key_path: Path | None = None,
           passphrase_file: Path | None = None, examiner: str | None = None) -> Checkpoint | None:
    """Append one entry and checkpoint (one command, one action)."""
    with open_log(case, key_path, passphrase_file, examiner) as log:
        log.append(action, subject, actor=log.actor, sha256=sha256, details=_clean(details), reason=reason)
        return log.commit()


class _Summary(Protocol):
    """What a triage reports when it ends (forensic.pipeline.TriageStats)."""

    def to_json(self) -> dict: ...


class TriageRecorder:
    """Called with each stored batch: one ``file.recorded`` leaf per entry and one
    ``artifact.recorded`` leaf per artifact, written before the batch is committed to the
    case store (so a crash can repeat a leaf, never lose one). The session's start entry
    goes out with the first batch (see the module doc)."""

    def __init__(self, log: CustodyLog, item: str, sha256: str | None, options: dict,
                 previous: dict | None = None) -> None:
        self.log = log
        self.item = item
        self.sha256 = sha256
        self.options = options
        self.previous = previous
        self.began_at = log.builder.clock.now()
        self.started = False
        self.batches = 0

    def start(self) -> None:
        """Buffer the session's start entry, once: ``triage.resumed`` (naming the entry of
        the run it continues) after an unfinished run, else ``triage.started``."""
        if self.started:
            return
        details: dict[str, Any] = {**self.options, "began_at": self.began_at}
        action = "triage.started"
        prev = self.previous
        if prev is not None:
            action = "triage.resumed"
            details["resumes"] = {"seq": prev.get("seq"), "action": prev.get("action"),
                                  "at": prev.get("at")}
        self.log.append(action, {"item": self.item}, actor=self.log.actor, sha256=self.sha256,
                        details=_clean(details))
        self.started = True

    def __call__(self, leaves: list[dict]) -> None:
        self.start()
        item = self.item
        entries = []
        for leaf in leaves:
            if leaf["kind"] == "file":
                entries.append({"action": "file.recorded",
                                "subject": {"item": item, "locator": leaf["locator"]},
                                "sha256": leaf["sha256"],
                                "details": {"deleted": leaf["deleted"], "file_id": leaf["file_id"],
                                            "row_sha256": leaf["row_sha256"]}})
            elif leaf["kind"] == "link":          # a stored record completed: its new hash
                entries.append({"action": "artifact.linked",
                                "subject": {"item": item, "locator": leaf["locator"],
                                            "record_type": leaf["record_type"]},
                                "sha256": leaf["sha256"],
                                "details": {"artifact_id": leaf["artifact_id"],
                                            "reason": leaf["reason"],
                                            "record_sha256": leaf["record_sha256"]}})
            else:
                entries.append({"action": "artifact.recorded",
                                "subject": {"item": item, "locator": leaf["locator"],
                                            "record_type": leaf["record_type"]},
                                "sha256": leaf["sha256"],
                                "details": {"artifact_id": leaf["artifact_id"],
                                            "record_sha256": leaf.get("record_sha256"),
                                            "row_sha256": leaf["row_sha256"],
                                            "times_sha256": leaf["times_sha256"]}})
        self.log.extend(entries)
        self.log.flush()
        self.batches += 1
        if os.environ.get(FAULT_ENV):
            _injected_fault(os.environ[FAULT_ENV], self.batches)

    def committed(self) -> None:
        """After a batch is committed to the case store (no lock held): the ``pause:PATH``
        fault, at the first batch."""
        spec = os.environ.get(FAULT_ENV, "")
        if spec.startswith("pause:") and self.batches == 1:
            _hold(Path(spec[len("pause:"):]))

    def piece(self, details: dict) -> None:
        """``triage.piece``: a piece of the item read on a cluster (forensic.cluster), and the
        worker (host, address, process) that read it, once its entries are handed to storing."""
        self.start()
        self.log.append("triage.piece", {"item": self.item}, actor=self.log.actor, details=_clean(details))

    def finish(self, stats: _Summary) -> None:
        self.start()
        self.log.append("triage.finished", {"item": self.item}, actor=self.log.actor,
                        details=_clean(stats.to_json()))


@contextmanager
def triage_session(case: Case, item: str, options: dict, key_path: Path | None = None,
                   passphrase_file: Path | None = None, *, previous: dict | None = None,
                   eager: bool = False) -> Iterator[TriageRecorder]:
    """One item's triage in the custody log. ``previous``: the item's unfinished session
    (:func:`unfinished_triages`), which this one resumes. ``eager``: record the start now
    (the run changes the case before it stores anything, e.g. ``--force`` clearing)."""
    log = open_log(case, key_path, passphrase_file)
    try:
        row = case.item(item)
        log_size = _size(log.path)
        recorder = TriageRecorder(log, item, row.sha256, options, previous)
        if eager:
            recorder.start()
            log.flush()
        try:
            yield recorder
        except BaseException as exc:
            with _signals_held(reraise=False):
                try:
                    _record_end(case, log, recorder, row, log_size, exc)
                except Exception as failure:      # never hide why the triage stopped
                    exc.add_note(f"the interruption could not be recorded in the custody log: "
                                 f"{failure}")
            raise
        with _signals_held(reraise=True):         # a checkpoint is never cut in half
            log.commit()
    finally:
        log.close()


def _record_end(case: Case, log: CustodyLog, rec: TriageRecorder, before: Item, log_size: int,
                exc: BaseException) -> None:
    """After ``exc`` stopped a triage: what reached the log decides what is recorded.
    Nothing, when the session's start never reached it (the case is as it was); else
    ``triage.finished`` when the case store holds the completed triage (the stop came
    after it), else ``triage.interrupted``."""
    log.discard()
    progress = _session_progress(log.path, log_size, rec.item)
    if not progress["started"]:
        return
    now = case.item(rec.item)
    if now.triaged_at is not None and now.triaged_at != before.triaged_at:
        log.append("triage.finished", {"item": rec.item}, actor=log.actor,
                   details=_clean(now.triage_summary or {}))
    else:
        stored = store_triage.count_files(case.db, rec.item)
        signame = getattr(exc, "signal_name", "SIGINT") if isinstance(exc, KeyboardInterrupt) else None
        error = None if signame else f"{type(exc).__name__}: {exc}"[:500]
        reason = (f"interrupted by {'Ctrl-C (SIGINT)' if signame == 'SIGINT' else signame}" if signame
                  else f"stopped by an error: {error}")
        log.append("triage.interrupted", {"item": rec.item}, actor=log.actor, reason=reason,
                   details=_clean({"signal": signame, "error": error, "began_at": rec.began_at,
                                   "files_recorded": progress["files"],
                                   "artifacts_recorded": progress["artifacts"],
                                   "last_locator": progress["last_locator"],
                                   "files_stored": stored}))
    log.commit()


def _session_progress(path: Path, start: int, item: str) -> dict:
    """What this session wrote to the log from byte ``start`` on: whether its start entry,
    and how many file and artifact leaves of ``item``."""
    mark = b'"subject":{"item":' + json.dumps(item).encode()
    out: dict[str, Any] = {"started": False, "files": 0, "artifacts": 0, "last_locator": None}
    last = None
    for line in _lines(path, start):
        if mark not in line:
            continue
        if line.startswith(_LEAVES[0]):
            out["files"] += 1
            last = line
        elif line.startswith(_LEAVES[1]):
            out["artifacts"] += 1
        elif line.startswith(_TRIAGE):
            out["started"] = True
    if last is not None:
        try:
            out["last_locator"] = json.loads(last)["subject"]["locator"]
        except (ValueError, KeyError, TypeError):
            pass
    return out


def unfinished_triages(case: Case) -> dict[str, dict]:
    """item -> the entry that ends its last triage session, for the items whose last session
    did not finish (``triage.interrupted``, or a start with no end: the process was killed).
    One pass over the log for every item: only lines that begin with a triage action are
    parsed (entries are canonical JSON: ``action`` comes first)."""
    last: dict[str, dict] = {}
    for line in _lines(case.root / LOG_NAME, 0, prefix=_TRIAGE):
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            continue
        subject = entry.get("subject") if isinstance(entry, dict) else None
        if isinstance(subject, dict) and isinstance(subject.get("item"), str):
            last[subject["item"]] = entry
    return {item: e for item, e in last.items() if e.get("action") != "triage.finished"}


def _lines(path: Path, start: int, prefix: bytes | None = None) -> Iterator[bytes]:
    """Complete lines of ``path`` from byte ``start``; with ``prefix``, only those that begin
    with it (found by a bytes search, without splitting every line)."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        f.seek(start)
        carry = b""
        while chunk := f.read(1 << 22):
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            carry = data[cut:]
            if prefix is None:
                yield from data[:cut].split(b"\n")[:-1]
                continue
            block = b"\n" + data[:cut]
            needle = b"\n" + prefix
            pos = block.find(needle)
            while pos >= 0:
                end = block.find(b"\n", pos + 1)
                yield block[pos + 1:end]
                pos = block.find(needle, end)


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


@contextmanager
def _signals_held(reraise: bool) -> Iterator[None]:
    """SIGINT and SIGTERM wait while the block writes to the log; with ``reraise``, one
    that came is delivered after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []

    def hold(signum: int, frame: object) -> None:
        got.append(signum)
    old = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
    if got and reraise:
        signal.raise_signal(got[0])


def _injected_fault(spec: str, batches: int) -> None:
    """The fault FAULT_ENV asks for, called after each recorded batch (``batches`` so far)."""
    if spec.startswith("kill:"):
        if batches == int(spec[len("kill:"):]):
            os.kill(os.getpid(), signal.SIGKILL)
        return
    if batches != 1:
        return
    if spec == "raise":
        raise RuntimeError(f"fault injected after the first batch ({FAULT_ENV})")
    if spec.startswith("hold:"):
        _hold(Path(spec[len("hold:"):]))


def _hold(path: Path) -> None:
    """Create ``path`` and wait until it is removed (or ten minutes pass)."""
    path.touch()
    deadline = time.monotonic() + 600
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def _clean(obj: Any) -> Any:
    """Custody entries carry no floats (canonical JSON): floats become decimal strings."""
    if isinstance(obj, float):
        return repr(obj)
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj
