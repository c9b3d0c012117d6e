"""The report as PDF (``data/report/report.pdf``): courts still file paper.

The PDF is the **paper edition** of the HTML report (``data/report/index.html``): the same
view (:mod:`.view`) laid out by the same templates with ``paper`` set (:func:`render_paper`),
printed by WeasyPrint with a print stylesheet added (``print.css``: no navigation, links as
text, simple blocks) and a footer on every page: the case id, the bundle's **evidence digest**
and "page N of M". The paper edition holds what a person reads in full: the summary and the
verdict, the findings with their items (the tagged photos' and videos' thumbnails, small),
every message of the selected conversations (never left out: they are the evidence), the
custody summary and the limitations. Every other listing (files, photos, videos, map points,
timeline, evidence items, custody actions, warnings) is cut to its first :data:`PAPER_ROWS`
rows, with a line saying how many more there are and where: the HTML report and the data
files hold everything. WeasyPrint lays out ~100 table rows a second here, so this keeps the
PDF's time to seconds for thousands of photos (``bench/bench_report_pdf.py``).

The PDF is a member of the bundle, so it cannot carry the ZIP's own SHA-256. The evidence
digest (:func:`evidence_digest`) names the bundle instead: the SHA-256 of the payload manifest
lines (``manifest-sha256.txt``'s format, sorted) of every member outside ``data/report/``:
the evidence, the listings, the custody excerpt, ``case.jsonld``. It is known before the
report is written, is written into ``bag-info.txt`` (:data:`BAG_INFO_LABEL`), and
``forensic verify-bundle`` computes it again from the manifest it has checked.

WeasyPrint fetches nothing but ``data:`` URIs here (the report embeds its pictures): the PDF
is made without any request to the network or a read of a local file.

:func:`render_pdf` prints any report HTML; as a backstop for HTML that is not the paper
edition, beyond :data:`PDF_IMAGES_CAP` embedded pictures and :data:`PDF_TABLE_ROWS_CAP` rows
of one table the rest are left out of the PDF, and the PDF says so where they would be.
"""
from __future__ import annotations

import hashlib
import re
from importlib import resources
from typing import Iterable

from forensic.errors import ForensicError, UsageError
from forensic.exporters import bagit
from forensic.exporters.report.thumbnails import ThumbnailCollector

PDF_MEMBER = "data/report/report.pdf"
REPORT_DIR = "data/report/"
BAG_INFO_LABEL = "Forensic-Evidence-Digest"
PAPER_ROWS = 25                      # rows of each listing but the findings and messages in the paper edition
PDF_IMAGES_CAP = 600                  # pictures embedded in the PDF at most (time: see docs/formats.md)
PDF_TABLE_ROWS_CAP = 500             # rows of one table in the PDF at most
# A table of more rows than this is laid out with fixed column widths in the PDF: WeasyPrint's
# automatic table layout measures every row again on each page (1,000 rows: 31 s, fixed: 3 s).
LONG_TABLE_ROWS = 60
_TABLE = re.compile(rb"<table\b(.*?)</table>", re.IGNORECASE | re.DOTALL)
_ROW = re.compile(rb"<tr\b", re.IGNORECASE)
# the report's pictures: <img ... src="data:..."> (the report embeds every picture it shows)
_IMG = re.compile(rb"<img\b[^>]*?\bsrc=\"data:[^\"]*\"[^>]*>", re.IGNORECASE)


def evidence_digest(payload: Iterable[tuple[str, str]]) -> str:
    """SHA-256 (hex) of the payload manifest lines of every member outside ``data/report/``:
    ``payload`` is (bag path, SHA-256) pairs as the payload manifest lists them; the lines
    are made, sorted and encoded exactly as ``manifest-sha256.txt`` writes them."""
    lines = bagit.manifest_text((path, digest) for path, digest in payload if not path.startswith(REPORT_DIR))
    return hashlib.sha256(lines).hexdigest()


