"""Red team: `forensic serve` (the review workspace) against hostile requests and a hostile
case folder; see docs/threat-model.md. Each test drives the real server in a subprocess
(tests/serve/conftest.py) over plain HTTP."""
from __future__ import annotations

import shutil
import threading

import pytest

from tests.serve.conftest import sample, start_server, stop_server  # noqa: F401  (fixture)
from tests.serve.test_security import request

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
HUGE = "9" * 30                      # beyond SQLite's 64-bit integers


@pytest.fixture()
def own(sample, tmp_path):  # noqa: F811
    """A copy of the sample case with its own server, a cookie and the CSRF token."""
    import re
    case = tmp_path / "case"
    shutil.copytree(sample["case"], case)
    server = start_server(case, sample["key"])
    try:
        r = request(server, "GET", f"/?token={server.token}")
        cookie = r.getheader("Set-Cookie").split(";", 1)[0]
        gallery = request(server, "GET", "/gallery", cookie=cookie).body.decode()
        photo = re.search(r'href="(/photo/\d+)"', gallery).group(1)
        page = request(server, "GET", photo, cookie=cookie).body.decode()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        yield {"server": server, "cookie": cookie, "csrf": csrf, "case": case, "key": sample["key"]}
    finally:
        stop_server(server)


def test_backslash_paths_do_not_redirect_off_the_server(own):
    """Browsers read ``/\\evil.example`` as ``//evil.example`` (another host): neither the token
    exchange nor the tag form's ``back`` may send the examiner there."""
    server, cookie = own["server"], own["cookie"]
    r = request(server, "GET", f"/\\evil.example/?token={server.token}")
    assert r.status == 303 and _same_origin(r.getheader("Location"))
    body = f"csrf={own['csrf']}&kind=message&item=phone&ref={_message(own)}&tag=x&back=/%5Cevil.example".encode()
    r = request(server, "POST", "/tag", cookie=cookie, body=body, headers=FORM)
    assert r.status == 303 and _same_origin(r.getheader("Location"))


def _same_origin(location: str) -> bool:
    """A path on this server: not ``//host`` nor ``/\\host`` (a browser reads both as a host)."""
    return location.startswith("/") and location[1:2] not in ("/", "\\")


def _message(own: dict) -> str:
    import re
    chats = request(own["server"], "GET", "/chats?q=harbour", cookie=own["cookie"]).body.decode()
    return re.search(r"/conversation\?message=(\d+)", chats).group(1)


@pytest.mark.parametrize("path", [f"/photo/{HUGE}", f"/thumb/{HUGE}.jpg", f"/gallery?after={HUGE}&after_item=card",
                                  f"/conversation?message={HUGE}", f"/timeline?offset={HUGE}",
                                  f"/conversation?item=phone&offset={HUGE}",
                                  f"/timeline?after=%5B{HUGE},0,%22a%22,%22b%22,%22c%22,0,0%5D",
                                  "/timeline?after=" + "%5B" * 3_000, f"/timeline?from={HUGE}&to={HUGE}",
                                  f"/map?from=-{HUGE}&to={HUGE}", "/timeline?from=9999-12-31T23:59:59%2B23:59"])
def test_integers_beyond_sqlite_are_a_clear_refusal(own, path):
    """Ids and offsets are numbers from the URL: one past 64 bits is an answer (404 or an empty
    page), not a 500 from SQLite's OverflowError."""
    r = request(own["server"], "GET", path, cookie=own["cookie"])
    assert r.status in (200, 400, 404), (path, r.status, r.body[:200])


def test_host_header_variants_are_refused(own):
    """DNS rebinding spellings of a loopback name: a trailing dot, upper case, no port, IPv6."""
    server, cookie = own["server"], own["cookie"]
    port = server.port
    for host in (f"127.0.0.1.:{port}", f"LOCALHOST.:{port}", "127.0.0.1", "localhost", f"[::1]:{port}",
                 f"localhost.:{port}", f"127.0.0.1:{port}@evil.example", f"evil.example:{port}"):
        assert request(server, "GET", "/", host=host, cookie=cookie).status == 421, host


