"""forensic serve in headless Chromium (Selenium, Debian chromium-driver): every page opens,
a search jumps to its message in the conversation, a photo is tagged from its page and the
custody log gains an entry signed with the examiner's key, hostile strings stay text, and the
browser never asks for anything outside 127.0.0.1.

Screenshots of each page go to $FORENSIC_SCREENSHOTS when it is set (docs/review.md uses them)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.serve.conftest import HOSTILE


def shot(browser, name: str) -> None:
    folder = os.environ.get("FORENSIC_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(folder) / f"{name}.png"))


def wait(browser, condition, seconds: float = 10):
    """WebDriverWait that also retries through chromedriver's transient errors while a page
    is being replaced ("Node with given id does not belong to the document")."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(browser, seconds, ignored_exceptions=(WebDriverException,)).until(condition)


def loaded(browser, images) -> bool:
    """Every image decoded (waited for: the gallery loads its thumbnails lazily)."""
    script = "return arguments[0].complete && arguments[0].naturalWidth > 0"
    for img in images:
        browser.execute_script("arguments[0].loading = 'eager'; arguments[0].scrollIntoView()", img)
        wait(browser, lambda b, i=img: b.execute_script(script, i))
    return True


def open_page(browser, server, path: str):
    from selenium.webdriver.common.by import By
    browser.get(server.base + path)
    assert "forbidden" not in browser.find_element(By.TAG_NAME, "body").text
    return browser


def test_overview(browser, server):
    from selenium.webdriver.common.by import By
    open_page(browser, server, "/")
    assert browser.title == "Case C-19"
    custody = browser.find_element(By.ID, "custody").text
    assert "VERIFIED" in custody and "NOT VERIFIED" not in custody
    rows = browser.find_elements(By.CSS_SELECTOR, "#items tbody tr")
    assert [r.find_element(By.TAG_NAME, "td").text for r in rows] == ["card", "phone"]
    card = rows[0].find_elements(By.TAG_NAME, "td")
    assert card[4].text.startswith("triaged") and card[6].text == "6"         # six photos on the card
    assert rows[1].find_elements(By.TAG_NAME, "td")[7].text == "4"            # four messages on the phone
    shot(browser, "overview")


def test_gallery_thumbnails_and_filters(browser, server):
    from selenium.webdriver.common.by import By
    open_page(browser, server, "/gallery")
    cells = browser.find_elements(By.CSS_SELECTOR, "#grid a.cell")
    assert len(cells) == 7
    imgs = browser.find_elements(By.CSS_SELECTOR, "#grid img")
    assert imgs and loaded(browser, imgs)
    shot(browser, "gallery")
    open_page(browser, server, "/gallery?item=phone")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#grid a.cell")) == 1
    open_page(browser, server, "/gallery?from=2030-01-01")
    assert browser.find_elements(By.CSS_SELECTOR, "#grid a.cell") == []
    open_page(browser, server, "/gallery?geotagged=1")
    assert [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#grid .caption")][0].endswith("madrid.jpg")
    open_page(browser, server, "/gallery?from=2021-03-14&to=2021-03-14")       # a day: the whole day
    assert len(browser.find_elements(By.CSS_SELECTOR, "#grid a.cell")) == 1


def test_map_and_timeline(browser, server):
    from selenium.webdriver.common.by import By
    open_page(browser, server, "/map")
    svg = browser.find_elements(By.CSS_SELECTOR, "#map svg")
    assert len(svg) == 1 and svg[0].size["width"] > 100
    places = browser.find_elements(By.CSS_SELECTOR, "#places tbody tr")
    assert len(places) == 1 and "madrid.jpg" in places[0].text
    shot(browser, "map")
    open_page(browser, server, "/map?from=2022-01-01")
    assert browser.find_elements(By.CSS_SELECTOR, "#map svg") == []
    open_page(browser, server, "/timeline?from=2021-03-14&to=2021-03-14")
    rows = browser.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")
    text = "\n".join(r.text for r in rows)
    assert "see you at the harbour" in text and "<b>Cam</b>" in text and "<script>alert('x')</script>" in text
    assert browser.find_elements(By.CSS_SELECTOR, "#timeline b, #timeline script") == []
    shot(browser, "timeline")


def test_hostile_file_name_is_text(browser, server):
    from selenium.webdriver.common.by import By
    open_page(browser, server, "/gallery?item=card")
    captions = " ".join(c.text for c in browser.find_elements(By.CSS_SELECTOR, ".caption"))
    assert "<img src=x onerror=alert(1)>" in captions
    # the name made no element: the only images are the thumbnails
    assert all(i.get_attribute("src").startswith(server.base + "/thumb/")
               for i in browser.find_elements(By.CSS_SELECTOR, "#grid img"))


def test_search_jumps_to_the_message(browser, server):
    from selenium.webdriver.common.by import By
    open_page(browser, server, "/chats")
    box = browser.find_element(By.NAME, "q")
    box.send_keys("harbour\n")
    wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#hits"))
    hits = browser.find_elements(By.CSS_SELECTOR, "#hits .hit a")
    assert len(hits) == 1
    shot(browser, "search")
    hits[0].click()
    target = wait(browser, lambda b: b.find_element(By.CSS_SELECTOR, ".bubble.target"))
    assert "see you at the harbour" in target.text
    assert urlsplit(browser.current_url).fragment == target.get_attribute("id")
    bodies = [b.text for b in browser.find_elements(By.CSS_SELECTOR, ".bubble .body")]
    assert bodies[0] == "Here is the place" and len(bodies) == 4
    assert HOSTILE in bodies                                   # shown as the text it is
    assert browser.find_elements(By.CSS_SELECTOR, ".bubble .body script, .bubble .body b") == []
    # the attachment is shown inline from the store's thumbnail
    inline = browser.find_elements(By.CSS_SELECTOR, ".attachment img")
    assert len(inline) == 1 and loaded(browser, inline)
    shot(browser, "conversation")


def test_conversation_list(browser, server):
    from selenium.webdriver.common.by import By
    open_page(browser, server, "/chats")
    links = browser.find_elements(By.CSS_SELECTOR, "#conversations tbody a")
    assert len(links) == 1
    links[0].click()
    assert len(wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, ".bubble"))) == 4


