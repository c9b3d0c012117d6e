"""``forensic search``: keywords, regular expressions and built-in patterns over a case's file
content, names, messages and metadata, and the raw bytes of slack and unallocated space
(:mod:`forensic.search`)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import click

from forensic.case import Case
from forensic.cli import exit_codes
from forensic.cli.common import json_option, key_options, with_case
from forensic.cli.console import compact_line, esc, info, listing, warn
from forensic.errors import UsageError
from forensic.search.engine import PLACES, WHERE, Hit, search_case
from forensic.search.patterns import PATTERNS, pattern_terms
from forensic.search.terms import Matcher, Term, read_list
from forensic.store import search as store_search

# what a saved hit's record names as its maker (the ``extractor`` column of ``artifacts``)
SAVED_BY = "search@1"


def _cells(h: Hit) -> tuple:
    at = f"{h.image_offset:,}" if h.image_offset is not None else (f"+{h.file_offset:,}" if h.file_offset is not None
                                                                   else "")
    return (h.where, h.item, h.locator or "", at, h.list, h.text, h.context)


@click.command("search")
@click.argument("term", required=False)
@click.option("--list", "list_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file of terms, one a line (# starts a comment).")
@click.option("--regex", is_flag=True,
              help="TERM (and the --list terms) are regular expressions (Python syntax), run by Hyperscan in "
                   "linear time; one it refuses (back-references, lookaround) runs under a time bound.")
@click.option("--ignore-case", "-i", is_flag=True, help="Upper and lower case alike.")
@click.option("--in", "where", default=",".join(WHERE), show_default=True,
              help="Where to look, comma-separated: " + ", ".join(PLACES) + " (a disk image's every byte, "
                   "across files and file-system metadata; hits name the files they span).")
@click.option("--unallocated", is_flag=True, help="Also the raw bytes of unallocated space (disk images).")
@click.option("--slack", is_flag=True, help="Also file slack: from a file's end to its last cluster's end.")
@click.option("--patterns", default=None,
              help="Built-in pattern lists, comma-separated: " + ", ".join(PATTERNS) + ", or all.")
@click.option("--region", default=None, metavar="CC",
              help="Country (ISO 3166 code) of phone numbers written in national form (--patterns phone).")
@click.option("--item", "only", multiple=True, help="Only this evidence item (again for more; default: all).")
@click.option("--save", is_flag=True,
              help="Keep every hit in the case as a search/hit record (taggable as artifact:ID, on the "
                   "timeline at its file's or message's time), logged as search.recorded.")
@key_options
@json_option
@with_case
def search(case: Case, term: str | None, list_file: Path | None, regex: bool,
           ignore_case: bool, where: str, unallocated: bool, slack: bool, patterns: str | None, region: str | None,
           only: tuple[str, ...], save: bool, key_path: Path | None, passphrase_file: Path | None,
           as_json: bool) -> int:
    """Search the case for TERM (or the terms of --list, or built-in --patterns).

    Names, messages and metadata are read from the case store; content, slack and
    unallocated space from the evidence itself (read-only). Each hit gives where it is
    (item, locator, image and file offsets), the matched text and its context, and the
    list and term that matched; raw hits also their encoding and whether they cross a
    fragment or sector boundary.

    With --save the hits are kept in the case as ``search/hit`` records (the JSON of each
    hit, with ``saved_as``: artifact:ID), each logged in the custody log like a triage's
    records, and the search itself as ``search.recorded`` (what was searched for and how
    many hits, never their text)."""
    terms: list[Term] = []
    if term is not None:
        terms.append(Term(term, "term", regex))
    if list_file is not None:
        terms.extend(read_list(list_file, regex))
    if patterns:
        terms.extend(pattern_terms([p.strip() for p in patterns.split(",") if p.strip()], region))
    places = {w.strip() for w in where.split(",") if w.strip()}
    unknown = places - set(PLACES)
    if unknown:
        raise UsageError(f"--in {', '.join(sorted(unknown))}: not a place searched",
                         hint="places: " + ", ".join(PLACES))
    matcher = Matcher(terms, ignore_case)
    for pattern, why in matcher.refused.items():
        warn(f"--regex {esc(pattern)}: Hyperscan cannot gate it ({esc(why)}): Python's regex engine runs it over "
             f"every text, at most {matcher.regex_timeout:g} s on each (a buffer, a field); a text it runs out of "
             "time on is named and not searched further for it")
    rows = [case.item(i) for i in only] if only else case.items()
    if not rows:
        raise UsageError("the case has no evidence item", hint="add one with `forensic evidence add`")
    problems: list[str] = []

    def note(message: str) -> None:
        problems.append(message)
        warn(esc(message))

    hits = search_case(case, matcher, [r.item for r in rows], places, slack, unallocated, note)
    if save:
        from forensic.chain_of_custody.hooks import preflight
        preflight(case, key_path, passphrase_file)
        found = list(hits)
        saved = _save(case, found, terms, places, ignore_case, slack, unallocated, key_path, passphrase_file)
        new = [a for a, fresh in saved if fresh]
        info(f"{len(new):,} hit(s) kept as search/hit records"
             + (f" (artifact:{new[0]} to artifact:{new[-1]})" if new else "")
             + (f"; {len(saved) - len(new):,} saved before, kept once" if len(saved) > len(new) else ""))
        rows_out = ({**h.to_json(), "saved_as": f"artifact:{a}"} if as_json else h
                    for h, (a, _) in zip(found, saved, strict=True))
    else:
        rows_out = (h.to_json() if as_json else h for h in hits)
    n = listing(rows_out, as_json=as_json,
                columns=("Where", "Item", "Locator", "Offset", "List", "Text", "Context"), cells=_cells,
                line=lambda h: compact_line(_cells(h)), no_wrap=("Offset",))
    info(f"{n:,} hit(s) for {len(terms):,} term(s)")
    return exit_codes.WARNINGS if problems else exit_codes.OK


def _save(case: Case, hits: list[Hit], terms: list[Term], places: set[str], ignore_case: bool, slack: bool,
          unallocated: bool, key_path: Path | None, passphrase_file: Path | None) -> list[tuple[int, bool]]:
    """Store the hits as records and log them (one ``artifact.recorded`` leaf each, then one
    ``search.recorded``), the log's entries committed before the store's rows, as a triage
    does: a crash leaves a leaf of a record not stored (reported), never a record not logged.
    A hit saved before (the same :func:`~forensic.store.search.hit_key`) is not saved again:
    each hit's (artifact id, whether saved now) is returned."""
    from forensic.chain_of_custody.hooks import open_log
    before = store_search.saved_hits(case.db, sorted({h.item for h in hits}))
    rows, keys = [], []
    ids: dict[str, int | None] = {}
    for h in hits:
        fields = {**h.to_json()}
        key = store_search.hit_key(fields)
        keys.append(key)
        if key in before or key in ids:
            continue
        ids[key] = None
        source = h.record_id if h.where in ("message", "metadata") else None
        rows.append((h.item, h.locator if h.where not in ("unallocated", "raw") else None, source,
                     json.dumps(fields, ensure_ascii=False, default=str)))
    by_list: dict[str, int] = {}
    by_where: dict[str, int] = {}
    for h in hits:
        by_list[h.list] = by_list.get(h.list, 0) + 1
        by_where[h.where] = by_where.get(h.where, 0) + 1
    spec = json.dumps([[t.list, t.text, t.regex] for t in terms], ensure_ascii=False)
    details = {"terms": len(terms), "terms_sha256": hashlib.sha256(spec.encode("utf-8")).hexdigest(),
               "lists": sorted({t.list for t in terms}), "in": sorted(places), "ignore_case": ignore_case,
               "slack": slack, "unallocated": unallocated, "hits": len(hits), "by_list": by_list,
               "by_where": by_where, "saved_before": len(hits) - len(rows)}
    with open_log(case, key_path, passphrase_file) as log, case.transaction() as db:
        saved = store_search.save_hits(db, rows, SAVED_BY)
        log.extend([{"action": "artifact.recorded",
                     "subject": {"item": s.item, "locator": s.locator, "record_type": store_search.HIT_TYPE},
                     "sha256": s.file_sha256,
                     "details": {"artifact_id": s.artifact_id, "record_sha256": s.record_sha256,
                                 "row_sha256": s.row_sha256, "times_sha256": s.times_sha256}}
                    for s in saved])
        if saved:
            details["records"] = {"first": saved[0].artifact_id, "last": saved[-1].artifact_id}
        log.append("search.recorded", {"items": sorted({h.item for h in hits})}, actor=log.actor, details=details)
        log.commit()
    for key, s in zip(list(ids), saved, strict=True):
        ids[key] = s.artifact_id
    out: list[tuple[int, bool]] = []
    for k in keys:
        out.append((before[k], False) if k in before else (int(ids[k] or 0), True))
        before.setdefault(k, out[-1][0])          # the same hit twice in one search: kept once
    return out


COMMANDS = [search]
