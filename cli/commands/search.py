"""``forensic search``: keywords, regular expressions and built-in patterns over a case's file
content, names, messages and metadata, and the raw bytes of slack and unallocated space
(:mod:`forensic.search`)."""
from __future__ import annotations

from pathlib import Path

import click

from forensic.case import Case
from forensic.cli import exit_codes
from forensic.cli.common import json_option, with_case
from forensic.cli.console import compact_line, esc, info, listing, warn
from forensic.errors import UsageError
from forensic.search.engine import WHERE, Hit, search_case
from forensic.search.patterns import PATTERNS, pattern_terms
from forensic.search.terms import Matcher, Term, read_list


def _cells(h: Hit) -> tuple:
    at = f"{h.image_offset:,}" if h.image_offset is not None else (f"+{h.file_offset:,}" if h.file_offset is not None
                                                                   else "")
    return (h.where, h.item, h.locator or "", at, h.list, h.text, h.context)


@click.command("search")
@click.argument("term", required=False)
@click.option("--list", "list_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file of terms, one a line (# starts a comment).")
@click.option("--regex", is_flag=True, help="TERM (and the --list terms) are regular expressions (Python syntax).")
@click.option("--ignore-case", "-i", is_flag=True, help="Upper and lower case alike.")
@click.option("--in", "where", default=",".join(WHERE), show_default=True,
              help="Where to look, comma-separated: " + ", ".join(WHERE) + ".")
@click.option("--unallocated", is_flag=True, help="Also the raw bytes of unallocated space (disk images).")
@click.option("--slack", is_flag=True, help="Also file slack: from a file's end to its last cluster's end.")
@click.option("--patterns", default=None,
              help="Built-in pattern lists, comma-separated: " + ", ".join(PATTERNS) + ", or all.")
@click.option("--region", default=None, metavar="CC",
              help="Country (ISO 3166 code) of phone numbers written in national form (--patterns phone).")
@click.option("--item", "only", multiple=True, help="Only this evidence item (again for more; default: all).")
@json_option
@with_case
def search(case: Case, term: str | None, list_file: Path | None, regex: bool,
           ignore_case: bool, where: str, unallocated: bool, slack: bool, patterns: str | None, region: str | None,
           only: tuple[str, ...], as_json: bool) -> int:
    """Search the case for TERM (or the terms of --list, or built-in --patterns).

    Names, messages and metadata are read from the case store; content, slack and
    unallocated space from the evidence itself (read-only). Each hit gives where it is
    (item, locator, image and file offsets), the matched text and its context, and the
    list and term that matched; raw hits also their encoding and whether they cross a
    fragment or sector boundary."""
    terms: list[Term] = []
    if term is not None:
        terms.append(Term(term, "term", regex))
    if list_file is not None:
        terms.extend(read_list(list_file, regex))
    if patterns:
        terms.extend(pattern_terms([p.strip() for p in patterns.split(",") if p.strip()], region))
    places = {w.strip() for w in where.split(",") if w.strip()}
    unknown = places - set(WHERE)
    if unknown:
        raise UsageError(f"--in {', '.join(sorted(unknown))}: not a place searched", hint="places: " + ", ".join(WHERE))
    matcher = Matcher(terms, ignore_case)
    rows = [case.item(i) for i in only] if only else case.items()
    if not rows:
        raise UsageError("the case has no evidence item", hint="add one with `forensic evidence add`")
    problems: list[str] = []

    def note(message: str) -> None:
        problems.append(message)
        warn(esc(message))

    hits = search_case(case, matcher, [r.item for r in rows], places, slack, unallocated, note)
    n = listing((h.to_json() if as_json else h for h in hits), as_json=as_json,
                columns=("Where", "Item", "Locator", "Offset", "List", "Text", "Context"), cells=_cells,
                line=lambda h: compact_line(_cells(h)), no_wrap=("Offset",))
    info(f"{n:,} hit(s) for {len(terms):,} term(s)")
    return exit_codes.WARNINGS if problems else exit_codes.OK


COMMANDS = [search]
