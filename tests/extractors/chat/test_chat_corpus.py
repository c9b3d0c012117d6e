"""Conformance over the real exports in $FORENSIC_CORPUS/chats (skipped when absent).

Every WhatsApp text export yields messages; no line is lost (message + service +
continuation + flagged lines = non-empty lines); the first and last message agree with an
independent, naive reading of their own line.
"""
from __future__ import annotations

import unicodedata
import zipfile
from pathlib import Path

import pytest

from forensic.extractors.base import ExtractorInput
from forensic.extractors.chat import whatsapp_text as wt
from forensic.extractors.chat.whatsapp_locale import strip_marks
from forensic.extractors.chat.whatsapp_txt import WhatsAppTxtExtractor
from forensic.extractors.records import ArtifactRecord
from tests.conftest import corpus_dir

pytestmark = pytest.mark.corpus

EX = WhatsAppTxtExtractor()
NOT_WHATSAPP = {"discord_chat.txt", "empty.txt"}


def _whatsapp_samples() -> list[tuple[str, bytes]]:
    root = corpus_dir()
    if root is None:
        return []
    out = []
    for path in sorted((root / "chats").rglob("*")):
        rel = str(path.relative_to(root / "chats"))
        if path.suffix == ".txt":
            out.append((rel, path.read_bytes()))
        elif path.suffix == ".zip" and "WhatsApp" in path.name:
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    if name.endswith(".txt"):
                        out.append((f"{rel}/{name}", zf.read(name)))
    return out


SAMPLES = _whatsapp_samples()


def _item(rel: str, data: bytes) -> ExtractorInput:
    return ExtractorInput(path=rel, name=Path(rel).name, mime="text/plain", size=len(data), data=data)


def _plain(line: str) -> str:
    """Naive normal form of a raw line: no bidi marks, ASCII digits, single spaces."""
    line = strip_marks(line)
    line = "".join(str(unicodedata.digit(c)) if c.isdigit() and not c.isascii() else c for c in line)
    return " ".join(line.replace("\u202f", " ").replace("\u00a0", " ").split())


@pytest.mark.skipif(not SAMPLES, reason="third-party corpus not present (set FORENSIC_CORPUS)")
@pytest.mark.parametrize("rel,data", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_whatsapp_export(rel, data):
    name = Path(rel).name
    accepted = EX.accepts(rel, "text/plain", data[:4096])
    if name in NOT_WHATSAPP:
        assert not accepted
        return
    assert accepted, f"{rel} not recognised"
    records = [r for r in EX.extract(_item(rel, data)) if isinstance(r, ArtifactRecord)]
    assert records, f"{rel}: no messages"

    # zero lines lost: every non-empty line is a header, a continuation or a flagged line
    parsed = wt.parse_text(data)
    c = parsed.counts
    lines = wt.lines_of(data.decode("utf-8-sig", "replace"))
    non_empty = sum(1 for line in lines if strip_marks(line).strip())
    assert (c.message_lines + c.system_lines + c.continuation_lines + c.corrupt_lines
            + c.preamble_lines) == non_empty
    assert len(records) == c.message_lines + c.system_lines + c.corrupt_lines + (1 if c.preamble_lines else 0)
    assert c.preamble_lines == 0

    # first and last message against their own raw line, read naively
    good = [r for r in records if not r.corrupted]
    for rec in (good[0], good[-1]):
        raw = _plain(lines[rec.fields["source"]["line"] - 1])
        local = rec.timestamps[0].local
        assert f"{local.minute:02d}" in raw
        hour12 = local.hour % 12 or 12
        assert str(local.hour) in raw or str(hour12) in raw or f"{local.hour:02d}" in raw
        y = local.year
        assert any(form in raw for form in (str(y)[-2:], f"{y + 543} BE", f"/R{y - 2018},"))
        who = rec.fields["sender"] or rec.fields.get("actor")
        if who:
            assert _plain(who) in raw
        first_body_line = _plain(rec.fields["body"].split("\n")[0])
        assert first_body_line in raw
        end = rec.fields["source"].get("line_end", rec.fields["source"]["line"])
        assert rec.fields["body"].count("\n") <= end - rec.fields["source"]["line"]


@pytest.mark.skipif(not SAMPLES, reason="third-party corpus not present (set FORENSIC_CORPUS)")
@pytest.mark.parametrize("rel,data", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_fast_paths_read_the_export_as_the_reference_does(rel, data):
    """Both passes' fast paths (the default) against their line-by-line reference."""
    assert wt.parse_text(data) == wt.parse_text(data, fast=False)


def test_corpus_summary(corpus, capsys):
    """Totals for the report (printed with -s)."""
    files = messages = lines = 0
    for rel, data in SAMPLES:
        if Path(rel).name in NOT_WHATSAPP:
            continue
        p = wt.parse_text(data)
        files += 1
        messages += len(p.messages)
        lines += p.facts.lines
    print(f"\nWhatsApp corpus: {files} files, {lines} lines, {messages} records")
    assert files >= 50
