"""Recording actions from the commands that do them.

Every command that acts on a case records what it did here, automatically: the case's
creation, evidence received and verified, triage started and finished with one leaf per
file and per artifact, exports, transfers. Each command ends with a checkpoint (signed
when the examiner gave a key).
"""
from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from forensic.chain_of_custody.log import Checkpoint, CustodyLog
from forensic.chain_of_custody.signing import Signer, signer_from_env
from forensic.case import Case


def open_log(case: Case, key_path: Path | None = None, passphrase_file: Path | None = None,
             examiner: str | None = None) -> CustodyLog:
    signer: Signer | None = signer_from_env(key_path, passphrase_file)
    actor = examiner or (signer.name if signer and signer.name else None) or case.examiner
    return CustodyLog(case.root, case.db, case.case_id, signer=signer, actor=actor)


def record(case: Case, action: str, subject: dict | str, *, sha256: str | None = None,
           details: dict | None = None, reason: str | None = None, key_path: Path | None = None,
           passphrase_file: Path | None = None, examiner: str | None = None) -> Checkpoint | None:
    """Append one entry and checkpoint (one command, one action)."""
    with open_log(case, key_path, passphrase_file, examiner) as log:
        log.append(action, subject, actor=log.actor, sha256=sha256, details=_clean(details), reason=reason)
        return log.commit()


class TriageRecorder:
    """Called with each stored batch: one ``file.recorded`` leaf per entry and one
    ``artifact.recorded`` leaf per artifact, written before the batch is committed to the
    case store (so a crash can repeat a leaf, never lose one)."""

    def __init__(self, log: CustodyLog, item: str) -> None:
        self.log = log
        self.item = item

    def __call__(self, leaves: list[dict]) -> None:
        item = self.item
        entries = []
        for leaf in leaves:
            if leaf["kind"] == "file":
                entries.append({"action": "file.recorded",
                                "subject": {"item": item, "locator": leaf["locator"]},
                                "sha256": leaf["sha256"],
                                "details": {"deleted": leaf["deleted"], "file_id": leaf["file_id"]}})
            else:
                entries.append({"action": "artifact.recorded",
                                "subject": {"item": item, "locator": leaf["locator"],
                                            "record_type": leaf["record_type"]},
                                "sha256": leaf["sha256"],
                                "details": {"artifact_id": leaf["artifact_id"],
                                            "record_sha256": leaf.get("record_sha256")}})
        self.log.extend(entries)
        self.log.flush()

    def finish(self, stats) -> None:
        self.log.append("triage.finished", {"item": self.item}, actor=self.log.actor,
                        details=_clean(stats.to_json()))


@contextmanager
def triage_session(case: Case, item: str, options: dict, key_path: Path | None = None,
                   passphrase_file: Path | None = None) -> Iterator[TriageRecorder]:
    log = open_log(case, key_path, passphrase_file)
    try:
        row = case.item(item)
        log.append("triage.started", {"item": item}, actor=log.actor, sha256=row["sha256"],
                   details=_clean(options))
        log.flush()
        yield TriageRecorder(log, item)
        log.commit()
    finally:
        log.close()


def record_sha256(fields_json: str) -> str:
    return hashlib.sha256(fields_json.encode("utf-8")).hexdigest()


def _clean(obj):
    """Custody entries carry no floats (canonical JSON): floats become decimal strings."""
    if isinstance(obj, float):
        return repr(obj)
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj
