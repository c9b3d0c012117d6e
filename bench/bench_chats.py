"""Chat parsing speed: WhatsApp text and Telegram JSON, messages per second on one core.

    .venv/bin/python bench/bench_chats.py [--messages 1000000]

Prints: the pure WhatsApp parser (both passes: scan + parse) on a synthetic chat whose
header texts repeat, and on two realistic chats (a new header for nearly every message,
accented text; Android 24-hour and iOS 12-hour), the whole whatsapp_txt extractor (records
built), and the telegram_json extractor. Target (issue 5): >= 300,000
WhatsApp messages/s on one core.

``--search N`` (default 1,000,000; 0 to skip): a case store with N chat/message artifacts,
the FTS5 index built over them (timed), then the latency of searches (median of 20 runs):
a rare word, a word in 1% of the messages (first 100 hits and all hits), a Cyrillic word
typed in another case; then the whole ``forensic messages --search WORD`` path (index
freshness check + FTS + rows in time order + JSON objects) timed to its first 100 results,
for a rare word, a word in 1%, 10% and 100% of the messages. Target: under 50 ms.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forensic.extractors.base import ExtractorInput  # noqa: E402
from forensic.extractors.chat import whatsapp_text as wt  # noqa: E402
from forensic.extractors.chat.telegram_json import TelegramJsonExtractor  # noqa: E402
from forensic.extractors.chat.whatsapp_txt import WhatsAppTxtExtractor  # noqa: E402


def whatsapp_chat(n: int) -> bytes:
    out = []
    for i in range(n):
        out.append(f"{1 + i % 28:02d}/{1 + (i // 28) % 12:02d}/2021, {i % 24:02d}:{i % 60:02d} - "
                   f"Person {i % 7}: message number {i} about the shift and the money\n")
        if i % 10 == 0:
            out.append("a second line of the same message\n")
    return "".join(out).encode()


def realistic_chat(n: int, ios: bool) -> bytes:
    """A chat closer to a real export than :func:`whatsapp_chat`: time moves on by 5 s to
    7 min per message (so nearly every header is new), a few senders with accented and
    phone-number names, messages of 2-14 words with accented Spanish, one in ten with a
    second line; Android 24-hour or iOS 12-hour with U+202F before AM/PM."""
    import datetime
    import random
    rng = random.Random(1)
    names = ["Recruiter", "María José", "Ana", "+34 612 34 56 78", "Boss"]
    words = "ok the shift starts at nine tomorrow bring passport money café mañana señor trabajo".split()
    out = []
    t = 1615752360
    for _ in range(n):
        t += rng.randint(5, 400)
        d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
        text = " ".join(rng.choice(words) for _ in range(rng.randint(2, 14)))
        if ios:
            out.append(f"[{d.day:02d}/{d.month:02d}/{d.year % 100:02d}, {d.hour % 12 or 12}:{d.minute:02d}:"
                       f"{d.second:02d}\u202f{'AM' if d.hour < 12 else 'PM'}] {rng.choice(names)}: {text}\n")
        else:
            out.append(f"{d.day:02d}/{d.month:02d}/{d.year}, {d.hour:02d}:{d.minute:02d} - "
                       f"{rng.choice(names)}: {text}\n")
        if rng.random() < 0.1:
            out.append(" ".join(rng.choice(words) for _ in range(6)) + "\n")
    return "".join(out).encode()


def parse_rate(label: str, data: bytes) -> None:
    t0 = time.perf_counter()
    facts = wt.ChatFacts()
    wt.scan_blocks(wt.iter_blocks(io.BytesIO(data), facts), None, facts)
    t1 = time.perf_counter()
    n = sum(1 for _ in wt.parse_blocks(wt.iter_blocks(io.BytesIO(data)), facts))
    t2 = time.perf_counter()
    rate(f"{label}, pass 1 (scan)", n, t1 - t0)
    rate(f"{label}, pass 2 (messages)", n, t2 - t1)
    rate(f"{label}, both passes", n, t2 - t0)


def telegram_chat(n: int) -> bytes:
    msgs = [{"id": i, "type": "message", "date": "2021-03-14T21:06:00", "date_unixtime": str(1615752360 + i),
             "from": f"Person {i % 7}", "from_id": f"user{i % 7}",
             "text": ["see ", {"type": "bold", "text": "this"}] if i % 5 == 0 else f"message number {i}",
             "text_entities": []} for i in range(n)]
    return json.dumps({"name": "Bench", "type": "private_group", "id": 1, "messages": msgs}).encode()


def rate(label: str, n: int, seconds: float) -> None:
    print(f"{label:<44} {n:>9,} msgs {seconds:7.2f} s {n / seconds:>12,.0f} msg/s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--telegram", type=int, default=200_000)
    ap.add_argument("--search", type=int, default=1_000_000, help="messages in the FTS latency test (0: skip)")
    args = ap.parse_args()

    data = whatsapp_chat(args.messages)
    print(f"WhatsApp chat: {len(data) / 1e6:.0f} MB, {args.messages:,} messages")
    parse_rate("whatsapp parser", data)
    for ios in (False, True):
        real = realistic_chat(args.messages // 2, ios)
        parse_rate(f"realistic {'iOS 12-hour' if ios else 'Android 24-hour'}", real)

    item = ExtractorInput("/b/_chat.txt", "_chat.txt", "text/plain", len(data), data)
    t0 = time.perf_counter()
    n = sum(1 for _ in WhatsAppTxtExtractor().extract(item))
    rate("whatsapp_txt extractor (records)", n, time.perf_counter() - t0)

    tg = telegram_chat(args.telegram)
    item = ExtractorInput("/b/result.json", "result.json", "application/json", len(tg), tg)
    t0 = time.perf_counter()
    n = sum(1 for _ in TelegramJsonExtractor().extract(item))
    rate("telegram_json extractor (records)", n, time.perf_counter() - t0)
    print("target: >= 300,000 WhatsApp msg/s on one core")
    if args.search:
        bench_search(args.search)


def bench_search(n: int) -> None:
    import statistics
    import tempfile

    from forensic.store.chats import index_messages, search_ids
    from forensic.case import Case

    words = ["shift", "money", "van", "tomorrow", "café", "привет", "مرحبا", "hola", "meeting", "driver"]
    with tempfile.TemporaryDirectory(prefix="bench-fts-") as tmp:
        case = Case.init(Path(tmp) / "case", "BENCH", "bench")
        t0 = time.perf_counter()
        with case.transaction() as db:
            def rows():
                for i in range(n):
                    body = f"message {i} about the {words[i % 10]} and the {words[(i // 10) % 10]}"
                    if i % 100 == 7:
                        body += " rendezvous"
                    if i == n // 2:
                        body += " zanzibar"
                    f = {"platform": "whatsapp", "conversation": {"id": f"c{i % 50}", "title": f"Chat {i % 50}"},
                         "participants": ["A", "B"], "sender": "A" if i % 2 else "B", "recipients": [],
                         "sent_at": None, "sent_at_utc": f"2021-03-{1 + i % 28:02d}T12:00:00Z", "tz_known": True,
                         "tz_source": "utc", "body": body, "attachments": [], "reply_to": None, "edited": False,
                         "deleted": False, "system": False, "source": {"path": "/b/x", "line": i + 1}}
                    yield ("bench", "chat/message", "whatsapp_txt@1", json.dumps(f, ensure_ascii=False))
            db.executemany("INSERT INTO artifacts(item, record_type, extractor, fields) VALUES (?,?,?,?)", rows())
        t1 = time.perf_counter()
        with case.transaction() as db:
            index_messages(db, "bench")
        t2 = time.perf_counter()
        print(f"search: {n:,} messages stored in {t1 - t0:.1f} s, FTS5 index built in {t2 - t1:.1f} s "
              f"({n / (t2 - t1):,.0f} msg/s)")

        def lat(label, fn):
            times = []
            for _ in range(20):
                s0 = time.perf_counter()
                hits = fn()
                times.append(time.perf_counter() - s0)
            print(f"  {label:<52} {len(hits):>8,} hits  median {statistics.median(times) * 1000:7.2f} ms  "
                  f"max {max(times) * 1000:7.2f} ms")

        db = case.db
        lat("rare word ('zanzibar')", lambda: search_ids(db, "zanzibar"))
        lat("1% of messages ('rendezvous'), first 100", lambda: search_ids(db, "rendezvous", limit=100))
        lat("1% of messages ('rendezvous'), all", lambda: search_ids(db, "rendezvous"))
        lat("Cyrillic, other case ('ПРИВЕТ'), first 100", lambda: search_ids(db, "ПРИВЕТ", limit=100))
        lat("two words ('rendezvous shift'), first 100", lambda: search_ids(db, "rendezvous shift", limit=100))

        import itertools

        from forensic.cli.commands.chats import message_json, message_rows
        from forensic.store.chats import ensure_index, fts_query

        def cli_path(word, limit=None):
            # what 'forensic messages --search WORD --json [--limit N]' does before printing its
            # first 100 lines: index freshness check, FTS query, rows in time order, JSON objects
            def run():
                ensure_index(case, ["bench"])
                rows = message_rows(db, ["bench"], fts=fts_query(word), limit=limit)
                return [message_json(r) for r in itertools.islice(rows, 100)]
            return run
        print("  'forensic messages --search WORD': time to the first 100 results (stream, no --limit)")
        lat("rare word ('zanzibar', 1 message)", cli_path("zanzibar"))
        lat("1% word ('rendezvous')", cli_path("rendezvous"))
        lat("10% word ('driver')", cli_path("driver"))
        lat("100% word ('message')", cli_path("message"))
        lat("two words ('rendezvous shift')", cli_path("rendezvous shift"))
        lat("10% word ('driver') with --limit 100", cli_path("driver", 100))
        case.close()
    print("target: a search over 1,000,000 messages in under 50 ms")


if __name__ == "__main__":
    main()
