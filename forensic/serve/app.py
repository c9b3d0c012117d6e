"""The review workspace's web application (Starlette, Jinja2 templates autoescaped, htmx vendored
in ``static/``): overview, gallery, photo page, chats, message search, tagging.

Security (the server runs on the examiner's machine, next to a browser that also visits the
internet):

* bound to loopback by :mod:`forensic.cli.commands.serve`; every request's ``Host`` header must
  be ``127.0.0.1:PORT`` or ``localhost:PORT`` (a DNS-rebinding page cannot talk to it);
* a random access token, given once in the URL, is exchanged for an ``HttpOnly``,
  ``SameSite=Strict`` cookie; every request without the cookie (or the token) gets 403;
* every POST carries a CSRF token tied to the session (a form field), checked in constant time;
* every response forbids framing and loading anything from elsewhere (CSP ``default-src 'self'``);
* evidence strings reach the page only through autoescaped templates; thumbnails come from the
  case store by record number (no path from the request is ever opened).

The case store is opened per request (:class:`forensic.case.Case`), so several tabs and CLI
commands on the same case see one another's writes (SQLite WAL). Tagging runs the same code as
``forensic tag add``: :func:`forensic.exporters.selection.add_tags` and a custody entry signed
with the examiner's key (``$FORENSIC_KEY``).
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from forensic.case import Case
from forensic.errors import ForensicError
from forensic.store import chats as store_chats, items as store_items, review, similar as store_similar
from forensic.store import tags as store_tags, warnings as store_warnings

COOKIE = "forensic_session"
STATIC = Path(__file__).parent / "static"
CSP = ("default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]                         # and Cache-Control no-store, unless the response says otherwise (thumbnails)
PAGE = 60                 # photos per gallery page
CONV_PAGE = 100           # messages per conversation page
TIMELINE_PAGE = 200       # times per timeline page
PLACES_PAGE = 200         # places listed under the map per page
CONVERSATIONS_PAGE = 100  # conversations listed per page
KEPT_VIEWS = 64           # views of the map (time range, box) whose grid of counts is kept


@dataclass(frozen=True)
class Settings:
    case_dir: Path
    port: int
    token: str                                 # in the URL printed, exchanged for the cookie
    session: str                               # the cookie's value
    csrf: str                                  # every POST's form field ``csrf``
    address: str = "127.0.0.1"                 # the loopback address listened on

    @classmethod
    def new(cls, case_dir: Path, port: int, address: str = "127.0.0.1") -> "Settings":
        return cls(Path(case_dir), port, secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                   secrets.token_urlsafe(32), address)

    @property
    def hosts(self) -> set[str]:
        """The Host headers answered: the address listened on and ``localhost``, with the port."""
        return {f"{self.address}:{self.port}", f"localhost:{self.port}"}

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}/?token={self.token}"


def _refuse(status: int, text: str) -> Response:
    return PlainTextResponse(text, status_code=status)


class Guard:
    """ASGI middleware: Host check, token -> cookie, cookie check, CSRF check on POST, and the
    security headers on every response (refusals included)."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in SECURITY_HEADERS}
                headers = list(message.get("headers", []))
                cache = [h for h in headers if h[0].lower() == b"cache-control"] or [(b"cache-control", b"no-store")]
                message["headers"] = ([h for h in headers if h[0].lower() not in names] + SECURITY_HEADERS
                                      + cache[:1])
            await send(message)

        request = Request(scope)
        s = self.settings
        if request.headers.get("host", "") not in s.hosts:
            await _refuse(421, "refused: wrong Host (this server answers 127.0.0.1 and localhost only)")(
                scope, receive, send_secured)
            return
        token = request.query_params.get("token")
        if token is not None:
            if not hmac.compare_digest(token.encode(), s.token.encode()) or request.method != "GET":
                await _refuse(403, "forbidden: wrong access token")(scope, receive, send_secured)
                return
            path = request.url.path
            response = RedirectResponse(path if path.startswith("/") and not path.startswith("//") else "/",
                                        status_code=303)
            response.set_cookie(f"{COOKIE}_{s.port}", s.session, httponly=True, samesite="strict", path="/")
            await response(scope, receive, send_secured)
            return
        cookie = request.cookies.get(f"{COOKIE}_{s.port}", "")      # cookies ignore ports: one name each
        if not hmac.compare_digest(cookie.encode(), s.session.encode()):
            await _refuse(403, "forbidden: open the URL 'forensic serve' printed (it holds the access token)")(
                scope, receive, send_secured)
            return
        if request.method not in ("GET", "HEAD", "POST"):
            await _refuse(405, "method not allowed")(scope, receive, send_secured)
            return
        await self.app(scope, receive, send_secured)


