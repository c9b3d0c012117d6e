"""forensic files, forensic warnings"""
from __future__ import annotations

import click

from forensic.cli.common import json_option, with_case
from forensic.cli.console import emit_jsonl
from forensic.case import Case

_FIELDS = ("item", "path", "locator", "kind", "size", "sha256", "md5", "sha1", "deleted", "mime", "magic",
           "extension_mismatch", "modified_at", "accessed_at", "changed_at", "born_at", "times_tz_known", "times_tz_source",
           "inode", "link_target", "warnings")


def file_json(r) -> dict:
    out = {k: r[k] for k in _FIELDS}
    if out["md5"] is None:
        del out["md5"]
    if out["sha1"] is None:
        del out["sha1"]
    out["deleted"] = bool(out["deleted"])
    out["extension_mismatch"] = bool(out["extension_mismatch"])
    out["times_tz_known"] = bool(out["times_tz_known"])
    return out


@click.command()
@click.option("--item", default=None, help="Only this evidence item.")
@click.option("--deleted", is_flag=True, help="Only deleted entries.")
@click.option("--mime", "mime_prefix", default=None, help="Only content types starting with this (e.g. image/).")
@click.option("--mismatch", is_flag=True, help="Only files whose extension contradicts their content.")
@click.option("--kind", type=click.Choice(["file", "dir", "link", "other", "stream"]), default=None,
              help="Only entries of this kind.")
@click.option("--sha256", default=None, help="Only files with this SHA-256.")
@json_option
@with_case
def files(case: Case, item: str | None, deleted: bool, mime_prefix: str | None, mismatch: bool,
          kind: str | None, sha256: str | None, as_json: bool) -> int:
    """List the files found by triage."""
    where, args = [], []
    if item:
        case.item(item)
        where.append("item=?"), args.append(item)
    if deleted:
        where.append("deleted=1")
    if mime_prefix:
        where.append("substr(mime, 1, ?)=?"), args.extend([len(mime_prefix), mime_prefix])
    if mismatch:
        where.append("extension_mismatch=1")
    if kind:
        where.append("kind=?"), args.append(kind)
    if sha256:
        where.append("sha256=?"), args.append(sha256.lower())
    sql = "SELECT * FROM files" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY item, id"
    rows = (file_json(r) for r in case.db.execute(sql, args))
    if as_json:
        emit_jsonl(rows)
    else:
        for r in rows:
            flags = ("D" if r["deleted"] else "-") + ("!" if r["extension_mismatch"] else "-")
            click.echo(f"{flags} {r['sha256'] or '-':64} {r['size'] if r['size'] is not None else '-':>12} "
                       f"{r['mime'] or '-':28} {r['locator']}")
    return 0


@click.command()
@click.option("--item", default=None, help="Only this evidence item.")
@json_option
@with_case
def warnings(case: Case, item: str | None, as_json: bool) -> int:
    """List the warnings recorded during intake and triage."""
    sql = "SELECT item, locator, stage, message, at FROM warnings"
    args = []
    if item:
        sql += " WHERE item=?"
        args.append(item)
    rows = (dict(r) for r in case.db.execute(sql + " ORDER BY id", args))
    if as_json:
        emit_jsonl(rows)
    else:
        for r in rows:
            click.echo(f"{r['item']}\t{r['stage']}\t{r['locator'] or '-'}\t{r['message']}")
    return 0


COMMANDS = [files, warnings]
