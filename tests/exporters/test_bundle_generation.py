"""What makes the bundle's generated members fast must not change a byte of them."""
from __future__ import annotations

import random
from xml.sax.saxutils import escape

from forensic.exporters.geo import xml_text


def test_xml_text_escapes_as_saxutils_did():
    rng = random.Random(7)
    alphabet = "&<>\"'a;é\x01\n"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        shown = text.replace("\x01", "\\x01")
        assert xml_text(text) == escape(shown, {'"': "&quot;", "'": "&apos;"})


def test_case_uco_iris_are_uuid5_of_the_json_key():
    import json
    import uuid

    from forensic.exporters import case_uco
    rng = random.Random(11)
    alphabet = "aZ9 \"\\/\n\x00é›😀"
    for case_id in ("CASE-1", 'Caso "ñ" \\ 7'):
        graph = case_uco._Graph(case_id)
        for _ in range(1000):
            kind = rng.choice(("File", "Hash", "ExifEntry"))
            parts = tuple(rng.choice([
                "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))), rng.randint(-5, 10 ** 12),
                None, True, False, 1.5]) for _ in range(rng.randint(0, 4)))
            key = json.dumps([case_id, kind, *parts], ensure_ascii=False)
            assert graph.iri(kind, *parts) == f"kb:{kind}-{uuid.uuid5(case_uco._NS, key)}"


def test_csv_cells_are_csv_cell_of_every_column():
    from forensic.exporters.geo import GEO_FIELDS, PHOTO_FIELDS, csv_cell, csv_cells
    from forensic.exporters.timeline import FIELDS
    rng = random.Random(5)
    values = [None, True, False, 0, 1, -2.5, "", "=1+1", "+x", "-3", "@a", "\tt", "\rr", "plain", "'q", ["w"], {"a": 1}]
    for columns in (FIELDS, GEO_FIELDS, PHOTO_FIELDS):
        cells = csv_cells(columns)
        for _ in range(500):
            row = {k: rng.choice(values) for k in columns if rng.random() < 0.9}
            assert cells(row) == [csv_cell(k, row.get(k)) for k in columns]


def test_csv_rows_are_what_the_csv_writer_writes():
    import csv
    import io

    from forensic.exporters.geo import csv_cell, write_csv_rows
    from forensic.exporters.timeline import FIELDS
    rng = random.Random(3)
    pieces = ["", "a", "é›", ",", '"', "\r", "\n", "\r\n", " ", "\t", "=", "-", "\x00", "'"]
    values = [None, True, False, 0, -7, 1.25, float("nan"), ["l", 1], {"d": "x,y"}]
    for columns in (FIELDS, ("only",)):
        rows = []
        for _ in range(3000):
            row = {}
            for k in columns:
                if rng.random() < 0.8:
                    row[k] = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 3)))
                elif rng.random() < 0.8:
                    row[k] = rng.choice(values)
            rows.append(row)
        expected = io.StringIO(newline="")
        writer = csv.writer(expected)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_cell(k, row.get(k)) for k in columns])
        got = io.StringIO(newline="")
        assert write_csv_rows(iter(rows), got, columns) == len(rows)
        assert got.getvalue() == expected.getvalue()