def test_photo_page_and_tagging_is_a_signed_custody_entry(browser, server, sample):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    open_page(browser, server, "/gallery?item=phone")
    browser.find_element(By.CSS_SELECTOR, "#grid a.cell").click()
    locator = wait(browser, lambda b: b.find_element(By.ID, "locator")).text
    assert locator.endswith("IMG-20210314-WA0001.jpg")
    assert browser.find_elements(By.CSS_SELECTOR, "#similar a")           # the camera original on the card
    assert browser.find_elements(By.CSS_SELECTOR, "#carrying a")          # the chat message that carried it
    fields = browser.find_element(By.ID, "fields").text
    assert "sha256" in fields or "width" in fields
    shot(browser, "photo")
    log, checkpoints = sample["case"] / "custody.jsonl", sample["case"] / "custody.checkpoints.jsonl"
    before = len(log.read_bytes().splitlines())
    signed_before = len(checkpoints.read_bytes().splitlines())
    form = browser.find_element(By.CSS_SELECTOR, "form.tag")
    form.find_element(By.NAME, "tag").send_keys("for-court")
    form.find_element(By.NAME, "note").send_keys("sent to the recruiter")
    form.find_element(By.CSS_SELECTOR, "button").click()
    page_url = browser.current_url
    wait(browser, staleness_of(form))                            # the POST answered: htmx swapped the form
    assert "tagged 'for-court'" in browser.find_element(By.CSS_SELECTOR, "form.tag .done").text
    assert browser.current_url == page_url                       # no page loaded: htmx, the tags list swapped
    assert "for-court: sent to the recruiter" in browser.find_element(By.ID, "tags").text
    lines = log.read_bytes().splitlines()
    added = [json.loads(x) for x in lines[before:]]
    tagged = [e for e in added if e.get("action") == "tag.added"]
    assert len(tagged) == 1
    assert tagged[0]["subject"] == {"item": "phone", "locator": locator}
    assert tagged[0]["details"]["tag"] == "for-court"
    assert tagged[0]["actor"]["name"] == "ann" and tagged[0]["actor"]["key_fingerprint"]
    # a new checkpoint over the entry, signed with the examiner's key
    new = [json.loads(x) for x in checkpoints.read_bytes().splitlines()[signed_before:]]
    assert new and new[-1]["signer"] == "ann" and new[-1]["signature"]
    assert new[-1]["tree_size"] == len(lines)
    from forensic.cli.main import main
    assert main(["custody", "verify", "--case", str(sample["case"]), "--quiet"]) == 0
    assert main(["tag", "list", "--case", str(sample["case"]), "--tag", "for-court", "--quiet"]) == 0


