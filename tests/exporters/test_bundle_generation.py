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
