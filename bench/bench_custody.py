"""Custody log speed: append N artifact entries in batches, then verify the log.

The entries have the shape triage writes for each extracted record (subject with locator and
record type, details with the artifact id and the record's SHA-256).

    .venv/bin/python bench/bench_custody.py [N] [--signed]

Prints entries/s for append (the log's own work: building, hashing and writing the entries,
fsync and a signed checkpoint per command; making the input dicts is not timed) and for verify
(chain, canonical form, Merkle roots at every checkpoint, signatures), and the peak RSS.
"""
from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forensic.chain_of_custody.log import CustodyLog  # noqa: E402
from forensic.chain_of_custody.signing import Signer  # noqa: E402
from forensic.chain_of_custody.verify import verify_log  # noqa: E402
from forensic.case import Case  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), 1_000_000))
    signer = Signer.generate("bench") if "--signed" in sys.argv else None
    with tempfile.TemporaryDirectory() as tmp:
        case = Case.init(Path(tmp) / "case", "BENCH", "Bench Examiner")
        log = CustodyLog(case.root, case.db, "BENCH", signer=signer, actor="Bench Examiner")
        rss0 = rss_mb()
        append_s = 0.0
        done = 0
        while done < n:           # 10 commands of n/10 entries each: 10 checkpoints
            end = done + (n // 10 or n)
            while done < end:     # the command hands its entries over in batches
                step = min(10_000, end - done, n - done)
                batch = [{"action": "artifact.recorded",   # as triage records a photo's record
                          "subject": {"item": "E1", "locator": f"E1/p1/fs/Users/x/DCIM/IMG_{i:07d}.JPG",
                                      "record_type": "photo"},
                          "sha256": f"{i:064x}",
                          "details": {"artifact_id": i, "record_sha256": f"{i * 7:064x}"}}
                         for i in range(done, done + step)]
                t = time.perf_counter()
                log.extend(batch)
                append_s += time.perf_counter() - t
                done += step
            t = time.perf_counter()
            log.commit()
            append_s += time.perf_counter() - t
        log.close()
        rss_append = rss_mb()
        size = (case.root / "custody.jsonl").stat().st_size
        for workers in (1, None):
            t = time.perf_counter()
            report = verify_log(case.root, case.db, workers=workers)
            verify_s = time.perf_counter() - t
            assert report.ok and report.entries == n, report.problems
            label = "verify (1 process)" if workers == 1 else "verify (auto workers)"
            print(f"{label:24s} {n / verify_s:10,.0f} entries/s  ({verify_s:.1f} s)")
        print(f"{'append':24s} {n / append_s:10,.0f} entries/s  ({append_s:.1f} s)")
        print(f"log: {n:,} entries, {size / 1e6:.0f} MB, {report.checkpoints} checkpoints, "
              f"{report.signatures_verified} signatures verified")
        print(f"peak RSS: before {rss0:.0f} MB, after append {rss_append:.0f} MB, "
              f"after verify {rss_mb():.0f} MB")
        case.close()


if __name__ == "__main__":
    main()
