"""forensic triage"""
from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import click

from forensic.cli import exit_codes
from forensic.chain_of_custody.hooks import triage_session, unfinished_triages
from forensic.cli.common import json_option, key_options, with_case
from forensic.cli.console import detail, emit_json, err, esc, info, is_verbose, progress_enabled, warn
from forensic.case import Case, item_source
from forensic.errors import SourceError, UsageError
from forensic.hashing import parse_algorithms
from forensic.pipeline import TriageOptions, triage_item
from forensic.sources.base import display_path
from forensic.store import triage as store_triage, warnings as store_warnings
from forensic.store.records import Item

if TYPE_CHECKING:
    from forensic.cluster import Cluster


@click.command()
@click.argument("items", nargs=-1)
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Worker threads for reading and hashing.")
@click.option("--hash", "hash_list", default="sha256", show_default=True,
              help="Hashes to compute per file: any of md5,sha1,sha256 (SHA-256 always).")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Password of an encrypted ZIP item, or key of a BitLocker/LUKS volume (default: the file "
                   "given at intake).")
@click.option("--assume-tz", default=None, metavar="ZONE",
              help="State the device's time zone (IANA name, e.g. Europe/Madrid) for local times "
                   "with no zone; recorded as an assumption.")
@click.option("--date-order", type=click.Choice(["dmy", "mdy", "ymd"]), default=None,
              help="Date order for chat exports whose dates cannot tell.")
@click.option("--signal-key", default=None, metavar="HEX",
              help="Signal Desktop database key (64 hex digits: config.json's 'key', or its 'encryptedKey' "
                   "unsealed on the owner's system); custody records its SHA-256, never the key.")
@click.option("--signal-config", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A copy of Signal Desktop's config.json: its key is read, or its encryptedKey unsealed "
                   "(Linux without keyring; Linux keyring or macOS Keychain with --signal-password-file).")
@click.option("--signal-password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="File whose first line is Signal's safeStorage password ('Signal Safe Storage' "
                                 "of the Linux keyring or macOS Keychain), for --signal-config.")
@click.option("--no-extract", is_flag=True, help="Only list, hash and type files; run no extractor.")
@click.option("--force", is_flag=True, help="Redo items already triaged (their previous results are replaced).")
@click.option("--cluster", metavar="ADDRESS", default=None,
              help="Read the items on a Dask cluster (scheduler address, e.g. tcp://10.0.0.5:8786); this "
                   "machine alone stores and logs. See docs/lab-setup.md.")
@click.option("--path-map", "path_maps", multiple=True, metavar="SRC=DST",
              help="With --cluster: evidence under this machine's folder SRC is at DST on the workers "
                   "(repeatable).")
@key_options
@json_option
@with_case
def triage(case: Case, items: tuple[str, ...], workers: int, hash_list: str, password_file: Path | None,
           assume_tz: str | None, date_order: str | None, signal_key: str | None, signal_config: Path | None,
           signal_password_file: Path | None, no_extract: bool, force: bool, cluster: str | None,
           path_maps: tuple[str, ...], key_path, passphrase_file, as_json: bool) -> int:
    """Walk evidence ITEMS (default: all), hash and type every file, extract artifacts.

    A triage that stops part-way (Ctrl-C, SIGTERM, an error) keeps what it stored and
    records that it was interrupted; the next run says so and carries on from there."""
    hashes = parse_algorithms(hash_list)
    from forensic.hashsets import needed_algorithms
    for algorithm, sets in needed_algorithms().items():      # a hash set with no SHA-256 digests
        if algorithm not in hashes:
            detail(f"also computing {algorithm} for the hash set(s) {esc(', '.join(sets))}")
            hashes = parse_algorithms([*hashes, algorithm])
    if assume_tz:
        _check_zone(assume_tz)
    signal_opts = signal_key_options(signal_key, signal_config, signal_password_file)
    rows = [case.item(i) for i in items] if items else case.items()
    if not rows:
        raise UsageError("the case has no evidence items", hint="add one with 'forensic evidence add SOURCE'")
    status = exit_codes.OK
    # Which items' last session did not finish: one read of the log for all of them.
    unfinished = unfinished_triages(case) if any(force or not r.triaged_at for r in rows) else {}
    if path_maps and not cluster:
        raise UsageError("--path-map maps the evidence's folders for the cluster's workers",
                         hint="give --cluster tcp://SCHEDULER:8786 too")
    with _sigterm_interrupts(), _cluster(cluster, path_maps) as runner:
        prepared: dict[str, tuple] = {}
        if runner is not None:        # every item's reading sent at once: stored one after the other
            for row in rows:
                if force or not row.triaged_at:
                    _check_source(row.item, row)
                    prepared[row.item] = _item_options(row, hashes, workers, password_file, assume_tz, date_order,
                                                       no_extract, force, signal_opts)
                    runner.submit(case, row.item, prepared[row.item][0])
        for row in rows:
            status = max(status, _triage_one(case, row, hashes, workers, password_file, assume_tz,
                                             date_order, no_extract, force, key_path,
                                             passphrase_file, as_json, unfinished.get(row.item),
                                             signal_opts, runner, prepared.get(row.item)))
    return status


