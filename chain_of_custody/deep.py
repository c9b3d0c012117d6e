"""``custody verify --deep``: what the case store holds, checked against what the log says.

The chain, the Merkle roots and the signatures prove the log was not changed. They say
nothing of the case store: a record edited in ``case.db`` after it was logged, or an
evidence file changed on disk, passes them. This check reads the log in order and keeps,
per stored row, the last hash the log gave it:

* ``file.recorded``: the file's item, locator, content SHA-256 and whether it was deleted,
  and ``row_sha256``: every column of its stored row (names, times, type...), by
  ``details.file_id``;
* ``artifact.recorded``, then any ``artifact.linked`` (a record completed at the end of its
  triage): the record's item, type, the locator of the file it came from, the SHA-256 of its
  stored fields, and ``times_sha256``: its rows in the timestamps table, by
  ``details.artifact_id``;
* ``evidence.received``: the evidence item's SHA-256, which the store's item row must hold
  (an item stored without this entry is ``evidence not logged``), and which the evidence
  still has when asked (``evidence=True``: it is read again);
* ``triage.started`` with ``force`` (the item's earlier results were removed first):
  what the log said of that item's files and records before no longer applies.

Then every stored file and record is re-hashed and compared. Each difference is reported
with the ``seq`` of the entry it contradicts:

* ``changed``: the store's hash differs from the logged one;
* ``not logged``: a stored row no entry vouches for (added outside a logged triage);
* ``missing``: a logged row the store no longer holds. After an interrupted triage the log
  may hold leaves of a batch the store rolled back (leaves are written before the store
  commits: a crash repeats a leaf, never loses one). Their ids are given again to the next
  rows stored, whose leaves then replace them; those never given again lie above every id
  in the store. So a missing row logged by a triage run that did not finish (killed or
  interrupted: no ``triage.finished`` for its start) is a ``note`` when its id is above the
  store's highest, and a failure otherwise.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from forensic.chain_of_custody.log import LOG_NAME, iter_lines
from forensic.case import Case
from forensic.store import artifacts as store_artifacts, chats as store_chats, items as store_items
from forensic.store.records import Item

MAX_LISTED = 1000        # mismatches listed in full (all are counted)


@dataclass
class DeepReport:
    files_checked: int = 0
    records_checked: int = 0
    evidence_checked: int = 0
    mismatches: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.counts

    def add(self, kind: str, what: str, **info: Any) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if len(self.mismatches) < MAX_LISTED:
            self.mismatches.append({"problem": kind, "what": what, **info})

    def to_dict(self) -> dict:
        return {"ok": self.ok, "files_checked": self.files_checked, "records_checked": self.records_checked,
                "evidence_checked": self.evidence_checked, "problems": dict(sorted(self.counts.items())),
                "mismatches": self.mismatches, "notes": self.notes}


@dataclass
class _Logged:
    seq: int
    item: str | None
    sha256: str | None
    locator: str | None
    what: Any = None          # a file's ``deleted``, a record's type: also stated by the entry
    rows: tuple = ()          # row_sha256 (and a record's times_sha256), in leaves since store v2
    session: int | None = None   # seq of the triage.started/resumed entry whose run logged it


def deep_verify(case: Case, evidence: bool = False,
                hash_evidence: Callable[[Item], str] | None = None) -> DeepReport:
    """Check ``case``'s store (and with ``evidence``, its evidence items, hashed by
    ``hash_evidence(item) -> sha256``) against its custody log. Run after the log itself
    verified: this trusts the log's content."""
    report = DeepReport()
    files: dict[int, _Logged] = {}
    records: dict[int, _Logged] = {}
    received: dict[str, _Logged] = {}
    session: dict[str, int] = {}        # item -> seq of the start of its current triage run
    finished: set[int] = set()          # runs (by the seq of their start) that finished
    for line in iter_lines(Path(case.root) / LOG_NAME):
        try:
            e = json.loads(line)
        except (ValueError, RecursionError):
            continue                           # the log's own verification reports it
        if not isinstance(e, dict) or not _is_id(e.get("seq")):
            continue
        action, seq = e.get("action"), int(e["seq"])
        raw_subject, raw_details = e.get("subject"), e.get("details")
        subject: dict = raw_subject if isinstance(raw_subject, dict) else {}
        details: dict = raw_details if isinstance(raw_details, dict) else {}
        item = subject.get("item")
        if action == "file.recorded" and _is_id(details.get("file_id")):
            files[details["file_id"]] = _Logged(seq, item, e.get("sha256"), subject.get("locator"),
                                                details.get("deleted"), (details.get("row_sha256"),),
                                                session.get(item) if isinstance(item, str) else None)
        elif action in ("artifact.recorded", "artifact.linked") and _is_id(details.get("artifact_id")):
            before = records.get(details["artifact_id"])
            rows = (details.get("row_sha256"), details.get("times_sha256")) if action == "artifact.recorded" \
                else (before.rows if before is not None else ())   # a link changes the fields only
            records[details["artifact_id"]] = _Logged(seq, item, details.get("record_sha256"),
                                                      subject.get("locator"), subject.get("record_type"), rows,
                                                      session.get(item) if isinstance(item, str) else None)
        elif action == "evidence.received" and isinstance(item, str):
            received[item] = _Logged(seq, item, e.get("sha256"), None)
        elif action in ("triage.started", "triage.resumed") and isinstance(item, str):
            session[item] = seq
            if details.get("force") is True:    # the item's earlier results were removed
                for table in (files, records):
                    for key in [k for k, v in table.items() if v.item == item]:
                        del table[key]
        elif action == "triage.finished" and isinstance(item, str) and item in session:
            finished.add(session[item])

    top = {"file": 0, "record": 0}
    for file_id, item, locator, sha256, deleted, row_sha256 in store_artifacts.file_hashes(case.db):
        report.files_checked += 1
        top["file"] = max(top["file"], file_id)
        logged = files.pop(file_id, None)
        if logged is None:
            report.add("file not logged", f"file {file_id} of item {item}", file_id=file_id, item=item,
                       locator=locator, stored_sha256=sha256)
        elif (logged.sha256, logged.locator, logged.item, logged.what) != (sha256, locator, item, deleted) \
                or not _same(logged.rows, (row_sha256,)):
            report.add("file changed", f"file {file_id} ({locator}) of item {item}", seq=logged.seq,
                       file_id=file_id, item=item, locator=locator, logged_sha256=logged.sha256,
                       stored_sha256=sha256)
    for artifact_id, item, record_type, file_locator, sha256, row_sha256, times in \
            store_artifacts.record_hashes(case.db):
        report.records_checked += 1
        top["record"] = max(top["record"], artifact_id)
        logged = records.pop(artifact_id, None)
        if logged is None:
            report.add("record not logged", f"record {artifact_id} of item {item}", artifact_id=artifact_id,
                       item=item, stored_sha256=sha256)
        elif (logged.sha256, logged.item, logged.what, logged.locator) != (sha256, item, record_type, file_locator) \
                or not _same(logged.rows, (row_sha256, times)):
            report.add("record changed", f"record {artifact_id} of item {item}", seq=logged.seq,
                       artifact_id=artifact_id, item=item, locator=logged.locator,
                       logged_sha256=logged.sha256, stored_sha256=sha256)
    _missing(report, "file", files, finished, top["file"])
    _missing(report, "record", records, finished, top["record"])
    for problem in store_chats.index_problems(case.db):
        report.add("search index changed", problem)

    for row in store_items.all_items(case.db):
        # every item the store holds was received by a logged command, with the hash it holds
        # (on PostgreSQL every examiner may write the items table; a command refused after
        # storing its item must not leave it unlogged)
        logged = received.get(row.item)
        if logged is None:
            report.add("evidence not logged", f"evidence item {row.item}", item=row.item)
        elif logged.sha256 != row.sha256:
            report.add("item changed", f"evidence item {row.item}: the store's hash", seq=logged.seq,
                       item=row.item, stored_sha256=row.sha256, logged_sha256=logged.sha256)
    if evidence:
        for row in store_items.all_items(case.db):
            logged = received.get(row.item)
            report.evidence_checked += 1
            try:
                now = hash_evidence(row) if hash_evidence is not None else None
            except (OSError, ValueError) as exc:
                report.add("evidence unreadable", f"evidence item {row.item}", item=row.item,
                           source=str(row.source), error=str(exc))
                continue
            if logged is not None and now != logged.sha256:
                report.add("evidence changed", f"evidence item {row.item} ({row.source})", seq=logged.seq,
                           item=row.item, logged_sha256=logged.sha256, current_sha256=now)
    return report


def _is_id(value: object) -> bool:
    """A row id as a leaf states it (JSON true is no id, though Python counts it an int)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _same(logged: tuple, stored: tuple) -> bool:
    """The hashes a leaf states (None: an older leaf did not state it) agree with the store's."""
    return all(want is None or want == have for want, have in zip(logged, stored, strict=False))


def _missing(report: DeepReport, kind: str, left: dict[int, _Logged], finished: set[int],
             highest: int) -> None:
    noted: dict[str | None, int] = {}
    for key, logged in left.items():
        if logged.session not in finished and key > highest:
            noted[logged.item] = noted.get(logged.item, 0) + 1
        else:
            report.add(f"{kind} missing", f"{kind} {key} of item {logged.item}", seq=logged.seq,
                       item=logged.item, locator=logged.locator, logged_sha256=logged.sha256,
                       **{f"{'file' if kind == 'file' else 'artifact'}_id": key})
    for item, n in sorted(noted.items(), key=lambda kv: str(kv[0])):
        report.notes.append(f"{n} {kind}(s) of item {item} logged by a triage that was interrupted are "
                            "not in the store (their batch was rolled back; the next run stored them again)")
