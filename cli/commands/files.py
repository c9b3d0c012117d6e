"""forensic files, forensic warnings

Also :class:`ListingScope`, shared by every listing command: which evidence items a listing
covers, and what to tell the examiner on stderr when it comes out empty (no evidence, no
triage yet, nothing matched the filters) or covers an item whose triage has not finished.
"""
from __future__ import annotations

import shlex
from contextlib import closing
from pathlib import Path
from typing import Any, Iterable, Iterator

import click

from forensic.cli.common import json_option, with_case
from forensic.cli.console import compact_line, esc, info, listing, safe, warn
from forensic.case import Case
from forensic.errors import UsageError
from forensic.store import files as store_files, hashsets as store_hashsets, warnings as store_warnings
from forensic.store.hashsets import HashsetHit
from forensic.store.records import File, StoredWarning

_FIELDS = ("item", "path", "locator", "kind", "size", "sha256", "md5", "sha1", "deleted", "mime", "magic",
           "extension_mismatch", "modified_at", "accessed_at", "changed_at", "born_at", "times_tz_known",
           "times_tz_source", "inode", "link_target", "warnings", "recovery", "recovery_confidence")

FILES_LEGEND = ("Flags: D deleted · R content recovered (deleted, orphan, carved or embedded; --json: recovery) · "
                "? it may be partly another file's (reused clusters) · ! the extension contradicts the content "
                "(e.g. a JPEG named .pdf) · K in a known-good hash set · B in a known-bad hash set (its content "
                "is never shown; --json: hashsets names every set matched)")


def filter_words(*pairs: tuple[str, Any]) -> list[str]:
    """The filters given, as typed on the command line: ``("--platform", "sms")`` ->
    ``--platform sms``; a flag given as True -> its name; None/False/empty are left out."""
    out = []
    for option, value in pairs:
        if value is True:
            out.append(option)
        elif value not in (None, False, ""):
            out.append(f"{option} {shlex.quote(str(value))}")
    return out


class ListingScope:
    """The evidence items a listing covers (one with ``--item``, else all), and which of
    them are not (completely) triaged. ``--item`` naming no item is an error here."""

    def __init__(self, case: Case, item: str | None) -> None:
        rows = [case.item(item)] if item else case.items()
        self.item = item
        self.items = [r.item for r in rows]
        self.untriaged = [r.item for r in rows if not r.triaged_at]

    def report(self, noun: str, count: int, filters: Iterable[str] = (), hint: str | None = None) -> None:
        """After a listing of ``count`` rows, say on stderr what it leaves out and why: no
        evidence items, no triage yet (a warning), nothing matched ``filters`` (with
        ``hint``), or items whose triage has not finished."""
        filters = list(filters)
        if not self.items:
            warn(f"no {noun}: the case has no evidence items yet; add one with `forensic evidence add`, "
                 "then run `forensic triage`")
            return
        pending = ", ".join(esc(i) for i in self.untriaged)
        if count == 0 and len(self.untriaged) == len(self.items):
            if self.item:
                warn(f"no {noun}: item {esc(self.item)} has not been triaged; "
                     f"run `forensic triage {esc(self.item)}` first")
            else:
                warn(f"no {noun}: run `forensic triage` first")
            return
        if self.untriaged:
            info(f"not completely triaged: {pending}; run `forensic triage` to list all their {noun}")
        if count:
            return
        if filters:
            info(f"no {noun} matched {esc(' '.join(filters))}" + (f" ({hint})" if hint else ""))
        else:
            info(f"no {noun} in " + (f"item {esc(self.item)}" if self.item else "this case"))


def file_json(f: File, marks: list[HashsetHit] | None = None) -> dict:
    """A file as ``forensic files --json`` writes it (a public contract): :data:`_FIELDS` in
    that order, md5 and sha1 only when computed, then the hash sets it matched (``marks``):
    ``hashsets`` (their names), ``known_good``, ``known_bad`` and, for a known-bad file,
    ``known_bad_category``."""
    out = {k: getattr(f, k) for k in _FIELDS}
    if out["md5"] is None:
        del out["md5"]
    if out["sha1"] is None:
        del out["sha1"]
    out.update(hashset_fields(marks or []))
    return out


def hashset_fields(marks: list[HashsetHit]) -> dict:
    """``hashsets``, ``known_good``, ``known_bad`` (and ``known_bad_category``) of a file."""
    bad = [m for m in marks if m.kind == "known-bad"]
    out: dict[str, Any] = {"hashsets": [m.hashset for m in marks],
                           "known_good": any(m.kind == "known-good" for m in marks), "known_bad": bool(bad)}
    if bad:
        out["known_bad_category"] = next((m.category for m in bad if m.category), None)
    return out


def _file_line(r: dict) -> str:
    """The compact line of a file (a public format: other tools cut it); control and bidi
    characters from evidence are shown as escapes."""
    flags = ("D" if r["deleted"] else "-") + ("!" if r["extension_mismatch"] else "-")
    return safe(f"{flags} {r['sha256'] or '-':64} {r['size'] if r['size'] is not None else '-':>12} "
                f"{r['mime'] or '-':28} {r['locator']}")


