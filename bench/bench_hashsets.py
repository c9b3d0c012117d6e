"""Hash set lookups per second against a large set, without the set in memory.

Issue 20's bound: >= 100,000 lookups/s against a 10-million-entry set. The set is generated
here (``--entries`` random SHA-256 digests, as a sorted memory-mapped index built the way
``forensic hashset import`` builds one: forensic.hashsets.index), its build time printed;
then ``--lookups`` digests, half in the set and half not, are looked up two ways: the raw
index (:class:`DigestIndex`, digest bytes) and what triage does per file (``OpenSet.match``:
a hex digest, its category). The baseline, in the same run: the same lookups in a Python
``set`` held in memory (of ``--baseline`` of the digests only: the whole set would not fit),
and the process's peak memory, to show the index is not read in.

    .venv/bin/python bench/bench_hashsets.py [--entries 10000000] [--lookups 200000] [--dir DIR]
    .venv/bin/python bench/bench_hashsets.py --nsrl 2000000   # also: an NSRL RDS v3 SQLite searched in place
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forensic import hashsets  # noqa: E402
from forensic.hashsets.index import DigestIndex, build  # noqa: E402


def digests(n: int, seed: int) -> object:
    """``n`` random 32-byte digests (reproducible), generated in chunks."""
    r = random.Random(seed)
    left = n
    while left:
        k = min(left, 1 << 16)
        block = r.randbytes(32 * k)
        for i in range(0, len(block), 32):
            yield block[i:i + 32]
        left -= k


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=10_000_000)
    ap.add_argument("--lookups", type=int, default=200_000)
    ap.add_argument("--baseline", type=int, default=1_000_000, help="digests in the in-memory set baseline")
    ap.add_argument("--dir", type=Path, default=None, help="where to build the set (default: a temporary folder)")
    ap.add_argument("--nsrl", type=int, default=0, metavar="N",
                    help="also build an NSRL RDS v3-layout SQLite of N rows and look up in it through its own index")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-hashsets-")
    folder = Path(tmp.name) / "big"
    folder.mkdir()
    start = time.perf_counter()
    count = build(folder, "sha256", ((d, 0) for d in digests(args.entries, 1)))
    built = time.perf_counter() - start
    size = (folder / "sha256.idx").stat().st_size
    meta = {"name": "big", "kind": "known-good", "category": None, "format": "bench", "source": "generated",
            "source_sha256": "0" * 64, "records": count, "imported_at": "-", "digests": {"sha256": count},
            "categories": [None]}
    (folder / hashsets.META).write_text(json.dumps(meta), encoding="utf-8")
    print(f"set: {count:,} SHA-256 digests, index {size / 1e6:,.0f} MB, built in {built:.1f} s "
          f"({count / built:,.0f} digests/s)")

    # half of the lookups are in the set (drawn from the same stream), half are not
    r = random.Random(2)
    half = args.lookups // 2
    picks = sorted(r.sample(range(args.entries), half))
    present, want = [], iter(picks)
    nxt = next(want, None)
    for i, d in enumerate(digests(args.entries, 1)):
        if i == nxt:
            present.append(d)
            nxt = next(want, None)
            if nxt is None:
                break
    absent = list(digests(args.lookups - half, 3))
    queries = present + absent
    r.shuffle(queries)
    hexes = [q.hex() for q in queries]

    index = DigestIndex(folder, "sha256")
    start = time.perf_counter()
    found = sum(index.get(q) is not None for q in queries)
    raw = len(queries) / (time.perf_counter() - start)
    index.close()
    assert found == len(present), f"{found} found, {len(present)} expected"

    opened = hashsets.OpenSet(folder)
    start = time.perf_counter()
    matched = sum(opened.match("sha256", h)[0] for h in hexes)
    per_file = len(hexes) / (time.perf_counter() - start)
    opened.close()
    assert matched == len(present)

    peak_index = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    memo = set(digests(min(args.baseline, args.entries), 1))
    start = time.perf_counter()
    sum(q in memo for q in queries)
    baseline = len(queries) / (time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"lookups: {len(queries):,} ({len(present):,} in the set)")
    print(f"  index (digest bytes):        {raw:12,.0f} lookups/s")
    print(f"  as triage (hex, category):   {per_file:12,.0f} lookups/s")
    print(f"  baseline, in-memory set of {len(memo):,}: {baseline:12,.0f} lookups/s "
          f"(index at {raw / baseline:.2f}x of it)")
    print(f"peak resident memory: {peak_index:,.0f} MB before the baseline (the index's pages the lookups "
          f"touched count here: page cache, mapped read-only, not the heap), {peak:,.0f} MB with the baseline's set")
    ok = per_file >= 100_000
    print(("OK" if ok else "BELOW") + f": {per_file:,.0f} lookups/s as triage does them (bound: 100,000/s)")
    if args.nsrl:
        ok = _nsrl(Path(tmp.name), args.nsrl, args.lookups) and ok
    tmp.cleanup()
    return 0 if ok else 1


def _nsrl(tmp: Path, rows: int, lookups: int) -> bool:
    """An RDS v3-layout database (FILE keyed by sha256, WITHOUT ROWID; upper-case hex, as NIST
    writes it) imported as `hashset import` does (searched in place), then looked up."""
    import sqlite3
    path = tmp / "RDS_bench.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL, "
               "crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL, "
               "package_id INTEGER NOT NULL, PRIMARY KEY (sha256, package_id, file_name, file_size)) WITHOUT ROWID")
    start = time.perf_counter()
    db.executemany("INSERT INTO FILE VALUES (?, '', '', '', 'f', 1, 1)",
                   ((d.hex().upper(),) for d in digests(rows, 4)))
    db.commit()
    db.close()
    made = time.perf_counter() - start
    start = time.perf_counter()
    hs = hashsets.import_set(path, "nsrl", "known-good", library=tmp / "library")
    imported = time.perf_counter() - start
    assert hs.in_place == ["sha256"], hs.in_place
    r = random.Random(5)
    half = lookups // 2
    present = [d.hex() for i, d in enumerate(digests(rows, 4)) if i % max(1, rows // half) == 0][:half]
    queries = present + [d.hex() for d in digests(lookups - len(present), 6)]
    r.shuffle(queries)
    [opened], _ = hashsets.open_sets(library=tmp / "library")
    start = time.perf_counter()
    found = sum(opened.match("sha256", q)[0] for q in queries)
    rate = len(queries) / (time.perf_counter() - start)
    opened.close()
    assert found == len(present)
    print(f"NSRL RDS v3 layout, {rows:,} rows ({path.stat().st_size / 1e6:,.0f} MB, made in {made:.1f} s; "
          f"import {imported:.1f} s: the source hashed, nothing copied)")
    print(f"  searched in place through its primary key: {rate:12,.0f} lookups/s")
    return rate >= 100_000


if __name__ == "__main__":
    sys.exit(main())
