"""A Project VIC / CAID VICS export read as a stream: its records in bounded memory, each
with the category of the nearest object holding one, even when that category is written
after the media it covers."""
from __future__ import annotations

import hashlib
import json
import tracemalloc

from forensic.hashsets.formats import ReadNotes, read_vics


def test_a_big_export_is_read_in_bounded_memory(tmp_path):
    n = 150_000
    path = tmp_path / "big.json"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('{"odata.metadata": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/1.3.xml", "value": [')
        for i in range(n):
            md5 = hashlib.md5(str(i).encode()).hexdigest()
            fh.write(("," if i else "") + json.dumps({"MediaID": i, "Category": 1 + i % 3, "MD5": md5,
                                                      "Comments": "x" * 120}))
        fh.write("]}")
    assert path.stat().st_size > 30 << 20
    tracemalloc.start()
    try:
        count, categories = 0, set()
        for alg, _digest, category in read_vics(path, ReadNotes()):
            count += 1
            categories.add((alg, category))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == n and categories == {("md5", "1"), ("md5", "2"), ("md5", "3")}
    assert peak < 16 << 20, f"{peak >> 20} MB held for a {path.stat().st_size >> 20} MB export"


def test_a_category_written_after_its_media_applies_to_them(tmp_path):
    sha1 = hashlib.sha1(b"a").hexdigest()
    md5 = hashlib.md5(b"b").hexdigest()
    doc = {"value": [{"Media": [{"SHA1": sha1}, {"MD5": md5, "Category": "0"}], "Category": "2"},
                     {"MD5": hashlib.md5(b"c").hexdigest()}]}
    path = tmp_path / "late.json"
    path.write_text("\ufeff" + json.dumps(doc), encoding="utf-8")      # with a byte order mark
    got = sorted((alg, d.hex(), cat) for alg, d, cat in read_vics(path, ReadNotes()))
    assert got == sorted([("sha1", sha1, "2"), ("md5", md5, "0"), ("md5", hashlib.md5(b"c").hexdigest(), None)])


def test_an_export_cut_short_is_refused_and_keeps_no_set(tmp_path):
    """Read as a stream, a cut-off export gives records before its JSON breaks: the import is
    refused with the reason and leaves no set of those first records behind in the library."""
    import pytest

    from forensic import hashsets
    from forensic.errors import UsageError
    from tests.hashsets.test_import import vics
    text = vics(tmp_path / "whole.json", [bytes([i]) * 10 for i in range(40)], "2.0").read_text(encoding="utf-8")
    cut = tmp_path / "cut.json"
    cut.write_text(text[:len(text) // 2], encoding="utf-8")
    given = []
    with pytest.raises(UsageError, match="not valid JSON"):
        given.extend(read_vics(cut, ReadNotes()))
    assert given                                     # records came before the break (the stream)
    library = tmp_path / "library"
    with pytest.raises(UsageError, match="not valid JSON"):
        hashsets.import_set(cut, "cut", "known-bad", library=library)
    assert not (library / "cut").exists() and [s.name for s in hashsets.listing(library)] == []
