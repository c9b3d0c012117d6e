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
messages).

Triage of that many takes hours here, so ``--grow-photos N --grow-messages M`` makes the
case that size another way: a small case is triaged for real as above, then its rows are
copied through the store layer (forensic.store.triage.store_entries, the call a triage makes)
until the item holds N photos and M messages: each copy of a photo file a new locator, path
and SHA-256 with the same records (EXIF, thumbnail, pHash) and times shifted by the copy's
number of days; each copy of a chat a new conversation (id and path) with the same messages;
then the chat search index is built (forensic.store.chats.index_messages). The copies are not
in the custody log (the overview's verdict says so: it is not what is timed).

    .venv/bin/python bench/bench_serve.py [--photos 5000] [--messages 20000] [--requests 100]
                                          [--work /tmp/bench-serve]
    .venv/bin/python bench/bench_serve.py --photos 500 --messages 5000 --conversations 5 \
        --grow-photos 100000 --grow-messages 1000000 --requests 500 --work /tmp/bench-serve-big
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


def _shift(value: str | None, days: int) -> str | None:
    """A stored time moved by ``days`` (its form kept: 'Z', offset or naive)."""
    from datetime import datetime, timedelta
    if not value:
        return value
    try:
        moved = datetime.fromisoformat(value.replace("Z", "+00:00")) + timedelta(days=days)
    except ValueError:
        return value
    text = moved.isoformat()
    return text.replace("+00:00", "Z") if value.endswith("Z") else text


def grow(case_dir: Path, photos: int, messages: int) -> None:
    """Copy the triaged item's photo files and chat files (with their records and times)
    through the store layer until it holds ``photos`` photos and ``messages`` messages."""
    import hashlib
    import json

    from forensic.case import Case
    from forensic.store import chats, review, timeline
    from forensic.store.triage import Entry, StoredRecord, store_entries
    case = Case.open(case_dir)
    db = case.db
    try:
        item = db.execute("SELECT item FROM items ORDER BY item").fetchone()[0]
        have_p, have_m = (review.item_counts(db, item).photos, review.item_counts(db, item).messages)
        if have_p >= photos and have_m >= messages:
            return
        cols = [r[1] for r in db.execute("PRAGMA table_info(files)") if r[1] not in ("id", "warnings")]

        def seeds(record_type: str) -> list[tuple[dict, list[StoredRecord]]]:
            out = []
            for row in db.execute("SELECT * FROM files WHERE item = ? AND id IN (SELECT file_id FROM artifacts "
                                  "WHERE record_type = ?) ORDER BY id", (item, record_type)).fetchall():
                records = []
                for a in db.execute("SELECT id, extractor, record_type, source_ref, fields, corrupted, warnings "
                                    "FROM artifacts WHERE file_id = ? ORDER BY id", (row["id"],)).fetchall():
                    times = tuple(tuple(t) for t in db.execute(
                        "SELECT label, utc, local, tz_known, tz_source, raw FROM timestamps WHERE artifact_id = ? "
                        "ORDER BY rowid", (a[0],)))
                    records.append(StoredRecord(a[1], a[2], a[3], a[4], a[5], a[6], "", times))
                out.append(({c: row[c] for c in cols}, records))
            return out

        photo_seeds, chat_seeds = seeds("photo/exif"), seeds("chat/message")
        per_chat = max(1, have_m // max(1, len(chat_seeds)))
        t0 = time.perf_counter()
        copy = 0
        while have_p < photos or have_m < messages:
            copy += 1
            batch: list[Entry] = []
            todo = []
            if have_p < photos:
                todo += photo_seeds[:photos - have_p]
                have_p += len(todo)
            if have_m < messages:
                extra = chat_seeds[:max(1, (messages - have_m + per_chat - 1) // per_chat)]
                todo += extra
                have_m += per_chat * len(extra)
            for row, records in todo:
                new = dict(row, locator=f"{row['locator']}~{copy}", path=f"{row['path']}~{copy}",
                           name=f"{row['name']}~{copy}",
                           sha256=hashlib.sha256(f"{row['sha256']}{copy}".encode()).hexdigest())
                for col in ("modified_at", "accessed_at", "changed_at", "born_at"):
                    new[col] = _shift(new[col], copy)
                made = []
                for r in records:
                    fields = r.fields_json
                    if r.record_type == "chat/message":
                        f = json.loads(fields)
                        if isinstance(f.get("conversation"), dict):
                            f["conversation"]["id"] = f"{f['conversation'].get('id')}~{copy}"
                        fields = json.dumps(f)
                    times = tuple((t[0], _shift(t[1], copy), _shift(t[2], copy)) + tuple(t[3:]) for t in r.timestamps)
                    made.append(r._replace(fields_json=fields, timestamps=times,
                                           record_sha256=hashlib.sha256(fields.encode()).hexdigest()))
                batch.append(Entry(new, made, []))
            db.execute("BEGIN IMMEDIATE")
            for start in range(0, len(batch), 200):
                store_entries(db, item, batch[start:start + 200], "2026-01-01T00:00:00Z", {})
            db.execute("COMMIT")
            print(f"copy {copy}: {have_p} photos, {have_m} messages ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr)
        db.execute("BEGIN IMMEDIATE")
        chats.index_messages(db, item)
        db.execute("COMMIT")
        print(f"grown and indexed in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        t1 = time.perf_counter()
        timeline.ensure_index(db)                 # as the end of a triage does (update_index)
        print(f"timeline index and map places made in {time.perf_counter() - t1:.0f} s", file=sys.stderr)
    finally:
        case.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=5000)
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--conversations", type=int, default=20)
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-serve"))
    ap.add_argument("--grow-photos", type=int, default=0, help="copy rows through the store layer up to N photos")
    ap.add_argument("--grow-messages", type=int, default=0, help="... and M messages")
    ap.add_argument("--only", default=None, help="time only the pages whose label matches this regex")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    case = build(a.work, a.photos, a.messages, a.conversations)
    if a.grow_photos or a.grow_messages:
        grow(case, a.grow_photos, a.grow_messages)
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
        t0 = time.perf_counter()
        _, page, _ = get("/timeline", cookie)          # the index is current: made as a triage makes it
        print(f"first timeline page: {(time.perf_counter() - t0) * 1000:.0f} ms", file=sys.stderr)
        later = "/timeline"
        for _ in range(20):                       # the 21st page, reached by its Later links
            _, page, _ = get(later, cookie)
            later = re.search(rb'class="next" href="([^"]+)"', page).group(1).decode().replace("&amp;", "&")
        _, body, _ = get("/chats", cookie)
        conv = re.search(rb'href="(/conversation\?[^"]+)"', body).group(1).decode().replace("&amp;", "&")
        _, body, _ = get("/chats?q=harbour", cookie)
        hit = re.search(rb'href="(/conversation\?message=\d+)', body).group(1).decode()
        _, body, _ = get("/map", cookie)
        west, south, east, north = (float(v) for v in re.search(rb'data-view="([^"]+)"', body).group(1).split())
        box = f"{south},{west},{(south + north) / 2},{(west + east) / 2}"     # the view's south-west quarter
        pages = {"static file": "/static/review.css", "overview": "/", "gallery": "/gallery",
                 "gallery p.41": deep, "gallery geotagged": "/gallery?geotagged=1",
                 "photo": f"/photo/{photo}", "thumbnail": thumb, "chats": "/chats",
                 "search": "/chats?q=harbour+parcel", "conversation": conv, "jump to hit": hit,
                 "map": "/map", "map in a box": f"/map?box={box}", "search a name": "/chats?q=IMG_0004&where=names",
                 "search metadata": "/chats?q=Model+3&where=metadata",
                 "timeline": "/timeline", "timeline p.21": later, "timeline in a box": f"/timeline?box={box}"}
        print(f"{'page':20} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  ({a.requests} requests each)")
        for label, path in pages.items():
            if a.only and not re.search(a.only, label):
                continue
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
