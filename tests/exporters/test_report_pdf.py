"""The report as PDF (data/report/report.pdf, issue 17): made by WeasyPrint from the same HTML
as index.html, read back with pdftotext (poppler-utils): the case id, the examiner's
findings, the evidence digest and "page N of M" in it, on every page the footer; the
evidence digest in bag-info.txt is the manifest's lines outside data/report/, and
verify-bundle checks it.

The bundle is test_bundle.py's: a real ext4 image, triaged, tagged with notes, signed.
"""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from builders import need
from tests.exporters.test_bundle import CASE_ID, ROOT, _reseal, built, cli, rewrite, sha, verify  # noqa: F401


def _member(bundle: Path, name: str) -> bytes:
    with zipfile.ZipFile(bundle) as zf:
        return zf.read(ROOT + name)


def pdftext(pdf: bytes, tmp: Path) -> str:
    need("pdftotext")
    path = tmp / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def pages(pdf: bytes, tmp: Path) -> int:
    need("pdfinfo")
    path = tmp / "info.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def squeezed(text: str) -> str:
    """The text without white space: a digest broken over two lines is found whole."""
    return "".join(text.split())


def _digest(bundle: Path) -> str:
    info = _member(bundle, "bag-info.txt").decode()
    return re.search(r"^Forensic-Evidence-Digest: ([0-9a-f]{64})$", info, re.M).group(1)


def test_pdf_holds_case_findings_digest_and_page_numbers(built, tmp_path):  # noqa: F811
    pdf = _member(built["bundle"], "data/report/report.pdf")
    assert pdf.startswith(b"%PDF-")
    text = pdftext(pdf, tmp_path)
    n = pages(pdf, tmp_path)
    digest = _digest(built["bundle"])
    assert CASE_ID in text
    assert "found <here>" in text                        # the examiner's note on the tag, as written
    flat = squeezed(text)
    for words in ("Findings", "Chain of custody", "Entries in the log", "Signed by", "First action",
                  "Last action", "Checkpoint"):                 # the custody summary
        assert squeezed(words) in flat, words
    for page in range(1, n + 1):                       # every page's footer
        assert f"page {page} of {n}" in text
    assert text.count(f"Case {CASE_ID}") >= n
    assert squeezed(text).count(digest) >= n + 1        # each footer, and the summary
    # the same digest in the HTML report's summary and footer
    html = _member(built["bundle"], "data/report/index.html").decode()
    assert html.count(digest) == 2
    # no navigation bar printed (its links: every section's title in a row)
    from forensic.exporters.report.view import SECTIONS
    assert squeezed("".join(title for _, title in SECTIONS[:4])) not in squeezed(text)


def test_evidence_digest_is_the_manifest_outside_the_report(built, forensic):  # noqa: F811
    manifest = _member(built["bundle"], "manifest-sha256.txt").decode().splitlines(keepends=True)
    lines = [x for x in manifest if not x.split("  ", 1)[1].startswith("data/report/")]
    assert any("data/evidence/" in x for x in lines) and any("data/custody/" in x for x in lines)
    assert any("data/report/report.pdf" in x for x in manifest)      # the PDF is in the manifest, not the digest
    # the lines as the manifest has them (sorted by path), those of data/report/ left out
    expected = hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
    assert _digest(built["bundle"]) == expected
    rep = forensic("verify-bundle", built["bundle"], "--pubkey", built["pub"], "--json").json()
    assert rep["ok"] is True and rep["evidence_digest"] == expected


def test_verify_names_a_digest_that_does_not_match(built, tmp_path):  # noqa: F811
    info = _member(built["bundle"], "bag-info.txt").decode()
    forged = re.sub(r"(Forensic-Evidence-Digest: )[0-9a-f]{64}", r"\g<1>" + "0" * 64, info).encode()

    def change(items):
        items = [[n, forged if n == ROOT + "bag-info.txt" else d] for n, d in items]
        # the tag manifest and signature made again, so that only the digest disagrees
        tm = {k: v for k, v in (line.split("  ", 1)[::-1] for line in
                                dict(items)[ROOT + "tagmanifest-sha256.txt"].decode().splitlines())}
        tm["bag-info.txt"] = sha(forged)
        from forensic.exporters import bagit
        man = bagit.manifest_text(tm.items())
        sig = built["signer"].sign(man, f'forensic bundle case="{CASE_ID}" tagmanifest-sha256={sha(man)}').encode()
        return [[n, man if n == ROOT + "tagmanifest-sha256.txt" else sig if n.endswith(".minisig") else d]
                for n, d in items]

    bad = rewrite(built["bundle"], tmp_path / "forged.zip", change)
    rep = verify(bad, pubkey=built["pub"])
    assert rep.signature == "valid" and not rep.ok
    assert [p for p in rep.problems if "evidence digest" in p] == [
        f"bag-info.txt gives the evidence digest {'0' * 64}, but the manifest's lines outside data/report/ "
        f"give {_digest(built['bundle'])}"]


