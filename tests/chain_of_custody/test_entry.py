"""Entries: the fast line builder and checker agree with plain canonical JSON."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain_of_custody.canonical import canonical_bytes, check_value, encode
from chain_of_custody.entry import (ZERO_HASH, LineBuilder, LineError, _full_check, check_line,
                                    entry_hash_of)

json_leaf = st.none() | st.booleans() | st.integers(-(2**53 - 1), 2**53 - 1) | \
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
json_value = st.recursive(json_leaf, lambda c: st.lists(c, max_size=3) |
                          st.dictionaries(st.text(st.characters(max_codepoint=0xFFFF,
                                                                blacklist_categories=("Cs",)),
                                                  max_size=6), c, max_size=3), max_leaves=8)
objects = st.dictionaries(st.text(max_size=6, alphabet=st.characters(max_codepoint=0xFFFF,
                                                                     blacklist_categories=("Cs",))),
                          json_value, max_size=4)
TOOL = {"name": "forensic", "version": "0.1.0", "command": "forensic test"}


@settings(max_examples=150, deadline=None)
@given(subject=st.text(max_size=10, alphabet=st.characters(blacklist_categories=("Cs",))) | objects,
       details=objects, reason=st.none() | st.text(max_size=10),
       sha=st.none() | st.text("0123456789abcdef", min_size=64, max_size=64),
       seq=st.integers(0, 2**40), name=st.text(min_size=1, max_size=8))
def test_builder_line_is_canonical_and_checks(subject, details, reason, sha, seq, name):
    b = LineBuilder(TOOL, "host-ü")
    p = b.pending("file.recorded", "", subject, sha, details, reason)
    p = (p[0], b.actor_json(name, None, None)) + p[2:]
    line, h = b.line(p, seq, ZERO_HASH)
    d = json.loads(line)
    assert line == canonical_bytes(d)                 # exactly RFC 8785 for this subset
    assert h == d["hash"] == entry_hash_of(d)
    assert d["seq"] == seq and d["subject"] == subject and d["details"] == details
    assert check_line(line, seq, ZERO_HASH) == (h, ZERO_HASH)
    assert _full_check(line.decode(), seq, ZERO_HASH)[0] == h


def test_floats_and_bad_values_are_refused():
    b = LineBuilder(TOOL, "h")
    for bad in ({"x": 1.5}, {"x": 2**60}, {"x": float("nan")}, {"x": b"bytes"}):
        with pytest.raises(ValueError):
            b.pending("custody.note", {"case": "C"}, "", None, bad, None)
    with pytest.raises(ValueError):
        b.pending("Not An Action", "", {"case": "C"}, None, None, None)
    with pytest.raises(ValueError):
        b.pending("custody.note", "", {"case": "C"}, "ABC", None, None)
    with pytest.raises(ValueError):
        b.pending("custody.note", "", {"case": "\udcff"}, None, None, None)
    with pytest.raises(ValueError):
        check_value({"\U0001F600": 1})


def test_canonical_escapes_like_rfc8785():
    assert encode({"b": "\u2028\x7f\x1f\"\\/", "a": [True, None, -0]}) == \
        '{"a":[true,null,0],"b":"\u2028\x7f\\u001f\\"\\\\/"}'


def test_non_canonical_lines_are_rejected():
    b = LineBuilder(TOOL, "h")
    p = b.pending("custody.note", "", {"case": "C"}, None, {"n": 1}, None)
    line, h = b.line((p[0], b.actor_json("x", None, None)) + p[2:], 0, ZERO_HASH)
    variants = [line.replace(b'{"n":1}', b'{"n": 1}'), line.replace(b'"n":1', b'"n":1.0'),
                line.replace(b'"case":"C"', b'"case":"\\u0043"'), line + b" ",
                line.replace(b'"seq":0', b'"seq":00')]
    for v in variants:
        assert v != line
        with pytest.raises(LineError):
            check_line(v, 0, ZERO_HASH)
