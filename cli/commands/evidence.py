"""forensic evidence add|list|verify"""
from __future__ import annotations

from pathlib import Path

import click

from forensic.cli import exit_codes
from forensic.chain_of_custody.hooks import record
from forensic.cli.common import json_option, key_options, with_case
from forensic.cli.console import emit_json, emit_jsonl, err, esc, info, is_quiet
from forensic.cli.progress import byte_progress
from forensic.case import Case
from forensic.intake import add_evidence, item_json, read_password, verify_evidence


@click.group()
def evidence() -> None:
    """Add evidence sources to the case, list and re-verify them."""


@evidence.command("add")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--id", "item", default=None, help="Item id (default: from the source's name).")
@click.option("--description", default=None, help="What the item is (e.g. 'Samsung phone, seized 2026-05-02').")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File whose first line is the password of an encrypted ZIP.")
@click.option("--delivered-by", default=None, help="Who delivered the evidence (recorded in the custody log).")
@click.option("--seizure", default=None, help="Seizure details (where, when, by whom; custody log).")
@key_options
@json_option
@with_case
def add(case: Case, source: Path, item: str | None, description: str | None, password_file: Path | None,
        delivered_by: str | None, seizure: str | None, key_path, passphrase_file, as_json: bool) -> int:
    """Add SOURCE (folder, ZIP, TAR, raw/dd or E01 image) and hash all of it (SHA-256 and MD5)."""
    password = read_password(password_file)
    total = source.stat().st_size if source.is_file() else None
    with byte_progress(f"hashing {source.name}", total) as advance:
        result = add_evidence(case, source, item, description, password, progress=advance,
                              extra={"delivered_by": delivered_by, "seizure": seizure,
                                     "password_file": str(password_file) if password_file else None})
    _custody(case, "evidence.received", result,
             {"delivered_by": delivered_by, "seizure": seizure, "description": description}, key_path, passphrase_file)
    if as_json:
        emit_json(result)
    else:
        info(f"added [bold]{esc(result['item'])}[/bold] ({result['format']}, {result['size']:,} bytes)")
        click.echo(f"sha256 {result['sha256']}\nmd5    {result['md5']}")
        if result["acquisition_hashes"]:
            v = result["acquisition_hash_verified"]
            info(f"acquisition hashes in the E01: {esc(result['acquisition_hashes'])} -> "
                 + ("[green]verified[/green]" if v else "[red]MISMATCH[/red]" if v is False else "not checked"))
    for w in result.get("source_warnings", []):
        err.print(f"[yellow]warning:[/yellow] {esc(w)}")
    if result["acquisition_hash_verified"] is False:
        err.print("[red]the media's hashes differ from the acquisition hashes stored in the E01[/red]")
        return exit_codes.INTEGRITY_FAILURE
    return exit_codes.OK


def _custody(case: Case, action: str, result: dict, extra: dict, key_path, passphrase_file) -> None:
    details = {k: result.get(k) for k in ("format", "size", "md5", "acquisition_hashes",
                                          "acquisition_hash_verified", "source")}
    details.update({k: v for k, v in extra.items() if v is not None})
    record(case, action, {"item": result["item"]}, sha256=result.get("sha256"), details=details,
           key_path=key_path, passphrase_file=passphrase_file)


@evidence.command("list")
@json_option
@with_case
def list_(case: Case, as_json: bool) -> int:
    """List the case's evidence items."""
    rows = [item_json(r) for r in case.items()]
    if as_json:
        emit_jsonl(rows)
    else:
        for r in rows:
            click.echo(f"{r['item']}\t{r['format']}\t{r['size']}\t{r['sha256']}\t{r['triaged_at'] or 'not triaged'}")
    return 0


@evidence.command("verify")
@click.argument("item")
@key_options
@json_option
@with_case
def verify(case: Case, item: str, key_path, passphrase_file, as_json: bool) -> int:
    """Re-hash ITEM's source and compare with the hashes recorded at intake."""
    row = case.item(item)
    with byte_progress(f"re-hashing {item}", row["size"]) as advance:
        result = verify_evidence(case, item, progress=advance)
    _custody(case, "evidence.verified", {"item": item, "sha256": result["sha256"], "md5": result["md5"]},
             {"ok": result["ok"], "problem": result["problem"], "expected_sha256": result["expected_sha256"]},
             key_path, passphrase_file)
    if as_json:
        emit_json(result)
    else:
        if result["ok"]:
            info(f"[green]OK[/green]: {esc(item)} matches its intake hashes")
        else:
            err.print(f"[red]MISMATCH[/red]: {esc(item)}: {esc(result['problem'])}")
    return exit_codes.OK if result["ok"] else exit_codes.INTEGRITY_FAILURE


COMMANDS = [evidence]