class Views:
    """The pages. Each opens the case for the request and closes it after."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.env = Environment(loader=PackageLoader("forensic.serve", "templates"),
                               autoescape=select_autoescape(default=True, default_for_string=True))
        self.env.globals["csrf"] = settings.csrf
        self.lock = threading.Lock()
        self.export_lock = asyncio.Lock()          # one export at a time: names from the second never clash
        self.custody_cache: tuple[tuple, Any] | None = None
        self.maps: dict[str, tuple[tuple[int, int], Any]] = {}          # name -> (records generation, value)
        self.env.filters["query"] = lambda d: urlencode({k: v for k, v in d.items() if v not in (None, "", False)})

    def cached(self, db: Any, name: str, make: Any) -> Any:
        """``make(db)``, kept while no record is added to the store
        (:func:`forensic.store.review.records_generation`): maps that need a pass over one
        record type (thumbnails, attachments, conversations) are made once, not per request."""
        generation = review.records_generation(db)
        with self.lock:
            hit = self.maps.get(name)
            if hit is not None and hit[0] == generation:
                return hit[1]
        value = make(db)
        with self.lock:
            self.maps.pop(name, None)
            self.maps[name] = (generation, value)
            for prefix, kept in (("map-cells:", KEPT_VIEWS), ("counts:", 1)):
                views = [k for k in self.maps if k.startswith(prefix)]
                for k in views[:-kept]:              # the oldest beyond those kept
                    del self.maps[k]
        return value

    def warm(self) -> None:
        try:
            with self.case() as case:
                from forensic.store import timeline as store_timeline
                store_timeline.ensure_index(case.db)        # current after a triage; else made here, once
                self._custody(case)
                self.thumbs(case.db)
                self.cached(case.db, "attachments", review.attachment_hashes)
        except Exception:        # noqa: BLE001  a request will meet (and show) the same error itself
            return

    def thumbs(self, db: Any) -> dict[int, int]:
        found: dict[int, int] = self.cached(db, "thumbnails", review.thumbnail_records)
        return found

    @contextmanager
    def case(self) -> Iterator[Case]:
        case = Case.open(self.settings.case_dir)
        try:
            yield case
        finally:
            case.close()

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.env.get_template(name).render(**context), status_code=status)

    # -- overview -----------------------------------------------------------------------------
    def overview(self, request: Request) -> Response:
        with self.case() as case:
            db = case.db
            items = store_items.all_items(db)
            # counted once per state of the rows counted (a count of a million messages is not free)
            counts = self.cached(db, f"counts:{review.counted_generation(db)}",
                                 lambda d: {i.item: review.item_counts(d, i.item) for i in items})
            warnings = list(store_warnings.listing(db, limit=200))
            report = self._custody(case)
            return self.render("overview.html", page="overview", case_id=case.case_id, examiner=case.examiner,
                               items=items, counts=counts, warnings=warnings, custody=report,
                               tags=sorted(store_tags.names(db)))

    # -- gallery ------------------------------------------------------------------------------
    def gallery(self, request: Request) -> Response:
        q = request.query_params
        date_to = q.get("to") or None
        if date_to is not None and len(date_to) == 10:          # a day alone: the whole day
            date_to += "T23:59:59.999999Z"
        flt = review.GalleryFilter(item=q.get("item") or None, date_from=q.get("from") or None,
                                   date_to=date_to, geotagged=q.get("geotagged") == "1",
                                   tag=q.get("tag") or None, near_duplicates=q.get("near") == "1")
        after_id = _int(q.get("after"), 0)
        after = (q.get("after_item", ""), after_id) if after_id else None
        with self.case() as case:
            db = case.db
            near = self.cached(db, "near-duplicates", near_duplicate_files) if flt.near_duplicates else None
            photos = review.photo_page(db, flt, after, PAGE + 1, only_files=near)
            more = len(photos) > PAGE
            photos = photos[:PAGE]
            bad = {p.artifact_id: category for p in photos
                   if (category := review.known_bad_category(db, p.sha256, p.file_id)) is not None}
            thumbs = self.thumbs(db)
            params = {"item": flt.item, "from": flt.date_from, "to": q.get("to") or None,
                      "geotagged": "1" if flt.geotagged else None, "tag": flt.tag,
                      "near": "1" if flt.near_duplicates else None}
            last = photos[-1] if more and photos else None
            return self.render("gallery.html", page="gallery", photos=photos, bad=bad,
                               thumbs=set(thumbs), flt=flt, params=params, items=store_items.ids(db),
                               tags=sorted(store_tags.names(db)),
                               next_page=dict(params, after_item=last.item, after=last.artifact_id) if last else None)

    def photo(self, request: Request) -> Response:
        artifact_id = request.path_params["artifact_id"]
        if artifact_id > SQLITE_MAX:
            return self.render("error.html", 404, message="no such photo")
        with self.case() as case:
            db = case.db
            p = review.photo(db, artifact_id)
            if p is None:
                return self.render("error.html", 404, message="no such photo")
            f = review.file(db, p.file_id) if p.file_id is not None else None
            category = review.known_bad_category(db, p.sha256, p.file_id)
            bad = category is not None
            thumb = p.file_id in self.thumbs(db) and not bad
            same = [x for x in review.same_content(db, p.sha256) if x.id != p.file_id] if p.sha256 else []
            same_photo = review.photo_ids_of_files(db, [x.id for x in same])
            carried = self.cached(db, "attachments", review.attachment_hashes).get(p.sha256, []) if p.sha256 else []
            carrying = review.messages_by_id(db, carried[:50])
            similar = self._similar(db, p)
            tags = review.tags_of(db, "file", p.item, p.locator) if p.locator else []
            return self.render("photo.html", page="gallery", p=p, file=f, bad=bad, category=category, thumb=thumb,
                               same=same, same_photo=same_photo, carrying=carrying, similar=similar, tags=tags,
                               times=review.record_times(db, p.artifact_id),
                               fields=_field_rows(p.fields, p.extractor))

    def _similar(self, db: Any, p: Any) -> list[dict]:
        """Near-duplicates of ``p``: pHash within :data:`forensic.store.similar.DEFAULT_MAX_DISTANCE`
        bits (as ``forensic similar``), closest first. The case's hashes are read once, with
        their bands (:class:`PhashBands`), and kept while no record is added
        (:func:`forensic.store.review.records_generation`): a page compares the photo with the
        values that share a band with it, not with every photo of the case, and with photos
        whose hashes are of its version only (:mod:`forensic.store.similar`)."""
        bands: PhashBands = self.cached(db, "phash-bands", PhashBands.of)
        mine = bands.values_of.get(p.file_id, [])
        if not mine:
            return []
        version = bands.version_of.get(p.file_id)
        near: dict[int, tuple[int, Any]] = {}
        for value in bands.candidates(mine):
            d = min(store_similar.distance(value, m) for m in mine)
            if d > store_similar.DEFAULT_MAX_DISTANCE:
                continue
            for h in bands.by_value[value]:
                if h.file_id != p.file_id and h.version == version \
                        and (h.file_id not in near or d < near[h.file_id][0]):
                    near[h.file_id] = (d, h)
        closest = sorted(near.values(), key=lambda x: (x[0], x[1].item, x[1].locator))[:50]
        ids = review.photo_ids_of_files(db, [h.file_id for _, h in closest])
        return [{"item": h.item, "locator": h.locator, "distance": d, "photo": ids.get(h.file_id)}
                for d, h in closest]

    def _custody(self, case: Case) -> Any:
        """The custody log's verification (``forensic custody verify``), kept while the log's
        files are unchanged (size and time of change)."""
        from forensic.chain_of_custody.verify import verify_log
        stamp: list[tuple[int, int] | None] = []
        for name in ("custody.jsonl", "custody.checkpoints.jsonl"):
            try:
                st = (case.root / name).stat()
                stamp.append((st.st_size, st.st_mtime_ns))
            except OSError:
                stamp.append(None)
        key = tuple(stamp)
        with self.lock:
            if self.custody_cache is not None and self.custody_cache[0] == key:
                return self.custody_cache[1]
        report = verify_log(case.root, case.db, case_id=case.case_id)
        with self.lock:
            self.custody_cache = (key, report)
        return report

    def thumbnail(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        if file_id > SQLITE_MAX:
            return _refuse(404, "no thumbnail")
        with self.case() as case:
            db = case.db
            f = review.file(db, file_id)
            record = self.thumbs(db).get(file_id)
            if f is None or record is None or review.is_known_bad(db, f.sha256, f.id):
                return _refuse(404, "no thumbnail")
            jpeg = review.thumbnail(db, record)
        if jpeg is None:
            return _refuse(404, "no thumbnail")
        try:
            data = base64.b64decode(jpeg, validate=True)
        except (binascii.Error, ValueError):
            return _refuse(404, "no thumbnail")
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    # -- chats --------------------------------------------------------------------------------
    def chats(self, request: Request) -> Response:
        """Conversations, and the search box: messages (the chat index), file names and paths,
        photo metadata, documents' text (``forensic search``'s content index); ``where`` keeps
        one of them."""
        q = request.query_params.get("q", "").strip()
        where = request.query_params.get("where", "")
        where = where if where in SEARCH_WHERE else ""
        with self.case() as case:
            db = case.db
            ids = store_items.ids(db)
            convs = []                      # the list when there is no search (results alone else)
            if ids and not q:
                convs = self.cached(db, "conversations", lambda d: store_chats.conversations(d, ids))
            hits: list = []
            files: list = []
            photos: list = []
            file_photos: dict[int, int] = {}
            content: list = []
            unindexed: list[str] = []
            if q:
                fts = store_chats.fts_query(q)
                if fts is not None and ids and where in ("", "messages"):
                    hits = list(store_chats.messages(db, ids, fts=fts, limit=100))
                if where in ("", "names"):
                    files = review.files_matching(db, q, 100)
                if where in ("", "metadata"):
                    photos = review.photos_matching(db, q, 100)
                if where in ("", "content"):
                    content, unindexed = content_hits(db, q, 100)
                file_photos = review.photo_ids_of_files(db, [f.id for f in files] + [c["file_id"] for c in content
                                                                                      if c["file_id"] is not None])
            start = max(0, _int(request.query_params.get("start"), 0))
            shown = convs[start:start + CONVERSATIONS_PAGE]
            later = start + CONVERSATIONS_PAGE if start + CONVERSATIONS_PAGE < len(convs) else None
            return self.render("chats.html", page="chats", conversations=shown, total=len(convs), start=start,
                               later=later, earlier=max(0, start - CONVERSATIONS_PAGE) if start else None,
                               q=q, hits=hits, files=files,
                               file_photos=file_photos, photos=photos, where=where, content=content,
                               unindexed=unindexed, case_dir=str(self.settings.case_dir))

    def conversation(self, request: Request) -> Response:
        qp = request.query_params
        key = review.ConversationKey(qp.get("item", ""), qp.get("platform") or None, qp.get("conversation") or None)
        with self.case() as case:
            db = case.db
            target = _int(qp.get("message"), 0) or None
            offset = _int(qp.get("offset"), 0)
            if target is not None:
                found = review.message_key(db, target)
                if found is None:
                    return self.render("error.html", 404, message="no such message")
                key, place = found
                offset = (place // CONV_PAGE) * CONV_PAGE
            total = review.conversation_size(db, key)
            if total == 0:
                return self.render("error.html", 404, message="no such conversation")
            msgs = review.conversation_page(db, key, max(0, offset), CONV_PAGE)
            shas = sorted({a["sha256"] for m in msgs for a in (m.fields.get("attachments") or [])
                           if isinstance(a, dict) and isinstance(a.get("sha256"), str)})
            files = review.files_by_sha256(db, shas)
            thumbs = self.thumbs(db)
            shown = {sha: fid for sha, fid in files.items()
                     if fid in thumbs and not review.is_known_bad(db, sha, fid)}
            owner = _owner(msgs)
            base = {"item": key.item, "platform": key.platform, "conversation": key.conversation}
            people = _people(msgs)
            from forensic.store import people as store_people
            return self.render("conversation.html", page="chats", key=key, msgs=msgs, offset=offset, total=total,
                               page_size=CONV_PAGE, target=target, attached=shown, owner=owner, base=base,
                               people=people, roles=store_people.ROLES, marked=store_people.roles(db))

    # -- map and timeline ---------------------------------------------------------------------
    def map(self, request: Request) -> Response:
        """The places in the time range and the part of the map given (``from``/``to``: the
        timeline's range; ``box``: south,west,north,east, a box drawn on the map) on the
        report's offline base map, counted in a grid by the store (``map_places``), and a page
        of them listed by time (``after``: the last of the page before)."""
        from markupsafe import Markup

        from forensic.exporters.report.basemap import map_svg
        from forensic.store import timeline as store_timeline
        q = request.query_params
        start, end = _bounds(request)
        box = store_timeline.Box.parse(q.get("box"))
        after = _place_key(q.get("after"))
        with self.case() as case:
            db = case.db
            store_timeline.ensure_index(db)
            flt = review.PlaceFilter(start, end, box, self.cached(db, "map-hidden", review.map_hidden))
            # the grid of a view is counted once (a pass over its places) and kept, as the other maps
            view = f"map-cells:{start}:{end}:{box.text() if box else ''}"
            cells: list[review.PlaceCell] = self.cached(db, view, lambda d: review.place_cells(d, flt))
            points = [{"lat": c.lat, "lon": c.lon, "kind": c.kind, "count": c.count,
                       "label": c.label if c.count == 1 else ""} for c in cells]
            svg = Markup(map_svg(points)) if points else None        # map_svg escapes every label
            listed = review.places_page(db, flt, after, PLACES_PAGE + 1)
            more = len(listed) > PLACES_PAGE
            listed = listed[:PLACES_PAGE]
            params = {"from": q.get("from"), "to": q.get("to"), "box": box.text() if box else None}
            last = listed[-1] if more and listed else None
            next_page = None
            if last is not None:
                k = store_timeline.NO_KEY if last.k is None else last.k     # no time: first
                next_page = dict(params, after=f"{k},{last.artifact_id}")
            context: dict[str, Any] = dict(page="map", svg=svg, listed=listed, total=sum(c.count for c in cells),
                                           params=params, box=box, first=after is None, next_page=next_page)
            if request.headers.get("hx-request") == "true" and after is not None:      # htmx: the next rows only
                return self.render("_places.html", **context)
            return self.render("map.html", **context)

    def timeline(self, request: Request) -> Response:
        """Every time in the store in timeline order (``forensic timeline``), 200 a page: a
        page is read by the store's timeline index after the last key of the page before.
        ``box``: only the times of records whose place is in that part of the map."""
        from forensic.store import timeline as store_timeline
        q = request.query_params
        start, end = _bounds(request)
        box = store_timeline.Box.parse(q.get("box"))
        after = store_timeline.parse_key(q.get("after"))
        flt = store_timeline.TimelineFilter(item=q.get("item") or None, start_us=start, end_us=end)
        with self.case() as case:
            rows, last = store_timeline.page(case.db, flt, after, TIMELINE_PAGE, box=box)
            params = {"item": q.get("item"), "from": q.get("from"), "to": q.get("to"),
                      "box": box.text() if box else None}
            return self.render("timeline.html", page="timeline", rows=rows, first=after is None,
                               next_key=store_timeline.key_text(last) if last else None, params=params,
                               items=store_items.ids(case.db), box=box)

    # -- tagging ------------------------------------------------------------------------------
    async def tag(self, request: Request) -> Response:
        form = await request.form()
        csrf = str(form.get("csrf", ""))
        if not hmac.compare_digest(csrf.encode(), self.settings.csrf.encode()):
            return _refuse(403, "forbidden: missing or wrong CSRF token")
        kind = str(form.get("kind", ""))
        item = str(form.get("item", ""))
        ref = str(form.get("ref", ""))
        name = str(form.get("tag", "")).strip()
        note = str(form.get("note", "")).strip() or None
        sensitive = form.get("sensitive") == "1"
        back = str(form.get("back", "/"))
        if not back.startswith("/") or back.startswith("//"):
            back = "/"
        htmx = request.headers.get("hx-request") == "true"
        try:
            with self.case() as case:
                tag_targets(case, kind, item, ref, name, note, sensitive)
                tags = review.tags_of(case.db, "file", item, ref) if kind == "file" else None
        except ForensicError as exc:
            if htmx:         # the form again, saying why (htmx swaps a 200 only)
                return self.render("_tagged.html", kind=kind, item=item, ref=ref, back=back, failed=str(exc), tags=None)
            return self.render("error.html", 400, message=str(exc))
        if htmx:             # the form again, and the photo's tags (out of band): no page reloaded
            return self.render("_tagged.html", kind=kind, item=item, ref=ref, back=back, tags=tags,
                               done=f"tagged {name!r}: a custody entry")
        return RedirectResponse(back, status_code=303)


    async def person(self, request: Request) -> Response:
        """Mark a person victim, witness or suspect with a note, as ``forensic person mark``
        does (the same function: the custody preflight, the row, the signed entry)."""
        form = await request.form()
        if not hmac.compare_digest(str(form.get("csrf", "")).encode(), self.settings.csrf.encode()):
            return _refuse(403, "forbidden: missing or wrong CSRF token")
        from forensic.cli.commands.person import mark_person
        from forensic.errors import UsageError
        from forensic.store import people as store_people
        who = str(form.get("person", "")).strip()
        role = str(form.get("role", ""))
        note = str(form.get("note", "")).strip() or None
        back = str(form.get("back", "/"))
        if not back.startswith("/") or back.startswith("//"):
            back = "/"
        try:
            if role not in store_people.ROLES:
                raise UsageError(f"no such role: {role!r} (victim, witness or suspect)")
            with self.case() as case:
                mark_person(case, who, role, note, case.examiner)
        except ForensicError as exc:
            return self.render("error.html", 400, message=str(exc))
        return RedirectResponse(back, status_code=303)

    async def export(self, request: Request) -> Response:
        """Run ``forensic export`` (the command itself, in a process of its own) on what carries
        a tag: a bundle in ``CASE/exports/``, encrypted with a generated password written beside
        it (mode 0600), signed with the key the server was started with, logged in custody."""
        import asyncio
        import json
        import re
        import sys
        from datetime import datetime, timezone
        form = await request.form()
        if not hmac.compare_digest(str(form.get("csrf", "")).encode(), self.settings.csrf.encode()):
            return _refuse(403, "forbidden: missing or wrong CSRF token")
        tag = str(form.get("tag", ""))
        with self.case() as case:
            if tag not in store_tags.names(case.db):
                return self.render("error.html", 400, message=f"no such tag: {tag}")
            root = case.root
        folder = root / "exports"
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):    # would write elsewhere
            return self.render("error.html", 400, message=f"{folder} is a link or not a folder: nothing exported "
                               "(the bundle and its password are written inside the case only)")
        folder.mkdir(exist_ok=True)
        async with self.export_lock:     # two clicks in one second: one bundle and password file each
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            base = re.sub(r"[^A-Za-z0-9._-]", "_", tag)[:40] + "-" + stamp
            name, n = base, 1
            while any((folder / f"{name}{ext}").exists() or (folder / f"{name}{ext}.partial").exists()
                      for ext in (".zip", ".password")):
                n += 1
                name = f"{base}-{n}"
            out, password = folder / f"{name}.zip", folder / f"{name}.password"
            args = [sys.executable, "-m", "forensic.cli.main", "export", "--case", str(root), "--out", str(out),
                    "--tag", tag, "--generate-password", "--password-out", str(password), "--json", "--quiet"]
            if form.get("include_sensitive") == "1":
                args.append("--include-sensitive")
            proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.PIPE)
            stdout, stderr = await proc.communicate()
        if proc.returncode != 0:
            return self.render("error.html", 400, message="forensic export failed: "
                               + stderr.decode("utf-8", "replace").strip()[-2000:])
        summary = json.loads(stdout.decode("utf-8"))
        return self.render("exported.html", page="overview", summary=summary, password=str(password), tag=tag)


def tag_targets(case: Case, kind: str, item: str, ref: str, name: str, note: str | None, sensitive: bool) -> int:
    """Tag one photo's file (``kind`` file, ``ref`` its locator) or one message (``kind``
    message, ``ref`` its artifact id) as ``forensic tag add`` does: the custody preflight,
    the tag rows, the signed custody entry."""
    from forensic.chain_of_custody.hooks import preflight
    from forensic.errors import UsageError
    from forensic.exporters.selection import add_tags, find_targets, log_tags
    if kind == "message":
        wanted = f"message:{ref}"
    elif kind == "file":
        wanted = ref
    else:
        raise UsageError(f"cannot tag a {kind!r}")
    preflight(case, None, None)
    found = find_targets(case, [wanted], item=item or None)
    rows = add_tags(case, found, name, note, sensitive, case.examiner)
    log_tags(case, rows, name, sensitive, note, case.examiner)
    return len(rows)


@dataclass
class PhashBands:
    """The case's pHashes: the files of each value, the values of each file, and each band's
    buckets of values (band part -> values), and each file's hash version."""
    by_value: dict[int, list[Any]]
    values_of: dict[int, list[int]]
    buckets: list[dict[int, list[int]]]
    version_of: dict[int, int]

    @classmethod
    def of(cls, db: Any) -> "PhashBands":
        from collections import defaultdict
        by_value: dict[int, list[Any]] = defaultdict(list)
        values_of: dict[int, list[int]] = defaultdict(list)
        version_of: dict[int, int] = {}
        for h in store_similar.phash_records(db):
            value = store_similar.parse_hash(h.phash)
            if value is not None:
                by_value[value].append(h)
                values_of[h.file_id].append(value)
                version_of.setdefault(h.file_id, h.version)
        buckets: list[dict[int, list[int]]] = []
        for shift, mask in store_similar.bands(store_similar.DEFAULT_MAX_DISTANCE):
            band: dict[int, list[int]] = defaultdict(list)
            for v in by_value:
                band[(v >> shift) & mask].append(v)
            buckets.append(dict(band))
        return cls(dict(by_value), dict(values_of), buckets, version_of)

    def candidates(self, values: list[int]) -> set[int]:
        """The values sharing a band with one of ``values`` (themselves included)."""
        out: set[int] = set()
        spans = store_similar.bands(store_similar.DEFAULT_MAX_DISTANCE)
        for (shift, mask), band in zip(spans, self.buckets, strict=True):
            for v in values:
                out.update(band.get((v >> shift) & mask, ()))
        return out


