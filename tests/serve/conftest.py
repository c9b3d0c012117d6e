"""A triaged sample case and the real ``forensic serve`` on a free port (a subprocess), with a
signing examiner key; headless Chromium through Selenium and chromium-driver."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.extractors.photo_scenes import camera_jpeg, messenger_copy, scene

HOSTILE = "<script>alert('x')</script> \"quoted\" & <b>bold</b>"
CHAT = ("14/03/2021, 21:05 - Recruiter: Here is the place\n"
        "14/03/2021, 21:06 - Ann: " + HOSTILE + "\n"
        "14/03/2021, 21:08 - Recruiter: IMG-20210314-WA0001.jpg (file attached)\n"
        "14/03/2021, 21:09 - Ann: see you at the harbour\n")


def geotagged_jpeg() -> bytes:
    """A photo taken in Madrid (GPS in EXIF) on 2021-03-14, its camera make a hostile string."""
    import io

    from PIL import Image
    img = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "<b>Cam</b>", "Model \"1\""
    exif[0x8769] = {0x9003: "2021:03:14 12:00:00", 0x9011: "+01:00"}
    exif[0x8825] = {1: "N", 2: (40.0, 25.0, 0.0), 3: "W", 4: (3.0, 42.0, 7.0)}
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80, exif=exif)
    return out.getvalue()


def _main(*args: object) -> int:
    from forensic.cli.main import main
    return main([str(a) for a in args])


@pytest.fixture(scope="session")
def sample(tmp_path_factory):
    """A case of two items (a camera card, a phone folder with a WhatsApp export), triaged,
    its custody log signed by examiner 'ann'."""
    tmp = tmp_path_factory.mktemp("serve")
    card, phone = tmp / "card" / "DCIM", tmp / "phone" / "WhatsApp"
    card.mkdir(parents=True)
    phone.mkdir(parents=True)
    originals = [camera_jpeg(scene(seed, 400, 300)) for seed in range(4)]
    for n, data in enumerate(originals, 1):
        (card / f"IMG_{n:04d}.jpg").write_bytes(data)
    (card / "<img src=x onerror=alert(1)>.jpg").write_bytes(originals[1])
    (card / "madrid.jpg").write_bytes(geotagged_jpeg())
    (phone / "IMG-20210314-WA0001.jpg").write_bytes(messenger_copy(originals[2]))
    (phone / "_chat.txt").write_text(CHAT, encoding="utf-8")
    keys = tmp / "keys"
    env_key = str(keys / "ann.key")
    case = tmp / "case"
    assert _main("examiner", "keygen", "ann", "--out", keys) == 0
    old = os.environ.get("FORENSIC_KEY")
    os.environ["FORENSIC_KEY"] = env_key
    try:
        assert _main("case", "init", case, "--case-id", "C-19", "--examiner", "ann", "--quiet") == 0
        assert _main("evidence", "add", tmp / "card", "--case", case, "--id", "card", "--quiet") == 0
        assert _main("evidence", "add", tmp / "phone", "--case", case, "--id", "phone", "--quiet") == 0
        assert _main("triage", "--case", case, "--quiet") in (0, 3)
    finally:
        if old is None:
            os.environ.pop("FORENSIC_KEY", None)
        else:
            os.environ["FORENSIC_KEY"] = old
    return {"case": case, "key": env_key, "tmp": tmp}


class Server:
    def __init__(self, proc: subprocess.Popen, url: str):
        self.proc = proc
        self.url = url
        m = re.match(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)$", url)
        assert m, url
        self.port, self.token = int(m.group(1)), m.group(2)
        self.base = f"http://127.0.0.1:{self.port}"


def start_server(case: Path, key: str | None) -> Server:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if key:
        env["FORENSIC_KEY"] = key
    proc = subprocess.Popen([sys.executable, "-m", "forensic.cli.main", "serve", "--case", str(case)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), (url, proc.stderr.read() if proc.poll() is not None else "")
    server = Server(proc, url)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(server.base + "/static/review.css", timeout=2)
        except urllib.error.HTTPError:
            return server            # answering (403 without the cookie)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the server did not start")


def stop_server(s: Server) -> None:
    s.proc.terminate()
    try:
        s.proc.wait(10)
    except subprocess.TimeoutExpired:
        s.proc.kill()
        s.proc.wait(10)
    for stream in (s.proc.stdout, s.proc.stderr):
        if stream is not None:
            stream.close()


@pytest.fixture(scope="module")
def server(sample):
    s = start_server(sample["case"], sample["key"])
    yield s
    stop_server(s)


@pytest.fixture(scope="module")
def browser(server):
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("needs Debian's chromium and chromium-driver (scripts/setup.sh)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              # every request that is not to 127.0.0.1 fails: the proxy does not exist
              "--proxy-server=http://0.0.0.0:9", "--proxy-bypass-list=<-loopback>;127.0.0.1",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--disable-default-apps", "--window-size=1280,1000"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    driver.set_page_load_timeout(30)
    driver.get(server.url)
    yield driver
    driver.quit()
