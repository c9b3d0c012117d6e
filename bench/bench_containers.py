#!/usr/bin/env python3
"""Triage of the intake benchmark image in a container against the raw image, in the same run.

Builds the image bench_triage.py builds (an ext4 file system holding ~2,000 JPEGs, chat
exports and ~500 MB of larger files), copies it into QCOW2 and VMDK (sparse) with qemu-img
(and, with --all, VHDX, VHD and split raw), then times `forensic triage` of each (a fresh
case each; `evidence add`, which hashes the whole disk, is not timed), with and without the
extractors, --repeat rounds over all images, the fastest run of each counting (the machine
may be shared). Prints each time, MB/s and the ratio to the raw image's triage.
Target: ratio <= 1.3 for QCOW2 and VMDK.

    .venv/bin/python bench/bench_containers.py [--photos 2000] [--big-mb 500] [--messages 20000]
                                               [--all] [--no-extract-only] [--repeat 2] [--keep DIR]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_triage import build, triage  # noqa: E402  (the same image, the same triage command)


def containers(img: Path, tmp: Path, every: bool) -> dict[str, Path]:
    out = {"raw": img}
    kinds = [("qcow2", "qcow2", ()), ("vmdk", "vmdk", ())]
    if every:
        kinds += [("vhdx", "vhdx", ()), ("vhd", "vpc", ())]
    for name, fmt, opts in kinds:
        target = tmp / f"bench.{name}"
        if not target.exists():
            t0 = time.perf_counter()
            subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", fmt, *opts, str(img), str(target)],
                           check=True)
            print(f"made {target.name} ({target.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.1f} s")
        out[name] = target
    if every:
        first = tmp / "split" / "bench.001"
        if not first.exists():
            first.parent.mkdir(exist_ok=True)
            subprocess.run(["split", "-b", "256M", "-d", "-a", "3", "--numeric-suffixes=1", str(img),
                            str(first.parent / "bench.")], check=True)
        out["split"] = first
    return out


def warm(path: Path) -> None:
    for p in sorted(path.parent.glob(path.stem + "*")) if path.suffix == ".001" else [path]:
        with open(p, "rb") as fh:
            while fh.read(8 << 20):
                pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=2000)
    ap.add_argument("--big-mb", type=int, default=500)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--all", action="store_true", help="also VHDX, VHD and split raw")
    ap.add_argument("--no-extract-only", action="store_true", help="time only triage --no-extract")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each triage; the fastest counts")
    ap.add_argument("--keep", type=Path, default=None, help="build in this folder and keep it")
    a = ap.parse_args()
    tmp = a.keep or Path(tempfile.mkdtemp(prefix="bench-containers-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        img = tmp / "bench.img"
        if not img.exists():
            t0 = time.perf_counter()
            img = build(tmp, a.photos, a.big_mb, a.messages)
            print(f"built {img} ({img.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.1f} s")
        images = containers(img, tmp, a.all)
        modes = [("--no-extract", ("--no-extract",))]
        if not a.no_extract_only:
            modes.append(("all extractors", ()))
        for label, extra in modes:
            best: dict[str, tuple[float, dict]] = {}
            for _ in range(max(1, a.repeat)):        # rounds over every image: load on the machine shared
                for name, path in images.items():
                    warm(path)
                    el, summary, _ = triage(path, tmp, *extra)
                    if name not in best or el < best[name][0]:
                        best[name] = (el, summary)
            base = None
            for name, (el, summary) in best.items():
                mb = summary["bytes"] / 2**20
                base = el if name == "raw" else base
                ratio = el / base if base else 1.0
                print(f"triage {label:15s} {name:6s}: {el:7.2f} s  {summary['files']:6d} entries  "
                      f"{mb / el:7.1f} MB/s  {summary['warnings']} warnings  ratio {ratio:.2f}")
        print("target: ratio <= 1.3 for qcow2 and vmdk")
    finally:
        if a.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