def test_an_exports_symlink_does_not_write_outside_the_case(own, tmp_path):
    """``CASE/exports`` planted as a symlink to another folder: the export button refuses
    rather than write the bundle and its password there."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (own["case"] / "exports").symlink_to(outside, target_is_directory=True)
    server, cookie = own["server"], own["cookie"]
    body = f"csrf={own['csrf']}&kind=message&item=phone&ref={_message(own)}&tag=rt3".encode()
    assert request(server, "POST", "/tag", cookie=cookie, body=body, headers=FORM).status == 303
    r = request(server, "POST", "/export", cookie=cookie, body=f"csrf={own['csrf']}&tag=rt3".encode(),
                headers=FORM)
    assert list(outside.iterdir()) == [], r.body[:300]
    assert r.status == 400


def test_two_tabs_and_the_cli_tag_at_once(own, monkeypatch):
    """Two tabs and a CLI ``tag add`` tagging at the same time: every tag lands and the custody
    log still verifies (each entry signed, the chain unbroken)."""
    import re
    from forensic.case import Case
    from forensic.cli.main import main
    from forensic.store import tags as store_tags
    server, cookie, case = own["server"], own["cookie"], own["case"]
    chats = request(server, "GET", "/chats?q=harbour", cookie=cookie).body.decode()
    message = re.search(r"/conversation\?message=(\d+)", chats).group(1)
    statuses: list[int] = []

    def tab(n: int) -> None:
        for k in range(4):
            body = f"csrf={own['csrf']}&kind=message&item=phone&ref={message}&tag=tab{n}-{k}".encode()
            statuses.append(request(server, "POST", "/tag", cookie=cookie, body=body, headers=FORM).status)

    threads = [threading.Thread(target=tab, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    monkeypatch.setenv("FORENSIC_KEY", own["key"])
    cli = [main(["tag", "add", f"message:{message}", "--case", str(case), "--tag", f"cli{k}", "--quiet"])
           for k in range(3)]
    for t in threads:
        t.join(120)
    assert statuses == [303] * 8 and cli == [0, 0, 0]
    c = Case.open(case)
    try:
        names = set(store_tags.names(c.db))
    finally:
        c.close()
    assert {f"tab{n}-{k}" for n in range(2) for k in range(4)} | {"cli0", "cli1", "cli2"} <= names
    assert main(["custody", "verify", "--case", str(case), "--quiet"]) == 0


def test_map_labels_are_escaped_in_the_svg():
    """A file name with markup on the map: the SVG the page embeds unescaped carries it as text
    (no element, no attribute made from it)."""
    from forensic.exporters.report.basemap import map_svg
    svg = map_svg([{"lat": 40.4, "lon": -3.7, "kind": "photo",
                    "label": "card: <script>alert(1)</script>\" onload=\"x.jpg"}])
    import xml.etree.ElementTree as ET
    root = ET.fromstring(svg)
    assert not [e for e in root.iter() if e.tag.endswith("script") or "onload" in e.attrib]
    assert "<script>" not in svg


def test_no_cors_and_nothing_read_before_the_cookie(own):
    """Another origin asking: no ``Access-Control-*`` header, a preflight refused. A POST
    without the cookie is refused before its (large) body is read; 64 KB of headers too."""
    import socket
    server, cookie = own["server"], own["cookie"]
    for method in ("GET", "OPTIONS"):
        r = request(server, method, "/", cookie=cookie, headers={"Origin": "http://evil.example",
                                                                 "Access-Control-Request-Method": "POST"})
        assert not [h for h, _ in r.getheaders() if h.lower().startswith("access-control-")], method
        assert method == "GET" or r.status in (403, 405)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(f"POST /tag HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Length: 1000000000\r\n"
                  "Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode())
        assert s.recv(200).startswith(b"HTTP/1.1 403")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:     # 4 MB of headers
        head = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n".encode()
        try:
            s.sendall(head + b"X-Pad: " + b"a" * (4 << 20) + b"\r\n\r\n")
        except OSError:
            pass                                                   # closed while sending: refused
        try:
            answer = s.recv(200)
        except ConnectionResetError:
            answer = b""
        assert answer == b"" or answer.split(b" ")[1] in (b"400", b"431"), answer


def test_a_known_bad_photo_has_no_picture_on_its_similar_pages(sample, tmp_path, monkeypatch):  # noqa: F811
    """A known-bad photo: its id guessed on /thumb, and the page of a photo near it: no
    thumbnail of it anywhere (links and hashes only); the set's category (markup) as text."""
    import hashlib
    import re
    from forensic.case import Case
    from forensic.cli.main import main
    from forensic.store import review
    case = tmp_path / "case"
    shutil.copytree(sample["case"], case)
    original = (sample["tmp"] / "card" / "DCIM" / "IMG_0003.jpg").read_bytes()     # its chat copy is near
    (tmp_path / "bad.txt").write_text(f"{hashlib.sha256(original).hexdigest()}  x.jpg\n")
    monkeypatch.setenv("FORENSIC_HASHSETS", str(tmp_path / "library"))
    monkeypatch.setenv("FORENSIC_KEY", sample["key"])
    assert main(["hashset", "import", str(tmp_path / "bad.txt"), "--name", "bad", "--kind", "known-bad",
                 "--category", "<script>alert(3)</script>", "--quiet"]) == 0
    assert main(["hashset", "check", "--case", str(case), "--quiet"]) in (0, 3)
    c = Case.open(case)
    try:
        bad_files = [f for f in (review.file(c.db, i) for i in range(1, 200)) if f is not None
                     and f.sha256 == hashlib.sha256(original).hexdigest()]
    finally:
        c.close()
    assert bad_files
    server = start_server(case, sample["key"])
    try:
        cookie = request(server, "GET", f"/?token={server.token}").getheader("Set-Cookie").split(";", 1)[0]
        for f in bad_files:
            assert request(server, "GET", f"/thumb/{f.id}.jpg", cookie=cookie).status == 404
        gallery = request(server, "GET", "/gallery", cookie=cookie).body.decode()
        assert "&lt;script&gt;alert(3)" in gallery and "<script>alert(3)" not in gallery     # the category
        for photo in sorted(set(re.findall(r'href="/photo/(\d+)"', gallery))):
            page = request(server, "GET", f"/photo/{photo}", cookie=cookie).body.decode()
            for f in bad_files:
                assert f"/thumb/{f.id}.jpg" not in page, photo
        chats = request(server, "GET", "/chats", cookie=cookie).body.decode()
        for conv in re.findall(r'href="(/conversation\?[^"]+)"', chats):
            page = request(server, "GET", conv.replace("&amp;", "&"), cookie=cookie).body.decode()
            for f in bad_files:
                assert f"/thumb/{f.id}.jpg" not in page
    finally:
        stop_server(server)


