"""Several writers at once, and writers killed mid-write (real processes, real files)."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from forensic.chain_of_custody.log import LOG_NAME, CustodyLog
from forensic.chain_of_custody.verify import verify_log
from forensic.case import Case

REPO = Path(__file__).resolve().parents[2]

WRITER = r"""
import sys
from pathlib import Path
from forensic.chain_of_custody.log import CustodyLog
from forensic.case import Case
root, who, count, batch = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
case = Case.open(root)
log = CustodyLog(root, case.db, "CASE-1", actor=who)
done = 0
while done < count:
    n = min(batch, count - done)
    log.extend({"action": "file.recorded", "subject": {"item": who, "locator": f"{who}/{done + i}"},
                "sha256": f"{done + i:064x}"} for i in range(n))
    log.commit()
    done += n
print("done", flush=True)
"""


def spawn(root: Path, who: str, count: int, batch: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-c", WRITER, str(root), who, str(count), str(batch)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_two_processes_append_5000_each(tmp_path):
    case = Case.init(tmp_path / "case", "CASE-1", "Examiner Name")
    procs = [spawn(case.root, who, 5000, 250) for who in ("alice", "bob")]
    for p in procs:
        out, errs = p.communicate(timeout=120)
        assert p.returncode == 0, errs.decode()
    report = verify_log(case.root, case.db, case_id="CASE-1")
    assert report.ok, report.problems
    assert report.entries == 10_000 and report.tree_size == 10_000
    assert report.checkpoints == 40
    text = (case.root / LOG_NAME).read_text()
    assert text.count('"item":"alice"') == 5000 and text.count('"item":"bob"') == 5000
    case.close()


def test_sigkill_leaves_at_most_a_torn_tail_and_repair_restores(tmp_path):
    rnd = random.Random(1234)
    case = Case.init(tmp_path / "case", "CASE-1", "Examiner Name")
    case.close()
    seen_torn = 0
    for round_ in range(5):
        p = spawn(tmp_path / "case", f"w{round_}", 40_000, 4_000)
        time.sleep(rnd.uniform(0.2, 0.9))
        p.send_signal(signal.SIGKILL)
        p.wait()
        case = Case.open(tmp_path / "case")
        report = verify_log(case.root, case.db)
        if not report.ok:
            # the only damage a crash may leave: one torn trailing line, nothing else
            assert report.torn_tail is not None, report.problems
            assert len(report.problems) == 1, report.problems
            assert report.first_bad_seq == report.entries or report.torn_tail != LOG_NAME
            seen_torn += 1
        before = report.entries
        log = CustodyLog(case.root, case.db, "CASE-1", actor="Examiner Name")
        result = log.repair(actor="Examiner Name")
        log.close()
        after = verify_log(case.root, case.db)
        assert after.ok, after.problems
        if result["repaired"]:
            assert after.entries == before + len(result["repaired"])
            tail = (case.root / LOG_NAME).read_bytes().split(b"\n")[-2]
            assert b'"action":"custody.repaired"' in tail
            for moved in result["repaired"]:
                assert (case.root / moved["quarantine"]).exists()
        case.close()
    assert seen_torn >= 0     # timing decides how many rounds tore a line; each was handled


def test_a_failed_batch_write_leaves_the_log_as_it_was(tmp_path, monkeypatch):
    """A write that fails (disk full) is raised as DiskFullError; the log's Merkle state is
    put back, so the next command appends and checkpoints a log that verifies."""
    import pytest

    from forensic.chain_of_custody import log as log_mod
    from forensic.errors import DiskFullError
    case = Case.init(tmp_path / "case", "C1", "Examiner")
    log = CustodyLog(case.root, case.db, "C1", actor="Examiner")
    log.extend({"action": "file.recorded", "subject": {"item": "E1", "locator": f"E1/f{i}"}}
               for i in range(10))
    log.commit()
    real = log_mod._write_all

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(log_mod, "_write_all", full)
    log.extend({"action": "file.recorded", "subject": {"item": "E1", "locator": f"E1/g{i}"}}
               for i in range(5))
    with pytest.raises(DiskFullError) as raised:
        log.commit()
    assert raised.value.__cause__.errno == 28
    monkeypatch.setattr(log_mod, "_write_all", real)
    log.commit()                             # the same command tries again: the 5 go in once
    log.close()
    again = CustodyLog(case.root, case.db, "C1", actor="Examiner")
    again.extend({"action": "file.recorded", "subject": {"item": "E1", "locator": f"E1/h{i}"}}
                 for i in range(7))
    again.commit()
    again.close()
    report = verify_log(case.root, case.db)
    assert report.ok and report.entries == 22, report.problems
    case.close()
