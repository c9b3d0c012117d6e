"""How forensic.store.people reads a number, jid or address for comparing: E.164 where the
form says the country, a national number only with the item's country (and saying so), else
its digits, never a guessed country."""
from __future__ import annotations

import pytest

from forensic.store.people import People, PersonRecord, read_value, user_id

NL = ("NL", "country NL from the item's call log (3 of 3 calls)")


@pytest.mark.parametrize("value, country, key, how", [
    ("+31 6 12345678", None, "+31612345678", "international form"),
    ("0031 6 1234 5678", None, "+31612345678", "international form"),
    ("tel:+31612345678", None, "+31612345678", "international form"),
    ("06-12 34 56 78", NL, "+31612345678", "national form read with " + NL[1]),
    ("06 12 34 56 78", None, "digits:0612345678", "digits only (no country known for a national number)"),
    ("31612345678@s.whatsapp.net", None, "+31612345678", "WhatsApp jid: the number in international form"),
    ("Ana@Example.org", None, "email:ana@example.org", "e-mail address"),
])
def test_readings(value, country, key, how):
    r = read_value(value, country)
    assert r is not None and (r.value, r.key, r.how) == (value.strip(), key, how)


@pytest.mark.parametrize("value", ["", "  ", "Ana Lima", "12", "120363025246125486@g.us", "81234567890123@lid",
                                   "(device owner)"])
def test_not_a_number(value):
    assert read_value(value, NL) is None


def test_an_impossible_number_keeps_its_digits():
    r = read_value("+99 1", None)
    assert r is None or r.key.startswith("digits:")


def _rec(rid, item, app, name, numbers=(), emails=(), user_ids=()):
    return PersonRecord(rid, item, "contact/entry", "x@1", {
        "app": app, "name": name, "numbers": list(numbers), "emails": list(emails), "user_ids": list(user_ids),
        "source": {"path": f"{app}.db", "table": "t", "row_id": rid}}, False, [], f"{app}.db", None)


def test_identities_union_and_no_guess_across_items():
    people = People([_rec(1, "a", "contacts", "Ana", numbers=["06 12 34 56 78"]),
                     _rec(2, "a", "whatsapp", "ana wa", user_ids=["31612345678@s.whatsapp.net"]),
                     _rec(3, "b", "contacts", "Other", numbers=["06 12 34 56 78"])],   # item b: no country
                    {"a": NL})
    ana = people.resolve("a", "+31612345678")
    assert ana is not None and ana["name"] == "Ana" and ana["other_names"] == ["ana wa"]
    assert [s["record_id"] for s in ana["sources"]] == [1, 2]
    # item b's national number is never read as Dutch: it stays its own identity, by digits
    other = people.resolve("b", "0612345678")
    assert other is not None and other["name"] == "Other" and [s["record_id"] for s in other["sources"]] == [3]
    assert people.resolve("b", "+31612345678")["name"] == "Ana"
    assert people.resolve("a", "Ana") is None and people.resolve("a", None) is None
    assert user_id(" X@lid ").key == "id:x@lid"
