"""Entries: the fast line builder and checker agree with plain canonical JSON."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forensic.chain_of_custody.canonical import canonical_bytes, check_value, encode
from forensic.chain_of_custody.entry import (ZERO_HASH, LineBuilder, LineError, _full_check, check_line,
                                             check_lines, entry_hash_of)

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
    p = b.pending("file.recorded", subject, sha, details, reason)
    line, h = b.line(p, b.actor_json(name, None, None), seq, ZERO_HASH)
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
            b.pending("custody.note", {"case": "C"}, None, bad, None)
    with pytest.raises(ValueError):
        b.pending("Not An Action", {"case": "C"}, None, None, None)
    with pytest.raises(ValueError):
        b.pending("custody.note", {"case": "C"}, "ABC", None, None)
    with pytest.raises(ValueError):
        b.pending("custody.note", {"case": "\udcff"}, None, None, None)
    with pytest.raises(ValueError):
        check_value({"\U0001F600": 1})


def test_canonical_escapes_like_rfc8785():
    assert encode({"b": "\u2028\x7f\x1f\"\\/", "a": [True, None, -0]}) == \
        '{"a":[true,null,0],"b":"\u2028\x7f\\u001f\\"\\\\/"}'


def test_non_canonical_lines_are_rejected():
    b = LineBuilder(TOOL, "h")
    p = b.pending("custody.note", {"case": "C"}, None, {"n": 1}, None)
    line, h = b.line(p, b.actor_json("x", None, None), 0, ZERO_HASH)
    variants = [line.replace(b'{"n":1}', b'{"n": 1}'), line.replace(b'"n":1', b'"n":1.0'),
                line.replace(b'"case":"C"', b'"case":"\\u0043"'), line + b" ",
                line.replace(b'"seq":0', b'"seq":00')]
    for v in variants:
        assert v != line
        with pytest.raises(LineError):
            check_line(v, 0, ZERO_HASH)


TRIAGE_SHAPES = st.sampled_from([
    ("file.recorded", {"item": "E1", "locator": "E1/p1/fs/a{b}\"c\\.jpg"}, {"deleted": True, "file_id": 7}),
    ("artifact.recorded", {"item": "E1", "locator": "E1/x", "record_type": "photo"},
     {"artifact_id": 12, "record_sha256": "ab" * 32}),
    ("custody.note", "case:\u00fc\u2028", {}),
    ("triage.finished", {"item": "E1"}, {"counts": {"files": 3}, "warnings": ["x\ny"]}),
])


@settings(max_examples=400, deadline=None)
@given(shape=TRIAGE_SHAPES, pos=st.integers(0, 10_000), byte=st.integers(0, 255),
       how=st.sampled_from(["replace", "insert", "delete"]), linked=st.booleans())
def test_fast_check_accepts_only_what_the_full_check_accepts(shape, pos, byte, how, linked):
    """The regex fast path is an optimisation: on any one-byte change of a valid line it
    either declines or agrees with the general parse-and-re-encode check -- also when
    there is no previous hash to compare "prev" with (``linked`` False: the first line of
    a block), where the fast path must check prev's digits itself."""
    from forensic.chain_of_custody.entry import _fast_check
    action, subject, details = shape
    b = LineBuilder(TOOL, "host")
    p = b.pending(action, subject, "cd" * 32, details, None)
    line, h = b.line(p, b.actor_json("Ex", None, None), 5, ZERO_HASH)
    prev = ZERO_HASH if linked else None
    assert _fast_check(line, 5, prev) in (None, (h, ZERO_HASH))
    i = pos % (len(line) + 1)
    if how == "replace" and i < len(line):
        mutated = line[:i] + bytes([byte]) + line[i + 1:]
    elif how == "insert":
        mutated = line[:i] + bytes([byte]) + line[i:]
    else:
        mutated = line[:i] + line[i + 1:]
    if mutated == line:
        return
    fast = _fast_check(mutated, 5, prev)
    if fast is not None:
        full = _full_check(mutated.decode("utf-8"), 5, prev)
        assert fast == (full[0], full[1]["prev"])
    with pytest.raises(LineError):      # a one-byte change always breaks the hash
        check_line(mutated, 5, prev)
    # the check of a run of lines (where a line sharing the one before's start and end has
    # only its middle matched) stops at the changed line too
    p0 = b.pending(action, subject, "cd" * 32, details, None)
    line0, h0 = b.line(p0, b.actor_json("Ex", None, None), 4, ZERO_HASH)
    line1, h1 = b.line(p, b.actor_json("Ex", None, None), 5, h0)
    mutated1 = mutated.replace(ZERO_HASH.encode(), h0.encode(), 1) if linked else mutated
    assert check_lines([line0, line1], 4) == (2, ZERO_HASH, h1, None)
    if mutated1 != line1:
        assert check_lines([line0, mutated1], 4)[0] == 1


