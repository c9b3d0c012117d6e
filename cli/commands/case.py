"""forensic case init|show"""
from __future__ import annotations

from pathlib import Path

import click

from forensic.chain_of_custody.hooks import record
from forensic.cli.common import json_option, key_options, with_case
from forensic.cli.console import emit_json, esc, info, safe
from forensic.case import Case
from forensic.errors import UsageError
from forensic.outputs import CASE_FILES, check_output, current_cases
from forensic.store import triage as store_triage


@click.group()
def case() -> None:
    """Create and inspect cases (a folder with the case store and custody log)."""


def _refuse_evidence(directory: Path, current: Path | None) -> None:
    """A new case is never made in the evidence or the store of the case open now (--case,
    else $FORENSIC_CASE and the current folder, each when it is a case): neither its folder
    nor any file the new case writes there."""
    with current_cases(current) as cases:
        for path in (directory, *(directory / name for name in CASE_FILES)):
            check_output(path, cases=tuple(cases), option="case init")


@case.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--case-id", required=True, help="The case identifier (e.g. the lab's case number).")
@click.option("--examiner", required=True, help="The examiner's name, recorded on every action.")
@click.option("--organisation", "--organization", "organisation", default=None, help="The examiner's organisation.")
@click.option("--case", "current", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The case open now: the new case is never made in its evidence (default: "
                   "$FORENSIC_CASE and the current folder, when they are cases).")
@click.option("--store", default=None, envvar="FORENSIC_STORE", show_envvar=True,
              help="Keep the case's store on a PostgreSQL server (postgresql://USER@HOST/DATABASE; "
                   "the password from ~/.pgpass or PGPASSWORD) instead of DIRECTORY/case.db.")
@click.option("--store-schema", default=None,
              help="With --store: the schema to hold the case's tables (default: case_ and the "
                   "case id); it must not exist yet.")
@key_options
@json_option
def init(directory: Path, case_id: str, examiner: str, organisation: str | None, current: Path | None,
         store: str | None, store_schema: str | None, key_path, passphrase_file, as_json: bool) -> int:
    """Create a new case in DIRECTORY (its custody log and keys stay there; its store is
    DIRECTORY/case.db, or a schema on a PostgreSQL server with --store)."""
    _refuse_evidence(directory, current)
    if store_schema and not store:
        raise UsageError("--store-schema needs --store")
    c = Case.init(directory, case_id, examiner, organisation, store=store, store_schema=store_schema)
    try:
        _record_created(c, key_path, passphrase_file)
        meta = c.meta()
    finally:
        c.close()
    if as_json:
        emit_json({"case": str(directory),
                   **{k: meta[k] for k in ("case_id", "examiner", "organisation", "created_at")},
                   "store": c.store_description()})
    else:
        info(f"case [bold]{esc(case_id)}[/bold] created in {esc(directory)}")
    return 0


def _record_created(c: Case, key_path, passphrase_file) -> None:
    """``case.created``; with a key, the log pins it in the same commit (the first key to
    sign a log is pinned: forensic.chain_of_custody.pins)."""
    meta = c.meta()
    location = getattr(c.db, "location", None)          # a store on PostgreSQL: which server
    store = {"store": {"url": location.url, "schema": location.schema}} if location is not None else {}
    record(c, "case.created", {"case": meta["case_id"]}, key_path=key_path, passphrase_file=passphrase_file,
           details={"examiner": meta["examiner"], "organisation": meta["organisation"],
                    "created_at": meta["created_at"], **store})


@case.command("show")
@with_case
@json_option
def show(case: Case, as_json: bool) -> int:
    """Show the case's details and evidence items."""
    meta = case.meta()
    out = {k: meta.get(k) for k in ("case_id", "examiner", "organisation", "created_at")}
    out["items"] = [r.item for r in case.items()]
    out["files"] = store_triage.count_files(case.db)
    if as_json:
        emit_json(out)
    else:
        for k, v in out.items():          # the case id, names and items are anyone's text
            click.echo(f"{k}: {', '.join(map(safe, v)) if isinstance(v, list) else safe(v)}")
    return 0


COMMANDS = [case]
