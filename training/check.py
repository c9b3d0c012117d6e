"""``forensic training check``: compare what a case found with an answer key.

Each fact of the key is looked for in the case store (``items`` with their ``details``,
``files``, ``warnings`` and the ``photo/exif``, ``photo/phash``, ``media/video``,
``location/point`` and ``chat/message`` artifacts) and comes out as one of:

  found    the case holds it, with the expected values;
  wrong    the case holds the thing but a value differs (the detail says which);
  missed   the case does not hold it;
  skipped  the extractor that would find it is not available in this installation —
           not counted in the score.

A fact missed or wrong gets its ``feedback`` (what the trainee should know about it, from the
key) after the detail.

Facts about exports (``report_finding``, ``pseudonymised_export``) are looked for in the case's
custody log (``person.marked``, ``export.created``) and in the bundles its ``export.created``
entries name, found beside the case, where the export command wrote them, in the current folder
or given with ``--bundle``, and accepted only with the SHA-256 the entry records; a bundle is
opened read-only, an encrypted one with ``--bundle-password-file``. Without that password only
what the custody log shows is graded, and the detail says so.

Evidence items are matched by SHA-256, not by name: an item added as ``phone.E01`` has the
SHA-256 of the media it holds, which is ``phone.raw``'s. Score = found / checked * 100,
rounded down (100 only when every checked fact is found).
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import re
import shlex
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

from forensic.case import Case
from forensic.errors import UsageError
from forensic.locator import SEP as LOCATOR_SEP
from forensic.store import artifacts as store_artifacts, files as store_files, hashsets as store_hashsets, \
    people as store_people, search as store_search, similar as store_similar, warnings as store_warnings
from forensic.store.records import File, Record, StoredWarning

REPORT_SCHEMA = "forensic.training-check/1"
ANSWER_KEY_SCHEMA = "forensic.answer-key/2"
ANSWER_KEY_SCHEMAS = ("forensic.answer-key/1", ANSWER_KEY_SCHEMA)   # /1: the same, without the export kinds
LATLON_TOLERANCE = 1e-5
OWNER = "(device owner)"               # how the phone databases' records name the phone's owner

# bidi marks, embeddings, overrides and isolates: escaped in a detail, which reaches a terminal
BIDI_CONTROLS = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

PLATFORM_ALIASES = {
    "whatsapp": {"whatsapp"},
    "telegram": {"telegram"},
    "messenger": {"messenger", "facebook", "facebook_messenger", "facebook-messenger", "instagram"},
    "sms": {"sms", "android_sms", "mms", "android"},
    "viber": {"viber"},
    "signal": {"signal", "signal_desktop"},
}


@dataclass(slots=True)
class FactResult:
    fact: dict
    status: str                      # found | wrong | missed | skipped
    detail: str = ""

    def to_json(self) -> dict:
        f = self.fact
        return {"id": f["id"], "kind": f["kind"], "item": f.get("item"), "description": f["description"],
                "status": self.status, "detail": self.detail}


@dataclass(slots=True)
class CheckReport:
    key_path: str
    key: dict
    results: list[FactResult] = field(default_factory=list)
    item_map: dict[str, list[str]] = field(default_factory=dict)
    exports: list[dict] = field(default_factory=list)   # the bundles the export facts were graded from

    def by(self, status: str) -> list[FactResult]:
        return [r for r in self.results if r.status == status]

    @property
    def checked(self) -> int:
        return sum(1 for r in self.results if r.status != "skipped")

    @property
    def score(self) -> int:
        return math.floor(100 * len(self.by("found")) / self.checked) if self.checked else 0

    def to_json(self) -> dict:
        skipped_extractors = sorted({r.fact.get("requires") for r in self.by("skipped") if r.fact.get("requires")})
        return {
            "schema": REPORT_SCHEMA, "answer_key": self.key_path, "seed": self.key.get("seed"),
            "scenario": self.key.get("scenario"), "score": self.score, "found": len(self.by("found")),
            "checked": self.checked, "facts": len(self.results),
            "missed": [r.to_json() for r in self.by("missed")],
            "wrong": [r.to_json() for r in self.by("wrong")],
            "skipped": [r.to_json() for r in self.by("skipped")],
            "skipped_extractors": skipped_extractors,
            "items": self.item_map,
            "exports": self.exports,
        }


def load_key(path: Path) -> dict:
    try:
        key = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the answer key {path}: {exc}",
                         hint="pass the answer-key.json written by 'forensic sample-image'") from exc
    if not isinstance(key, dict) or key.get("schema") not in ANSWER_KEY_SCHEMAS or \
            not isinstance(key.get("facts"), list):
        raise UsageError(f"{path} is not an answer key ({ANSWER_KEY_SCHEMA})",
                         hint="pass the answer-key.json written by 'forensic sample-image'")
    items = key.get("items", {})
    if not isinstance(items, dict) or not all(isinstance(v, dict) for v in items.values()):
        raise UsageError(f"{path}: its 'items' is not an object of evidence items",
                         hint="pass the answer-key.json written by 'forensic sample-image'")
    for n, fact in enumerate(key["facts"]):
        if not (isinstance(fact, dict) and all(isinstance(fact.get(k), str) for k in ("id", "kind", "description"))
                and isinstance(fact.get("expected"), dict)):
            raise UsageError(f"{path}: fact {n} is not a fact (an object with text 'id', 'kind' and "
                             "'description', and an 'expected' object)",
                             hint="pass the answer-key.json written by 'forensic sample-image'")
    return key


# -- small helpers ----------------------------------------------------------------------------------
def _norm(text) -> str:
    text = unicodedata.normalize("NFC", str(text or "")).casefold()
    return re.sub(r"[\s\-().\u200e\u200f]+", "", text)


def _words(text) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", str(text or ""))).strip().casefold()


def _path(p) -> str:
    return str(p or "").replace("\\", "/").lstrip("/")


def _dt(value) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _same_utc(a, b) -> bool:
    x, y = _dt(a), _dt(b)
    if x is None or y is None or x.tzinfo is None or y.tzinfo is None:
        return False
    return abs((x - y).total_seconds()) < 0.001


def _same_local(record_value, expected_local) -> bool:
    """The wall-clock part of a time (its offset, if any, set aside) equals the expected local time."""
    x, y = _dt(record_value), _dt(expected_local)
    if x is None or y is None:
        return False
    return abs((x.replace(tzinfo=None) - y.replace(tzinfo=None)).total_seconds()) < 0.001


BUNDLE_MEMBERS = ("data/files.jsonl", "data/messages.jsonl", "data/report/index.html")
BUNDLE_MEMBER_MAX = 64 << 20             # a member larger than this is not read (a report is far smaller)


@dataclass(slots=True)
class _Export:
    """A bundle the custody log says was made: its ``export.created`` entry and, when the bundle
    was found with the SHA-256 the entry records and could be opened, the members graded."""

    entry: dict
    path: Path | None = None
    members: dict[str, str] = field(default_factory=dict)   # BUNDLE_MEMBERS name -> text
    evidence: dict[str, str] = field(default_factory=dict)  # data/evidence/... member -> SHA-256 of its bytes
    problem: str = ""                                        # why its content was not read

    @property
    def details(self) -> dict:
        d = self.entry.get("details")
        return d if isinstance(d, dict) else {}

    @property
    def name(self) -> str:
        return str(self.details.get("bundle") or (self.path.name if self.path else "?"))

    def jsonl(self, member: str) -> list[dict]:
        out = []
        for line in self.members.get(member, "").splitlines():
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                out.append(value)
        return out


class _ReportHTML(HTMLParser):
    """The report's findings (title, note, items' text) and conversations (title, the count line,
    how many gap markers), read from its markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.findings: list[dict] = []
        self.conversations: list[dict] = []
        self._stack: list[tuple[str, str]] = []       # (tag, class) of the open elements
        self._into: tuple[dict, str] | None = None     # the field text goes to

    def handle_starttag(self, tag, attrs) -> None:
        cls = dict(attrs).get("class") or ""
        if tag in ("br", "img", "meta", "link", "hr", "input"):
            return
        self._stack.append((tag, cls))
        classes = cls.split()
        if tag == "div" and "finding" in classes:
            self.findings.append({"title": "", "note": "", "items": []})
        elif tag == "div" and "conv" in classes:
            self.conversations.append({"title": "", "count": "", "gaps": 0})
        if tag == "h3" and self._open("finding"):
            self._into = (self.findings[-1], "title")
        elif tag == "p" and "note" in classes and self._open("finding"):
            self._into = (self.findings[-1], "note")
        elif tag == "li" and self._open("finding"):
            self.findings[-1]["items"].append("")
            self._into = (self.findings[-1], "item")
        elif tag == "h3" and self._open("conv"):
            self._into = (self.conversations[-1], "title")
        elif tag == "div" and "count" in classes and self._open("conv"):
            self._into = (self.conversations[-1], "count")
        elif tag == "div" and "gap" in classes and self._open("conv"):
            self.conversations[-1]["gaps"] += 1

    def _open(self, cls: str) -> bool:
        return any(t == "div" and cls in c.split() for t, c in self._stack)

    def handle_endtag(self, tag) -> None:
        while self._stack:
            t, _ = self._stack.pop()
            if t == tag:
                break
        if tag in ("h3", "p", "li", "div") and self._into is not None and self._into[1] != "item":
            self._into = None
        elif tag == "li":
            self._into = None

    def handle_data(self, data) -> None:
        if self._into is None:
            return
        target, name = self._into
        if name == "item":
            target["items"][-1] += data
        else:
            target[name] += data


def _read_report(html: str) -> _ReportHTML:
    parser = _ReportHTML()
    parser.feed(html)
    parser.close()
    return parser