def _file_cells(r: dict) -> tuple:
    recovered = r["recovery"] not in (None, "allocated")
    flags = ("D" if r["deleted"] else "") + ("R" if recovered else "") \
        + ("?" if r["recovery_confidence"] == "low" else "") + ("!" if r["extension_mismatch"] else "")
    flags += ("K" if r.get("known_good") else "") + ("B" if r.get("known_bad") else "")
    return (flags, r["sha256"] or "-", f"{r['size']:,}" if r["size"] is not None else "-", r["mime"] or "-",
            r["locator"])


@click.command()
@click.option("--item", default=None, help="Only this evidence item.")
@click.option("--deleted", is_flag=True, help="Only deleted entries.")
@click.option("--mime", "mime_prefix", default=None, help="Only content types starting with this (e.g. image/).")
@click.option("--mismatch", is_flag=True, help="Only files whose extension contradicts their content.")
@click.option("--kind", type=click.Choice(["file", "dir", "link", "other", "stream"]), default=None,
              help="Only entries of this kind.")
@click.option("--sha256", default=None, help="Only files with this SHA-256.")
@click.option("--known-good/--no-known-good", "known_good", default=None,
              help="Only files in a known-good hash set (or, --no-known-good, only those in none).")
@click.option("--known-bad", is_flag=True, help="Only files in a known-bad hash set (hash and metadata only).")
@click.option("--show-known-bad", "show_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="DIR", help="View the known-bad files listed: write their content into the new folder DIR "
                                  "(recorded in the custody log as file.viewed, with --reason).")
@click.option("--reason", default=None, help="Why the known-bad content is viewed (with --show-known-bad).")
@json_option
@with_case
def files(case: Case, item: str | None, deleted: bool, mime_prefix: str | None, mismatch: bool,
          kind: str | None, sha256: str | None, known_good: bool | None, known_bad: bool, show_dir: Path | None,
          reason: str | None, as_json: bool) -> int:
    """List the files found by triage.

    On a terminal: a table (flags explained under it). In a pipe: one compact line per file
    (flags, SHA-256, size, content type, locator). With --json: JSON Lines."""
    if reason is not None and show_dir is None:
        raise UsageError("--reason goes with --show-known-bad")
    scope = ListingScope(case, item)
    found = store_files.listing(case.db, [item] if item else None, deleted=deleted or None,
                                mime_prefix=mime_prefix, mismatch=mismatch or None, kind=kind,
                                sha256=sha256.lower() if sha256 else None)
    marks = store_hashsets.hits(case.db, [item] if item else None)

    def rows() -> Iterator[dict]:
        for f in found:
            mine = marks.get(f.id, [])
            if known_good is not None and any(m.kind == "known-good" for m in mine) != known_good:
                continue
            if known_bad and not any(m.kind == "known-bad" for m in mine):
                continue
            out = file_json(f, mine)
            if show_dir is not None and out["known_bad"] and f.kind in ("file", "stream"):
                to_view.append({**out, "layers": f.layers})
            yield out
    to_view: list[dict] = []
    with closing(found):
        n = listing(rows(), as_json=as_json,
                    columns=("Flags", "SHA-256", "Size", "Type", "Locator"), cells=_file_cells,
                    line=_file_line, legend=FILES_LEGEND, no_wrap=("Flags",))
    if show_dir is not None:
        from forensic.cli.commands.hashset import show_known_bad
        if not to_view:
            raise UsageError("--show-known-bad: no known-bad file in this listing",
                             hint="see `forensic files --known-bad`")
        show_known_bad(case, to_view, show_dir, reason)
    scope.report("files", n, filter_words(("--deleted", deleted), ("--mime", mime_prefix), ("--mismatch", mismatch),
                                          ("--kind", kind), ("--sha256", sha256), ("--known-bad", known_bad),
                                          ("--known-good" if known_good else "--no-known-good",
                                           known_good is not None)))
    return 0


@click.command()
@click.option("--item", default=None, help="Only this evidence item.")
@json_option
@with_case
def warnings(case: Case, item: str | None, as_json: bool) -> int:
    """List the warnings recorded during intake and triage."""
    scope = ListingScope(case, item)
    with closing(store_warnings.listing(case.db, item or None)) as found:
        n = listing(map(warning_json, found), as_json=as_json,
                    columns=("Item", "Stage", "Locator", "Message"), cells=_warning_cells,
                    line=lambda r: compact_line(_warning_cells(r)))
    scope.report("warnings", n)
    return 0


def warning_json(w: StoredWarning) -> dict:
    """A warning as ``forensic warnings --json`` writes it (a public contract)."""
    return {"item": w.item, "locator": w.locator, "stage": w.stage, "message": w.message, "at": w.at}


def _warning_cells(r: dict) -> tuple:
    return r["item"], r["stage"], r["locator"] or "-", r["message"]


COMMANDS = [files, warnings]
