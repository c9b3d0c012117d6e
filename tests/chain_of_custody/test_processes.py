"""Several writers at once, and writers killed mid-write (real processes, real files).

A writer is killed at an exact point by the log's own fault hook
(``FORENSIC_TEST_CUSTODY_CRASH``, :data:`forensic.chain_of_custody.log.CRASH_ENV`), never by a
signal sent at a guessed moment: each test gets the crash it is about, every run.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from forensic.chain_of_custody.log import CHECKPOINTS_NAME, CRASH_ENV, LOG_NAME, CustodyLog
from forensic.chain_of_custody.signing import Signer, write_keypair
from forensic.chain_of_custody.verify import verify_log
from forensic.case import Case
from forensic.errors import IntegrityError

REPO = Path(__file__).resolve().parents[2]

# Appends COUNT file leaves in commits of BATCH (one checkpoint each), signed when
# $FORENSIC_KEY names a key; prints "done" when it finished.
WRITER = r"""
import sys
from pathlib import Path
from forensic.chain_of_custody.log import CustodyLog
from forensic.chain_of_custody.signing import signer_from_env
from forensic.case import Case
root, who, count, batch = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
case = Case.open(root)
log = CustodyLog(root, case.db, "CASE-1", signer=signer_from_env(None), actor=who)
done = 0
while done < count:
    n = min(batch, count - done)
    log.extend({"action": "file.recorded", "subject": {"item": who, "locator": f"{who}/{done + i}"},
                "sha256": f"{done + i:064x}"} for i in range(n))
    log.commit()
    done += n
