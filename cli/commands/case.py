"""forensic case init|show"""
from __future__ import annotations

import os
from pathlib import Path

import click

from forensic.chain_of_custody.hooks import open_log, pin_key, pinned
from forensic.cli.common import json_option, key_options, with_case
from forensic.cli.console import emit_json, esc, info
from forensic.case import Case
from forensic.errors import ForensicError
from forensic.outputs import check_output


@click.group()
def case() -> None:
    """Create and inspect cases (a folder with the case store and custody log)."""


def _refuse_evidence(directory: Path) -> None:
    """A new case is never made inside the evidence of the case open now ($FORENSIC_CASE, else
    the current folder when it is a case)."""
    current = Path(os.environ.get("FORENSIC_CASE", "."))
    if not (current / "case.db").is_file():
        return
    try:
        open_case = Case.open(current)
    except ForensicError:
        return
    try:
        check_output(directory, open_case, option="case init")
    finally:
        open_case.close()


@case.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--case-id", required=True, help="The case identifier (e.g. the lab's case number).")
@click.option("--examiner", required=True, help="The examiner's name, recorded on every action.")
@click.option("--organisation", "--organization", "organisation", default=None, help="The examiner's organisation.")
@key_options
@json_option
def init(directory: Path, case_id: str, examiner: str, organisation: str | None, key_path, passphrase_file,
         as_json: bool) -> int:
    """Create a new case in DIRECTORY."""
    _refuse_evidence(directory)
    c = Case.init(directory, case_id, examiner, organisation)
    try:
        _record_created(c, key_path, passphrase_file)
        meta = c.meta()
    finally:
        c.close()
    if as_json:
        emit_json({"case": str(directory), **{k: meta[k] for k in ("case_id", "examiner", "organisation", "created_at")}})
    else:
        info(f"case [bold]{esc(case_id)}[/bold] created in {esc(directory)}")
    return 0


def _record_created(c: Case, key_path, passphrase_file) -> None:
    """``case.created``, and with a key, the entry that pins it: from then on only pinned
    keys may sign the case's log (forensic.chain_of_custody.pins)."""
    meta = c.meta()
    with open_log(c, key_path, passphrase_file) as log:
        log.append("case.created", {"case": meta["case_id"]}, actor=log.actor,
                   details={"examiner": meta["examiner"], "organisation": meta["organisation"],
                            "created_at": meta["created_at"]})
        if log.signer is not None:
            pin_key(log, log.signer.name or log.actor, log.signer.public)
        log.commit()
    if log.signer is not None:
        pinned(c, log.signer.name or log.actor, log.signer.public)


@case.command("show")
@with_case
@json_option
def show(case: Case, as_json: bool) -> int:
    """Show the case's details and evidence items."""
    meta = case.meta()
    out = {k: meta.get(k) for k in ("case_id", "examiner", "organisation", "created_at")}
    out["items"] = [r["item"] for r in case.items()]
    out["files"] = case.db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    if as_json:
        emit_json(out)
    else:
        for k, v in out.items():
            click.echo(f"{k}: {', '.join(v) if isinstance(v, list) else v}")
    return 0


COMMANDS = [case]