def test_no_request_leaves_127_0_0_1(browser, server):
    """Every URL the browser asked for since the performance log was last read: at least the
    pages this test opens itself (with their stylesheet, script, thumbnails and map)."""
    for path in ("/", "/gallery", "/chats?q=place", "/photo/1", "/map", "/timeline"):
        open_page(browser, server, path)
    asked = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            asked.append(message["params"]["request"]["url"])
    assert len(asked) > 10
    outside = [u for u in asked if urlsplit(u).hostname != "127.0.0.1" and not u.startswith("data:")]
    assert outside == []
    # nor did the page try and fail: no CSP violation in the console
    console = [e["message"] for e in browser.get_log("browser")]
    assert not [m for m in console if "Content Security Policy" in m], console


@pytest.fixture(autouse=True, scope="module")
def _order():
    yield


def test_search_box_finds_files_and_photo_metadata(browser, server):
    from selenium.webdriver.common.by import By
    open_page(browser, server, "/chats?q=madrid")
    files = browser.find_elements(By.CSS_SELECTOR, "#file-hits .hit a")
    assert len(files) == 1 and files[0].text.endswith("madrid.jpg")
    open_page(browser, server, "/chats?q=%3Cb%3ECam")                 # "<b>Cam": the camera make
    photos = browser.find_elements(By.CSS_SELECTOR, "#photo-hits .hit")
    assert len(photos) == 1 and "<b>Cam</b>" in photos[0].text
    photos[0].find_element(By.TAG_NAME, "a").click()
    assert wait(browser, lambda b: b.find_element(By.ID, "locator")).text.endswith("madrid.jpg")
    fields = {r.find_element(By.TAG_NAME, "th").text: [c.text for c in r.find_elements(By.TAG_NAME, "td")]
              for r in browser.find_elements(By.CSS_SELECTOR, "#fields tr") if r.find_elements(By.TAG_NAME, "td")}
    assert fields["make"][0] == "<b>Cam</b>" and fields["lat"][0].startswith("40.41")
    assert fields["taken_at"][0].startswith("2021-03-14T12:00:00") and "exif:DateTimeOriginal" in fields["taken_at"][1]
    open_page(browser, server, "/chats?q=100%25_")                    # LIKE's own characters mean themselves
    assert browser.find_elements(By.CSS_SELECTOR, "#file-hits .hit") == []