def near_duplicate_files(db: Any) -> frozenset[int]:
    """The files whose pHash is within :data:`forensic.store.similar.DEFAULT_MAX_DISTANCE` bits
    of another file's (copies of one picture included), as ``forensic similar`` compares them:
    files of one hash value together, and values that share a band compared with each other;
    files whose hashes are of one version only (:mod:`forensic.store.similar`)."""
    bands = PhashBands.of(db)
    close = [(v, v) for v in bands.by_value]
    for band in bands.buckets:
        for members in band.values():
            for x, v in enumerate(members):
                for w in members[x + 1:]:
                    if store_similar.distance(v, w) <= store_similar.DEFAULT_MAX_DISTANCE:
                        close.append((v, w))
    near: set[int] = set()
    for v, w in close:
        files: dict[int, set[int]] = {}
        for h in bands.by_value[v] + (bands.by_value[w] if w != v else []):
            files.setdefault(h.version, set()).add(h.file_id)
        for same in files.values():
            if len(same) > 1:
                near |= same
    return frozenset(near)


SEARCH_WHERE = ("messages", "names", "metadata", "content")


def content_hits(db: Any, q: str, limit: int) -> tuple[list[dict], list[str]]:
    """Up to ``limit`` places in documents' text (PDF, Office, HTML, BOM text: the index
    ``forensic search`` keeps) holding ``q`` in any case, each with 40 characters either side;
    and the items whose documents are not indexed since their last triage (not searched here:
    reading the evidence again is ``forensic search``'s work, not a page's)."""
    from forensic.search.engine import CONTEXT_CHARS
    from forensic.search.terms import Matcher, Term
    from forensic.store import search as store_search
    matcher = Matcher([Term(q, "search box")], ignore_case=True, engine="re")
    out: list[dict] = []
    unindexed: list[str] = []
    for it in store_items.all_items(db):
        if not store_search.content_indexed(db, it.item, it.triaged_at):
            unindexed.append(it.item)
            continue
        for doc in store_search.content_texts(db, it.item, matcher.prefilter()):
            for m in matcher.find_text(doc.text):
                before = doc.text[max(0, m.start - CONTEXT_CHARS):m.start]
                after = doc.text[m.end:m.end + CONTEXT_CHARS]
                f = review.file_by_locator(db, doc.item, doc.locator)
                out.append({"item": doc.item, "locator": doc.locator, "path": doc.path, "deleted": doc.deleted,
                            "extracted": doc.extractor, "before": before, "text": m.text, "after": after,
                            "file_id": f.id if f is not None else None})
                if len(out) >= limit:
                    return out, unindexed
    return out, unindexed


