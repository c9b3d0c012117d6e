#!/usr/bin/env python3
"""Server time of forensic serve's pages on a generated case, against a static file served by
the same server in the same run.

Builds (once, in --work) a case of one folder item: --photos small JPEGs with EXIF (each a
different picture, some geotagged) and a WhatsApp export of --messages messages in
--conversations chats, some carrying those photos; triaged through the CLI (a real store:
records, thumbnails, perceptual hashes, the chat index, a signed-free custody log). Then starts
``forensic serve`` on a free port and times --requests GETs of each page (plain HTTP on one
kept-alive connection, the cookie from the token), printing p50/p95/max in ms per page and the
static file's, as the issue asks (every page's p95 under 200 ms on 100,000 photos and 1,000,000
messages: run with those sizes on a machine that has the time to triage them).

    .venv/bin/python bench/bench_serve.py [--photos 5000] [--messages 20000] [--requests 100]
                                          [--work /tmp/bench-serve]
"""
from __future__ import annotations

import argparse
import http.client
import io
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def jpeg(seed: int, geotag: bool) -> bytes:
    from PIL import Image
    rng = random.Random(seed)
    img = Image.new("RGB", (96, 64), tuple(rng.randrange(256) for _ in range(3)))
    px = img.load()
    for _ in range(40):
        x, y = rng.randrange(96), rng.randrange(64)
        for dx in range(12):
            for dy in range(8):
                px[min(95, x + dx), min(63, y + dy)] = tuple(rng.randrange(256) for _ in range(3))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "BenchCam", f"Model {seed % 7}"
    exif[0x0132] = f"2021:{1 + seed % 12:02d}:{1 + seed % 28:02d} 12:{seed % 60:02d}:00"
    if geotag:
        exif[0x8825] = {1: "N", 2: (40.0, 25.0, float(seed % 60)), 3: "W", 4: (3.0, 42.0, 7.0)}
    out = io.BytesIO()
    img.save(out, "JPEG", quality=70, exif=exif)
    return out.getvalue()


def build(work: Path, photos: int, messages: int, conversations: int) -> Path:
    case = work / "case"
    if (case / "case.db").exists():
        return case
    src = work / "phone"
    (src / "DCIM").mkdir(parents=True, exist_ok=True)
    for i in range(photos):
        (src / "DCIM" / f"IMG_{i:06d}.jpg").write_bytes(jpeg(i, i % 3 == 0))
    rng = random.Random(1)
    words = "meet harbour tomorrow parcel money car keys call later ok yes no where when".split()
    per = messages // conversations
    for c in range(conversations):
        lines = []
        for j in range(per):
            t = 1_600_000_000 + c * 1000 + j * 60
            stamp = time.strftime("%d/%m/%Y, %H:%M", time.gmtime(t))
            who = "Owner" if j % 2 else f"Contact {c}"
            lines.append(f"{stamp} - {who}: " + " ".join(rng.choice(words) for _ in range(8)))
        (src / f"WhatsApp Chat with Contact {c}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    from forensic.cli.main import main
    assert main(["case", "init", str(case), "--case-id", "BENCH", "--examiner", "bench", "--quiet"]) == 0
    assert main(["evidence", "add", str(src), "--case", str(case), "--id", "phone", "--quiet"]) == 0
    t0 = time.perf_counter()
    assert main(["triage", "--case", str(case), "--quiet"]) in (0, 3)
    print(f"triaged in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return case


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=5000)
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--conversations", type=int, default=20)
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-serve"))
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    case = build(a.work, a.photos, a.messages, a.conversations)
    proc = subprocess.Popen([sys.executable, "-m", "forensic.cli.main", "serve", "--case", str(case)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        m = re.match(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", proc.stdout.readline())
        assert m, "the server printed no URL"
        port, token = int(m.group(1)), m.group(2)
        time.sleep(1.0)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def get(path: str, cookie: str | None = None) -> tuple[int, bytes, http.client.HTTPResponse]:
            conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}", **({"Cookie": cookie} if cookie else {})})
            r = conn.getresponse()
            return r.status, r.read(), r

        for _ in range(50):
            try:
                status, _, r = get(f"/?token={token}")
                break
            except OSError:
                time.sleep(0.2)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        cookie = r.getheader("Set-Cookie").split(";", 1)[0]
        _, body, _ = get("/gallery?after=0", cookie)
        photo = int(re.search(rb'href="/photo/(\d+)"', body).group(1))
        thumb = re.search(rb'src="(/thumb/\d+\.jpg)"', body).group(1).decode()
        deep = "/gallery"
        for _ in range(40):                       # the 41st page, reached as the examiner does
            _, page, _ = get(deep, cookie)
            deep = re.search(rb'class="next" href="([^"]+)"', page).group(1).decode().replace("&amp;", "&")
        _, body, _ = get("/chats", cookie)
        conv = re.search(rb'href="(/conversation\?[^"]+)"', body).group(1).decode().replace("&amp;", "&")
        _, body, _ = get("/chats?q=harbour", cookie)
        hit = re.search(rb'href="(/conversation\?message=\d+)', body).group(1).decode()
        pages = {"static file": "/static/review.css", "overview": "/", "gallery": "/gallery",
                 "gallery p.41": deep, "gallery geotagged": "/gallery?geotagged=1",
                 "photo": f"/photo/{photo}", "thumbnail": thumb, "chats": "/chats",
                 "search": "/chats?q=harbour+parcel", "conversation": conv, "jump to hit": hit,
                 "map": "/map", "timeline": "/timeline", "timeline p.21": "/timeline?offset=4000"}
        print(f"{'page':20} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  ({a.requests} requests each)")
        for label, path in pages.items():
            times = []
            for _ in range(a.requests):
                t0 = time.perf_counter()
                status, _, _ = get(path, cookie)
                times.append((time.perf_counter() - t0) * 1000)
                assert status == 200, (label, status)
            times.sort()
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            print(f"{label:20} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f}")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
