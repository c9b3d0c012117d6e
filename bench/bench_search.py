"""Raw-byte search throughput against reading the same bytes, in the same run.

Issue 20's bound: searching unallocated space runs at >= 50% of the read rate of the same
bytes (a 1 GB image, 100 terms). The image is generated here: a sparse file of ``--size``
bytes with ``--fill`` of it written in (1 MiB of text every few MiB: words, numbers, some
UTF-16), the terms planted at known places, some across the runs' seams. It is searched as
unallocated space is: a run list (the image cut in ``--runs`` runs with gaps between them)
read as one logical stream by :func:`forensic.search.raw.scan` with 100 terms compiled into
one matcher (literal, UTF-8 and UTF-16LE). The read rate is the same reads of the same
logical stream (:func:`forensic.search.raw.buffers`: each buffer runs the longest term and
40 bytes of context into the next) with no search, timed after a warm-up pass (both passes
then read from the page cache: the ratio is the search's own cost, not the disk's).

``search_vs_read`` is the contract's figure: wall-clock time, the best of ``--repeat``
interleaved passes of each. On a machine other work loads, wall-clock times swing with the
scheduler; ``search_vs_read_cpu`` is the same ratio of this process's CPU time (one thread
reads and searches: it is the ratio an idle machine's clock would show), and ``load`` the
1-minute load average before and after.

    .venv/bin/python bench/bench_search.py [--size 1073741824] [--terms 100] [--ignore-case]
                                           [--engine hyperscan|re] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forensic.search.raw import BUFFER, RunMap, buffers, lookahead, scan  # noqa: E402
from forensic.search.terms import Matcher, Term  # noqa: E402

MiB = 1 << 20
WORDS = ("the of and to in is was for on that with as by at from this have not are but his they which "
         "one you were all her she there would their we him been has when who will more no if out so said "
         "what up its about into than them can only other new some could time these two may then do first "
         "any my now such like our over man me even most made after also did many before must through").split()


def make_image(path: Path, size: int, every: int, r: random.Random, terms: list[str]) -> int:
    """The sparse image, 1 MiB of text written every ``every`` bytes; returns how many
    term copies were planted (one per written block, in UTF-8 or UTF-16LE)."""
    planted = 0
    with open(path, "wb") as fh:
        fh.truncate(size)
        for at in range(0, size - MiB, every):
            words = []
            n = 0
            while n < MiB - 4096:
                w = r.choice(WORDS) if r.random() < 0.9 else str(r.randrange(10**9))
                words.append(w)
                n += len(w) + 1
            block = bytearray(" ".join(words).encode()[:MiB - 4096])
            term = r.choice(terms)
            enc = term.encode("utf-16le") if planted % 5 == 4 else term.encode()
            pos = r.randrange(0, len(block) - len(enc))
            block[pos:pos + len(enc)] = enc
            planted += 1
            fh.seek(at)
            fh.write(bytes(block))
    return planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1 << 30)
    ap.add_argument("--terms", type=int, default=100)
    ap.add_argument("--every", type=int, default=4 * MiB, help="one MiB of text written every this many bytes")
    ap.add_argument("--runs", type=int, default=64, help="the image is searched as this many runs")
    ap.add_argument("--ignore-case", action="store_true")
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--buffer", type=int, default=BUFFER, help="bytes read (and searched) at a time")
    ap.add_argument("--engine", choices=("hyperscan", "re"), default=None,
                    help="the literal engine (default: Hyperscan where installed)")
    args = ap.parse_args()
    r = random.Random(20)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
    terms = sorted({"".join(r.choice(alphabet) for _ in range(r.randrange(6, 17))) for _ in range(args.terms)})
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        img = Path(tmp) / "image.raw"
        t0 = time.perf_counter()
        planted = make_image(img, args.size, args.every, r, terms)
        built = time.perf_counter() - t0
        # the runs: the image cut in equal pieces, 4 KiB left out between two (non-contiguous)
        piece = args.size // args.runs
        runs: list[tuple[int | None, int]] = [(i * piece, piece - 4096) for i in range(args.runs)]
        runmap = RunMap(runs)
        fd = os.open(img, os.O_RDONLY)
        try:
            def read_image(offset: int, n: int) -> bytes:
                return os.pread(fd, n, offset)
            read = runmap.read_with(read_image)

            t0 = time.perf_counter()
            matcher = Matcher([Term(t, "bench") for t in terms], args.ignore_case, args.engine)
            compiled = time.perf_counter() - t0
            ahead = lookahead(matcher)

            def read_all() -> tuple[float, float, int]:
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in buffers(read, runmap.size, args.buffer, ahead):
                    pass
                return time.perf_counter() - wall, time.process_time() - cpu, 0

            def search_all() -> tuple[float, float, int]:
                wall, cpu = time.perf_counter(), time.process_time()
                n = sum(1 for _ in scan(read, runmap.size, matcher, args.buffer))
                return time.perf_counter() - wall, time.process_time() - cpu, n
            load = [os.getloadavg()[0]]
            read_all()                                   # warm the page cache
            reads, searches = [], []
            for _ in range(args.repeat):                 # interleaved, the best of each kept
                reads.append(read_all())
                searches.append(search_all())
            load.append(os.getloadavg()[0])
            hits = searches[0][2]
            read_s, search_s = min(r[0] for r in reads), min(s[0] for s in searches)
            read_cpu, search_cpu = min(r[1] for r in reads), min(s[1] for s in searches)
        finally:
            os.close(fd)
    mb = runmap.size / 1e6
    out = {"engine": matcher.engine, "bytes": runmap.size, "runs": args.runs, "terms": len(terms),
           "ignore_case": args.ignore_case, "buffer": args.buffer,
           "planted": planted, "hits": hits, "image_built_s": round(built, 2), "compile_s": round(compiled, 3),
           "read_s": round(read_s, 3), "read_MBps": round(mb / read_s, 1),
           "search_s": round(search_s, 3), "search_MBps": round(mb / search_s, 1),
           "search_vs_read": round(read_s / search_s, 3), "target": 0.5,
           "read_cpu_s": round(read_cpu, 3), "search_cpu_s": round(search_cpu, 3),
           "search_vs_read_cpu": round(read_cpu / search_cpu, 3), "load": [round(x, 2) for x in load]}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