@pytest.mark.parametrize("query", ["/gallery?item=card'%20OR%201=1--&tag=%22)%20UNION%20SELECT%201--",
                                   "/gallery?from=2021'--&to=x%25&geotagged=1",
                                   "/chats?q=%25'%20OR%20'1'='1", "/chats?q=%22%20NEAR%20*%20-x%20body:y",
                                   "/chats?q=!%25_", "/conversation?item='&platform=%25&conversation=%22",
                                   "/timeline?item='%20OR%201=1--&from=zz&to=%00", "/map?from=%27&to=-1",
                                   # the map's box and page key, the timeline's box: odd, huge, not numbers
                                   "/map?box=nan,nan,nan,nan", "/map?box=1e999,-1e999,1e999,1e999",
                                   "/map?box=91,0,-91,0", "/map?box=1,2,3", "/map?box=%27;--,1,2,3",
                                   "/map?after=99999999999999999999999,1", "/map?after=1,2,3&box=0,170,10,-170",
                                   "/timeline?box=0,-200,10,10", "/timeline?box=-90,-180,90,180&after=%5B1%5D",
                                   "/chats?q=%22%22%22&where=names", "/chats?q=ab&where=metadata",
                                   "/chats?q=%22)%20OR%20rowid%3E0--&where=metadata", "/chats?start=-5"])