@contextmanager
def _cluster(address: str | None, path_maps: tuple[str, ...]):
    """The Dask cluster's client for ``--cluster``, or None."""
    if not address:
        yield None
        return
    from forensic.cluster import Cluster, exposed, parse_path_map
    maps = [parse_path_map(m) for m in path_maps]
    if exposed(address):
        warn(f"{esc(address)} is plain tcp:// to another machine: the tasks (an item's password, a Signal key) "
             "and results cross the network unencrypted, and whatever answers there can run code on this "
             "machine, which holds your signing key (Dask sends pickles). Use tls:// on any network that is not "
             "the lab's own isolated one (docs/lab-setup.md)")
    runner = Cluster(address, maps)
    info(f"triage on the Dask cluster at {esc(address)} ({runner.workers()} workers)")
    try:
        yield runner
    finally:
        runner.close()


def _item_options(row: Item, hashes, workers: int, password_file: Path | None, assume_tz: str | None,
                  date_order: str | None, no_extract: bool, force: bool,
                  signal_opts: tuple[dict, dict]) -> tuple[TriageOptions, dict, dict]:
    """The item's triage options; what shaped the results (recorded); what custody records
    of the Signal key."""
    item = row.item
    password = _read_password(password_file) if password_file else _intake_password(row)
    if not signal_opts[0] and row.details.get("signal_config"):      # given at intake
        pf = row.details.get("signal_password_file")
        try:
            signal_opts = signal_key_options(None, Path(row.details["signal_config"]), Path(pf) if pf else None)
        except UsageError as exc:      # the copy given at intake gone or changed: the rest is triaged
            warn(f"{esc(item)}: the Signal config.json given at intake gives no key ({esc(str(exc))}); "
                 "the Signal Desktop database is not decrypted")
    ex_opts = {k: v for k, v in (("assume_tz", assume_tz), ("date_order", date_order)) if v}
    secret_opts, recorded = signal_opts         # the key to the extractors; custody: its SHA-256
    opts = TriageOptions(hashes=hashes, workers=workers, password=password, force=force,
                         extractor_options={**ex_opts, **secret_opts}, extractors=[] if no_extract else None)
    return opts, ex_opts, recorded


def _triage_one(case: Case, row: Item, hashes, workers: int, password_file: Path | None,
                assume_tz: str | None, date_order: str | None, no_extract: bool, force: bool,
                key_path, passphrase_file, as_json: bool, previous: dict | None,
                signal_opts: tuple[dict, dict] = ({}, {}), runner: Cluster | None = None,
                prepared: tuple | None = None) -> int:
    item = row.item
    if row.triaged_at and not force:
        summary = row.triage_summary or {}
        info(f"{esc(item)}: already triaged at {row.triaged_at} (use --force to redo)")
        if as_json:
            emit_json({**summary, "already_triaged": True})
        return exit_codes.OK
    # Before anything is recorded or changed (--force clears earlier results first thing),
    # a source that has gone or cannot be read stops the command.
    _check_source(item, row)
    opts, ex_opts, recorded = prepared or _item_options(row, hashes, workers, password_file, assume_tz, date_order,
                                                        no_extract, force, signal_opts)
    if previous is not None:
        warn(_previous_message(case, item, previous, force))
    stored = store_triage.any_stored(case.db, item)
    on_cluster = {"cluster": runner.address} if runner is not None else {}
    with triage_session(case, item, {"hashes": list(opts.hashes), "workers": opts.workers, "force": force,
                                     "extract": not no_extract, **ex_opts, **recorded, **on_cluster},
                        key_path, passphrase_file, previous=previous,
                        eager=force and bool(row.triaged_at or stored)) as on_batch:
        with _progress(f"triage {item}", row.size) as advance:
            if runner is None:
                stats = triage_item(case, item, opts, progress=advance, on_batch=on_batch,
                                    on_committed=on_batch.committed)
            else:
                stats = runner.triage_item(case, item, opts, progress=advance, on_batch=on_batch,
                                           on_committed=on_batch.committed, on_piece=on_batch.piece)
        on_batch.finish(stats)
    summary = stats.to_json()
    if previous is not None:
        summary["resumed"] = {"seq": previous.get("seq"), "action": previous.get("action"),
                              "at": previous.get("at")}
    if as_json:
        emit_json(summary)
    else:
        info(f"[bold]{esc(item)}[/bold]: {stats.files:,} entries ({stats.deleted:,} deleted), "
             f"{stats.bytes:,} bytes, {stats.artifacts:,} artifacts, {_count(stats.warnings, 'warning')} "
             f"in {stats.seconds:.1f} s")
    if stats.warnings:
        err.print(f"[yellow]{_count(stats.warnings, 'warning')} recorded[/yellow] "
                  f"(list them with 'forensic warnings --item {esc(item)}')")
        if is_verbose():
            _show_warnings(case, item)
        return exit_codes.WARNINGS
    return exit_codes.OK


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _show_warnings(case: Case, item: str, limit: int = 20) -> None:
    """With --verbose: the item's first warnings, where they were met and why."""
    rows = list(store_warnings.listing(case.db, item, limit=limit + 1))
    for w in rows[:limit]:
        detail(f"  {esc(w.stage)}: {esc(w.locator or item)}: {esc(w.message)}")
    if len(rows) > limit:
        detail(f"  … and more: 'forensic warnings --item {esc(item)}'")


