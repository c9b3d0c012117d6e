"""Red team: `forensic search` against hostile documents, hostile terms and hostile hit text;
see docs/threat-model.md."""
from __future__ import annotations

import io
import time
import zipfile

from forensic.search.text import extract


def _timed(kind: str, data: bytes) -> tuple[str, float]:
    start = time.monotonic()
    text, why = extract(kind, data)
    assert why is None and text is not None
    return text, time.monotonic() - start


def test_unclosed_script_tags_do_not_backtrack():
    """HTML of 50,000 ``<script>`` never closed (400 KB): each opener looked for its closer to
    the end of the page (quadratic: minutes). Linear now, and the words after them still found."""
    text, took = _timed("html", b"<script>" * 50_000 + b" needle")
    assert took < 5 and "needle" in text


def test_unclosed_angle_brackets_do_not_backtrack():
    """200,000 ``<`` with no ``>``: each looked for a ``>`` to the end of the page."""
    text, took = _timed("html", b"<" * 200_000 + b" needle")
    assert took < 5 and "needle" in text


def test_html_text_still_drops_tags_scripts_and_styles():
    text, _ = _timed("html", b"<html><style>p{}</style><p>hello <b>big</b></p><SCRIPT>var x</script >"
                              b"<p>world &amp; more</p></html>")
    assert "hello" in text and "big" in text and "world & more" in text
    assert "var x" not in text and "p{}" not in text and "<" not in text


def _docx(parts: int, chars: int) -> bytes:
    body = ("<w:document xmlns:w='w'><w:body><w:p><w:t>" + "a" * chars + "</w:t></w:p></w:body></w:document>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in range(parts):
            zf.writestr(f"word/header{n}.xml", body)
    return out.getvalue()


def test_a_docx_of_many_huge_parts_stops_at_the_text_cap():
    """A 1 MB docx whose 60 header parts each unpack to 8 MB of text (480 MB): every part was
    parsed and kept before the text was cut to its cap. Reading stops at the cap now."""
    import tracemalloc

    from forensic.search.text import MAX_TEXT
    data = _docx(60, 8 << 20)
    assert len(data) < 2 << 20
    tracemalloc.start()
    try:
        text, _ = _timed("ooxml", data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(text) == MAX_TEXT
    assert peak < 256 << 20, f"{peak >> 20} MB held (960 MB before the fix)"