def test_sql_and_fts_syntax_in_parameters_are_data(own, query):
    """Quotes, comments, UNION, LIKE wildcards and FTS5 syntax in every filter: an answer (a
    page, or 404 for no such conversation), never a 500 or a query error."""
    r = request(own["server"], "GET", query, cookie=own["cookie"])
    assert r.status in (200, 404), (query, r.status, r.body[:300])
    assert b"OperationalError" not in r.body and b"syntax error" not in r.body


def test_open_does_not_put_the_token_on_a_command_line(sample, tmp_path):  # noqa: F811
    """``--open`` started the browser with the token URL in its argv, readable by every local
    user in ``ps`` (/proc/PID/cmdline). The browser is given a private file instead (mode
    0600) that forwards to the URL."""
    import os
    import stat
    import subprocess
    import sys
    import time
    record = tmp_path / "argv.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser), "FORENSIC_KEY": sample["key"]}
    proc = subprocess.Popen([sys.executable, "-m", "forensic.cli.main", "serve", "--case", str(sample["case"]),
                             "--open"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        url = proc.stdout.readline().strip()
        token = url.split("token=", 1)[1]
        deadline = time.monotonic() + 20
        while not record.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        argv = record.read_text()
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert token not in argv
    opened = argv.split()[0].removeprefix("file://")
    assert token in open(opened, encoding="utf-8").read()
    assert stat.S_IMODE(os.stat(opened).st_mode) & 0o077 == 0


def test_hostile_tag_names_and_notes(own, tmp_path):
    """A tag named like markup and like an option (``--out=PATH``), with a markup note: shown as
    text on every page, and the export button neither runs it as an option nor writes there."""
    server, cookie, csrf = own["server"], own["cookie"], own["csrf"]
    from urllib.parse import urlencode
    target = tmp_path / "elsewhere.zip"
    message = _message(own)
    for name in ('"><script>alert(1)</script>', f"--out={target}"):
        body = urlencode({"csrf": csrf, "kind": "message", "item": "phone", "ref": message, "tag": name,
                          "note": "<img src=x onerror=alert(2)>", "back": "/"}).encode()
        assert request(server, "POST", "/tag", cookie=cookie, body=body, headers=FORM).status == 303
    pages = [request(server, "GET", p, cookie=cookie).body.decode()
             for p in ("/", f"/conversation?message={message}", "/gallery")]
    for page in pages:
        assert "<script>alert(1)" not in page and "<img src=x onerror" not in page
    r = request(server, "POST", "/export", cookie=cookie, headers=FORM,
                body=urlencode({"csrf": csrf, "tag": f"--out={target}"}).encode())
    assert not target.exists() and not list(tmp_path.glob("elsewhere*"))
    assert r.status in (200, 400)
    assert "<script>" not in r.body.decode()


def test_two_cases_served_at_once_keep_their_sessions(own):
    """Cookies ignore the port: a second ``forensic serve`` (another case) set a cookie of the
    same name on 127.0.0.1, replacing the first's, whose tabs then got 403. Each server's
    cookie is its own now, and neither server accepts the other's."""
    import http.cookiejar
    import urllib.request
    other = start_server(own["case"], own["key"])
    try:
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        first, second = own["server"], other
        assert browser.open(first.url, timeout=10).status == 200
        assert browser.open(second.url, timeout=10).status == 200
        for server in (first, second):
            assert browser.open(server.base + "/gallery", timeout=10).status == 200
        assert len(jar) == 2
    finally:
        stop_server(other)


def test_two_export_clicks_in_one_second_lose_no_password(own):
    """The export button twice at once (two tabs, a double click): names are made from the tag
    and the second, so both exports aimed at one bundle and one password file. Each bundle
    that is written keeps the password that opens it."""
    import pyzipper
    server, cookie, csrf = own["server"], own["cookie"], own["csrf"]
    body = f"csrf={csrf}&kind=message&item=phone&ref={_message(own)}&tag=twice".encode()
    assert request(server, "POST", "/tag", cookie=cookie, body=body, headers=FORM).status == 303
    statuses: list[int] = []

    def click() -> None:
        statuses.append(request(server, "POST", "/export", cookie=cookie, body=f"csrf={csrf}&tag=twice".encode(),
                                headers=FORM, timeout=120).status)      # the second waits for the first

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert 200 in statuses
    bundles = sorted((own["case"] / "exports").glob("*.zip"))
    assert len(bundles) == statuses.count(200), (statuses, bundles)
    for bundle in bundles:
        password = bundle.with_suffix(".password").read_text().strip().encode()
        with pyzipper.AESZipFile(bundle) as zf:
            zf.setpassword(password)
            name = zf.namelist()[0]
            assert zf.read(name) is not None


def test_two_cli_exports_to_one_name_keep_bundle_and_password_together(sample, tmp_path, monkeypatch):  # noqa: F811
    """Two ``forensic export --generate-password --password-out P`` to one ``--out`` at once: the
    password file was created only after the bundle, so the second run deleted the first's
    ``.partial``, replaced its bundle, and one password file was left for the other bundle.
    The password file is now taken first: one run is refused, the bundle left opens with it."""
    import os
    import subprocess
    import sys
    import pyzipper
    from forensic.cli.main import main
    case = tmp_path / "case"
    shutil.copytree(sample["case"], case)
    monkeypatch.setenv("FORENSIC_KEY", sample["key"])
    assert main(["tag", "add", "--case", str(case), "--tag", "both", "--item", "card", "--geotagged", "--quiet"]) == 0
    out, password = tmp_path / "b.zip", tmp_path / "b.password"
    env = {**os.environ, "FORENSIC_KEY": sample["key"]}
    args = [sys.executable, "-m", "forensic.cli.main", "export", "--case", str(case), "--out", str(out), "--tag",
            "both", "--generate-password", "--password-out", str(password), "--quiet"]
    runs = [subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
    codes = [p.wait(120) for p in runs]
    for p in runs:
        p.stderr.close()
    assert 0 in codes
    with pyzipper.AESZipFile(out) as zf:
        zf.setpassword(password.read_text().strip().encode())
        assert zf.read(zf.namelist()[0]) is not None


def test_marking_a_person_needs_csrf_and_shows_markup_as_text(own):
    """``/person``: refused without the CSRF field (nothing logged); a person and note with
    markup and a ``back`` of ``/\\\\evil`` are stored as text and the redirect stays here."""
    from urllib.parse import urlencode
    server, cookie, csrf = own["server"], own["cookie"], own["csrf"]
    log = (own["case"] / "custody.jsonl").read_bytes()
    fields = {"person": "<script>alert(4)</script>", "role": "victim", "note": "<img src=x onerror=alert(5)>"}
    r = request(server, "POST", "/person", cookie=cookie, body=urlencode(fields).encode(), headers=FORM)
    assert r.status == 403 and (own["case"] / "custody.jsonl").read_bytes() == log
    message = _message(own)
    r = request(server, "POST", "/person", cookie=cookie, headers=FORM,
                body=urlencode({**fields, "csrf": csrf, "back": "/\\evil.example"}).encode())
    assert r.status in (303, 400)
    if r.status == 303:
        assert _same_origin(r.getheader("Location"))
    for path in ("/", f"/conversation?message={message}"):
        page = request(server, "GET", path, cookie=cookie).body.decode()
        assert "<script>alert(4)" not in page and "<img src=x onerror=alert(5)" not in page


def test_a_drawn_box_keeps_only_its_places_and_says_so_as_text(own):
    """The box of the URL is numbers or nothing: a box across the antimeridian, one holding the
    place, and one beside it; what the page echoes of it is the parsed numbers, never the text."""
    server, cookie = own["server"], own["cookie"]

    def places(query: str) -> int:
        body = request(server, "GET", query, cookie=cookie).body.decode()
        return body.count('<td class="mono">')           # one latitude, longitude cell a place listed

    assert places("/map") == places("/map?box=40,-4,41,-3") == 1              # madrid.jpg
    assert places("/map?box=40,-3,41,-2") == 0 and places("/map?box=40,170,41,-170") == 0
    assert places("/map?box=40,-5,41,179") == 1                               # west < east: an ordinary box
    body = request(server, "GET", "/map?box=40,-4,41,-3%3Cscript%3E", cookie=cookie).body.decode()
    assert "<script>" not in body.split("<main>", 1)[1] and places("/map?box=40,-4,41,-3%3Cscript%3E") == 1