def test_export_button_runs_forensic_export(browser, server, sample):
    """Tag a message in its conversation, export what carries the tag from the overview: a
    bundle that 'forensic verify-bundle' verifies against the examiner's public key."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    open_page(browser, server, "/chats?q=harbour")
    browser.find_element(By.CSS_SELECTOR, "#hits .hit a").click()
    bubble = wait(browser, lambda b: b.find_element(By.CSS_SELECTOR, ".bubble.target"))
    bubble.find_element(By.TAG_NAME, "summary").click()
    form = bubble.find_element(By.CSS_SELECTOR, "form.tag")
    form.find_element(By.NAME, "tag").send_keys("to export")
    form.find_element(By.CSS_SELECTOR, "button").click()
    wait(browser, staleness_of(form))
    open_page(browser, server, "/")
    from selenium.webdriver.support.ui import Select
    export = browser.find_element(By.CSS_SELECTOR, "#export form")
    Select(export.find_element(By.NAME, "tag")).select_by_visible_text("to export")
    export.find_element(By.CSS_SELECTOR, "button").click()
    wait(browser, staleness_of(export), 60)
    assert browser.find_elements(By.ID, "bundle"), browser.find_element(By.TAG_NAME, "main").text
    bundle = Path(browser.find_element(By.ID, "bundle").text)
    password = Path(browser.find_element(By.ID, "password-file").text)
    assert bundle.parent == sample["case"] / "exports" and bundle.name.startswith("to_export-")
    assert bundle.is_file() and password.stat().st_mode & 0o077 == 0
    shot(browser, "exported")
    from forensic.cli.main import main
    pub = Path(sample["key"]).with_suffix(".pub")
    assert main(["verify-bundle", str(bundle), "--password-file", str(password), "--pubkey", str(pub),
                 "--quiet"]) == 0


def test_a_box_drawn_on_the_map_filters_the_timeline_and_a_range_the_map(browser, server):
    """Drag a box on the map (the page's own script, served from 127.0.0.1): the map keeps the
    places in it and its link opens the timeline with only their times; a box elsewhere keeps
    none. A range chosen on the timeline opens the map with only the places of that range."""
    from urllib.parse import parse_qs

    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    def drag(x0: float, y0: float, x1: float, y1: float) -> None:
        """From (x0, y0) to (x1, y1): fractions of the map's frame (its data-frame, in pixels)."""
        svg = browser.find_element(By.CSS_SELECTOR, "#map svg")
        fx0, fy0, fx1, fy1 = (float(v) for v in svg.get_attribute("data-frame").split())
        width, height = float(svg.get_attribute("width")), float(svg.get_attribute("height"))
        scale = svg.size["width"] / width

        def at(fx: float, fy: float) -> tuple[int, int]:       # offsets from the element's centre
            return (int((fx0 + fx * (fx1 - fx0) - width / 2) * scale),
                    int((fy0 + fy * (fy1 - fy0) - height / 2) * scale))
        ActionChains(browser).move_to_element_with_offset(svg, *at(x0, y0)).click_and_hold() \
            .move_to_element_with_offset(svg, *at(x1, y1)).release().perform()
        wait(browser, lambda b: "box=" in b.current_url)

    open_page(browser, server, "/map")
    drag(0.05, 0.05, 0.95, 0.95)                          # around the one place (the view's centre)
    box = parse_qs(urlsplit(browser.current_url).query)["box"][0]
    south, west, north, east = (float(v) for v in box.split(","))
    assert south < 40.4166 < north and west < -3.7019 < east
    places = browser.find_elements(By.CSS_SELECTOR, "#places tbody tr")
    assert len(places) == 1 and "madrid.jpg" in places[0].text
    assert browser.find_elements(By.CSS_SELECTOR, "#map svg .point, #map svg .cluster")
    shot(browser, "map-box")
    browser.find_element(By.ID, "to-timeline").click()
    wait(browser, lambda b: b.find_elements(By.ID, "in-box"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")
    assert rows and all("madrid.jpg" in r.text for r in rows)          # the photo's own times only
    assert not [r for r in rows if "harbour" in r.text]
    open_page(browser, server, "/map")
    drag(0.02, 0.02, 0.2, 0.2)                            # a corner: no place in it
    assert browser.find_elements(By.CSS_SELECTOR, "#places tbody tr") == []
    browser.find_element(By.ID, "to-timeline").click()
    wait(browser, lambda b: b.find_elements(By.ID, "in-box"))
    assert "No times in this range" in browser.find_element(By.ID, "timeline").text
    # a range on the timeline: its link opens the map with the places of that range only
    open_page(browser, server, "/timeline?from=2021-03-14&to=2021-03-14")
    browser.find_element(By.ID, "to-map").click()
    wait(browser, lambda b: "from=2021-03-14" in b.current_url)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#places tbody tr")) == 1
    open_page(browser, server, "/timeline?from=2022-01-01")
    browser.find_element(By.ID, "to-map").click()
    wait(browser, lambda b: "from=2022-01-01" in b.current_url)
    assert browser.find_elements(By.CSS_SELECTOR, "#places tbody tr") == []


def test_search_as_you_type(browser, server):
    """Typing in the search box (no Enter) brings the results into the page (htmx), the URL
    says the search; Enter alone (no JS needed) gives the same page."""
    from selenium.webdriver.common.by import By
    open_page(browser, server, "/gallery")
    browser.find_element(By.NAME, "q").send_keys("harbour")
    wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#hits .hit a"))
    assert "see you at the harbour" in browser.find_element(By.ID, "hits").text
    wait(browser, lambda b: "q=harbour" in b.current_url)
    assert browser.find_elements(By.CSS_SELECTOR, "#file-hits")          # the whole search, in place
