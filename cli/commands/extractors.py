"""forensic extractors"""
from __future__ import annotations

import click

from forensic.cli.common import json_option
from forensic.cli.console import emit_jsonl, stdout_is_terminal, table


def extractor_rows() -> list[dict]:
    from forensic.extractors.registry import all_extractors
    return [{"name": i.name, "version": i.version, "description": i.description,
             "record_types": list(i.record_types), "available": i.available, "reason": i.reason}
            for i in all_extractors()]


@click.command("extractors")
@json_option
def extractors(as_json: bool) -> int:
    """List every extractor: name, version, record types, and whether it is available (and why not).

    On a terminal: a table. In a pipe: one compact line per extractor. With --json: JSON Lines."""
    rows = extractor_rows()
    if as_json:
        emit_jsonl(rows)
        return 0
    if stdout_is_terminal():
        table(("Extractor", "Version", "Record types", "Status"),
              [(r["name"], r["version"], ", ".join(r["record_types"]) or "-",
                "available" if r["available"] else f"unavailable: {r['reason']}") for r in rows],
              no_wrap=("Extractor",))
        return 0
    for r in rows:
        state = "available" if r["available"] else f"UNAVAILABLE: {r['reason']}"
        click.echo(f"{r['name'] + '@' + r['version']:24} {', '.join(r['record_types']) or '-':16} {state}")
    return 0


COMMANDS = [extractors]
