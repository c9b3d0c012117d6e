"""Chat parsing speed: WhatsApp text and Telegram JSON, messages per second on one core.

    .venv/bin/python bench/bench_chats.py [--messages 1000000]

Prints: the pure WhatsApp parser (both passes: scan + parse), the whole whatsapp_txt
extractor (records built), and the telegram_json extractor. Target (issue 5): >= 300,000
WhatsApp messages/s on one core.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from extractors.base import ExtractorInput  # noqa: E402
from extractors.chat import whatsapp_text as wt  # noqa: E402
from extractors.chat.telegram_json import TelegramJsonExtractor  # noqa: E402
from extractors.chat.whatsapp_txt import WhatsAppTxtExtractor  # noqa: E402


def whatsapp_chat(n: int) -> bytes:
    out = []
    for i in range(n):
        out.append(f"{1 + i % 28:02d}/{1 + (i // 28) % 12:02d}/2021, {i % 24:02d}:{i % 60:02d} - "
                   f"Person {i % 7}: message number {i} about the shift and the money\n")
        if i % 10 == 0:
            out.append("a second line of the same message\n")
    return "".join(out).encode()


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
    args = ap.parse_args()

    data = whatsapp_chat(args.messages)
    print(f"WhatsApp chat: {len(data) / 1e6:.0f} MB, {args.messages:,} messages")
    t0 = time.perf_counter()
    facts = wt.ChatFacts()
    wt.scan(wt.iter_lines(io.BytesIO(data), facts), None, facts)
    t1 = time.perf_counter()
    n = sum(1 for _ in wt.parse(wt.iter_lines(io.BytesIO(data)), facts))
    t2 = time.perf_counter()
    rate("whatsapp parser, pass 1 (scan)", n, t1 - t0)
    rate("whatsapp parser, pass 2 (messages)", n, t2 - t1)
    rate("whatsapp parser, both passes", n, t2 - t0)

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


if __name__ == "__main__":
    main()
