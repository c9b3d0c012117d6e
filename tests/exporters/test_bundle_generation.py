"""The bundle's generated text members hold hostile evidence text safely: KML parses back to
the same text (escaped by xml.sax.saxutils), CSV reads back cell for cell (csv module) with
formula-like evidence defused, and CASE/UCO IRIs are uuid5 of their key."""
from __future__ import annotations

import csv
import io
import random
import xml.etree.ElementTree as ET

from forensic.exporters.geo import GEO_FIELDS, csv_cell, kml_value, write_csv_rows, write_kml, xml_text
from forensic.exporters.timeline import FIELDS

HOSTILE = ["<script>alert(1)</script>", 'say "hi" & \'bye\'', "]]><x/>", "a\nSHA-256: " + "0" * 64,
           "=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tt", "\rr", "é›😀", "ctl\x01\x1f"]


def test_xml_text_reads_back_as_the_text():
    rng = random.Random(7)
    alphabet = "&<>\"'a;é\n]\t"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        doc = f'<r a="{xml_text(text)}">{xml_text(text)}</r>'
        root = ET.fromstring(doc)
        assert (root.text or "") == text
        assert root.get("a") == text.replace("\n", " ").replace("\t", " ")    # attribute value normalisation
    assert xml_text("a\x01b") == "a\\x01b"                   # not allowed in XML 1.0: shown, not dropped
    assert kml_value("a\nb") == "a&#10;b"


def test_kml_of_hostile_rows_parses_and_keeps_the_text():
    rows = [{"path": f"/DCIM/{t}.jpg", "locator": f"img \u203a {i}", "item": "PHONE1", "gps_valid": True,
             "lat": 1.0 + i, "lon": 2.0, "device": t, "sha256": "ab" * 32} for i, t in enumerate(HOSTILE)]
    out = io.StringIO()
    assert write_kml(rows, out, name="<case> & co") == len(HOSTILE)
    root = ET.fromstring(out.getvalue().encode("utf-8"))
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    assert root.find("k:Document/k:name", ns).text == "<case> & co"
    marks = root.findall("k:Document/k:Placemark", ns)
    assert len(marks) == len(HOSTILE)
    for mark, text in zip(marks, HOSTILE, strict=True):
        shown = text.replace("\x01", "\\x01").replace("\x1f", "\\x1f")
        data = {d.get("name"): d.find("k:value", ns).text for d in mark.findall("k:ExtendedData/k:Data", ns)}
        assert data["device"] == shown           # line breaks kept as character references
    # no line of the file starts inside evidence text (a forged "SHA-256:" line)
    assert not any(line.startswith("SHA-256: 000") for line in out.getvalue().splitlines())


def test_csv_reads_back_cell_for_cell_with_formulas_defused():
    rng = random.Random(3)
    pieces = ["", "a", "é›", ",", '"', "\r", "\n", "\r\n", " ", "\t", "=", "-", "'", *HOSTILE]
    values = [None, True, False, 0, -7, 1.25, ["l", 1], {"d": "x,y"}]
    for columns in (FIELDS, GEO_FIELDS, ("only",)):
        rows = []
        for _ in range(300):
            row = {}
            for k in columns:
                if rng.random() < 0.8:
                    row[k] = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 3)))
                elif rng.random() < 0.8:
                    row[k] = rng.choice(values)
            rows.append(row)
        out = io.StringIO(newline="")
        assert write_csv_rows(iter(rows), out, columns) == len(rows)
        got = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
        assert got[0] == list(columns) and len(got) == len(rows) + 1
        for row, cells in zip(rows, got[1:], strict=True):
            assert cells == [str(csv_cell(k, row.get(k))) for k in columns]
    assert csv_cell("device", "=1+1") == "'=1+1" and csv_cell("device", None) == "" and csv_cell("x", True) == "true"


def test_case_uco_iris_are_uuid5_of_the_json_key():
    import json
    import uuid

    from forensic.exporters import case_uco
    rng = random.Random(11)
    alphabet = "aZ9 \"\\/\n\x00é›😀"
    for case_id in ("CASE-1", 'Caso "ñ" \\ 7'):
        graph = case_uco._Graph(case_id)
        for _ in range(300):
            kind = rng.choice(("File", "Hash", "ExifEntry"))
            parts = tuple(rng.choice([
                "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))), rng.randint(-5, 10 ** 12),
                None, True, False, 1.5]) for _ in range(rng.randint(0, 4)))
            key = json.dumps([case_id, kind, *parts], ensure_ascii=False)
            assert graph.iri(kind, *parts) == f"kb:{kind}-{uuid.uuid5(case_uco._NS, key)}"