def _people(msgs: list) -> list[str]:
    """The senders and participants the messages name, sorted (whom the page can mark)."""
    named: set[str] = set()
    for m in msgs:
        given = m.fields.get("participants")
        for p in [m.fields.get("sender"), *(given if isinstance(given, list) else [])]:
            if isinstance(p, str) and p:
                named.add(p)
    return sorted(named)


def _owner(msgs: list) -> str | None:
    """The sender shown on the right (the phone's owner: messages marked ``from_me``)."""
    for m in msgs:
        if m.fields.get("from_me") and m.fields.get("sender"):
            return str(m.fields["sender"])
    return None


def _place_key(text: str | None) -> tuple[int, int] | None:
    """The map list's page key ``TIME,RECORD`` (two 64-bit integers), or None."""
    parts = (text or "").split(",")
    if len(parts) != 2:
        return None
    try:
        k, aid = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return (k, aid) if all(-2**63 <= v < 2**63 for v in (k, aid)) else None


def _field_rows(fields: dict, extractor: str) -> list[tuple[str, str, str]]:
    """(name, value as text, source) of every field of a record, by name: the source is what the
    record says the field came from (its ``NAME_source`` field, e.g. ``taken_at_source``), else
    the extractor that read it. None shows as nothing; lists and objects as JSON."""
    import json
    rows = []
    for name, value in sorted(fields.items()):
        text = "" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        said = fields.get(f"{name}_source")
        if isinstance(said, dict):                   # {"source": "exif:DateTimeOriginal", "reason": ...}
            said = said.get("source")
        rows.append((name, text, f"{said} ({extractor})" if isinstance(said, str) and said else extractor))
    return rows


