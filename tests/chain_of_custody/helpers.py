"""Builds real custody logs for the tests (no mocks: the real writer, files and case store)."""
from __future__ import annotations

import shutil
from pathlib import Path

from forensic.chain_of_custody.log import CHECKPOINTS_NAME, LOG_NAME, CustodyLog
from forensic.chain_of_custody.signing import Signer
from forensic.case import Case

import casestore


def build_case(root: Path, batches: tuple[int, ...] = (1, 5, 3, 9, 2), signer: Signer | None = None
               ) -> Case:
    """A case whose log was written by len(batches) commands (one checkpoint each)."""
    case = Case.init(root, "CASE-1", "Examiner Name")
    for b, count in enumerate(batches):
        log = CustodyLog(case.root, case.db, "CASE-1", signer=signer, actor="Examiner Name")
        with log:
            if b == 0:
                log.append("case.created", {"case": "CASE-1"}, actor="Examiner Name")
                count -= 1
            log.extend({"action": "file.recorded",
                        "subject": {"item": "E1", "locator": f"E1/p1/fs/dir/é file {b}-{i}.jpg"},
                        "sha256": f"{b:02x}{i:062x}"} for i in range(count))
            log.commit()
    return case


def copy_case(src: Path, dst: Path, log_bytes: bytes | None = None) -> Path:
    dst.mkdir(parents=True)
    if (src / CHECKPOINTS_NAME).exists():
        shutil.copy2(src / CHECKPOINTS_NAME, dst / CHECKPOINTS_NAME)
    casestore.copy_store(src, dst)
    (dst / LOG_NAME).write_bytes((src / LOG_NAME).read_bytes() if log_bytes is None else log_bytes)
    return dst