def _check_source(item: str, row: Item) -> None:
    """The item's source is still there and can be read (its first byte, or its listing)."""
    path = item_source(row)
    if not path.exists():
        raise SourceError(f"evidence item {item}: the source {display_path(path)} is no longer there",
                          hint="reconnect the evidence (same path), then rerun")
    try:
        if row.format in ("directory", "itunes"):     # a folder (an iTunes/Finder backup is one)
            with os.scandir(path) as entries:
                next(entries, None)
        else:
            with open(path, "rb") as fh:
                fh.read(1)
    except OSError as exc:
        raise SourceError(f"evidence item {item}: the source {display_path(path)} cannot be read: "
                          f"{exc.strerror or exc}",
                          hint="check the drive and the file's permissions, then rerun") from exc


def _previous_message(case: Case, item: str, previous: dict, force: bool) -> str:
    """What the examiner is told when the item's last triage did not finish."""
    if previous.get("action") == "triage.interrupted":
        d = previous.get("details") or {}
        head = (f"the previous triage of {esc(item)} was interrupted at {esc(previous.get('at'))} "
                f"({esc(previous.get('reason') or 'no reason recorded')}; "
                f"{d.get('files_recorded', 0):,} files recorded)")
    else:
        head = (f"the previous triage of {esc(item)}, started at {esc(previous.get('at'))}, never "
                "recorded an end (the process was killed, or the machine stopped)")
    if force:
        return head + "; redoing it from the start (--force)"
    stored = store_triage.count_files(case.db, item)
    if not stored:
        return head + "; redoing it"
    return head + f"; redoing it: the {stored:,} entries it stored are kept, the rest is read now"


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is: the triage stops cleanly and records that it did."""
    signal_name = "SIGTERM"


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


@contextmanager
def _sigterm_interrupts():
    """While triaging, SIGTERM raises :class:`Terminated` (the command ends with 130)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old if old is not None else signal.SIG_DFL)


def _check_zone(zone: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(f"unknown time zone {zone!r}", hint="use an IANA name such as Europe/Madrid") from exc


def signal_key_options(key: str | None, config: Path | None, password_file: Path | None) -> tuple[dict, dict]:
    """The Signal Desktop key given (``--signal-key``, or read/unsealed from ``--signal-config``)
    as extractor options, and what custody records of it: its SHA-256 and where it came from."""
    if key is None and config is None:
        if password_file is not None:
            raise UsageError("--signal-password-file unseals --signal-config's encryptedKey",
                             hint="give the copy of Signal's config.json with --signal-config")
        return {}, {}
    if key is not None and config is not None:
        raise UsageError("give either --signal-key or --signal-config", hint="the key, or the config.json holding it")
    import hashlib

    from forensic.extractors.chat.signal_desktop import KEY_OPTION, key_from_config
    if config is not None:
        password = _read_password(password_file) if password_file else None
        try:
            key, how = key_from_config(config.read_bytes(), password)
        except (OSError, ValueError) as exc:
            raise UsageError(f"no Signal Desktop key from {config}: {exc}",
                             hint="give --signal-key HEX, or --signal-password-file with the safeStorage "
                                  "password") from None
        info(f"Signal Desktop key from {esc(str(config))}: {esc(how)}")
    else:
        how = "--signal-key"
    key = (key or "").strip().lower()
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise UsageError("the Signal Desktop key is not 64 hexadecimal digits",
                         hint="config.json's 'key' (or its encryptedKey unsealed) is 64 hex digits")
    return {KEY_OPTION: key}, {"signal_key_sha256": hashlib.sha256(key.encode("ascii")).hexdigest(),
                               "signal_key_from": how}


def _intake_password(row: Item) -> bytes | None:
    pf = row.details.get("password_file")
    if pf and Path(pf).is_file():
        return _read_password(Path(pf))
    return None


def _read_password(path: Path) -> bytes:
    from forensic.intake import read_password     # loaded only when a password is read
    return read_password(path)


def _progress(label: str, total: int | None):
    """The progress display, or none at all (no per-file calls) when it would not show."""
    if not progress_enabled():
        return nullcontext(None)
    from forensic.cli.progress import triage_progress
    return triage_progress(label, total)



COMMANDS = [triage]