@pytest.mark.parametrize("prev", ["Z" * 64, "A" * 64, "0" * 63 + "g", "\\u0030" * 10 + "0" * 4])
def test_a_prev_that_is_not_hex_is_refused_with_nothing_to_compare_it_to(prev):
    """The first line of a block is checked with no hash before it: its "prev" must still
    be 64 lower-case hex digits, even when its own hash was recomputed to match."""
    b = LineBuilder(TOOL, "host")
    p = b.pending("file.recorded", {"item": "E1", "locator": "E1/f"}, None,
                  {"deleted": False, "file_id": 1}, None)
    line, _ = b.line(p, b.actor_json("Ex", None, None), 5, prev)
    with pytest.raises(LineError):
        check_line(line, 5, None)
    assert check_lines([line], 5)[0] == 0
    good, h = b.line(p, b.actor_json("Ex", None, None), 5, "ab" * 32)
    assert check_line(good, 5, None) == (h, "ab" * 32)


def test_check_lines_reports_the_first_bad_line():
    b = LineBuilder(TOOL, "host")
    prev, lines = ZERO_HASH, []
    for seq in range(6):
        p = b.pending("file.recorded", {"item": "E1", "locator": f"E1/f{seq}"}, None,
                      {"deleted": False, "file_id": seq}, None)
        line, prev = b.line(p, b.actor_json("Ex", None, None), 10 + seq, prev)
        lines.append(line)
    n, first_prev, last, error = check_lines(lines, 10)
    assert (n, first_prev, last, error) == (6, ZERO_HASH, prev, None)
    swapped = lines[:2] + [lines[3], lines[2]] + lines[4:]
    n, _, _, error = check_lines(swapped, 10)
    assert n == 2 and "seq" in error
    edited = lines[:4] + [lines[4].replace(b'"file_id":4', b'"file_id":5')] + lines[5:]
    n, _, _, error = check_lines(edited, 10)
    assert n == 4 and "hash" in error


@settings(max_examples=300, deadline=None)
@given(value=json_value | objects)
def test_orjson_encoding_equals_pythons_canonical_form(value):
    """encode() (orjson) writes byte for byte what Python's encoder writes with sorted keys,
    compact separators and raw UTF-8 -- the RFC 8785 form for the checked subset."""
    from forensic.chain_of_custody.canonical import encode_checked
    check_value(value)
    want = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert encode(value) == want
    assert encode_checked(value) == want


def test_encode_checked_refuses_what_check_value_refuses():
    from forensic.chain_of_custody.canonical import encode_checked
    for bad in ({"x": 1.5}, {"x": 2**53}, {"x": -(2**53)}, {1: "a"}, {"x": "\udcff"},
                {"\U0001F600": 1}, {"x": [1.0]}, {"x": b"b"}, {"x": {"y": float("inf")}}):
        with pytest.raises(ValueError):
            encode_checked(bad)
    assert encode_checked({"b": 2**53 - 1, "a": None, "c": False}) == \
        '{"a":null,"b":9007199254740991,"c":false}'
