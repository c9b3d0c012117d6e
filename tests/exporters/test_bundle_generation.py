"""What makes the bundle's generated members fast must not change a byte of them."""
from __future__ import annotations

import random
from xml.sax.saxutils import escape

from exporters.geo import xml_text


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

    from exporters import case_uco
    rng = random.Random(11)
    alphabet = "aZ9 \"\\/\n\x00é›😀"
    for _ in range(2000):
        parts = tuple(rng.choice([
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))), rng.randint(-5, 10 ** 12),
            None, True, False, 1.5]) for _ in range(rng.randint(0, 4)))
        key = json.dumps(["CASE-1", "Kind", *parts], ensure_ascii=False)
        assert case_uco._iri_key("CASE-1", "Kind", parts) == key
        assert case_uco._uuid5(key) == str(uuid.uuid5(case_uco._NS, key))
