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
