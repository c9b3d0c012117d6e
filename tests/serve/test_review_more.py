"""forensic serve's second step (issue 19) over plain HTTP on the real server: documents' text
in the search box (``where``), marking a person from a conversation (a signed custody entry,
as ``forensic person mark``), the gallery's near-duplicate filter."""
from __future__ import annotations

import html
import json
import re
import shutil
from urllib.parse import urlencode

import pytest

from tests.serve.conftest import start_server, stop_server
from tests.serve.test_security import request


@pytest.fixture(scope="module")
def own(sample, tmp_path_factory):
    """A copy of the sample case with an HTML document in a third item, and its server."""
    from forensic.cli.main import main
    tmp = tmp_path_factory.mktemp("serve-more")
    case = tmp / "case"
    shutil.copytree(sample["case"], case)
    docs = tmp / "docs"
    docs.mkdir()
    (docs / "notes.html").write_text("<html><body><p>Ship the parcel to the Harbour Warehouse 7 "
                                     "<b>tonight</b></p></body></html>", encoding="utf-8")
    import os
    old = os.environ.get("FORENSIC_KEY")
    os.environ["FORENSIC_KEY"] = sample["key"]
    try:
        assert main(["evidence", "add", str(docs), "--case", str(case), "--id", "docs", "--quiet"]) == 0
        assert main(["triage", "docs", "--case", str(case), "--quiet"]) in (0, 3)
    finally:
        if old is None:
            os.environ.pop("FORENSIC_KEY", None)
        else:
            os.environ["FORENSIC_KEY"] = old
    s = start_server(case, sample["key"])
    r = request(s, "GET", f"/?token={s.token}")
    cookie = r.getheader("Set-Cookie").split(";", 1)[0]
    yield {"case": case, "server": s, "cookie": cookie, "key": sample["key"]}
    stop_server(s)


def get(own, path: str) -> str:
    r = request(own["server"], "GET", path, cookie=own["cookie"])
    assert r.status == 200, (path, r.status)
    return r.body.decode()


def test_documents_are_searched_once_indexed(own, monkeypatch):
    page = get(own, "/chats?q=warehouse&where=content")
    assert 'id="content-hits"' in page and "not indexed since their last triage" in page
    assert 'id="hits"' not in page and 'id="file-hits"' not in page          # where keeps one place
    from forensic.cli.main import main
    monkeypatch.setenv("FORENSIC_KEY", own["key"])
    main(["search", "warehouse", "--in", "content", "--case", str(own["case"]), "--quiet"])   # indexes docs
    page = get(own, "/chats?q=warehouse&where=content")
    section = page.split('id="content-hits"', 1)[1].split("</section>", 1)[0]
    assert "<mark>Warehouse</mark>" in section and "notes.html" in section and "the Harbour " in section
    assert "Documents of docs" not in section             # the docs item is indexed now (card, phone: no)
    everywhere = get(own, "/chats?q=warehouse")
    assert 'id="content-hits"' in everywhere and 'id="file-hits"' in everywhere
    assert 'id="content-hits"' not in get(own, "/chats?q=warehouse&where=names")
    assert 'id="content-hits"' in get(own, "/chats?q=warehouse&where=bogus")      # unknown: everywhere


def test_a_person_marked_from_a_conversation_is_a_signed_custody_entry(own):
    page = get(own, "/chats")
    conv = html.unescape(re.search(r'href="(/conversation\?[^"]+)"', page).group(1))
    page = get(own, conv)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert '<option value="Ann">Ann</option>' in page
    log = own["case"] / "custody.jsonl"
    before = len(log.read_bytes().splitlines())
    hdr = {"Content-Type": "application/x-www-form-urlencoded"}
    r = request(own["server"], "POST", "/person", cookie=own["cookie"], headers=hdr,
                body=b"person=Ann&role=victim&note=recruited&back=/chats")
    assert r.status == 403                                                          # no CSRF token
    r = request(own["server"], "POST", "/person", cookie=own["cookie"], headers=hdr,
                body=f"csrf={csrf}&person=Ann&role=boss&back=/chats".encode())
    assert r.status == 400 and b"no such role" in r.body
    r = request(own["server"], "POST", "/person", cookie=own["cookie"], headers=hdr,
                body=f"csrf={csrf}&person=Nobody+Here&role=witness&back=/chats".encode())
    assert r.status == 400 and b"names no person" in r.body
    assert len(log.read_bytes().splitlines()) == before                             # nothing logged
    r = request(own["server"], "POST", "/person", cookie=own["cookie"], headers=hdr,
                body=urlencode({"csrf": csrf, "person": "Ann", "role": "victim", "note": "recruited",
                                "back": conv}).encode())
    assert r.status == 303 and r.getheader("Location") == conv
    added = [json.loads(x) for x in log.read_bytes().splitlines()[before:]]
    [marked] = [e for e in added if e["action"] == "person.marked"]
    assert marked["subject"] == {"person": "name:Ann"}
    assert marked["details"] == {"role": "victim", "note": "recruited", "given": "Ann"}
    assert marked["actor"]["name"] == "ann" and marked["actor"]["key_fingerprint"]
    checkpoints = [json.loads(x) for x in (own["case"] / "custody.checkpoints.jsonl").read_bytes().splitlines()]
    assert checkpoints[-1]["signature"] and checkpoints[-1]["tree_size"] == len(log.read_bytes().splitlines())
    assert "name:Ann: victim (recruited)" in get(own, conv)
    from forensic.cli.main import main
    assert main(["custody", "verify", "--case", str(own["case"]), "--quiet"]) == 0


def test_the_near_duplicate_filter(own):
    """The card's IMG_0003 and the phone's WhatsApp copy of it (re-encoded, smaller) are near
    duplicates; IMG_0002 and its byte copy under a hostile name are one picture twice; the
    others (IMG_0001, IMG_0004, madrid) have none."""
    everything = re.findall(r'href="/photo/(\d+)"', get(own, "/gallery"))
    page = get(own, "/gallery?near=1")
    near = re.findall(r'href="/photo/(\d+)"', page)
    assert 'name="near" value="1" checked' in page
    assert 0 < len(near) < len(everything) and set(near) <= set(everything)
    names = {html.unescape(get(own, f"/photo/{p}").split('id="locator">', 1)[1].split("<", 1)[0]).rsplit("/", 1)[-1]
             for p in near}
    assert {"IMG_0003.jpg", "IMG-20210314-WA0001.jpg"} <= names
    assert not names & {"IMG_0001.jpg", "IMG_0004.jpg", "madrid.jpg"}


def test_the_conversation_list_is_paged(own):
    """100 conversations a page (start=N); a start past the list lists none, one that is not a
    number is the first page."""
    page = get(own, "/chats")
    assert page.count('href="/conversation?') == 1 and 'id="conv-pages"' not in page      # one conversation
    assert get(own, "/chats?start=x").count('href="/conversation?') == 1
    assert "No conversations." in get(own, "/chats?start=100")
    assert 'id="conversations"' not in get(own, "/chats?q=harbour")                        # results alone
