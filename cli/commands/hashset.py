"""``forensic hashset import|list|check``: the examiner's library of hash sets (NSRL RDS v3,
Project VIC / CAID VICS, hashdeep/md5deep/sha256sum lists, CSV) and checking a case against it.

The library is per user, outside any case (``$FORENSIC_HASHSETS``; :mod:`forensic.hashsets`).
Triage checks every item against the whole library at its end; ``hashset check`` checks a
triaged case again (after a set was imported or updated), and records which sets it was
checked against in the case and, as ``hashset.checked``, in the custody log.
"""
from __future__ import annotations

import time
from pathlib import Path

import click

from forensic import hashsets
from forensic.case import Case
from forensic.cli import exit_codes
from forensic.cli.common import json_option, key_options, with_case
from forensic.cli.console import compact_line, emit_json, esc, info, listing, warn
from forensic.errors import UsageError
from forensic.store import hashsets as store_hashsets


@click.group()
def hashset() -> None:
    """Hash sets of known files: import them into your library, list them, check a case."""


@hashset.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="Name of the set in the library (letters, digits, . _ -).")
@click.option("--kind", required=True, type=click.Choice(list(store_hashsets.KINDS)),
              help="known-good: harmless, hidden by default; known-bad: never shown, only hash and metadata; "
                   "alert: named on the file.")
@click.option("--category", default=None, help="Category of every file of the set (a VICS file's own categories "
                                                "are kept where it gives them).")
@click.option("--replace", is_flag=True, help="Import again over a set of the same name.")
@json_option
def import_(file: Path, name: str, kind: str, category: str | None, replace: bool, as_json: bool) -> int:
    """Import FILE into the hash set library: an NSRL RDS v3 SQLite (read in place where it
    indexes the digest), Project VIC / CAID VICS JSON, a hashdeep, md5deep or sha256sum list,
    or CSV with a hash column. The file is only read; its SHA-256 is kept with the set."""
    start = time.perf_counter()
    hs = hashsets.import_set(file, name, kind, category, replace=replace)
    took = time.perf_counter() - start
    out = {**hs.to_json(), "library": str(hashsets.library_dir()), "seconds": round(took, 3)}
    if as_json:
        emit_json(out)
    info(f"hash set {esc(name)} ({kind}, {hs.format}): {hs.records:,} records, "
         f"{', '.join(sorted(hs.digests))}; source SHA-256 {hs.source_sha256}")
    if hs.skipped:
        warn(f"{hs.skipped:,} line(s) or member(s) of {esc(file.name)} held no digest and were skipped")
    return 0


def _set_cells(r: dict) -> tuple:
    return (r["name"], r["kind"], r["category"] or "-", r["format"], f"{r['records']:,}",
            ",".join(r["algorithms"]), r["imported_at"])


def _check_cells(r: dict) -> tuple:
    return (r["item"], r["hashset"], r["kind"], f"{r['records']:,}", r["source_sha256"], r["checked_at"],
            f"{r['hits']:,}/{r['files_checked']:,}")


@hashset.command("list")
@click.option("--case", "case_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Instead: the sets this case's items were checked against, and when (oldest first).")
@json_option
def list_(case_dir: Path | None, as_json: bool) -> int:
    """List the sets of the library ($FORENSIC_HASHSETS), or with --case the checks a case
    recorded (item, set, kind, the set's source SHA-256 and record count, when, hits)."""
    if case_dir is not None:
        case = Case.open(case_dir)
        try:
            rows = [{"item": c.item, "hashset": c.hashset, "kind": c.kind, "source_sha256": c.source_sha256,
                     "records": c.records, "imported_at": c.imported_at, "checked_at": c.checked_at,
                     "files_checked": c.files_checked, "hits": c.hits} for c in store_hashsets.checks(case.db)]
        finally:
            case.close()
        n = listing(rows, as_json=as_json,
                    columns=("Item", "Set", "Kind", "Records", "Source SHA-256", "Checked", "Hits/files"),
                    cells=_check_cells, line=lambda r: compact_line(_check_cells(r)))
        if n == 0:
            info("this case records no hash set check: none was in the library at triage; see `forensic hashset "
                 "check`")
        return 0
    found = [s.to_json() for s in hashsets.listing()]
    n = listing(found, as_json=as_json,
                columns=("Name", "Kind", "Category", "Format", "Records", "Digests", "Imported"),
                cells=_set_cells, line=lambda r: compact_line(_set_cells(r)))
    if n == 0:
        info(f"no hash sets in {esc(hashsets.library_dir())}; add one with `forensic hashset import`")
    return 0