def unavailable() -> str | None:
    """Why the PDF cannot be made here (WeasyPrint or the system libraries it loads, Pango,
    missing), or None."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:      # OSError: a shared library (Pango) not found
        return f"{type(exc).__name__}: {exc}"
    return None


def check_available() -> None:
    """Raise a clear error, before anything is written, when the PDF cannot be made."""
    why = unavailable()
    if why is not None:
        raise UsageError(f"the report's PDF cannot be made on this machine ({why})",
                         hint="install WeasyPrint's system libraries (Debian: libpango-1.0-0 libpangoft2-1.0-0; "
                              "scripts/setup.sh installs them), or export with --no-pdf")


def css_string(text: str) -> str:
    """``text`` as a CSS string literal: quotes, backslashes and every character outside
    printable ASCII escaped as ``\\HEX `` (so a case id cannot end the string or the rule)."""
    out = []
    for ch in text:
        if ch.isascii() and ch.isprintable() and ch not in "\"\\":
            out.append(ch)
        else:
            out.append(f"\\{ord(ch):x} ")
    return '"' + "".join(out) + '"'


def page_css(case_id: str, digest: str) -> str:
    """The footer of every page: case id and evidence digest on the left, page N of M on the right."""
    left = css_string(f"Case {case_id} \u00b7 evidence digest (SHA-256) {digest}")
    return ("@page { @bottom-left { content: " + left + "; font-size: 6.5pt; color: #333; "
            "font-family: monospace; width: 80%; vertical-align: top; }"
            " @bottom-right { content: \"page \" counter(page) \" of \" counter(pages); font-size: 8pt; "
            "vertical-align: top; } }\n")


def print_css() -> str:
    return resources.files("forensic.exporters.report").joinpath("print.css").read_text("utf-8")


def cap_images(html: bytes, cap: int = PDF_IMAGES_CAP) -> tuple[bytes, int]:
    """The HTML with its embedded pictures after the first ``cap`` left out (each replaced by
    a line saying so), and how many were left out."""
    seen = 0
    left = 0

    def one(m: re.Match) -> bytes:
        nonlocal seen, left
        seen += 1
        if seen <= cap:
            return m.group(0)
        left += 1
        return b'<span class="pdf-note">picture not in the PDF (see the HTML report)</span>'

    out = _IMG.sub(one, html)
    return out, left


def fit_tables(html: bytes, cap: int = PDF_TABLE_ROWS_CAP, long: int = LONG_TABLE_ROWS) -> tuple[bytes, int]:
    """The HTML with each table of more than ``long`` rows marked ``data-pdf-long`` (print.css
    lays those out with fixed column widths), and the body rows after the first ``cap`` of a
    table left out, a line after the table saying how many; and how many rows were left out."""
    left = 0

    def one(m: re.Match) -> bytes:
        nonlocal left
        table = m.group(0)
        if len(_ROW.findall(table)) <= long:
            return table
        table = b"<table data-pdf-long" + table[len(b"<table"):]
        start, end = table.find(b"<tbody"), table.rfind(b"</tbody>")
        body = [r.start() for r in _ROW.finditer(table, start)] if 0 <= start < end else []
        if len(body) <= cap:
            return table
        n = len(body) - cap
        left += n
        note = (f'<p class="pdf-note">{n:,} more rows of this table are not in this PDF: see the HTML report '
                f'(data/report/index.html) and the data files beside it (data/).</p>').encode("ascii")
        return table[:body[cap]] + table[end:] + note

    return _TABLE.sub(one, html), left


def _notice(html: bytes, omitted: int, cap: int) -> bytes:
    """A line at the top of the body saying what the PDF leaves out."""
    note = (f'<p class="pdf-note">This PDF shows the first {cap} of the report\'s {cap + omitted} pictures; '
            f'the other {omitted} are in the HTML report (data/report/index.html) and the evidence '
            f'itself (data/evidence/).</p>').encode("ascii")
    m = re.search(rb"<body[^>]*>", html, re.IGNORECASE)
    at = m.end() if m else 0
    return html[:at] + note + html[at:]


def render_paper(view: dict, thumbs: ThumbnailCollector | None, case_id: str, digest: str) -> bytes:
    """The PDF of the report's paper edition (see the module doc): ``view`` and ``thumbs`` as
    :func:`forensic.exporters.report.render` takes them."""
    from forensic.exporters.report import render_html
    check_available()
    html = render_html(view, thumbs, digest, paper=PAPER_ROWS)
    return render_pdf(html, case_id, digest)


def render_pdf(html: bytes | str, case_id: str, digest: str, *, images_cap: int = PDF_IMAGES_CAP) -> bytes:
    """The PDF of the HTML report ``html`` (as the bundle holds it), with the print stylesheet
    and the footer of :func:`page_css`. Fetches nothing but ``data:`` URIs."""
    check_available()
    import weasyprint
    data = html.encode("utf-8") if isinstance(html, str) else html
    data, omitted = cap_images(data, images_cap)
    if omitted:
        data = _notice(data, omitted, images_cap)
    data, _ = fit_tables(data)
    fetcher = weasyprint.URLFetcher(allowed_protocols={"data"}, allow_redirects=False, timeout=1)
    try:
        doc = weasyprint.HTML(string=data.decode("utf-8"), base_url=None, url_fetcher=fetcher)
        sheets = [weasyprint.CSS(string=print_css() + page_css(case_id, digest), url_fetcher=fetcher)]
        return doc.write_pdf(stylesheets=sheets, pdf_identifier=digest[:32].encode("ascii"),
                             custom_metadata=False)
    except Exception as exc:        # a fault of the renderer: the export stops, saying how to go on
        raise ForensicError(f"the report's PDF could not be made: WeasyPrint failed ({type(exc).__name__}: "
                            f"{str(exc)[:200]})",
                            hint="export with --no-pdf (the HTML report is the same report), and report this "
                                 "with the error log") from exc