print("done", flush=True)
"""


def spawn(root: Path, who: str, count: int, batch: int, **env: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("FORENSIC_KEY", CRASH_ENV)} \
        | {"PYTHONPATH": str(REPO)} | env
    return subprocess.Popen([sys.executable, "-c", WRITER, str(root), who, str(count), str(batch)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run_killed(root: Path, crash: str, **env: str) -> None:
    """A writer of 4,000 leaves in commits of 1,000, killed by ``crash``."""
    p = spawn(root, "w", 4000, 1000, **{CRASH_ENV: crash}, **env)
    out, errs = p.communicate(timeout=120)
    assert p.returncode == -signal.SIGKILL, errs.decode()
    assert b"done" not in out


def unsigned_only(warnings) -> bool:
    """The warnings of an unsigned log that is whole: only that it is unsigned."""
    return all("checkpoints are unsigned" in w for w in warnings)


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


@pytest.mark.parametrize("torn", [1, 200, 10**6], ids=["first byte", "mid-line", "all but the newline"])
def test_a_writer_killed_mid_line_leaves_one_torn_line_that_repair_moves_aside(tmp_path, torn):
    """Killed after 2,500 whole entries and part of the next line: the log has two
    checkpoints (2,000 entries), 500 whole entries after them and a torn line. Verify says
    exactly that, recording is refused until repair, and repair moves the torn bytes (only
    them) into quarantine and records it."""
    Case.init(tmp_path / "case", "CASE-1", "Examiner Name").close()
    run_killed(tmp_path / "case", f"tear:2500:{torn}")
    case = Case.open(tmp_path / "case")
    data = (case.root / LOG_NAME).read_bytes()
    keep = data.rindex(b"\n") + 1
    tail = data[keep:]
    assert data.count(b"\n") == 2500 and 0 < len(tail) <= torn
    assert b'{"action":"file.recorded"'.startswith(tail[:25])
    if torn == 10**6:                         # the whole line but its newline: still torn
        assert tail.endswith(b"}") and b'"seq":2500,' in tail

    report = verify_log(case.root, case.db)
    assert not report.ok and report.torn_tail == LOG_NAME
    assert len(report.problems) == 1 and "torn" in report.problems[0], report.problems
    assert (report.entries, report.first_bad_seq, report.tree_size, report.checkpoints) == \
        (2500, 2500, 2000, 2)

    with CustodyLog(case.root, case.db, "CASE-1", actor="Examiner Name") as log:
        log.append("custody.note", {"case": "CASE-1"}, actor="Examiner Name", details={"text": "x"})
        with pytest.raises(IntegrityError, match="torn"):
            log.commit()
    assert (case.root / LOG_NAME).read_bytes() == data           # refused: nothing written

    with CustodyLog(case.root, case.db, "CASE-1", actor="Examiner Name") as log:
        result = log.repair(actor="Examiner Name")
    moved = result["repaired"]
    assert [(m["file"], m["offset"], m["bytes"], m["sha256"]) for m in moved] == \
        [(LOG_NAME, keep, len(tail), hashlib.sha256(tail).hexdigest())]
    assert (case.root / moved[0]["quarantine"]).read_bytes() == tail
    after = verify_log(case.root, case.db)
    assert after.ok and unsigned_only(after.warnings), after.problems + after.warnings
    assert after.entries == after.tree_size == 2501
    lines = (case.root / LOG_NAME).read_bytes().split(b"\n")
    assert lines[:2500] == data[:keep].split(b"\n")[:2500]        # history untouched
    assert lines[2500].startswith(b'{"action":"custody.repaired"') and lines[2501] == b""
    case.close()


def test_a_signed_writer_killed_before_its_checkpoint_leaves_entries_no_key_vouches_for(tmp_path):
    """Killed after 2,500 whole entries: its first commit pinned its key (one more entry),
    so two signed checkpoints cover 2,001 entries and 499 follow them. In a signed log no
    key vouches for those: verify fails, the next signed command will not sign them in,
    and repair with the key moves exactly those bytes aside."""
    signer = Signer.generate("ann")
    key, _ = write_keypair(signer, tmp_path / "keys")
    Case.init(tmp_path / "case", "CASE-1", "ann").close()
    run_killed(tmp_path / "case", "kill:2500", FORENSIC_KEY=str(key))
    case = Case.open(tmp_path / "case")
    data = (case.root / LOG_NAME).read_bytes()
    assert data.endswith(b"\n") and data.count(b"\n") == 2500

    report = verify_log(case.root, case.db)
    assert not report.ok and report.torn_tail is None
    assert len(report.problems) == 1 and "signed by no key" in report.problems[0], report.problems
    assert (report.entries, report.tree_size, report.unchecked_tail, report.first_bad_seq,
            report.signatures_verified) == (2500, 2001, 499, 2001, 2)

    with CustodyLog(case.root, case.db, "CASE-1", signer=signer, actor="ann") as log:
        log.append("custody.note", {"case": "CASE-1"}, actor="ann", details={"text": "x"})
        with pytest.raises(IntegrityError, match="will not sign them"):
            log.commit()
    assert (case.root / LOG_NAME).read_bytes() == data

    offset = len(b"".join(line + b"\n" for line in data.split(b"\n")[:2001]))
    with CustodyLog(case.root, case.db, "CASE-1", signer=signer, actor="ann") as log:
        result = log.repair(actor="ann")
    (moved,) = result["repaired"]
    assert (moved["offset"], moved["entries"], moved["first_seq"], moved["last_seq"]) == \
        (offset, 499, 2001, 2499)
    assert (case.root / moved["quarantine"]).read_bytes() == data[offset:]
    after = verify_log(case.root, case.db)
    assert after.ok, after.problems
    assert (after.entries, after.tree_size, after.signatures_verified) == (2002, 2002, 3)
    case.close()


def test_an_unsigned_writer_killed_before_its_checkpoint_is_checkpointed_by_the_next(tmp_path):
    """In a log no key signed, entries after the latest checkpoint are a warning (a crash
    cannot be told from a forgery there), and the next command checkpoints them."""
    Case.init(tmp_path / "case", "CASE-1", "Examiner Name").close()
    run_killed(tmp_path / "case", "kill:2500")
    case = Case.open(tmp_path / "case")
    report = verify_log(case.root, case.db)
    assert report.ok, report.problems
    assert (report.entries, report.tree_size, report.unchecked_tail) == (2500, 2000, 500)
    tail = [w for w in report.warnings if "500 entries after the latest checkpoint" in w]
    assert len(tail) == 1 and unsigned_only(set(report.warnings) - set(tail)), report.warnings
    assert (case.root / CHECKPOINTS_NAME).read_bytes().endswith(b"\n")     # no torn checkpoint
    with CustodyLog(case.root, case.db, "CASE-1", actor="Examiner Name") as log:
        log.append("custody.note", {"case": "CASE-1"}, actor="Examiner Name", details={"text": "x"})
        log.commit()
    after = verify_log(case.root, case.db)
    assert after.ok and unsigned_only(after.warnings), after.problems + after.warnings
    assert (after.entries, after.tree_size, after.checkpoints) == (2501, 2501, 3)
    case.close()


def test_a_failed_batch_write_leaves_the_log_as_it_was(tmp_path, monkeypatch):
    """A write that fails (disk full) is raised as DiskFullError; the log's Merkle state is
    put back, so the next command appends and checkpoints a log that verifies."""
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
