#!/usr/bin/env python3
"""Triage speed against a bare pytsk3 read-and-hash loop, in the same run.

Builds an ext4 image (mke2fs -d) holding ~2,000 small JPEGs, a WhatsApp export of 20,000
messages with 200 attached photos, a Telegram export, and ~500 MB of larger files, then times
(a) a bare pytsk3 loop that reads and SHA-256-hashes every regular file, and
(b) `forensic triage` on the same image (a fresh case, photo and chat extraction and all;
the command's start-up included). Prints both, the ratio b/a, MB/s and the triage's peak
memory. Targets: ratio <= 2 without extraction, <= 2.5 with it.

    .venv/bin/python bench/bench_triage.py [--photos 2000] [--big-mb 500] [--messages 20000] [--keep DIR]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "tests"))


def build(tmp: Path, photos: int, big_mb: int, messages: int = 20_000) -> Path:
    from builders import tiny_jpeg
    rng = random.Random(7)
    root = tmp / "root"
    cam = root / "data" / "media" / "0" / "DCIM" / "Camera"
    cam.mkdir(parents=True)
    base = tiny_jpeg(b"BenchCam", b"Model X")
    for i in range(photos):
        pad = rng.randbytes(rng.randint(20_000, 60_000))
        # padding inside a COM segment would change nothing; append after EOI like real trailers
        (cam / f"IMG_{i:05d}.jpg").write_bytes(base + pad)
    if messages:
        chats(root / "data" / "media" / "0" / "WhatsApp Export", rng, base, messages, max(1, messages // 100))
    media = root / "data" / "media" / "0" / "Movies"
    media.mkdir(parents=True)
    left = big_mb << 20
    n = 0
    while left > 0:
        size = min(left, rng.randint(20, 80) << 20)
        with open(media / f"VID_{n:03d}.mp4", "wb") as fh:
            chunk = rng.randbytes(1 << 20)
            for _ in range(size >> 20):
                fh.write(chunk)
        left -= size
        n += 1
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    img = tmp / "bench.img"
    size_mb = int(total / (1 << 20) * 1.15) + 64
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(root), str(img), f"{size_mb}M"], check=True)
    shutil.rmtree(root)
    return img


def chats(folder: Path, rng: random.Random, jpeg: bytes, messages: int = 20_000, media: int = 200) -> None:
    """A WhatsApp export (Android, 24-hour) of ``messages`` lines, ``media`` of them naming an
    attached photo saved beside it, and a Telegram export of a quarter as many messages: the
    chat extractors, their attachment links at the end of the triage, and the search index."""
    import json
    folder.mkdir(parents=True)
    names = ("Recruiter", "Maria", "Driver")
    words = "shift hours money passport flat car address tomorrow early late pay rent".split()
    lines = []
    for i in range(messages):
        day, minute = 1 + i // 1440 % 28, i % 1440
        stamp = f"{day:02d}/03/2024, {minute // 60:02d}:{minute % 60:02d}"
        if i % (messages // media) == 0:
            name = f"IMG-202403{day:02d}-WA{i:04d}.jpg"
            (folder / name).write_bytes(jpeg + rng.randbytes(2000))
            lines.append(f"{stamp} - {names[i % 3]}: {name} (file attached)")
        else:
            lines.append(f"{stamp} - {names[i % 3]}: " + " ".join(rng.choices(words, k=rng.randint(3, 12))))
    (folder / "WhatsApp Chat with Recruiter.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tg = [{"id": i, "type": "message", "date": f"2024-03-{1 + i // 1440 % 28:02d}T10:{i % 60:02d}:00",
           "date_unixtime": str(1709287200 + 60 * i), "from": names[i % 3], "from_id": f"user{i % 3}",
           "text": " ".join(rng.choices(words, k=rng.randint(3, 12)))} for i in range(messages // 4)]
    (folder.parent / "Telegram").mkdir()
    (folder.parent / "Telegram" / "result.json").write_text(json.dumps(
        {"name": "Recruiter", "type": "personal_chat", "id": 42, "messages": tg}), encoding="utf-8")


def bare_loop(img: Path) -> tuple[float, int, int]:
    import pytsk3
    t0 = time.perf_counter()
    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(img)))
    files = total = 0
    stack = [fs.open_dir("/")]
    while stack:
        d = stack.pop()
        for f in d:
            name = f.info.name.name
            if name in (b".", b"..") or f.info.meta is None:
                continue
            if f.info.meta.type == pytsk3.TSK_FS_META_TYPE_DIR:
                stack.append(f.as_directory())
            elif f.info.meta.type == pytsk3.TSK_FS_META_TYPE_REG:
                h = hashlib.sha256()
                size = f.info.meta.size
                off = 0
                while off < size:
                    data = f.read_random(off, min(1 << 20, size - off))
                    if not data:
                        break
                    h.update(data)
                    off += len(data)
                h.hexdigest()
                files += 1
                total += off
    return time.perf_counter() - t0, files, total


def triage(img: Path, tmp: Path, *extra: str) -> tuple[float, dict, int]:
    exe = str(HERE / ".venv" / "bin" / "forensic")
    case = tmp / "case"
    shutil.rmtree(case, ignore_errors=True)
    env = dict(os.environ, FORENSIC_CASE=str(case))
    subprocess.run([exe, "--quiet", "case", "init", str(case), "--case-id", "B", "--examiner", "Bench"],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run([exe, "--quiet", "evidence", "add", str(img), "--id", "img"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    import json
    t0 = time.perf_counter()
    out = subprocess.run([exe, "--quiet", "triage", "--json", *extra], env=env, capture_output=True, text=True)
    el = time.perf_counter() - t0
    if out.returncode not in (0, 3):
        sys.exit(f"triage failed: {out.stderr}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return el, json.loads(out.stdout), peak_kb


def in_process(img: Path, tmp: Path, extract: bool) -> float:
    """The same triage through the library, in this process (as the bare loop runs)."""
    sys.path.insert(0, str(HERE))
    from forensic.case import Case
    from forensic.intake import add_evidence
    from forensic.pipeline import TriageOptions, triage_item
    case_dir = tmp / ("lib-ext" if extract else "lib-noext")
    shutil.rmtree(case_dir, ignore_errors=True)
    case = Case.init(case_dir, "B", "Bench")
    add_evidence(case, img, "img", None, None)
    t0 = time.perf_counter()
    triage_item(case, "img", TriageOptions(workers=2, extractors=None if extract else []))
    el = time.perf_counter() - t0
    case.close()
    return el


def startup() -> float:
    exe = str(HERE / ".venv" / "bin" / "forensic")
    t0 = time.perf_counter()
    subprocess.run([exe, "--version"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=2000)
    ap.add_argument("--big-mb", type=int, default=500)
    ap.add_argument("--messages", type=int, default=20_000, help="WhatsApp messages (0: no chat exports)")
    ap.add_argument("--keep", type=Path, default=None, help="build in this folder and keep it")
    a = ap.parse_args()
    tmp = a.keep or Path(tempfile.mkdtemp(prefix="bench-triage-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        img = tmp / "bench.img"
        if not img.exists():
            t0 = time.perf_counter()
            img = build(tmp, a.photos, a.big_mb, a.messages)
            print(f"built {img} ({img.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.1f} s")
        # warm the page cache equally for both
        with open(img, "rb") as fh:
            while fh.read(8 << 20):
                pass
        base_s, files, total = bare_loop(img)
        mb = total / 2**20
        print(f"bare pytsk3 read+sha256           : {base_s:7.2f} s  {files:6d} files  {mb / base_s:7.1f} MB/s")
        for label, extra in (("forensic triage --no-extract", ("--no-extract",)),
                             ("forensic triage (all extractors)", ())):
            tri_s, summary, peak_kb = triage(img, tmp, *extra)
            print(f"{label:34s}: {tri_s:7.2f} s  {summary['files']:6d} entries {mb / tri_s:7.1f} MB/s "
                  f"({summary['artifacts']} artifacts, {summary['warnings']} warnings)  "
                  f"ratio {tri_s / base_s:.2f}  peak RSS so far {peak_kb / 1024:.0f} MiB")
        for label, extract in (("library triage, no extractors", False), ("library triage, all extractors", True)):
            el = in_process(img, tmp, extract)
            print(f"{label:34s}: {el:7.2f} s  (in-process, as the bare loop)  ratio {el / base_s:.2f}")
        print(f"{'command start-up (forensic --version)':34s}: {startup():7.2f} s")
        print("targets: ratio <= 2.0 for the walk and hashes, <= 2.5 with photo and chat extraction")
    finally:
        if a.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
