#!/usr/bin/env python3
"""The time the report's PDF adds to an export (issue 17: data/report/report.pdf).

Builds a folder of evidence (``--photos`` JPEGs, a WhatsApp text export of ``--messages``
messages), a case, triage, and one tag on all of it (none of this timed), then times
``forensic export`` with ``--no-pdf`` and with the PDF, and prints wall and CPU seconds of
each and the page count. Wall time depends on what else the machine runs; the CPU time of
the PDF is the figure to compare. The PDF is the report's paper edition (every message, the
findings with their pictures, the other listings cut to 25 rows: exporters/report/pdf.py).
2026-12, 2 cores under load (load average ~6): 200 photos and 2,000 messages, the PDF adds
~5-6 s of CPU to an export of ~1.2 s (before the paper edition: ~19 s); the 2,000 messages are
most of it (WeasyPrint: ~1.5-2 ms each). Target (issue 17): the PDF adds at most 1x the export's
own time -- not met for 2,000 messages. The 2,000-photo intake image (bench_export.py
--with-pdf): the PDF adds ~2 s of CPU (it took ~236 s wall before). Run:

    .venv/bin/python bench/bench_report_pdf.py [--keep DIR] [--photos 200] [--messages 2000]
"""
from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))


def build(base: Path, photos: int, messages: int) -> Path:
    from PIL import Image
    from forensic.cli.main import main
    ev = base / "phone"
    (ev / "DCIM").mkdir(parents=True)
    (ev / "WhatsApp").mkdir()
    rnd = random.Random(1)
    for i in range(photos):
        im = Image.new("RGB", (640, 480), (rnd.randrange(255), rnd.randrange(255), rnd.randrange(255)))
        for _ in range(3000):                   # some detail, so the JPEGs are not trivially small
            im.putpixel((rnd.randrange(640), rnd.randrange(480)), (rnd.randrange(255),) * 3)
        im.save(ev / "DCIM" / f"IMG_{i:04d}.jpg", "JPEG", quality=85)
    lines = []
    for i in range(messages):
        h, m = divmod(i, 60)
        who = "Recruiter" if i % 3 else "Maria"
        lines.append(f"{1 + (h // 24) % 28:02d}/03/2021, {h % 24:02d}:{m:02d} - {who}: message number {i} "
                     "about the job and the travel plans, please answer soon")
    (ev / "WhatsApp" / "WhatsApp Chat with Recruiter.txt").write_text("\n".join(lines) + "\n", "utf-8")
    case = base / "case"

    assert main(["case", "init", str(case), "--case-id", "BENCH-PDF", "--examiner", "Bench"]) == 0
    assert main(["evidence", "add", str(ev), "--case", str(case), "--id", "phone"]) == 0
    assert main(["triage", "--case", str(case)]) in (0, 3)
    assert main(["tag", "add", "--case", str(case), "--tag", "all", "--conversation",
                "/WhatsApp/WhatsApp Chat with Recruiter.txt", "--note", "the recruiter's offer"]) == 0
    targets = [f"phone \u203a /DCIM/IMG_{i:04d}.jpg" for i in range(photos)]
    if targets:
        assert main(["tag", "add", "--case", str(case), "--tag", "all", *targets]) == 0
    return case


def _pages(path: Path, pdf: bytes) -> str:
    """The page count pdfinfo (poppler-utils) gives, or '?' without it."""
    if shutil.which("pdfinfo") is None:
        return "?"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    return next((line.split()[-1] for line in out.splitlines() if line.startswith("Pages:")), "?")


def timed_export(case: Path, out: Path, *flags: str) -> tuple[float, float]:
    from forensic.cli.main import main
    wall, cpu = time.perf_counter(), time.process_time()
    assert main(["export", "--case", str(case), "--out", str(out), "--tag", "all", *flags]) == 0
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", type=Path, default=None, help="work in DIR and keep it")
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--messages", type=int, default=2000)
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-pdf-"))
    try:
        if (base / "case").exists():
            case = base / "case"
        else:
            base.mkdir(parents=True, exist_ok=True)
            case = build(base, args.photos, args.messages)
        for name in ("no-pdf.zip", "pdf.zip"):
            (base / name).unlink(missing_ok=True)
        plain = timed_export(case, base / "no-pdf.zip", "--no-pdf")
        with_pdf = timed_export(case, base / "pdf.zip")
        with zipfile.ZipFile(base / "pdf.zip") as zf:
            pdf = next(zf.read(n) for n in zf.namelist() if n.endswith("data/report/report.pdf"))
        pages = _pages(base / "pdf.zip.report.pdf", pdf)
        print(f"{args.photos} photos, {args.messages} messages")
        print(f"export --no-pdf   wall {plain[0]:6.1f} s   cpu {plain[1]:6.1f} s")
        print(f"export (PDF)      wall {with_pdf[0]:6.1f} s   cpu {with_pdf[1]:6.1f} s   "
              f"PDF {len(pdf) / 1e6:.1f} MB, {pages} pages")
        print(f"the PDF adds      wall {with_pdf[0] - plain[0]:6.1f} s   cpu {with_pdf[1] - plain[1]:6.1f} s")
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