@hashset.command("check")
@click.argument("items", nargs=-1)
@click.option("--set", "names", multiple=True, help="Only this set (again for more; default: every set).")
@key_options
@json_option
@with_case
def check(case: Case, items: tuple[str, ...], names: tuple[str, ...], key_path, passphrase_file,
          as_json: bool) -> int:
    """Check the triaged ITEMS (default: all) against the library's sets again: every file is
    marked anew (hashsets, known_good, known_bad), and the case records the sets used."""
    rows = [case.item(i) for i in items] if items else case.items()
    rows = [r for r in rows if r.triaged_at]
    if not rows:
        raise UsageError("no triaged evidence item to check", hint="run `forensic triage` first")
    sets, problems = hashsets.open_sets(names or None)
    for p in problems:
        warn(esc(p))
    if not sets:
        raise UsageError("no hash set to check against",
                         hint=f"import one with `forensic hashset import` (library: {hashsets.library_dir()})")
    from forensic.chain_of_custody.hooks import preflight, record
    preflight(case, key_path, passphrase_file)
    done = []
    uncompared: dict[str, int] = {}
    try:
        for row in rows:
            # held like a triage holds it: a triage --force of the item at once is refused
            with case.item_lock(row.item, "hashset check"), case.transaction() as db:
                done.extend(hashsets.check_item(db, row.item, sets, uncompared))
    finally:
        for s in sets:
            s.close()
    checked = [{"item": c.item, "hashset": c.hashset, "kind": c.kind, "source_sha256": c.source_sha256,
                "records": c.records, "files_checked": c.files_checked, "hits": c.hits, "checked_at": c.checked_at}
               for c in done]
    record(case, "hashset.checked", {"items": [r.item for r in rows]}, details={"checks": checked},
           key_path=key_path, passphrase_file=passphrase_file)
    for name, n in sorted(uncompared.items()):
        problems.append(f"hash set {name}: {n:,} file(s) not compared, having none of its digests "
                        f"(triage hashed no {' or '.join(sorted(hashsets.load(hashsets.library_dir() / name).digests))}"
                        "; redo it with --force --hash md5,sha1,sha256)")
        warn(esc(problems[-1]))
    if as_json:
        emit_json({"checks": checked, "problems": problems})
    for c in done:
        info(f"{esc(c.item)}: {c.hits:,} of {c.files_checked:,} files in {esc(c.hashset)} ({c.kind})")
    return exit_codes.WARNINGS if problems else exit_codes.OK


def show_known_bad(case: Case, files: list[dict], folder: Path, reason: str | None) -> int:
    """Viewing known-bad content, an explicit act: the content of each file of ``files``
    (``forensic files --json`` rows, known-bad ones) is written into the new folder
    ``folder`` as ``SHA-256.ext``, checked against its stored SHA-256 as it is read, and the
    custody log records who looked at what, and why (``file.viewed``). Returns how many were
    written."""
    import hashlib
    import os

    from forensic.chain_of_custody.hooks import preflight, record
    from forensic.case import item_source
    from forensic.errors import IntegrityError
    from forensic.outputs import check_output, create_new
    from forensic.resolve import layer_key, resolve_entries

    check_output(folder, case, option="--show-known-bad", folder=True)
    if folder.exists():
        raise UsageError(f"{folder} already exists", hint="give a new folder for the known-bad content")
    preflight(case, None, None)
    folder.mkdir(parents=True, mode=0o700)
    written: list[dict] = []
    by_item: dict[str, list[dict]] = {}
    for f in files:
        by_item.setdefault(f["item"], []).append(f)
    try:
        for item, rows in by_item.items():
            wanted = {layer_key(f["layers"]): f for f in rows if f.get("sha256")}
            for key, entry in resolve_entries(item_source(case.item(item)), case.item(item).format, wanted):
                f = wanted[key]
                ext = "".join(c for c in Path(f["path"]).suffix[:10] if c.isalnum() or c == ".")
                out = folder / f"{f['sha256']}{ext}"
                seen = {"item": item, "locator": f["locator"], "sha256": f["sha256"], "hashsets": f["hashsets"],
                        "category": f.get("known_bad_category"), "file": out.name}
                if out.exists():
                    written.append(seen)          # the same content under another name: written once
                    continue
                digest = hashlib.sha256()
                fd = create_new(out)
                with entry.open() as src, os.fdopen(fd, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        dst.write(chunk)
                if digest.hexdigest() != f["sha256"]:
                    out.unlink()
                    raise IntegrityError(f"{f['locator']}: its content no longer has the SHA-256 triage stored")
                written.append(seen)
    finally:                                  # what was written is recorded, even if the rest failed
        if written:
            record(case, "file.viewed", {"items": sorted(by_item)}, details={
                "what": "known-bad content written out to be viewed", "folder": str(folder.resolve()),
                "reason": reason, "files": written})
    info(f"{len(written):,} known-bad file(s) written to {esc(folder)} (one file per content); recorded in the "
         "custody log (file.viewed)")
    return len(written)


COMMANDS = [hashset]
