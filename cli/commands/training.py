"""forensic training check"""
from __future__ import annotations

from pathlib import Path

import click

from forensic.cli.common import json_option, with_case
from forensic.cli.console import emit_json, err, esc, info, safe, verdict
from forensic.case import Case
from forensic.errors import UsageError

_MARK = {"found": "ok", "wrong": "WRONG", "missed": "MISSED", "skipped": "skipped"}


@click.group()
def training() -> None:
    """Training with the sample case: check a case against an answer key."""


@training.command("check")
@click.argument("answer_key", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--all", "show_all", is_flag=True, help="List every fact, not only those missed or wrong.")
@click.option("--fail-under", type=click.IntRange(0, 100), default=None, metavar="SCORE",
              help="Exit with status 1 when the score is below SCORE.")
@click.option("--bundle", "bundles", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A bundle the case exported, where the check would not find it (beside the case, where the "
                   "export wrote it, or in this folder); repeatable. Accepted only with the SHA-256 the custody "
                   "log records.")
@click.option("--bundle-password-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="The password (first line) of the case's encrypted bundles; without it only what the custody "
                   "log shows of them is graded.")
@json_option
@with_case
def check(case: Case, answer_key: Path, show_all: bool, fail_under: int | None, bundles: tuple[Path, ...],
          bundle_password_file: Path | None, as_json: bool) -> int:
    """Compare what the case found with ANSWER_KEY (answer-key.json from 'forensic sample-image').

    Each fact is found, wrong (found with a different value), missed, or skipped (the extractor
    that would find it is not available here; not counted). Score = found / checked * 100.
    Facts about exports are graded from the custody log and the bundles it records, opened
    read-only.
    """
    from forensic.training.check import check_case, load_key
    key = load_key(answer_key)
    password = None
    if bundle_password_file is not None:
        try:
            lines = bundle_password_file.read_bytes().splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read {bundle_password_file}: {exc}") from exc
        password = lines[0] if lines else b""
    report = check_case(case, key, str(answer_key), bundles=list(bundles), bundle_password=password)
    data = report.to_json()
    below = fail_under is not None and data["score"] < fail_under
    if as_json:
        emit_json(data)
    else:
        _table(report, show_all)
        # The verdict, on stdout in every mode: green at 100 (or at/above --fail-under), red
        # below --fail-under, yellow otherwise.
        ok = (not below) if fail_under is not None else (True if report.score == 100 else None)
        found = len(report.by("found"))
        threshold = f"; below {fail_under}" if below else (f"; at least {fail_under}" if fail_under is not None else "")
        verdict(ok, "score", f"{report.score} / 100  ({found} of {report.checked} checked facts found{threshold})")
    if data["skipped_extractors"]:
        err.print(f"[yellow]{len(data['skipped'])} facts skipped[/yellow]: extractor(s) not available: "
                  f"{esc(', '.join(data['skipped_extractors']))} (see 'forensic extractors'); "
                  "they do not count toward the score")
    if below:
        err.print(f"[red]score {data['score']} is below {fail_under}[/red]")
        return 1
    return 0


def _table(report, show_all: bool) -> None:
    kinds: dict[str, dict[str, int]] = {}
    for r in report.results:
        kinds.setdefault(r.fact["kind"], {"found": 0, "wrong": 0, "missed": 0, "skipped": 0})[r.status] += 1
    click.echo(f"{'fact kind':26} {'found':>6} {'wrong':>6} {'missed':>7} {'skipped':>8}")
    for kind, c in kinds.items():
        click.echo(safe(f"{kind:26} {c['found']:>6} {c['wrong']:>6} {c['missed']:>7} {c['skipped']:>8}"))
    total = {s: len(report.by(s)) for s in ("found", "wrong", "missed", "skipped")}
    click.echo(f"{'total':26} {total['found']:>6} {total['wrong']:>6} {total['missed']:>7} {total['skipped']:>8}")
    shown = [r for r in report.results if show_all or r.status in ("wrong", "missed")]
    if shown:
        click.echo("")
    for r in shown:
        line = f"{_MARK[r.status]:8} {r.fact['id']:24} [{r.fact.get('item')}] {r.fact['description']}"
        # the key's and the evidence's words: escaped before they reach a terminal
        click.echo(safe(line + (f" -- {r.detail}" if r.detail else "")))
    click.echo("")
    info(f"[dim]evidence matched by SHA-256: "
         f"{esc(', '.join(f'{k} -> {v or []}' for k, v in report.item_map.items()))}[/dim]")


COMMANDS = [training]
