"""Red team, second round: `forensic serve`'s search box (trigram indexes, search as you type)
against hostile text; see docs/threat-model.md. The real server in a subprocess."""
from __future__ import annotations

import pytest

from tests.redteam.test_hostile_serve import own  # noqa: F401  (fixture)
from tests.serve.conftest import sample  # noqa: F401  (fixture)
from tests.serve.test_security import request


@pytest.mark.parametrize("q", ["a%00bc", "%00%00%00", "har%00bour", "%22%00%22"])
@pytest.mark.parametrize("where", ["", "names", "metadata", "messages", "content"])
def test_a_nul_in_the_search_box_is_searched_not_a_500(own, q, where):  # noqa: F811
    """A NUL typed (or pasted, or put in a link) in the search box ended the trigram index's
    FTS5 phrase early: SQLite raised "unterminated string", a 500 at every key press."""
    r = request(own["server"], "GET", f"/chats?q={q}&where={where}", cookie=own["cookie"],
                headers={"HX-Request": "true"})
    assert r.status == 200, (q, where, r.status, r.body[:300])


def test_a_nul_in_any_parameter_is_an_answer(own):  # noqa: F811
    """Every page's filters, keys and the tag form with a NUL (and a lone surrogate's UTF-8
    bytes) in them: an answer, never a 500."""
    paths = ["/timeline?item=%00", "/timeline?from=%00&to=%00", "/timeline?box=%00", "/map?from=2024%00",
             "/map?box=1,2,3,4%00", "/map?after=1%00,2", "/gallery?after=1&after_item=%00", "/gallery?item=%00",
             "/conversation?item=%00&platform=%00&conversation=%00", "/conversation?message=1%00",
             "/chats?q=%ED%A0%80abc", "/chats?q=%ff%fe%fd", "/chats?start=%00", "/photo/1?back=%00"]
    for path in paths:
        r = request(own["server"], "GET", path, cookie=own["cookie"])
        assert r.status in (200, 303, 400, 404), (path, r.status, r.body[:200])
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for body in (f"csrf={own['csrf']}&kind=file&item=%00&ref=%00&tag=a%00b",
                 f"csrf={own['csrf']}&kind=%00&item=x&ref=y&tag=t&note=%00"):
        for htmx in ({}, {"HX-Request": "true"}):
            r = request(own["server"], "POST", "/tag", cookie=own["cookie"], body=body.encode(),
                        headers={**form, **htmx})
            assert r.status in (200, 303, 400), (body, htmx, r.status, r.body[:200])