def _bounds(request: Request) -> tuple[int | None, int | None]:
    """The ``from``/``to`` query parameters as µs since the epoch (ISO 8601 dates or times, UTC
    when no zone; a day alone as the end: the whole day); unreadable ones are ignored."""
    from forensic.store.timeline import sort_key
    out: list[int | None] = []
    for name in ("from", "to"):
        text = (request.query_params.get(name) or "").strip()
        if name == "to" and len(text) == 10:
            text += "T23:59:59.999999"
        key = sort_key(text) if text else None
        out.append(key)
    return out[0], out[1]


SQLITE_MAX = 2**63 - 1    # the largest integer SQLite holds: a bigger id or offset finds nothing


def _int(text: str | None, default: int) -> int:
    """``text`` as an integer SQLite can hold, else ``default`` (a URL's number past 64 bits
    would make SQLite raise OverflowError, a 500)."""
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return value if -SQLITE_MAX <= value <= SQLITE_MAX else default


def create_app(settings: Settings, warm: bool = True) -> ASGIApp:
    """The application; ``warm``: verify the custody log and make the kept maps in a thread at
    start, so the first pages need not wait for them (a request meanwhile makes its own)."""
    views = Views(settings)
    if warm:
        threading.Thread(target=views.warm, name="serve-warm", daemon=True).start()
    routes = [
        Route("/", views.overview),
        Route("/gallery", views.gallery),
        Route("/photo/{artifact_id:int}", views.photo),
        Route("/thumb/{file_id:int}.jpg", views.thumbnail),
        Route("/chats", views.chats),
        Route("/conversation", views.conversation),
        Route("/map", views.map),
        Route("/timeline", views.timeline),
        Route("/tag", views.tag, methods=["POST"]),
        Route("/person", views.person, methods=["POST"]),
        Route("/export", views.export, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    return Guard(Starlette(routes=routes), settings)
