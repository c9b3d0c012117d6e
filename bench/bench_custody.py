"""Custody log speed: append N artifact entries in batches, then verify the log.

The entries have the shape triage writes for each extracted record (subject with locator and
record type, details with the artifact id and the record's SHA-256).

    .venv/bin/python bench/bench_custody.py [N] [--signed] [--repeat K]

Prints entries/s for append (the log's own work: building, hashing and writing the entries,
and per batch of 10,000 an fsync and a checkpoint -- signed with --signed; making the input
dicts is not timed) and for verify (chain, canonical form, Merkle roots at every checkpoint,
signatures), in one process and with the automatic number of worker processes, and the peak
RSS. Each rate is given by wall time and, where the work is this process's own, by its CPU
time too: on a machine others use at the same time the CPU figure moves less. --repeat K
runs the whole measurement K times (a new log each time) and ends with min / median / max.
"""
from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forensic.chain_of_custody.log import CustodyLog  # noqa: E402
from forensic.chain_of_custody.signing import Signer  # noqa: E402
from forensic.chain_of_custody.verify import verify_log  # noqa: E402
from forensic.case import Case  # noqa: E402

BATCH = 10_000        # entries handed over at once, as triage does; each is checkpointed


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batch(start: int, count: int) -> list[dict]:
    """``count`` entries as triage records a photo's record."""
    return [{"action": "artifact.recorded",
             "subject": {"item": "E1", "locator": f"E1/p1/fs/Users/x/DCIM/IMG_{i:07d}.JPG",
                         "record_type": "photo"},
             "sha256": f"{i:064x}",
             "details": {"artifact_id": i, "record_sha256": f"{i * 7:064x}"}}
            for i in range(start, start + count)]


class Clock:
    """Wall and CPU seconds of the timed blocks, added up."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> "Clock":
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu


def run(n: int, signed: bool) -> dict[str, float]:
    """One measurement on a new log; entries/s by name."""
    signer = Signer.generate("bench") if signed else None
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        case = Case.init(Path(tmp) / "case", "BENCH", "Bench Examiner")
        log = CustodyLog(case.root, case.db, "BENCH", signer=signer, actor="Bench Examiner")
        rss0 = rss_mb()
        append = Clock()
        for start in range(0, n, BATCH):
            entries = batch(start, min(BATCH, n - start))
            with append:
                log.extend(entries)
        with append:
            log.commit()
        log.close()
        rss_append = rss_mb()
        rates["append"], rates["append cpu"] = n / append.wall, n / append.cpu
        size = (case.root / "custody.jsonl").stat().st_size
        expected = n + (1 if signed else 0)      # the first signed commit pins its key
        for workers, label in ((1, "verify 1 process"), (None, "verify auto workers")):
            with Clock() as clock:
                report = verify_log(case.root, case.db, workers=workers)
            assert report.ok and report.entries == expected, (report.entries, report.problems)
            rates[label] = n / clock.wall
            if workers == 1:
                rates[f"{label} cpu"] = n / clock.cpu
        for label, rate in rates.items():
            print(f"{label:26s} {rate:10,.0f} entries/s")
        print(f"log: {report.entries:,} entries, {size / 1e6:.0f} MB, {report.checkpoints} checkpoints, "
              f"{report.signatures_verified} signatures verified")
        print(f"peak RSS: before {rss0:.0f} MB, after append {rss_append:.0f} MB, "
              f"after verify {rss_mb():.0f} MB", flush=True)
        case.close()
    return rates


def main() -> None:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), 1_000_000))
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 1
    runs = []
    for i in range(repeat):
        if repeat > 1:
            print(f"-- run {i + 1} of {repeat}")
        runs.append(run(n, "--signed" in sys.argv))
    if repeat > 1:
        print(f"-- {repeat} runs: min / median / max entries/s")
        for label in runs[0]:
            values = [r[label] for r in runs]
            print(f"{label:26s} {min(values):10,.0f} {statistics.median(values):10,.0f} "
                  f"{max(values):10,.0f}")


if __name__ == "__main__":
    main()
