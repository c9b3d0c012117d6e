"""Text extracted from documents, for the words their bytes do not hold as plain text:
PDF (pypdf), Office Open XML and OpenDocument (zipfile + defusedxml), HTML (tags dropped,
entities decoded), and plain text in encodings the raw pass does not read (UTF-16BE and
UTF-32 with a byte order mark). UTF-8 and UTF-16LE text is found by the raw-byte pass.

Every document is seized and hostile: sizes are capped, XML is parsed with entities and
DTDs refused, and a document that cannot be read gives no text (and a reason), never an
error that stops the search.
"""
from __future__ import annotations

import html
import io
import re
import zipfile

MAX_DOCUMENT = 64 << 20          # bytes read from one document for its text
MAX_TEXT = 32 << 20              # characters of text kept from one document
MAX_MEMBER = 64 << 20            # bytes of one OOXML/ODF part unpacked

_OOXML_PARTS = re.compile(r"^(word/(document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml"
                          r"|xl/sharedStrings\.xml|xl/worksheets/sheet\d+\.xml|ppt/slides/slide\d+\.xml"
                          r"|ppt/notesSlides/notesSlide\d+\.xml|content\.xml|docProps/core\.xml)$")
# Linear on hostile pages: a tag ends at the next ``<`` too (``<[^>]*>`` rescanned to the end
# of the page from every unclosed ``<``), and a script's closer is looked for once per kind.
_TAG = re.compile(r"<[^<>]*>")
_HIDDEN = re.compile(r"<(script|style)\b", re.I)
_CLOSERS = {name: re.compile(rf"</{name}\s*>", re.I) for name in ("script", "style")}
_HTML_NAMES = (".htm", ".html", ".xhtml", ".mht")


def kind_of(name: str, head: bytes) -> str | None:
    """Which extractor a document needs (pdf, ooxml, html, bom-text), or None."""
    lower = name.lower()
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04") and lower.endswith((".docx", ".xlsx", ".pptx", ".docm", ".xlsm", ".pptm",
                                                          ".odt", ".ods", ".odp")):
        return "ooxml"
    if lower.endswith(_HTML_NAMES) or head.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
        return "html"
    if head.startswith((b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "bom-text"
    return None


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader
    reader = PdfReader(io.BytesIO(data))
    out, total = [], 0
    for page in reader.pages:
        text = page.extract_text() or ""
        out.append(text)
        total += len(text)
        if total > MAX_TEXT:
            break
    meta = reader.metadata
    if meta is not None:
        out.extend(str(v) for v in meta.values() if isinstance(v, str))
    return "\n".join(out)


def _xml_text(xml: bytes) -> str:
    from defusedxml import ElementTree
    root = ElementTree.fromstring(xml)
    parts = []
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""
        if el.text and el.text.strip():
            parts.append(el.text)
        if tag in ("p", "br", "tab", "si", "row", "c", "h"):
            parts.append("\n" if tag != "c" else "\t")
    return "".join(parts)


def _ooxml(data: bytes) -> str:
    out = []
    total = 0
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            if _OOXML_PARTS.match(info.filename) and info.file_size <= MAX_MEMBER:
                out.append(_xml_text(zf.read(info)))
                total += len(out[-1])
                if total >= MAX_TEXT:        # a zip of many huge parts: no more than is kept
                    break
    return "\n".join(out)


def _html(data: bytes) -> str:
    text = data.decode("utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8", "replace")
    shown, at, unclosed = [], 0, set()
    while (m := _HIDDEN.search(text, at)) is not None:
        name = m.group(1).lower()
        end = None if name in unclosed else _CLOSERS[name].search(text, m.end())
        if end is None:              # never closed: only the tag goes, the words after it stay
            unclosed.add(name)
            shown.append(text[at:m.end()])
            at = m.end()
        else:
            shown.append(text[at:m.start()] + " ")
            at = end.end()
    shown.append(text[at:])
    return html.unescape(_TAG.sub(" ", "".join(shown)))


def _bom_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return data.decode("utf-32", "replace")
    return data.decode("utf-16", "replace")


EXTRACTORS = {"pdf": _pdf, "ooxml": _ooxml, "html": _html, "bom-text": _bom_text}


def extract(kind: str, data: bytes) -> tuple[str | None, str | None]:
    """(text, None), or (None, why) when the document cannot be read."""
    try:
        return EXTRACTORS[kind](data[:MAX_DOCUMENT])[:MAX_TEXT], None
    except Exception as exc:      # noqa: BLE001 - a hostile document: any failure is "no text", said why
        return None, f"{kind} text not extracted: {type(exc).__name__}: {str(exc)[:200]}"