def test_no_pdf(built, forensic, tmp_path):  # noqa: F811
    out = forensic("export", "--case", built["case"], "--out", tmp_path / "n.zip", "--tag", "court", "--no-pdf",
                   "--json").json()
    assert out["pdf"] is False
    with zipfile.ZipFile(tmp_path / "n.zip") as zf:
        assert not [n for n in zf.namelist() if n.endswith(".pdf")]
    rep = forensic("verify-bundle", tmp_path / "n.zip", "--pubkey", built["pub"], "--json").json()
    assert rep["ok"] is True


def test_without_weasyprint_the_export_stops_before_writing(built, tmp_path):  # noqa: F811
    # a Python where WeasyPrint cannot be imported (as where it, or Pango, is not installed)
    out = tmp_path / "x.zip"
    code = ("import sys; sys.modules['weasyprint'] = None\n"
            "from forensic.cli.main import main\n"
            f"sys.exit(main(['export', '--case', {str(built['case'])!r}, '--out', {str(out)!r}, '--tag', 'court']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert proc.returncode == 2, proc.stderr
    assert "the report's PDF cannot be made" in proc.stderr and "--no-pdf" in proc.stderr
    assert not out.exists() and not out.with_name(out.name + ".partial").exists()


def test_pictures_over_the_cap_are_said_to_be_left_out(built, tmp_path):  # noqa: F811
    from forensic.exporters.report import pdf
    html = _member(built["bundle"], "data/report/index.html")
    shown = len(re.findall(rb'<img\b[^>]*src="data:', html))
    assert shown >= 1
    capped, left = pdf.cap_images(html, 0)
    assert left == shown and b'src="data:' not in capped
    text = pdftext(pdf.render_pdf(html, CASE_ID, "a" * 64, images_cap=0), tmp_path)
    assert f"This PDF shows the first 0 of the report's {shown} pictures" in " ".join(text.split())
    assert "picture not in the PDF" in text


def test_footer_of_a_hostile_case_id(tmp_path):
    from forensic.exporters.report import pdf
    case_id = 'X"; } @page { @bottom-left { content: "forged'
    out = pdf.render_pdf(b"<html><body><p>one page</p></body></html>", case_id, "b" * 64)
    text = pdftext(out, tmp_path)
    assert f"Case {case_id}" in text and "page 1 of 1" in text


def test_long_tables_laid_out_fixed_and_cut():
    from forensic.exporters.report import pdf
    body = "".join(f"<tr><td>{i}</td></tr>" for i in range(200))
    html = f"<table><tr><td>x</td></tr></table><table><tbody>{body}</tbody></table>".encode()
    marked, left = pdf.fit_tables(html, cap=150)
    assert marked.count(b"<table data-pdf-long") == 1 and marked.startswith(b"<table><tr>")
    assert left == 50 and marked.count(b"<tr>") == 151 and b"50 more rows of this table are not in this PDF" in marked


def test_pdf_is_the_paper_edition(built, tmp_path, monkeypatch):  # noqa: F811
    """The PDF prints every message and the findings with their pictures, and cuts every other
    listing to its first rows, saying how many more there are and where; index.html (the
    browser's report) is not cut."""
    from forensic.exporters.report import pdf
    monkeypatch.setattr(pdf, "PAPER_ROWS", 2)
    out = tmp_path / "paper.zip"
    assert cli("export", "--case", built["case"], "--out", out, "--tag", "court") == 0
    text = " ".join(pdftext(_member(out, "data/report/report.pdf"), tmp_path).split())
    for body in ("Hello <script>alert(1)</script> are you looking for work?", "Who is this & why?",
                 "IMG-20210314-WA0001.jpg (file attached)"):       # every message, as written
        assert body in text, body
    files = len(_member(out, "data/files.jsonl").splitlines())
    shown = re.search(r"(\d+) more files not printed here: see the HTML report \(data/report/index.html\) "
                      r"and data/files.jsonl", text)
    assert shown and int(shown.group(1)) == files - 2, (files, shown)
    assert "found <here>" in text and CASE_ID in text
    # the tagged photo's thumbnail beside its finding (and in the first photo cards)
    need("pdfimages")
    (tmp_path / "p.pdf").write_bytes(_member(out, "data/report/report.pdf"))
    listing = subprocess.run(["pdfimages", "-list", str(tmp_path / "p.pdf")], check=True, capture_output=True,
                             text=True).stdout.splitlines()[2:]
    assert len(listing) >= 1
    html = _member(out, "data/report/index.html")
    assert b"not printed here" not in html and b'<p class="m' not in html and b"fthumb" not in html
    assert html.count(b'<tr><td>PHONE1</td><td><code>') >= files      # every file row in the browser's report
