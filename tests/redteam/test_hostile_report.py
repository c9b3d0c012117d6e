"""Red team, issue 17: hostile evidence strings in the report (HTML and its PDF).

An evidence string that reached the HTML unescaped, or a URL the PDF renderer fetched, would
let a phone's owner run script in the prosecutor's browser or make the examiner's machine read
a local file or call a server while exporting. Attacked here: :func:`e` (every value of the
templates), the map's SVG (labels, kinds, coordinates), and WeasyPrint itself fed markup that
names ``file:``, ``http:`` and nested ``data:`` URLs (a real HTTP server on loopback counts the
requests; ``pdftotext`` reads the PDF back)."""
from __future__ import annotations

import http.server
import subprocess
import threading
import xml.dom.minidom

import pytest

from builders import need
from forensic.exporters.report import e
from forensic.exporters.report.basemap import map_svg

HOSTILE = ["</script><script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\" onmouseover=\"alert(1)",
           "' style='background:url(http://127.0.0.1/x)'", "javascript:alert(1)", "]]><!--", "<![CDATA[x]]>",
           "\u202eevil.exe", "nul\x00byte", "a" * 100_000, "&lt;b&gt;", "<svg onload=alert(1)>",
           "<style>@import url(http://127.0.0.1/a.css)</style>"]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_every_value_is_text(value):
    shown = e(value)
    assert "<" not in shown and ">" not in shown and '"' not in shown and "'" not in shown
    assert "\x00" not in shown
    # read back by an HTML parser as one text node inside one attribute and one element
    doc = xml.dom.minidom.parseString(f'<p title="{shown}">{shown}</p>'.encode("utf-8", "surrogatepass"))
    p = doc.documentElement
    assert [n.nodeType for n in p.childNodes] in ([], [p.TEXT_NODE]) and list(p.attributes.keys()) == ["title"]


def test_the_map_svg_holds_hostile_labels_and_kinds_as_text():
    points = [{"lat": 40.4 + i / 100, "lon": -3.7, "kind": k, "label": lab}
              for i, (k, lab) in enumerate([("photo", HOSTILE[0]), ('x" onload="alert(1)', HOSTILE[1]),
                                            ("chat_location", "\x01\x0b\ufffe" + HOSTILE[5]),
                                            ("video", HOSTILE[3])])]
    points += [{"lat": "1e999", "lon": "nan", "kind": "photo", "label": "bad"},
               {"lat": "<x>", "lon": 1, "kind": "photo", "label": "bad"}]
    svg = map_svg(points)
    doc = xml.dom.minidom.parseString(svg.encode("utf-8"))          # well-formed XML
    assert not doc.getElementsByTagName("script") and not doc.getElementsByTagName("img")
    for el in doc.getElementsByTagName("*"):
        assert not any(a.lower().startswith("on") for a in el.attributes.keys()), el.toxml()[:80]
    titles = " ".join(t.firstChild.data for t in doc.getElementsByTagName("title") if t.firstChild)
    assert "<img src=x onerror=alert(1)>" in titles or "<img src=x" in titles


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (the library's name)
        _Counter.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { color: red }")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Counter.hits = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_pdf_renderer_fetches_nothing_and_reads_no_local_file(server, tmp_path):
    """Markup the templates never emit, as if a value had escaped: the renderer itself must
    still fetch nothing from the network and read no local file."""
    pytest.importorskip("weasyprint")
    need("pdftotext")
    from forensic.exporters.report import pdf
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-LOCAL-FILE\n")
    svg = (f"<svg xmlns='http://www.w3.org/2000/svg' xmlns:xlink='http://www.w3.org/1999/xlink'>"
           f"<image href='{server}/svg-image' width='10' height='10'/>"
           f"<image xlink:href='file://{secret}' width='10' height='10'/></svg>")
    import urllib.parse
    html = f"""<!doctype html><html><head>
<link rel="stylesheet" href="{server}/link.css">
<style>@import url({server}/import.css); @import "file://{secret}";
body {{ background: url({server}/bg.png) }}
@font-face {{ font-family: X; src: url({server}/font.woff) }}
p::after {{ content: url(file://{secret}) }}</style></head><body>
<p style="background-image: url('{server}/inline.png')">visible text</p>
<img src="{server}/img.png"><img src="file://{secret}"><img src="file:///etc/passwd">
<object data="file://{secret}" type="text/plain"></object><embed src="file://{secret}">
<iframe src="file://{secret}"></iframe>
<img src="data:image/svg+xml,{urllib.parse.quote(svg)}">
<a href="file://{secret}">link</a>
</body></html>"""
    out = pdf.render_pdf(html, "CASE-1", "c" * 64)
    assert _Counter.hits == []
    path = tmp_path / "r.pdf"
    path.write_bytes(out)
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    assert "visible text" in text
    assert "TOPSECRET" not in text and "root:" not in text
    assert b"TOPSECRET" not in out


def test_a_hostile_case_id_in_the_footer_cannot_import(server, tmp_path):
    pytest.importorskip("weasyprint")
    from forensic.exporters.report import pdf
    case_id = f'x"; }} @import url({server}/footer.css); @page {{ @top-left {{ content: "'
    pdf.render_pdf("<html><body><p>one</p></body></html>", case_id, "d" * 64)
    assert _Counter.hits == []
    assert pdf.css_string(case_id).count('"') == 2


@pytest.mark.parametrize("control", ["\u202e", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f",
                                     "\u061c", "\u202a", "\u202b", "\u202c"])
def test_a_bidi_control_cannot_turn_a_name_around(control):
    """'invoice<U+202E>gpj.exe' reads 'invoiceexe.jpg' in a browser and a PDF: the report shows
    the control as an escape, as the terminal does, so the prosecutor reads the real name."""
    shown = e(f"invoice{control}gpj.exe")
    assert control not in shown and f"\\u{ord(control):04x}" in shown and shown.endswith("gpj.exe")


def test_arabic_and_hebrew_text_is_shown_as_written():
    text = "\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd"
    assert e(text) == text
