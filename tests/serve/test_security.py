"""forensic serve over plain HTTP: the access token, the Host check, CSRF, the headers, paths
that are not routes, and what the command refuses before it listens."""
from __future__ import annotations

import http.client
import subprocess
import sys
import time

import pytest

from tests.serve.conftest import HOSTILE


def request(server, method: str, path: str, *, host: str | None = None, cookie: str | None = None,
            body: bytes | None = None, headers: dict | None = None, timeout: float = 10) -> http.client.HTTPResponse:
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    h = {"Host": host or f"127.0.0.1:{server.port}", **(headers or {})}
    if cookie:
        h["Cookie"] = cookie
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    r.body = r.read()
    c.close()
    return r


@pytest.fixture(scope="module")
def cookie(server) -> str:
    r = request(server, "GET", f"/?token={server.token}")
    assert r.status == 303 and r.getheader("Location") == "/"
    set_cookie = r.getheader("Set-Cookie")
    assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie.replace("Strict", "strict")
    return set_cookie.split(";", 1)[0]


def test_no_token_no_cookie_is_403(server):
    for path in ("/", "/gallery", "/chats", "/photo/1", "/thumb/1.jpg", "/static/htmx.min.js"):
        r = request(server, "GET", path)
        assert r.status == 403, path
        assert r.getheader("Content-Security-Policy", "").startswith("default-src 'self'")


def test_the_token_redirect_stays_on_this_server(server):
    r = request(server, "GET", f"//evil.example/?token={server.token}")
    assert r.status == 303 and r.getheader("Location") == "/"


def test_wrong_token_and_wrong_cookie_are_403(server):
    assert request(server, "GET", "/?token=" + "A" * 43).status == 403
    assert request(server, "GET", "/", cookie="forensic_session=guess").status == 403
    # the token of another server (another case) opens nothing here
    other = request(server, "GET", "/?token=" + server.token[::-1])
    assert other.status == 403


def test_wrong_host_is_refused(server, cookie):
    for host in ("evil.example:%d" % server.port, "127.0.0.1:1", "localhost.evil.example", "[::1]:%d" % server.port):
        r = request(server, "GET", "/", host=host, cookie=cookie)
        assert r.status == 421, host
    assert request(server, "GET", "/", host=f"localhost:{server.port}", cookie=cookie).status == 200


def test_headers_on_every_page(server, cookie):
    for path in ("/", "/gallery", "/chats", "/static/review.css"):
        r = request(server, "GET", path, cookie=cookie)
        assert r.status == 200, path
        csp = r.getheader("Content-Security-Policy")
        assert csp.startswith("default-src 'self'") and "frame-ancestors 'none'" in csp
        assert r.getheader("X-Frame-Options") == "DENY"
        assert r.getheader("X-Content-Type-Options") == "nosniff"
    page = request(server, "GET", "/", cookie=cookie).body.decode()
    assert "http://" not in page and "https://" not in page and "//" not in page.replace("://", "")


def test_paths_outside_routes_are_refused(server, cookie):
    for path in ("/thumb/../case.db", "/thumb/%2e%2e%2fcase.db", "/static/../app.py", "/static/%2e%2e/app.py",
                 "/static/..%2f..%2fcase.db", "/photo/..%2f..%2fetc%2fpasswd", "/thumb/1.jpg%00", "/case.db"):
        r = request(server, "GET", path, cookie=cookie)
        assert r.status == 404, (path, r.status)
        assert b"SQLite format" not in r.body and b"import" not in r.body