class _Store:
    """What the checker reads from the case, per evidence item."""

    def __init__(self, case: Case, bundles: list[Path] | None = None, bundle_password: bytes | None = None) -> None:
        self.case = case
        self.db = case.db
        self.formats = {r.item: r.format for r in case.items()}
        self.details = {r.item: r.details or {} for r in case.items()}
        self.triaged = {r.item: r.triaged_at for r in case.items()}
        self._artifacts: dict[tuple[str, str], list[Record]] = {}
        self._bundles = list(bundles or [])
        self._bundle_password = bundle_password
        self._custody: list[dict] | None = None
        self._exports: list[_Export] | None = None

    def custody(self) -> list[dict]:
        """The custody log's entries, read (never written) from the case folder."""
        if self._custody is None:
            from forensic.chain_of_custody.log import LOG_NAME, iter_lines
            self._custody = []
            for line in iter_lines(self.case.root / LOG_NAME):
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue                      # 'forensic custody verify' says what is wrong with it
                if isinstance(entry, dict):
                    self._custody.append(entry)
        return self._custody

    def exports(self) -> list[_Export]:
        """Every ``export.created`` of the custody log, with its bundle's content where found."""
        if self._exports is None:
            self._exports = [self._open_export(e) for e in self.custody() if e.get("action") == "export.created"]
        return self._exports

    def _candidates(self, entry: dict) -> list[Path]:
        details, tool = entry.get("details"), entry.get("tool")
        name = str(details.get("bundle") or "") if isinstance(details, dict) else ""
        out: list[Path] = list(self._bundles)
        command = str(tool.get("command") or "") if isinstance(tool, dict) else ""
        try:
            words = shlex.split(command)
        except ValueError:
            words = []
        for i, w in enumerate(words):
            given = words[i + 1] if w == "--out" and i + 1 < len(words) else w[6:] if w.startswith("--out=") else ""
            if given:
                p = Path(given)
                out += [p] if p.is_absolute() else [self.case.root.parent / p, Path.cwd() / p]
        if name and "/" not in name and name not in (".", ".."):
            out += [self.case.root.parent / name, Path.cwd() / name]
        return out

    def _open_export(self, entry: dict) -> _Export:
        export = _Export(entry)
        want = str(entry.get("sha256") or "")
        seen: set[Path] = set()
        for p in self._candidates(entry):
            try:
                if p in seen or not p.is_file():
                    continue
                seen.add(p)
                h = hashlib.sha256()
                with open(p, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
            except OSError:
                continue
            if h.hexdigest() == want:
                export.path = p
                break
        if export.path is None:
            export.problem = (f"bundle {export.name} not found with the SHA-256 the custody log records "
                              f"({want[:16]}…): pass it with --bundle")
            return export
        try:
            export.members, export.evidence = _bundle_members(export.path, self._bundle_password)
        except _Locked as exc:
            export.problem = str(exc)
        except Exception as exc:  # noqa: BLE001 - any damaged ZIP: that bundle is not graded, the check goes on
            export.problem = f"bundle {export.path.name} cannot be read: {type(exc).__name__}: {exc}"
        return export

    def files(self, items: list[str], *, deleted: bool | None = None, kind: str | None = None,
              sha256: str | None = None) -> list[File]:
        return list(store_files.listing(self.db, items, deleted=deleted, kind=kind, sha256=sha256))

    def artifacts(self, item: str, record_type: str) -> list[Record]:
        k = (item, record_type)
        if k not in self._artifacts:
            self._artifacts[k] = list(store_artifacts.of_item(self.db, item, record_type))
        return self._artifacts[k]

    def direct_file_count(self, item: str) -> int:
        """Regular allocated files directly in the item (see answer_key.FILE_COUNT_SCOPE)."""
        own_members = 1 if self.formats.get(item) in ("zip", "tar") else 0
        n = 0
        for r in store_files.listing(self.db, [item], kind="file", deleted=False):
            if sum(1 for layer in r.layers if layer.get("kind") == "member") != own_members:
                continue
            if any(layer.get("kind") == "embedded" for layer in r.layers):
                continue            # an object found inside another file, not a file of the item
            if r.name.startswith("$") or _path(r.path).startswith("lost+found/"):
                continue
            n += 1
        return n

    def hashset_checks(self, items: list[str]) -> list[store_hashsets.HashsetCheck]:
        """The hash set checks recorded for ``items`` (at triage, or by ``hashset check``)."""
        return [c for item in items for c in store_hashsets.checks(self.db, item)]

    def hashset_hits(self, items: list[str]) -> dict[int, list[store_hashsets.HashsetHit]]:
        """file id -> the sets it matched, of ``items``."""
        return store_hashsets.hits(self.db, items)

    def suspects(self, file_ids: list[int]) -> dict[int, store_similar.Suspect]:
        """file id -> what it resembles, of ``file_ids`` near-duplicates of a known-bad photo."""
        return store_similar.suspected_known_bad(self.db, file_ids)

    def content_searched(self, item: str) -> bool:
        """Whether a content search ran on ``item`` since its triage (its documents' text indexed)."""
        return store_search.content_indexed(self.db, item, self.triaged.get(item))

    def warnings_at(self, item: str, locator_suffix: str) -> list[StoredWarning]:
        """``item``'s warnings about a locator ending with ``locator_suffix``."""
        return store_warnings.at_locator_ending(self.db, item, locator_suffix)


class _Locked(Exception):
    """An encrypted bundle and no (or the wrong) password to open it."""


def _bundle_members(path: Path, password: bytes | None) -> tuple[dict[str, str], dict[str, str]]:
    """The graded members of a bundle (a ZIP holding ``<bag>/data/...``, possibly AES-encrypted,
    possibly with the bag as one inner ``bag.zip``), read without extracting anything: the text
    members (``BUNDLE_MEMBERS``), and the SHA-256 of each ``data/evidence/`` member's bytes, by
    its path in the bag (as ``files.jsonl`` and ``source.member`` name it)."""
    import pyzipper  # type: ignore[import-untyped]

    from forensic.exporters.bundle import HIDDEN_MEMBER

    def members(zf) -> tuple[dict[str, str], dict[str, str]]:
        out, evidence = {}, {}
        for info in zf.infolist():
            for want in BUNDLE_MEMBERS:
                if info.filename.endswith("/" + want) and info.filename.count("/") == want.count("/") + 1 \
                        and info.file_size <= BUNDLE_MEMBER_MAX:
                    out[want] = zf.read(info).decode("utf-8", "replace")
            in_bag = info.filename.split("/", 1)[-1]
            if in_bag.startswith("data/evidence/") and not info.is_dir():
                h = hashlib.sha256()
                with zf.open(info) as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
                evidence[in_bag] = h.hexdigest()
        return out, evidence

    with pyzipper.AESZipFile(path) as zf:
        if any(i.flag_bits & 1 for i in zf.infolist()):
            if password is None:
                raise _Locked(f"bundle {path.name} is encrypted: only the custody log was graded (pass "
                              "--bundle-password-file to check its content)")
            zf.setpassword(password)
        infos = zf.infolist()
        try:
            if len(infos) == 1 and infos[0].filename == HIDDEN_MEMBER:
                with pyzipper.AESZipFile(io.BytesIO(zf.read(infos[0]))) as inner:
                    return members(inner)
            return members(zf)
        except RuntimeError as exc:       # pyzipper: "Bad password for file"
            raise _Locked(f"bundle {path.name} is encrypted and the password given does not open it ({exc}): only "
                          "the custody log was graded") from None


def _exports_detail(exports: list[_Export]) -> str:
    return "; ".join(e.problem for e in exports if e.problem)


def _locked(exports: list["_Export"]) -> "_Export | None":
    """The first export found but not opened for want of its password: graded from the custody
    log alone (the trainee gave no --bundle-password-file)."""
    return next((e for e in exports if e.path is not None and "encrypted" in e.problem), None)


def _tag_exports(store: _Store, tag: str, member: str, what: str) -> tuple[list[_Export], tuple[str, str] | None]:
    """The exports of ``--tag tag`` whose bundle can be read (holds ``member``), or, when there
    is none, the verdict: no export, none of the tag, or only a sealed one (found from the
    custody log alone) or one without ``what``."""
    exports = store.exports()
    if not exports:
        return [], ("missed", "the custody log records no export")
    tagged = [e for e in exports if tag in ((e.details.get("selection") or {}).get("tags") or [])]
    if not tagged:
        return [], ("missed", f"no export of the tag {tag!r} in the custody log")
    readable = [e for e in tagged if member in e.members]
    if readable:
        return readable, None
    locked = _locked(tagged)
    if locked:
        return [], ("found", f"custody log only: {locked.name} exported --tag {tag}; {locked.problem}")
    return [], ("wrong", _exports_detail(tagged) or f"no {what} in the bundle of --tag {tag}")


def _report_finding(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """A bundle whose report has the finding ``tag`` with a note, and the conversation shown as a
    partial selection (``count_text``, gap markers) holding the selected messages."""
    readable, verdict = _tag_exports(store, exp["tag"], "data/report/index.html", "report")
    if verdict is not None:
        return verdict
    problems = []
    for e in readable:
        report = _read_report(e.members["data/report/index.html"])
        finding = next((f for f in report.findings if _words(f["title"]) == _words(exp["tag"])), None)
        conv = next((c for c in report.conversations if _words(c["title"]) == _words(exp["conversation"])), None)
        if finding is None:
            problems.append(f"{e.name}: its report has no finding {exp['tag']!r}")
        elif not finding["note"].strip():
            problems.append(f"{e.name}: the finding {exp['tag']!r} has no note (tag add --note)")
        elif conv is None:
            problems.append(f"{e.name}: its report has no conversation {exp['conversation']!r}")
        elif _words(conv["count"]) != _words(exp["count_text"]):
            problems.append(f"{e.name}: the conversation reads {conv['count'].strip()!r} "
                            f"(expected {exp['count_text']!r})")
        elif not conv["gaps"]:
            problems.append(f"{e.name}: no gap markers for the messages left out")
        else:
            said = [b for b in exp["selected"] if not any(_words(b) in _words(i) for i in finding["items"])]
            if said:
                problems.append(f"{e.name}: the finding lacks {', '.join(repr(b) for b in said)}")
                continue
            return "found", (f"{e.name}: finding {exp['tag']!r} ({finding['note'].strip()[:60]!r}), "
                             f"{conv['count'].strip()}, {conv['gaps']} gap marker(s)")
    return "wrong", "; ".join(problems)


def _place_export(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """A bundle exported with ``--tag <tag>`` whose ``data/evidence/`` holds exactly the photos
    taken in the city (by SHA-256: the phone's and the extraction's copies are the same bytes)."""
    city, want = exp["city"], set(exp["sha256"])
    readable, verdict = _tag_exports(store, exp["tag"], "data/files.jsonl", "files.jsonl")
    if verdict is not None:
        return verdict
    problems = []
    for e in readable:
        held = set(e.evidence.values())
        lacking, astray = want - held, held - want
        if not lacking and not astray:
            return "found", f"{e.name}: the {len(want)} photos taken in {city}, and nothing else"
        said = []
        if lacking:
            said.append(f"lacks {len(lacking)} of the {len(want)} photos taken in {city}")
        if astray:
            said.append(f"holds {len(astray)} file(s) not taken there")
        problems.append(f"{e.name}: " + " and ".join(said))
    return "wrong", "; ".join(problems)


def _pseudonymised_export(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """The victim marked (``person.marked``, role victim) and a ``--pseudonymise`` bundle in which
    the chat file naming her is withheld and her messages carry a pseudonym, never her name."""
    victim = _norm(exp["victim"])
    marks = [e for e in store.custody() if e.get("action") == "person.marked"
             and isinstance(e.get("details"), dict) and isinstance(e.get("subject"), dict)
             and victim and (victim in _norm(e["subject"].get("person")) or victim in _norm(e["details"].get("given")))]
    if not marks:
        return "missed", f"the custody log has no person.marked for {exp['victim']}"
    role = marks[-1]["details"].get("role")
    if role != exp["role"]:
        return "wrong", f"{exp['victim']} is marked {role}, not {exp['role']}"
    exports = [e for e in store.exports() if e.details.get("pseudonymised") is True]
    if not exports:
        return "missed", f"{exp['victim']} marked {role}, but no export was made with --pseudonymise"
    readable = [e for e in exports if "data/files.jsonl" in e.members]
    if not readable:
        locked = _locked(exports)
        if locked:
            return "found", f"custody log only: marked {role}, {locked.name} pseudonymised; {locked.problem}"
        return "wrong", _exports_detail(exports) or "no files.jsonl in the pseudonymised bundle"
    problems = []
    plain = exp["victim"].casefold()
    for e in readable:
        files = [f for f in e.jsonl("data/files.jsonl") if f.get("sha256") == exp["file_sha256"]]
        messages = e.jsonl("data/messages.jsonl")
        said = [m for m in messages if _words(exp["body_contains"]) in _words((m.get("fields") or {}).get("body"))]
        if not files:
            problems.append(f"{e.name}: files.jsonl does not list the chat file {exp['file'].rsplit('/', 1)[-1]}")
        elif not all(f.get("withheld") and f.get("withheld_reason") == exp["withheld_reason"] for f in files):
            problems.append(f"{e.name}: the chat file is not withheld as {exp['withheld_reason']}")
        elif not said:
            problems.append(f"{e.name}: no message containing {exp['body_contains']!r}")
        elif not all(str((m.get("fields") or {}).get("sender") or "").startswith(exp["pseudonym_prefix"])
                     for m in said):
            problems.append(f"{e.name}: her message is not shown under a {exp['pseudonym_prefix']}… pseudonym")
        elif plain in e.members.get("data/messages.jsonl", "").casefold():
            problems.append(f"{e.name}: messages.jsonl still names {exp['victim']}")
        else:
            sender = (said[0].get("fields") or {}).get("sender")
            return "found", f"{e.name}: chat file withheld ({exp['withheld_reason']}), her messages as {sender}"
    return "wrong", "; ".join(problems)


# -- the checks -----------------------------------------------------------------------------------------
def check_case(case: Case, key: dict, key_path: str = "", available: set[str] | None = None,
               bundles: list[Path] | None = None, bundle_password: bytes | None = None) -> CheckReport:
    if available is None:
        from forensic.extractors.registry import all_extractors
        available = {i.name for i in all_extractors() if i.available}
    store = _Store(case, bundles, bundle_password)
    report = CheckReport(key_path, key)
    triaged = {r.item: r.triaged_at for r in case.items()}
    for name, info in key.get("items", {}).items():
        # a container holds the media of another item (same SHA-256): told apart by its format
        report.item_map[name] = [r.item for r in case.items() if r.sha256 == info.get("sha256")
                                 and (r.format == info["format"] if "format" in info else True)]
    for fact in key["facts"]:
        report.results.append(_check(fact, store, report.item_map, triaged, available, key))
    if store._exports is not None:
        report.exports = [{"bundle": e.name, "sha256": e.entry.get("sha256"), "seq": e.entry.get("seq"),
                           "path": str(e.path) if e.path else None, "read": bool(e.members),
                           "problem": e.problem or None} for e in store._exports]
    return report


def _check(fact: dict, store: _Store, item_map: dict, triaged: dict, available: set[str], key: dict) -> FactResult:
    requires = fact.get("requires")
    if requires and requires not in available:
        return FactResult(fact, "skipped", f"extractor {requires} not available")
    item_key = fact.get("item")
    items = item_map.get(item_key, [])
    info = key.get("items", {}).get(item_key, {})
    if not items:
        detail = (f"evidence item {info.get('file', item_key)} (SHA-256 {str(info.get('sha256', ''))[:16]}…) "
                  "is not in the case")
        return FactResult(fact, "missed", f"{detail} — {fact['feedback']}" if fact.get("feedback") else detail)
    if fact["kind"] == "evidence_item":
        if not any(triaged.get(i) for i in items):
            return FactResult(fact, "wrong", f"added as {', '.join(items)} but not triaged")
        return FactResult(fact, "found", f"item {', '.join(items)}")
    handler = _HANDLERS.get(fact["kind"])
    if handler is None:
        return FactResult(fact, "skipped", f"fact kind {fact['kind']!r} unknown to this version")
    try:
        status, detail = handler(fact["expected"], store, items)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # An answer key edited by hand may lack what its kind needs: that fact only is void.
        return FactResult(fact, "skipped", f"fact {fact['id']} cannot be checked: its 'expected' is "
                                           f"malformed ({type(exc).__name__}: {exc})")
    if status in ("missed", "wrong") and fact.get("feedback"):
        detail = f"{detail} — {fact['feedback']}" if detail else fact["feedback"]
    return FactResult(fact, status, detail)


def _file_count(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    counts = {i: store.direct_file_count(i) for i in items}
    if exp["count"] in counts.values():
        return "found", f"{exp['count']} files"
    return "wrong", "case lists " + ", ".join(f"{n} in {i}" for i, n in counts.items()) + f", expected {exp['count']}"


def _file_present(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    rows = store.files(items, sha256=exp["sha256"])
    if any(_path(r.path) == _path(exp["path"]) for r in rows):
        return "found", ""
    if rows:
        return "wrong", f"same content found at {rows[0].path}, not at {exp['path']}"
    at_path = [r for r in store.files(items, kind="file") if _path(r.path) == _path(exp["path"])]
    if at_path:
        return "wrong", f"{exp['path']} listed with SHA-256 {at_path[0].sha256 or 'none (not read)'}"
    return "missed", f"no file {exp['path']}"


def _deleted_file(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    rows = store.files(items, sha256=exp["sha256"])
    if any(r.deleted for r in rows):
        return "found", ""
    if rows:
        return "wrong", f"content found but not flagged deleted ({rows[0].path})"
    tail = exp["name"][1:].casefold()        # FAT loses a deleted name's first character
    named = [r for r in store.files(items, deleted=True) if r.name.casefold().endswith(tail)]
    if named:
        return "wrong", f"deleted entry {named[0].path} listed but its content was not recovered intact"
    return "missed", f"no deleted file {exp['name']}"


def _truncated_file(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    rows = store.files(items, sha256=exp["sha256"])
    if not rows:
        return "missed", f"no file with the content of {exp['path']}"
    flagged_files = {r.id for r in rows if r.warnings}
    for item in items:
        for a in store.artifacts(item, "photo/exif"):
            if a.file_sha256 == exp["sha256"] and a.corrupted:
                flagged_files.add(a.file_id)
    if flagged_files:
        return "found", "listed and flagged as damaged"
    return "wrong", f"{rows[0].path} listed but not flagged as damaged (no warning, no corrupted record)"


def _disguised_file(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    rows = store.files(items, sha256=exp["sha256"])
    if not rows:
        return "missed", f"no file {exp['path']}"
    for r in rows:
        if (r.mime or "").startswith(exp["mime"]) and r.extension_mismatch:
            return "found", f"{r.path}: {r.mime}, extension contradicts it"
    r = rows[0]
    return "wrong", (f"{r.path}: type {r.mime}, extension mismatch "
                     f"{'flagged' if r.extension_mismatch else 'not flagged'}")


def _photo_problems(fields: dict, exp: dict) -> list[str]:
    problems = []
    if "lat" in exp:
        lat, lon = fields.get("lat"), fields.get("lon")
        if lat is None or lon is None:
            problems.append("no position")
        elif abs(lat - exp["lat"]) > LATLON_TOLERANCE or abs(lon - exp["lon"]) > LATLON_TOLERANCE:
            problems.append(f"position {lat:.6f}, {lon:.6f} (expected {exp['lat']:.6f}, {exp['lon']:.6f})")
    if not _same_local(fields.get("taken_at"), exp["taken_local"]):
        problems.append(f"taken {fields.get('taken_at')} (expected local {exp['taken_local']})")
    if exp["tz_known"]:
        if not fields.get("tz_known"):
            problems.append(f"zone not found (expected {exp['tz_source']})")
        elif not _same_utc(fields.get("taken_at_utc"), exp["taken_utc"]):
            problems.append(f"UTC {fields.get('taken_at_utc')} (expected {exp['taken_utc']})")
        elif fields.get("tz_source") != exp["tz_source"]:
            problems.append(f"zone from {fields.get('tz_source')} (expected {exp['tz_source']})")
    elif fields.get("tz_known"):
        # the file holds no zone: only a correct inference from the place, or a stated
        # assumption that happens to be right, is acceptable
        if fields.get("tz_source") not in ("location", "assumed") or \
                not _same_utc(fields.get("taken_at_utc"), exp["true_utc"]):
            problems.append(f"zone claimed from {fields.get('tz_source')} (UTC {fields.get('taken_at_utc')}); "
                            "the file holds no zone")
    return problems


def _photo(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    records = [a for i in items for a in store.artifacts(i, "photo/exif") if a.file_sha256 == exp["sha256"]]
    if not records:
        listed = store.files(items, sha256=exp["sha256"])
        return "missed", ("file listed but no photo record" if listed else f"no photo {exp['path']}")
    first = None
    for a in records:
        problems = _photo_problems(a.fields, exp)
        if not problems:
            return "found", ""
        first = first or problems
    return "wrong", "; ".join(first or [])


def _time_zones(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    seen = set()
    for i in items:
        for a in store.artifacts(i, "photo/exif"):
            f = a.fields
            if f.get("tz_known") and f.get("tz_source") in ("offset_tag", "gps") and \
                    f.get("tz_offset_minutes") is not None:
                seen.add(int(f["tz_offset_minutes"]))
    expected = set(exp["offsets_minutes"])
    if seen == expected:
        return "found", ", ".join(f"{m:+d} min" for m in sorted(seen))
    if not seen:
        return "missed", "no photo time with a zone from the file"
    return "wrong", (f"offsets seen {sorted(seen)}, expected {sorted(expected)}")


def _chat_records(store: _Store, items: list[str], platform: str) -> list[Record]:
    aliases = PLATFORM_ALIASES.get(platform, {platform})
    return [a for i in items for a in store.artifacts(i, "chat/message")
            if _norm(a.fields.get("platform")) in aliases]


def _party_matches(other: str, fields_list: list[dict]) -> bool:
    want = _norm(other)
    for f in fields_list:
        conv = f.get("conversation") or {}
        names = [conv.get("title"), conv.get("id"), f.get("sender")] + list(f.get("participants") or []) \
            + list(f.get("recipients") or [])
        if any(_norm(n) == want for n in names if n):
            return True
    return False


def _conversation(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    groups: dict[tuple, list[dict]] = {}
    for a in _chat_records(store, items, exp["platform"]):
        conv = a.fields.get("conversation") or {}
        groups.setdefault((a.file_id, json.dumps(conv.get("id"))), []).append(a.fields)
    matching = [g for g in groups.values() if _party_matches(exp["other_party"], g)]
    if not matching:
        return "missed", f"no {exp['platform']} conversation with {exp['other_party']}"
    # the conversation as it stands: deleted rows recovered from free space are facts of their own
    counts = [sum(1 for f in g if not f.get("system") and not f.get("recovered")) for g in matching]
    if exp["messages"] in counts:
        return "found", f"{exp['messages']} messages"
    return "wrong", f"{', '.join(map(str, counts))} messages, expected {exp['messages']}"


def _messages_like(exp: dict, store: _Store, items: list[str]) -> list[dict]:
    """The chat records from the expected sender whose text holds the expected words."""
    want_sender = _norm(exp["sender"])
    needle = _words(exp["body_contains"])
    return [a.fields for a in _chat_records(store, items, exp["platform"])
            if _norm(a.fields.get("sender")) == want_sender and needle in _words(a.fields.get("body"))]


def _key_message(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    candidates = _messages_like(exp, store, items)
    if not candidates:
        return "missed", f"no message from {exp['sender']} containing {exp['body_contains']!r}"
    problems = []
    for f in candidates:
        if exp["sent_utc"] is not None:
            if _same_utc(f.get("sent_at_utc"), exp["sent_utc"]):
                return "found", ""
            if f.get("sent_at_utc") is None and _same_local(f.get("sent_at"), exp["sent_local"]):
                return "found", "local time right; UTC not given"
            problems.append(f"sent {f.get('sent_at')} / UTC {f.get('sent_at_utc')} (expected UTC {exp['sent_utc']})")
        else:
            if f.get("tz_known") and f.get("tz_source") not in ("assumed", "location"):
                problems.append(f"zone claimed from {f.get('tz_source')}; the export holds no zone")
            elif _same_local(f.get("sent_at"), exp["sent_local"]):
                return "found", ""
            else:
                problems.append(f"sent {f.get('sent_at')} (expected local {exp['sent_local']})")
    return "wrong", problems[0]


def _state(fields: dict) -> str:
    return fields.get("db_state") or "not set"


def _sent_by(fields: dict, m: dict) -> bool:
    """The record's sender is the expected one: the other party's name or number, or (for the
    phone owner's own messages, ``sender`` None) a message the record says went out."""
    if m["sender"] is not None:
        return _norm(fields.get("sender")) == _norm(m["sender"])
    return fields.get("direction") == "outgoing" or _norm(fields.get("sender")) == _norm(OWNER)


def _db_committed(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """Every committed message of the database found, sender and time right, none flagged
    uncommitted (db_state 'committed', or none: the state as usual)."""
    records = [a.fields for a in _chat_records(store, items, exp["platform"])]
    missing, flagged = [], []
    for m in exp["messages"]:
        needle = _words(m["body_contains"])
        same = [f for f in records if needle in _words(f.get("body")) and _sent_by(f, m)
                and _same_utc(f.get("sent_at_utc"), m["sent_utc"])]
        label = f"{m['sender'] or 'the owner'} at {m['sent_utc']}: {m['body_contains']!r}"
        if not same:
            missing.append(label)
        elif all(f.get("db_state") == "uncommitted" for f in same):
            flagged.append(label)
    n = len(exp["messages"])
    if not missing and not flagged:
        return "found", f"{n} committed messages"
    if len(missing) == n:
        return "missed", f"none of its {n} committed messages found (first: {missing[0]})"
    problems = []
    if missing:
        problems.append(f"{len(missing)} of {n} committed messages not found ({'; '.join(missing)})")
    if flagged:
        problems.append(f"{len(flagged)} flagged db_state 'uncommitted' although committed ({'; '.join(flagged)})")
    return "wrong", "; ".join(problems)


def _db_uncommitted(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """The message of the unfinished transaction: found, and flagged db_state 'uncommitted'."""
    candidates = _messages_like(exp, store, items)
    if not candidates:
        return "missed", f"no message from {exp['sender']} containing {exp['body_contains']!r}"
    flagged = [f for f in candidates if f.get("db_state") == "uncommitted"]
    if not flagged:
        return "wrong", (f"reported as an ordinary message (db_state {_state(candidates[0])}), not flagged "
                         "'uncommitted'")
    for f in flagged:
        if _same_utc(f.get("sent_at_utc"), exp["sent_utc"]):
            return "found", "flagged db_state 'uncommitted'"
    f = flagged[0]
    return "wrong", f"flagged uncommitted, but sent {f.get('sent_at')} / UTC {f.get('sent_at_utc')} " \
                    f"(expected UTC {exp['sent_utc']})"


def _acquisition_damaged(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """The item's acquisition is not verified, and its chunk checksum errors are exactly the
    expected spans (recorded when the E01 was added)."""
    problems = []
    want = [(c["start"], c["end"]) for c in exp["checksum_errors"]]
    for item in items:
        row = store.case.item(item)
        spans = row.details.get("checksum_errors")
        verified = row.acquisition_hash_verified
        if spans is None:
            problems.append(f"{item}: chunk checksums not checked (added from {row.format}, or without libewf's "
                            "C API)")
            continue
        got = [(c["start"], c["end"]) for c in spans]
        if verified is not None and not verified and got == want:
            return "found", f"{item}: not verified; checksum errors at " + ", ".join(f"bytes {a}-{b - 1}"
                                                                                     for a, b in got)
        problems.append(f"{item}: acquisition_hash_verified {None if verified is None else bool(verified)}, "
                        f"checksum_errors {', '.join(f'bytes {a}-{b - 1}' for a, b in got) or 'none'}")
    return "wrong", "; ".join(problems)


def _escape_bidi(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" if c in BIDI_CONTROLS else c for c in str(text))


def _spoofed_name(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """The file whose name holds U+202E: listed under its true name (the control kept, not
    stripped or replaced), typed from its bytes, the extension mismatch flagged."""
    rows = store.files(items, sha256=exp["sha256"])
    if not rows:
        return "missed", f"no file {_escape_bidi(exp['path'])} (content SHA-256 {exp['sha256'][:16]}…)"
    exact = [r for r in rows if str(r.path).lstrip("/") == exp["path"].lstrip("/")]
    if not exact:
        got = rows[0].path
        lost = "without the U+202E" if "\u202e" not in str(got) else "under another name"
        return "wrong", (f"the content is listed as {_escape_bidi(got)}, {lost}: the true name is "
                         f"{_escape_bidi(exp['path'])}")
    for r in exact:
        if (r.mime or "").startswith(exp["mime"]) and r.extension_mismatch:
            return "found", f"{_escape_bidi(r.path)}: {r.mime}, extension .{exp['extension']} contradicts it"
    r = exact[0]
    return "wrong", (f"{_escape_bidi(r.path)}: type {r.mime} (expected {exp['mime']}), extension mismatch "
                     f"{'flagged' if r.extension_mismatch else 'not flagged'}")


def _name_not_utf8(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """The file whose name is not UTF-8: listed with the bytes escaped, and its warning recorded."""
    rows = store.files(items, sha256=exp["sha256"])
    if not rows:
        return "missed", f"no file {exp['path']} (content SHA-256 {exp['sha256'][:16]}…)"
    exact = [r for r in rows if str(r.path).lstrip("/") == exp["path"].lstrip("/")]
    if not exact:
        return "wrong", (f"the content is listed as {_escape_bidi(rows[0].path)}: the name read as text, not "
                         f"as its bytes (expected {exp['path']}, bytes {exp['name_bytes_hex']})")
    for r in exact:
        told = store.warnings_at(r.item, exp["path"].lstrip("/"))
        if any(exp["warning_contains"] in w.message for w in told):
            return "found", f"{exp['path']}: warning '{exp['warning_contains']}' recorded"
    return "wrong", f"{exp['path']} listed, but no warning that its name is {exp['warning_contains']}"


def _ios_attribution(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """The iOS text that starts with U+200E: a message of its author (not a system line), at
    the export's local time, no zone claimed."""
    needle = _words(exp["body_contains"])
    same = [a.fields for a in _chat_records(store, items, exp["platform"])
            if needle in _words(str(a.fields.get("body") or "").replace("\u200e", ""))]
    if not same:
        return "missed", f"no message containing {exp['body_contains']!r}"
    mine = [f for f in same if not f.get("system") and _norm(f.get("sender")) == _norm(exp["sender"])]
    if not mine:
        f = same[0]
        if f.get("system"):
            return "wrong", (f"read as a system line (sender {_escape_bidi(f.get('sender'))}, actor "
                             f"{_escape_bidi(f.get('actor'))}): its author {exp['sender']} is lost")
        return "wrong", f"sender {_escape_bidi(f.get('sender'))} (expected {exp['sender']})"
    for f in mine:
        if f.get("tz_known") and f.get("tz_source") not in ("assumed", "location"):
            return "wrong", f"zone claimed from {f.get('tz_source')}; the export holds no zone"
        if _same_local(f.get("sent_at"), exp["sent_local"]):
            return "found", f"from {exp['sender']}, not a system line"
    return "wrong", f"sent {mine[0].get('sent_at')} (expected local {exp['sent_local']})"


def _minimal_export_message(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """A message of a minimal export (time, sender, text only): found, sender and UTC time right."""
    candidates = _messages_like(exp, store, items)
    if not candidates:
        return "missed", f"no message from {exp['sender']} containing {exp['body_contains']!r}"
    for f in candidates:
        if _same_utc(f.get("sent_at_utc"), exp["sent_utc"]):
            return "found", ""
    f = candidates[0]
    return "wrong", f"sent {f.get('sent_at')} / UTC {f.get('sent_at_utc')} (expected UTC {exp['sent_utc']})"


def _sender_is(fields: dict, exp: dict) -> bool:
    """The record's sender is the expected person: their name, or their name with their number
    ('Name (+34...)', as app databases label a participant)."""
    got, want = _norm(fields.get("sender")), _norm(exp["sender"])
    return got == want or (bool(exp.get("sender_number")) and got == want + _norm(exp["sender_number"]))


def _chat_geotag(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """A position shared in a chat: the message (sender, UTC time) carries it, as ``forensic geo``
    lists it (kind chat_message)."""
    sent = [a.fields for a in _chat_records(store, items, exp["platform"])
            if _sender_is(a.fields, exp) and _same_utc(a.fields.get("sent_at_utc"), exp["sent_utc"])]
    if not sent:
        return "missed", f"no {exp['platform']} message from {exp['sender']} at {exp['sent_utc']}"
    for f in sent:
        loc = f.get("location")
        if isinstance(loc, dict) and loc.get("latitude") is not None and loc.get("longitude") is not None:
            lat, lon = float(loc["latitude"]), float(loc["longitude"])
            if abs(lat - exp["lat"]) <= LATLON_TOLERANCE and abs(lon - exp["lon"]) <= LATLON_TOLERANCE:
                return "found", f"{lat:.6f}, {lon:.6f}"
            return "wrong", f"position {lat:.6f}, {lon:.6f} (expected {exp['lat']:.6f}, {exp['lon']:.6f})"
    return "wrong", "the message is listed but without its position (no geotag)"


def _messages_with(exp: dict, store: _Store, items: list[str]) -> list[dict]:
    """The chat records of the platform whose text holds the expected words."""
    needle = _words(exp["body_contains"])
    return [a.fields for a in _chat_records(store, items, exp["platform"]) if needle in _words(a.fields.get("body"))]


def _group_message(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """A group chat's message: sender, text, UTC time, and the group it was posted in."""
    same = _messages_with(exp, store, items)
    if not same:
        return "missed", f"no {exp['platform']} message containing {exp['body_contains']!r}"
    problems = []
    for f in same:
        title = (f.get("conversation") or {}).get("title")
        if not _sender_is(f, exp):
            problems.append(f"sender {f.get('sender')} (expected {exp['sender']})")
        elif not _same_utc(f.get("sent_at_utc"), exp["sent_utc"]):
            problems.append(f"UTC {f.get('sent_at_utc')} (expected {exp['sent_utc']})")
        elif _norm(title) != _norm(exp["group"]):
            problems.append(f"conversation {title!r} (expected the group {exp['group']!r})")
        else:
            return "found", f"in the group {title}"
    return "wrong", problems[0]


def _is_party(value, name: str, ident: int | None) -> bool:
    """An app database's party is the expected one: its name (as the app stores it, maybe lower
    case, with the username after it: 'marco ruiz @mruiz (6012…)') or its id, as the reader shows it."""
    got = str(value or "")
    if _norm(name) and _norm(name) in _norm(got):
        return True
    return ident is not None and re.search(rf"(?:^|[(:]){ident}\)?$", got) is not None


def _from_expected(f: dict, exp: dict) -> bool:
    if exp.get("direction") == "outgoing":
        return f.get("direction") == "outgoing" or _norm(f.get("sender")) == _norm(OWNER)
    return _is_party(f.get("sender"), exp["sender"], exp.get("sender_id"))


def _located(exp: dict, store: _Store, items: list[str]) -> tuple[list[dict], tuple[str, str] | None]:
    """The records of the expected message (words, sender, UTC time), or the verdict when there is none."""
    same = _messages_with(exp, store, items)
    if not same:
        return [], ("missed", f"no {exp['platform']} message containing {exp['body_contains']!r} (in "
                              f"{exp['file'].rsplit('/', 1)[-1]})")
    mine = [f for f in same if _from_expected(f, exp)]
    if not mine:
        return [], ("wrong", f"sender {same[0].get('sender')} (expected {exp.get('sender_name') or exp['sender']})")
    timed = [f for f in mine if _same_utc(f.get("sent_at_utc"), exp["sent_utc"])]
    if not timed:
        return [], ("wrong", f"sent UTC {mine[0].get('sent_at_utc')} (expected {exp['sent_utc']})")
    return timed, None


def _forwarded_message(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """A forwarded message: its forwarder (the sender), marked forwarded, the original sender
    (``forwarded_from``) and the original time (``forwarded_at``)."""
    got, verdict = _located(exp, store, items)
    if verdict:
        return verdict
    fwd = [f for f in got if f.get("forwarded")]
    if not fwd:
        return "wrong", (f"listed as {exp['sender']}'s own message: not marked forwarded (the forward header, with "
                         f"the original sender {exp['forwarded_from']}, was not read)")
    problems = []
    for f in fwd:
        if not _is_party(f.get("forwarded_from"), exp["forwarded_from"], exp.get("forwarded_from_id")):
            problems.append(f"forwarded_from {f.get('forwarded_from')} (expected {exp['forwarded_from']})")
        elif not _same_utc(f.get("forwarded_at"), exp["forwarded_at"]):
            problems.append(f"forwarded_at {f.get('forwarded_at')} (expected the original time {exp['forwarded_at']}; "
                            f"{exp['sent_utc']} is when it was forwarded)")
        else:
            return "found", f"forwarded from {f.get('forwarded_from')}, first posted {f.get('forwarded_at')}"
    return "wrong", problems[0]


def _reply_message(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """A reply: the message (sender, words, time) and ``reply_to`` the id of the message it answers."""
    got, verdict = _located(exp, store, items)
    if verdict:
        return verdict
    for f in got:
        if str(f.get("reply_to")) == str(exp["reply_to"]):
            return "found", f"reply_to {f.get('reply_to')}"
    f = got[0]
    if f.get("reply_to") in (None, ""):
        return "wrong", (f"listed without reply_to: not linked to the message it answers (message {exp['reply_to']}, "
                         f"{exp['reply_to_contains']!r})")
    return "wrong", f"reply_to {f.get('reply_to')} (expected message {exp['reply_to']}, {exp['reply_to_contains']!r})"


def _chat_attachment(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """A file sent as a document: the message carries an attachment with this file name and kind."""
    got, verdict = _located(exp, store, items)
    if verdict:
        return verdict
    atts = [a for f in got for a in (f.get("attachments") or []) if isinstance(a, dict)]
    named = [a for a in atts if a.get("name") == exp["file_name"]]
    if named:
        a = named[0]
        if a.get("kind") not in (None, exp["attachment_kind"]):
            return "wrong", f"{exp['file_name']} listed as kind {a.get('kind')} (expected {exp['attachment_kind']})"
        return "found", f"{a.get('kind') or 'attachment'} {a['name']} ({a.get('mime_type')})"
    if not atts:
        return "wrong", f"the message is listed without its attachment (expected the document {exp['file_name']})"
    return "wrong", (f"attachment {', '.join(str(a.get('name') or a.get('note') or a.get('kind')) for a in atts)} "
                     f"(expected the file name {exp['file_name']})")


def _call_identified(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """The call: number as found, time, duration, direction; named from the contacts (the log
    has no name), the same person also in WhatsApp."""
    want = re.sub(r"\D", "", exp["number"])
    calls = [r for r in store_people.calls(store.db, items) if _same_utc(r.fields.get("started_at"), exp["started_utc"])
             and re.sub(r"\D", "", str(r.fields.get("number") or "")).endswith(want)]
    if not calls:
        return "missed", f"no call from {exp['number']} at {exp['started_utc']}"
    problems = []
    people = store_people.people(store.db, items)
    for r in calls:
        f = r.fields
        if f.get("direction") != exp["direction"] or f.get("duration_s") != exp["duration_s"]:
            problems.append(f"{f.get('direction')}, {f.get('duration_s')} s (expected {exp['direction']}, "
                            f"{exp['duration_s']} s)")
            continue
        if f.get("name"):
            problems.append(f"named {f['name']!r} by the call log itself, which holds no name")
            continue
        contact = people.resolve(r.item, f.get("number"))
        if contact is None or _norm(contact.get("name")) != _norm(exp["name"]):
            problems.append("the number is not resolved to a contact" if contact is None else
                            f"the number resolves to {contact.get('name')!r} (expected {exp['name']!r})")
            continue
        apps = {src.get("app") for src in contact.get("sources") or []}
        if "contacts" not in apps:
            problems.append(f"named {exp['name']} from {', '.join(sorted(a for a in apps if a))} only: the address "
                            f"book ({exp['contacts'].rsplit('/', 1)[-1]}) was not read")
            continue
        if "whatsapp" not in apps:
            problems.append(f"named {exp['name']} from the contacts, but not the same person in WhatsApp "
                            f"({exp['whatsapp_jid']})")
            continue
        return "found", f"{exp['name']} (c), name_source contacts; also in WhatsApp"
    return "wrong", problems[0]


def _encrypted_database(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """The encrypted app database: a warning names it, says it is encrypted and the key needed."""
    for item in items:
        told = store.warnings_at(item, exp["path"].lstrip("/"))
        for w in told:
            missing = [x for x in exp["warning_contains"] if x not in w.message]
            if not missing:
                return "found", f"warned: {exp['app']} database encrypted, key from IMEI + uin"
        if told:
            return "wrong", f"warned about {exp['path']}, but not that it is encrypted and which key opens it"
    return "missed", f"no warning about {exp['path']}"


def _container_read(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """The container item lists the same files as the image it was made from: each at its path
    with its SHA-256 (a deleted one flagged deleted)."""
    missing, wrong = [], []
    for f in exp["files"]:
        rows = store.files(items, sha256=f["sha256"])
        if not rows:
            missing.append(f["path"])
        elif not any(bool(r.deleted) == f["deleted"] for r in rows):
            wrong.append(f"{f['path']} {'not ' if f['deleted'] else ''}flagged deleted")
    n = len(exp["files"])
    if not missing and not wrong:
        return "found", f"{n} files, same SHA-256 as {exp['same_as']}"
    if len(missing) == n:
        return "missed", f"none of the {n} files of {exp['same_as']} found in {exp['file']}"
    return "wrong", "; ".join(([f"{len(missing)} of {n} files not found ({', '.join(missing)})"] if missing else [])
                              + wrong)


def _deleted_message(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """A deleted message recovered from the database's free space: its text, sender and time,
    marked ``recovered: "deleted"`` with the page and offset it came from."""
    candidates = _messages_like(exp, store, items)
    if not candidates:
        return "missed", f"no message from {exp['sender']} containing {exp['body_contains']!r} (deleted from " \
                         f"{exp['file'].rsplit('/', 1)[-1]})"
    marked = [f for f in candidates if f.get("recovered") == "deleted"]
    if not marked:
        return "wrong", "listed as a live message, not marked recovered 'deleted'"
    for f in marked:
        src = f.get("source") or {}
        if not _same_utc(f.get("sent_at_utc"), exp["sent_utc"]):
            continue
        if exp.get("sender_lid") and f.get("sender_lid") != exp["sender_lid"]:
            # the phone-number jid named, but the privacy id it was stored under not kept
            return "wrong", (f"recovered, sender {f.get('sender')}, but sender_lid {f.get('sender_lid')} (expected "
                             f"{exp['sender_lid']}, the @lid it was stored under)")
        lid = f", stored as {f['sender_lid']}" if f.get("sender_lid") else ""
        return "found", f"recovered (deleted), page {src.get('page')}, offset {src.get('offset')}{lid}"
    f = marked[0]
    return "wrong", (f"recovered, but sent {f.get('sent_at')} / UTC {f.get('sent_at_utc')} "
                     f"(expected UTC {exp['sent_utc']})")


def _carved_photo(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """The photo only carving finds: listed with ``recovery: carved`` and this SHA-256, and its
    photo record with the position."""
    rows = store.files(items, sha256=exp["sha256"])
    if not rows:
        return "missed", f"no file with the content of the deleted photo {exp['name']} (SHA-256 {exp['sha256'][:16]}…)"
    carved = [r for r in rows if r.recovery == "carved"]
    if not carved:
        return "wrong", f"its content is listed as {rows[0].path} (recovery {rows[0].recovery}), not as carved"
    return _positioned(exp, store, items, "carved", carved[0].locator)


def _positioned(exp: dict, store: _Store, items: list[str], how: str, locator: str | None) -> tuple[str, str]:
    """Whether the photo record of the content ``exp["sha256"]`` (found ``how``, at ``locator``)
    holds the expected position."""
    records = [a for i in items for a in store.artifacts(i, "photo/exif") if a.file_sha256 == exp["sha256"]]
    for a in records:
        lat, lon = a.fields.get("lat"), a.fields.get("lon")
        if lat is not None and lon is not None and abs(lat - exp["lat"]) <= LATLON_TOLERANCE and \
                abs(lon - exp["lon"]) <= LATLON_TOLERANCE:
            return "found", f"{how} ({locator}), {lat:.6f}, {lon:.6f}"
    if not records:
        return "wrong", f"{how} ({locator}) but not read as a photo: no position"
    f = records[0].fields
    return "wrong", f"{how}, position {f.get('lat')}, {f.get('lon')} (expected {exp['lat']:.6f}, {exp['lon']:.6f})"


def _embedded_photo(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """A photo inside another file: listed with this SHA-256 and ``recovery: embedded``, its
    locator naming the container and its place there (``JPEG @ offset 0x624`` or the document
    part), and its photo record with the position."""
    rows = store.files(items, sha256=exp["sha256"])
    container = _path(exp["container"])
    if not rows:
        return "missed", (f"no file with the content of the photo inside {container.rsplit('/', 1)[-1]} "
                          f"(SHA-256 {exp['sha256'][:16]}…)")
    embedded = [r for r in rows if r.recovery == "embedded"]
    if not embedded:
        return "wrong", f"its content is listed as {rows[0].path} (recovery {rows[0].recovery}), not as embedded"

    def placed(locator: str | None) -> bool:
        # the locator's steps: ... › the container › its place inside it [(embedded)]
        steps = [_path(x) for x in str(locator or "").split(" › ")]
        if container not in steps:
            return False
        after = " › ".join(steps[steps.index(container) + 1:])
        return after.removesuffix(" (embedded)") == _path(exp["where"])
    inside = [r for r in embedded if placed(r.locator)]
    if not inside:
        return "wrong", (f"embedded, but its locator {embedded[0].locator} does not place it in {container} at "
                         f"{exp['where']}")
    return _positioned(exp, store, items, "embedded", inside[0].locator)


def _backup_device(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """The backup item's device facts, as ``evidence list --json`` shows them (``details.device``)."""
    for item in items:
        device = store.details.get(item, {}).get("device")
        if not isinstance(device, dict) or not device:
            continue
        off = [f"{k} {device.get(k)!r} (expected {v!r})" for k, v in exp["device"].items() if device.get(k) != v]
        if not off:
            return "found", ", ".join(f"{k} {v}" for k, v in exp["device"].items() if k in ("imei", "serial"))
        return "wrong", "; ".join(off)
    return "missed", f"no device facts recorded for {exp['file']} (added as a plain folder, or not an item)"


def _backup_message(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """A message read from a backup's file: sender, words and UTC time, from that device path."""
    candidates = _messages_like(exp, store, items)
    if not candidates:
        return "missed", f"no message from {exp['sender']} containing {exp['body_contains']!r} ({exp['file']})"
    timed = [f for f in candidates if _same_utc(f.get("sent_at_utc"), exp["sent_utc"])]
    if not timed:
        f = candidates[0]
        return "wrong", f"sent {f.get('sent_at')} / UTC {f.get('sent_at_utc')} (expected UTC {exp['sent_utc']})"
    for f in timed:
        if _path((f.get("source") or {}).get("path")) == _path(exp["file"]):
            return "found", f"from {exp['file']}"
    return "wrong", f"read from {(timed[0].get('source') or {}).get('path')}, not from {exp['file']}"


def _signal_message(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """A message of the sealed Signal Desktop database: sender, words and UTC time, read from
    that file; when none was read, whether triage left the database sealed (its warning)."""
    candidates = _messages_like(exp, store, items)
    if candidates:
        return _backup_message(exp, store, items)
    sealed = [w.message for i in items for w in store.warnings_at(i, exp["file"].lstrip("/"))
              if "encrypted" in w.message]
    if sealed:
        return "missed", (f"{exp['file']} stayed sealed (triage warned: {_escape_bidi(sealed[0])[:160]}); no message "
                          f"from {exp['sender']} containing {exp['body_contains']!r}")
    return "missed", f"no message from {exp['sender']} containing {exp['body_contains']!r} ({exp['file']})"


def _xmp_photo_date(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """The photo dated by XMP only: its time (UTC right) and ``taken_at_source`` naming the XMP field."""
    records = [a for i in items for a in store.artifacts(i, "photo/exif") if a.file_sha256 == exp["sha256"]]
    if not records:
        listed = store.files(items, sha256=exp["sha256"])
        return "missed", ("file listed but no photo record" if listed else f"no photo {exp['path']}")
    problems = []
    for a in records:
        f = a.fields
        source = (f.get("taken_at_source") or {}).get("source") if isinstance(f.get("taken_at_source"), dict) \
            else f.get("taken_at_source")
        if not f.get("taken_at"):
            problems.append("no time read (the XMP date was not read)")
        elif not _same_utc(f.get("taken_at_utc"), exp["taken_utc"]):
            problems.append(f"taken {f.get('taken_at')} / UTC {f.get('taken_at_utc')} "
                            f"(expected UTC {exp['taken_utc']})")
        elif source != exp["taken_at_source"]:
            problems.append(f"taken_at_source {source!r} (expected {exp['taken_at_source']!r})")
        else:
            return "found", f"{f.get('taken_at')}, from {source}"
    return "wrong", problems[0]


def _video_geotag(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """The video: its place, and its time with the zone its GPS gives."""
    records = [a for i in items for a in store.artifacts(i, "media/video") if a.file_sha256 == exp["sha256"]]
    if not records:
        listed = store.files(items, sha256=exp["sha256"])
        return "missed", ("file listed but no video record" if listed else f"no video {exp['path']}")
    problems = []
    for a in records:
        f = a.fields
        lat, lon = f.get("lat"), f.get("lon")
        if lat is None or lon is None:
            problems.append("no position")
        elif abs(lat - exp["lat"]) > LATLON_TOLERANCE or abs(lon - exp["lon"]) > LATLON_TOLERANCE:
            problems.append(f"position {lat:.6f}, {lon:.6f} (expected {exp['lat']:.6f}, {exp['lon']:.6f})")
        elif not _same_local(f.get("taken_at"), exp["taken_local"]):
            problems.append(f"taken {f.get('taken_at')} (expected local {exp['taken_local']})")
        elif not f.get("tz_known") or not _same_utc(f.get("taken_at_utc"), exp["taken_utc"]):
            problems.append(f"UTC {f.get('taken_at_utc')} (expected {exp['taken_utc']}, the zone from the GPS time)")
        else:
            return "found", f"{lat:.6f}, {lon:.6f}, {f.get('taken_at')}"
    return "wrong", problems[0]


def _near_duplicate(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """The camera original and its messenger copy: each with a perceptual hash, within
    ``max_distance`` bits of each other (as ``forensic similar`` pairs them), and the original's
    photo record giving its time and position."""
    def hashes(sha: str) -> list[int]:
        out = []
        for i in items:
            for a in store.artifacts(i, "photo/phash"):
                value = a.fields.get(exp["algorithm"])
                if a.file_sha256 == sha and isinstance(value, str):
                    try:
                        out.append(int(value, 16))
                    except ValueError:
                        continue
        return out
    original, copy = hashes(exp["original"]["sha256"]), hashes(exp["copy"]["sha256"])
    if not original or not copy:
        gone = [side for side, h in (("original", original), ("copy", copy)) if not h]
        return "missed", " and ".join(f"no {exp['algorithm']} for the {side} {exp[side]['path']}" for side in gone)
    best = min(bin(x ^ y).count("1") for x in original for y in copy)
    if best > exp["max_distance"]:
        return "wrong", f"{exp['algorithm']} distance {best} bits (expected at most {exp['max_distance']}): not linked"
    records = [a.fields for i in items for a in store.artifacts(i, "photo/exif")
               if a.file_sha256 == exp["original"]["sha256"]]
    for f in records:
        lat, lon = f.get("lat"), f.get("lon")
        if lat is not None and lon is not None and abs(lat - exp["lat"]) <= LATLON_TOLERANCE and \
                abs(lon - exp["lon"]) <= LATLON_TOLERANCE and _same_utc(f.get("taken_at_utc"), exp["taken_utc"]):
            return "found", f"distance {best} bits; original {lat:.6f}, {lon:.6f}, {f.get('taken_at')}"
    if not records:
        return "wrong", f"linked (distance {best} bits), but the original's EXIF was not read"
    f = records[0]
    return "wrong", (f"linked (distance {best} bits), but the original reads {f.get('lat')}, {f.get('lon')} at UTC "
                     f"{f.get('taken_at_utc')} (expected {exp['lat']:.6f}, {exp['lon']:.6f} at {exp['taken_utc']})")


def _device_location(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """A place an app of the phone keeps: a ``location/point`` record (``forensic geo`` kind
    device_location) at this position (within 1e-5 degree) with this saved time (UTC)."""
    records = [a.fields for i in items for a in store.artifacts(i, "location/point")]
    near = [f for f in records if isinstance(f.get("latitude"), (int, float)) and isinstance(f.get("longitude"),
            (int, float)) and abs(f["latitude"] - exp["lat"]) <= LATLON_TOLERANCE
            and abs(f["longitude"] - exp["lon"]) <= LATLON_TOLERANCE]
    if not near:
        return "missed", f"no device location at {exp['lat']:.6f}, {exp['lon']:.6f} ({exp['path']})"
    for f in near:
        if _same_utc(f.get("at"), exp["saved_utc"]):
            return "found", f"{f['latitude']:.6f}, {f['longitude']:.6f}, saved {f.get('at')} ({f.get('app')})"
    return "wrong", f"at {exp['lat']:.6f}, {exp['lon']:.6f} but saved {near[0].get('at')} (expected {exp['saved_utc']})"


def _video_frame_copy(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """A picture that is a frame of a video: the video's key frame at ``frame_time_s`` (within
    0.5 s) and the picture each with a perceptual hash, within ``max_distance`` bits."""
    def hashes(sha: str) -> list[tuple[int, float | None]]:
        out = []
        for i in items:
            for a in store.artifacts(i, "photo/phash"):
                value, at = a.fields.get(exp["algorithm"]), a.fields.get("frame_time_s")
                if a.file_sha256 != sha or not isinstance(value, str):
                    continue
                try:
                    out.append((int(value, 16), at if isinstance(at, (int, float)) else None))
                except ValueError:
                    continue
        return out
    frames, copy = hashes(exp["video"]["sha256"]), hashes(exp["copy"]["sha256"])
    if not frames or not copy:
        gone = [side for side, h in (("video", frames), ("copy", copy)) if not h]
        return "missed", " and ".join(f"no {exp['algorithm']} for the {side} {exp[side]['path']}" for side in gone)
    dist, at = min(((bin(x ^ y).count("1"), t) for x, t in frames for y, _ in copy), key=lambda d: d[0])
    if dist > exp["max_distance"]:
        return "wrong", f"{exp['algorithm']} distance {dist} bits (expected at most {exp['max_distance']}): not linked"
    if at is None or abs(at - exp["frame_time_s"]) > 0.5:
        return "wrong", f"linked (distance {dist} bits) at frame_time_s {at} (expected {exp['frame_time_s']})"
    return "found", f"distance {dist} bits, frame_time_s {at}"


def _set_checks(exp: dict, store: _Store, items: list[str]) -> tuple[list, str]:
    """The checks recorded against the key's set (by its source SHA-256), and, when none, why."""
    recorded = store.hashset_checks(items)
    mine = [c for c in recorded if c.source_sha256 == exp["hashset_sha256"]]
    if mine:
        return mine, ""
    name = exp["hashset_file"].rsplit("/", 1)[-1]
    if recorded:
        names = sorted({c.hashset for c in recorded})
        return [], (f"the item was checked against {', '.join(names)}, never against {name} "
                    f"(SHA-256 {exp['hashset_sha256'][:16]}…)")
    return [], f"no hash set check recorded for the item: {name} was not imported before triage nor checked after"


def _known_bad_file(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """The known-bad file and its renamed copies: the item checked against the key's set, each
    file matched as known-bad with the set's category."""
    rows = store.files(items, sha256=exp["sha256"])
    want = [exp["path"], *exp.get("copies", [])]
    at = {_path(w): [r for r in rows if _path(r.path) == _path(w)] for w in want}
    if not rows:
        return "missed", f"no file {exp['path']} (content SHA-256 {exp['sha256'][:16]}…)"
    mine, why = _set_checks(exp, store, items)
    if not mine:
        return "missed", f"{exp['path']} listed, not matched: {why}"
    names = {c.hashset for c in mine}
    kinds = sorted({c.kind for c in mine})
    if exp["hashset_kind"] not in kinds:
        return "wrong", f"the set was imported as {', '.join(kinds)}, not {exp['hashset_kind']}"
    hits = store.hashset_hits(items)
    if not any(h.hashset in names and h.kind == exp["hashset_kind"] for r in rows for h in hits.get(r.id, [])):
        name = exp["hashset_file"].rsplit("/", 1)[-1]
        digests = [a for a in ("md5", "sha1") if any(getattr(r, a) for r in rows)]
        why = (f"; the case holds no MD5 or SHA-1 of it, and {name} may list only those (triage with "
               "--hash md5,sha1,sha256, or with the set imported before it)" if not digests else "")
        return "missed", f"/{_path(exp['path'])} listed and checked against {name}, but not matched{why}"
    problems = []
    for path, found in at.items():
        if not found:
            problems.append(f"no file /{path}")
            continue
        got = [h for r in found for h in hits.get(r.id, []) if h.hashset in names and h.kind == exp["hashset_kind"]]
        if not got:
            problems.append(f"/{path} not matched as {exp['hashset_kind']}")
        elif all(h.category != exp["category"] for h in got):
            problems.append(f"/{path} matched with category {got[0].category}, expected {exp['category']}")
    if problems:
        return "wrong", "; ".join(problems)
    return "found", f"{len(want)} files matched {', '.join(sorted(names))} ({exp['hashset_kind']}, " \
                    f"category {exp['category']})"


def _known_good_count(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """How many of the item's files the key's known-good set holds: exactly ``count``."""
    mine, why = _set_checks(exp, store, items)
    if not mine:
        return "missed", why
    names = {c.hashset for c in mine}
    kinds = sorted({c.kind for c in mine})
    if exp["hashset_kind"] not in kinds:
        return "wrong", f"the set was imported as {', '.join(kinds)}, not {exp['hashset_kind']}"
    hits = store.hashset_hits(items)
    matched = {i for i, hs in hits.items() if any(h.hashset in names and h.kind == exp["hashset_kind"] for h in hs)}
    if len(matched) == exp["count"]:
        return "found", f"{len(matched)} files in {', '.join(sorted(names))}"
    return "wrong", f"{len(matched)} files matched {', '.join(sorted(names))}, expected {exp['count']}"


def _bundle_sources(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """A bundle of messages read from the database (``source``) carries it: ``data/evidence``
    holds it (and each companion, ``-wal``/``-journal``) with the generator's SHA-256, listed in
    ``files.jsonl`` with ``message_source``, and each of those messages' ``source.member`` names
    that member."""
    exports = store.exports()
    if not exports:
        return "missed", "the custody log records no export"
    src = exp["source"]
    name = src["path"].rsplit("/", 1)[-1]
    readable = [e for e in exports if "data/messages.jsonl" in e.members]
    if not readable:
        locked = _locked(exports)
        if locked:
            return "found", f"custody log only: {locked.problem}"
        return "missed", _exports_detail(exports) or "no bundle with messages found"
    problems = []
    for e in readable:
        msgs = [m for m in e.jsonl("data/messages.jsonl") if isinstance(m.get("source"), dict)
                and (m["source"].get("sha256") == src["sha256"]
                     or _path(m["source"].get("path")) == _path(src["path"]))]
        if not msgs:
            continue
        rows = {r.get("sha256"): r for r in e.jsonl("data/files.jsonl") if r.get("message_source")}
        wrong = []
        for want in [src, *exp.get("companions", [])]:
            row = rows.get(want["sha256"])
            wname = want["path"].rsplit("/", 1)[-1]
            if row is None:
                wrong.append(f"files.jsonl lists no message source {wname} with SHA-256 {want['sha256'][:16]}…")
            elif not row.get("bag_path"):
                wrong.append(f"{wname} is listed but not in the bundle ({row.get('withheld_reason') or 'withheld'})")
            elif e.evidence.get(row["bag_path"]) != want["sha256"]:
                got = e.evidence.get(row["bag_path"])
                wrong.append(f"{row['bag_path']} " + ("is missing from the bundle" if got is None else
                                                      f"has SHA-256 {got[:16]}…, not {want['sha256'][:16]}…"))
        member = (rows.get(src["sha256"]) or {}).get("bag_path")
        astray = [m for m in msgs if m["source"].get("member") != member or member is None]
        if astray and not wrong:
            wrong.append(f"{len(astray)} of {len(msgs)} messages' source.member do not name {member}")
        if not wrong:
            return "found", f"{e.name}: {name} ({len(msgs)} messages read from it) in {member}"
        problems.append(f"{e.name}: " + "; ".join(wrong))
    if not problems:
        return "missed", f"no bundle holds messages read from {name}"
    return "wrong", " | ".join(problems)


def _suspected_known_bad(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """The altered copy of the known-bad picture: in no set, but the item checked against the
    known-bad set and the copy's perceptual hash within ``max_distance`` bits of the listed
    picture's, so that the case marks it ``suspected_known_bad``."""
    rows = store.files(items, sha256=exp["sha256"])
    if not rows:
        return "missed", f"no file {exp['path']} (content SHA-256 {exp['sha256'][:16]}…)"
    mine, why = _set_checks(exp, store, items)
    if not mine:
        return "missed", f"{exp['path']} listed, not compared with the known-bad picture: {why}"
    suspects = store.suspects([r.id for r in rows])
    for r in rows:
        s = suspects.get(r.id)
        if s is not None:
            return "found", (f"{r.path}: suspected known-bad, {s.distance}-bit near-duplicate of {s.like_locator}"
                             + (f" (category {s.category})" if s.category else ""))
    bad = store.files(items, sha256=exp["like_sha256"])
    hits = store.hashset_hits(items)
    if not any(h.kind == exp["hashset_kind"] for r in bad for h in hits.get(r.id, [])):
        return "missed", (f"{exp['path']} not compared: the known-bad picture ({', '.join(exp['like_paths'])}) was "
                          "not matched by the set, so no photo is known-bad to compare with")
    own = [a for i in items for a in store.artifacts(i, "photo/phash") if a.file_sha256 == exp["sha256"]]
    if not own:
        return "missed", f"{exp['path']} has no perceptual hash (photo_hash): it was not compared"
    return "wrong", (f"{exp['path']} hashed, but not within {exp['max_distance']} bits of the known-bad picture: "
                     "not marked suspected known-bad")


def _saved_hit(exp: dict, store: _Store, items: list[str], what: str, in_content: bool = True) -> tuple[str, str]:
    """A ``search/hit`` record (``forensic search … --save``) whose bytes cover the key's image
    offset (``image_offset`` .. + ``length``), in one of ``where``."""
    lo, hi = exp["image_offset"], exp["image_offset"] + exp["length"]
    saved = [(i, a.fields) for i in items for a in store.artifacts(i, store_search.HIT_TYPE)]
    here = []
    for item, f in saved:
        at, n = f.get("image_offset"), f.get("length")
        if not isinstance(at, int) or isinstance(at, bool) or not isinstance(n, int) or n <= 0:
            continue
        if at < hi and lo < at + n:
            here.append((item, f, at))
    for item, f, at in sorted(here, key=lambda h: h[1].get("where") not in exp["where"]):
        if f.get("where") not in exp["where"]:
            return "wrong", (f"a hit at image offset {at:,} saved as where {f.get('where')!r}, expected "
                             f"{' or '.join(exp['where'])}")
        if f.get("where") == "raw":
            names = [str(x) for x in f.get("files") or []]
            lacking = [p for p in exp.get("files", []) if not any(_locator_is(n, p) for n in names)]
            if lacking:
                return "wrong", (f"a raw hit at image offset {at:,} names {', '.join(names) or 'no file'}; "
                                 f"not {', '.join(lacking)}")
            if "files" in exp:
                place = "raw, across " + ", ".join(_escape_bidi(n) for n in names)
            else:                            # a raw hit where a deleted file's clusters or free space lie
                place = ("in the raw image" + (f" (in {', '.join(_escape_bidi(n) for n in names)})" if names else "")
                         + "; --unallocated names it as unallocated space")
            return "found", (f"{item}: {_escape_bidi(str(f.get('text')))!r} ({f.get('list')}, {f.get('encoding')}) "
                             f"at image offset {at:,}, {place}")
        place = ("the content of the deleted file " + str(f.get("path") or "") if f.get("deleted")
                 else str(f.get("where")))
        return "found", (f"{item}: {_escape_bidi(str(f.get('text')))!r} ({f.get('list')}, {f.get('encoding')}) "
                         f"at image offset {at:,}, in {place}")
    if saved:
        return "missed", (f"{len(saved):,} search hit(s) saved for the item, none at image offset {lo:,} ({what})")
    ran = any(store.content_searched(i) for i in items)
    remark = ("" if not ran else " (a content search ran on it: its hits were not saved)" if in_content else
              " (a content search ran on it: no file's content holds this)")
    return "missed", f"no search hit saved for the item{remark}; {what} is at image offset {lo:,}"


def _locator_is(locator: str, path: str) -> bool:
    """Whether ``locator`` (``item › partition … › /path``) is the file at ``path`` in its file system."""
    return locator.rsplit(LOCATOR_SEP, 1)[-1] == path


def _keyword_hit(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    return _saved_hit(exp, store, items, f"{exp['phrase']!r}, in the deleted {exp['path']}")


def _pattern_hit(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    return _saved_hit(exp, store, items, f"the {exp['pattern'].upper()} {exp['value']} ({exp['encoding']}, "
                                         "unallocated)")


def _raw_hit(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    return _saved_hit(exp, store, items, f"{exp['term']!r}, across {' and '.join(exp['files'])} (only a search "
                                         "--in raw reads it whole)", in_content=False)


def _archive_hit(exp: dict, store: _Store, items: list[str]) -> tuple[str, str]:
    """A saved hit whose locator is the ZIP member's: ``… › /path/archive.zip › member``."""
    saved = [(i, a.fields) for i in items for a in store.artifacts(i, store_search.HIT_TYPE)]
    archive, member = exp["archive"].lstrip("/"), exp["member"]

    def in_member(f: dict) -> bool:
        parts = str(f.get("locator") or "").split(LOCATOR_SEP)
        return len(parts) >= 2 and parts[-1] == member and parts[-2].lstrip("/").endswith(archive)

    here = sorted((f for _, f in saved if in_member(f)), key=lambda f: f.get("where") not in exp["where"])
    what = f"{exp['term']!r} is in {exp['archive']} › {member}"
    if here and here[0].get("where") in exp["where"]:
        f = here[0]
        return "found", (f"{_escape_bidi(str(f.get('text')))!r} ({f.get('list')}) in the member "
                         f"{_escape_bidi(str(f.get('locator')))}")
    if here:
        return "wrong", (f"a hit in {exp['archive']} › {member} saved as where {here[0].get('where')!r} (its "
                         f"name, not its content); {what}")
    if saved:
        return "missed", (f"{len(saved):,} search hit(s) saved for the item, none in a member of {exp['archive']} "
                          f"({what})")
    ran = any(store.content_searched(i) for i in items)
    return "missed", ("no search hit saved for the item" + (" (a content search ran on it: its hits were not "
                                                            "saved)" if ran else "") + f"; {what}")


_HANDLERS = {
    "file_count": _file_count, "file_present": _file_present, "deleted_file": _deleted_file,
    "truncated_file": _truncated_file, "disguised_file": _disguised_file, "photo_geotag": _photo,
    "photo_time_unknown_zone": _photo, "time_zones_crossed": _time_zones, "conversation": _conversation,
    "key_message": _key_message, "db_committed": _db_committed, "db_uncommitted": _db_uncommitted,
    "acquisition_damaged": _acquisition_damaged, "spoofed_name": _spoofed_name, "name_not_utf8": _name_not_utf8,
    "ios_attribution": _ios_attribution, "minimal_export_message": _minimal_export_message,
    "chat_geotag": _chat_geotag, "group_message": _group_message, "call_identified": _call_identified,
    "encrypted_database": _encrypted_database, "container_read": _container_read,
    "deleted_message": _deleted_message, "carved_photo": _carved_photo, "embedded_photo": _embedded_photo,
    "backup_device": _backup_device, "backup_message": _backup_message, "xmp_photo_date": _xmp_photo_date,
    "video_geotag": _video_geotag, "near_duplicate": _near_duplicate, "device_location": _device_location,
    "video_frame_copy": _video_frame_copy, "report_finding": _report_finding,
    "pseudonymised_export": _pseudonymised_export, "known_bad_file": _known_bad_file,
    "known_good_count": _known_good_count, "bundle_sources": _bundle_sources,
    "suspected_known_bad": _suspected_known_bad, "keyword_hit": _keyword_hit, "pattern_hit": _pattern_hit,
    "raw_hit": _raw_hit, "archive_hit": _archive_hit, "place_export": _place_export,
    "signal_message": _signal_message, "forwarded_message": _forwarded_message, "reply_message": _reply_message,
    "chat_attachment": _chat_attachment,
}