def test_post_needs_the_csrf_token(sample, server, cookie):
    before = (sample["case"] / "custody.jsonl").read_bytes()
    body = b"kind=message&item=phone&ref=1&tag=x"
    r = request(server, "POST", "/tag", cookie=cookie, body=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 403
    r = request(server, "POST", "/tag", body=body + b"&csrf=whatever",
                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 403
    assert (sample["case"] / "custody.jsonl").read_bytes() == before


def test_hostile_strings_are_text(server, cookie):
    r = request(server, "GET", "/chats?q=quoted", cookie=cookie)
    page = r.body.decode()
    assert "<script>alert" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    gallery = request(server, "GET", "/gallery?item=card", cookie=cookie).body.decode()
    assert "<img src=x onerror" not in gallery and "&lt;img src=x onerror=alert(1)&gt;" in gallery
    # the search box echoes what was typed, escaped
    echo = request(server, "GET", "/chats?q=%22%3E%3Cscript%3E", cookie=cookie).body.decode()
    assert '"><script>' not in echo
    assert HOSTILE  # the sample holds it (tests/serve/conftest.py)


def test_serve_refuses_a_non_loopback_bind(sample):
    for bind in ("0.0.0.0", "192.168.1.10", "::", "example.com"):
        p = subprocess.run([sys.executable, "-m", "forensic.cli.main", "serve", "--case", str(sample["case"]),
                            "--bind", bind], capture_output=True, text=True, timeout=60)
        assert p.returncode != 0 and "refusing to listen" in p.stderr, (bind, p.stderr)
        assert p.stdout == ""


def test_serve_without_a_case_says_so(tmp_path):
    p = subprocess.run([sys.executable, "-m", "forensic.cli.main", "serve", "--case", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "no case" in p.stderr and p.stdout == ""


def test_every_page_reads_only(sample, server, cookie):
    """Reading pages changes neither the store's tables nor the custody log."""
    log = (sample["case"] / "custody.jsonl").read_bytes()
    for path in ("/", "/gallery", "/chats", "/chats?q=harbour", "/photo/1"):
        assert request(server, "GET", path, cookie=cookie).status in (200, 404)
    assert (sample["case"] / "custody.jsonl").read_bytes() == log


def test_a_cookie_of_another_server_is_403(sample, server, cookie):
    """Each server (each case opened) has its own token and session: one's cookie opens nothing
    on another."""
    from tests.serve.conftest import start_server, stop_server
    other = start_server(sample["case"], None)
    try:
        assert request(other, "GET", "/", cookie=cookie).status == 403
        assert request(other, "GET", f"/?token={server.token}").status == 403
        assert request(other, "GET", f"/?token={other.token}").status == 303
    finally:
        stop_server(other)


def test_bind_another_loopback_address(sample):
    """--bind 127.0.0.2: allowed (loopback) with a warning; the URL and the Host check follow it."""
    p = subprocess.Popen([sys.executable, "-m", "forensic.cli.main", "serve", "--case", str(sample["case"]),
                          "--bind", "127.0.0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = p.stdout.readline().strip()
        assert url.startswith("http://127.0.0.2:") and "?token=" in url
        port = int(url.split(":")[2].split("/")[0])
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.2", port, timeout=5)
                c.request("GET", url.split(str(port), 1)[1], headers={"Host": f"127.0.0.2:{port}"})
                r = c.getresponse()
                break
            except OSError:
                time.sleep(0.1)
        assert r.status == 303
        c = http.client.HTTPConnection("127.0.0.2", port, timeout=5)
        c.request("GET", "/", headers={"Host": f"127.0.0.1:{port}"})
        assert c.getresponse().status == 421
    finally:
        p.terminate()
        _, err = p.communicate(timeout=10)
    assert "listening on 127.0.0.2 instead of 127.0.0.1" in err


def test_a_signed_case_refuses_a_tag_from_a_server_without_the_key(sample):
    """As 'forensic tag add' without the key: refused, nothing stored, nothing logged."""
    import re
    from tests.serve.conftest import start_server, stop_server
    log = (sample["case"] / "custody.jsonl").read_bytes()
    other = start_server(sample["case"], None)
    try:
        r = request(other, "GET", f"/?token={other.token}")
        cookie = r.getheader("Set-Cookie").split(";", 1)[0]
        page = request(other, "GET", "/chats?q=harbour", cookie=cookie).body.decode()
        message = re.search(r"message=(\d+)", page).group(1)
        page = request(other, "GET", f"/conversation?message={message}", cookie=cookie).body.decode()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        body = f"csrf={csrf}&kind=message&item=phone&ref={message}&tag=nokey".encode()
        r = request(other, "POST", "/tag", cookie=cookie, body=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 400 and b"key" in r.body
    finally:
        stop_server(other)
    assert (sample["case"] / "custody.jsonl").read_bytes() == log
    from forensic.case import Case
    from forensic.store import tags
    case = Case.open(sample["case"])
    try:
        assert "nokey" not in tags.names(case.db)
    finally:
        case.close()


def test_known_bad_is_never_shown(sample, tmp_path, monkeypatch):
    """A photo a known-bad hash set matched (checked while the server runs): a placeholder in the
    gallery, no thumbnail on any route, left off the map; the other photos still shown."""
    import hashlib
    import re
    import shutil
    from tests.serve.conftest import start_server, stop_server
    from forensic.cli.main import main
    case = tmp_path / "case"
    shutil.copytree(sample["case"], case)
    madrid = next((sample["tmp"] / "card" / "DCIM").glob("madrid.jpg"))
    sha = hashlib.sha256(madrid.read_bytes()).hexdigest()
    (tmp_path / "bad.txt").write_text(f"{sha}  madrid.jpg\n")
    monkeypatch.setenv("FORENSIC_HASHSETS", str(tmp_path / "library"))
    monkeypatch.setenv("FORENSIC_KEY", sample["key"])
    assert main(["hashset", "import", str(tmp_path / "bad.txt"), "--name", "bad", "--kind", "known-bad",
                 "--quiet"]) == 0
    server = start_server(case, sample["key"])
    try:
        r = request(server, "GET", f"/?token={server.token}")
        cookie = r.getheader("Set-Cookie").split(";", 1)[0]
        # pages seen before the check (their maps kept by the server) ...
        assert "madrid.jpg" in request(server, "GET", "/map", cookie=cookie).body.decode()
        assert request(server, "GET", "/gallery", cookie=cookie).body.decode().count("/thumb/") == 7
        # ... and after it, while the server runs
        assert main(["hashset", "check", "--case", str(case), "--quiet"]) in (0, 3)
        gallery = request(server, "GET", "/gallery?geotagged=1", cookie=cookie).body.decode()
        assert "known-bad: not shown" in gallery and "/thumb/" not in gallery and sha in gallery
        photo = re.search(r'href="/photo/(\d+)"', gallery).group(1)
        page = request(server, "GET", f"/photo/{photo}", cookie=cookie).body.decode()
        assert "known-bad hash set matched" in page and "/thumb/" not in page
        from forensic.case import Case
        from forensic.store import review
        c = Case.open(case)
        try:
            file_id = review.photo(c.db, int(photo)).file_id
        finally:
            c.close()
        assert request(server, "GET", f"/thumb/{file_id}.jpg", cookie=cookie).status == 404
        assert "madrid.jpg" not in request(server, "GET", "/map", cookie=cookie).body.decode()
        everything = request(server, "GET", "/gallery", cookie=cookie).body.decode()
        assert everything.count("/thumb/") == 6
    finally:
        stop_server(server)


def test_a_cli_command_and_the_server_see_one_case(sample, server, cookie, monkeypatch):
    """A tag put by 'forensic tag add' while the server runs shows on the next page, in the
    gallery's tag filter too (the store is read afresh per request: SQLite WAL)."""
    import html
    import re
    from forensic.cli.main import main
    page = request(server, "GET", "/gallery?item=card", cookie=cookie).body.decode()
    photo = re.search(r'href="/photo/(\d+)"', page).group(1)
    page = request(server, "GET", f"/photo/{photo}", cookie=cookie).body.decode()
    locator = re.search(r'id="locator">([^<]+)<', page).group(1)
    monkeypatch.setenv("FORENSIC_KEY", sample["key"])
    assert main(["tag", "add", html.unescape(locator), "--item", "card", "--tag", "from-cli", "--case",
                 str(sample["case"]), "--quiet"]) == 0
    assert "from-cli" in request(server, "GET", f"/photo/{photo}", cookie=cookie).body.decode()
    tagged = request(server, "GET", "/gallery?tag=from-cli", cookie=cookie).body.decode()
    assert re.findall(r'href="/photo/(\d+)"', tagged) == [photo]


def test_the_browser_is_given_a_private_page_not_the_token():
    """`serve --open` hands the browser a file (0600, in a 0700 folder) forwarding to the URL, so
    the token is not on a command line every local user reads in ps; a URL with markup in it
    stays text in that page."""
    import os
    import shutil
    import stat

    from forensic.cli.commands.serve import _launcher
    url = 'http://127.0.0.1:8000/?token=abc"><script>x</script>&next=1'
    page = _launcher(url)
    try:
        assert "abc" not in str(page)
        assert stat.S_IMODE(os.stat(page).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(page.parent).st_mode) == 0o700
        text = page.read_text(encoding="utf-8")
        assert "<script>" not in text and "token=abc&quot;&gt;&lt;script&gt;" in text
        assert 'content="0;url=http://127.0.0.1:8000/?token=abc' in text
    finally:
        shutil.rmtree(page.parent)
