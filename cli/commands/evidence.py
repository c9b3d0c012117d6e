"""forensic evidence add|list|verify"""
from __future__ import annotations

from pathlib import Path

import click

from forensic.cli import exit_codes
from forensic.chain_of_custody.hooks import record
from forensic.cli.common import json_option, key_options, with_case
from forensic.cli.console import (compact, detail, emit_json, emit_jsonl, error, esc, info, stdout_is_terminal,
                                  table, verdict, warn)
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
              help="File whose first line is the password of an encrypted ZIP or iTunes/Finder backup, or the "
                   "key of a BitLocker (recovery password or password) or LUKS (passphrase) volume.")
@click.option("--signal-config", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A copy of the Signal Desktop config.json holding the key of the item's Signal database "
                   "(used by every triage of the item; see forensic triage --signal-config).")
@click.option("--signal-password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="File whose first line is Signal's safeStorage password, for --signal-config.")
@click.option("--delivered-by", default=None, help="Who delivered the evidence (recorded in the custody log).")
@click.option("--seizure", default=None, help="Seizure details (where, when, by whom; custody log).")
@click.option("--worker-path", default=None, metavar="PATH",
              help="Where a Dask cluster's workers open this source, when they mount the evidence "
                   "elsewhere (triage --cluster; a --path-map given there wins).")
@key_options
@json_option
@with_case
def add(case: Case, source: Path, item: str | None, description: str | None, password_file: Path | None,
        signal_config: Path | None, signal_password_file: Path | None,
        delivered_by: str | None, seizure: str | None, worker_path: str | None, key_path, passphrase_file,
        as_json: bool) -> int:
    """Add SOURCE (folder, iTunes/Finder backup folder, ZIP, TAR, raw/dd, split raw, E01, QCOW2, VMDK,
    VHD/VHDX, DMG, APFS or an
    encrypted BitLocker/LUKS volume) and hash all of it (SHA-256 and MD5).

    An E01's stored acquisition hashes are checked against its media: the verdict is printed
    (exit 4 when they differ). A source whose SHA-256 another item already has is added too,
    with a warning, and recorded as a duplicate."""
    password = read_password(password_file)
    if signal_config is not None or signal_password_file is not None:
        from forensic.cli.commands.triage import signal_key_options
        signal_key_options(None, signal_config, signal_password_file)     # a config that gives no key: said now
    total = source.stat().st_size if source.is_file() else None
    with byte_progress(f"hashing {source.name}", total) as advance:
        result = add_evidence(case, source, item, description, password, progress=advance,
                              extra={"delivered_by": delivered_by, "seizure": seizure, "worker_path": worker_path,
                                     "password_file": str(password_file) if password_file else None,
                                     **({"signal_config": str(signal_config.resolve())} if signal_config else {}),
                                     **({"signal_password_file": str(signal_password_file.resolve())}
                                        if signal_password_file else {})})
    _custody(case, "evidence.received", result,
             {"delivered_by": delivered_by, "seizure": seizure, "description": description,
              **({"worker_path": worker_path} if worker_path else {}),
              "duplicate_of": result["duplicate_of"] or None}, key_path, passphrase_file)
    if as_json:
        emit_json(result)
    else:
        info(f"added [bold]{esc(result['item'])}[/bold] ({result['format']}, {result['size']:,} bytes)")
        click.echo(f"sha256 {result['sha256']}\nmd5    {result['md5']}")
    if result["duplicate_of"]:
        others = ", ".join(result["duplicate_of"])
        warn(f"{esc(result['item'])} has the same SHA-256 as {esc(others)}, already in the case: "
             "it was added all the same, and recorded as a duplicate of "
             f"{'it' if len(result['duplicate_of']) == 1 else 'them'} in the custody log")
    for part in result.get("partitions") or []:
        detail(f"partition {part.get('number')}: {esc(part.get('description'))}, "
               f"{esc(part.get('file_system') or 'no file system found')}, "
               f"bytes {part.get('start')}+{part.get('length')}")
    for seg in result.get("segments") or []:
        detail(f"segment {esc(seg['name'])}: {seg['size']:,} bytes, sha256 {seg['sha256']}")
    if result.get("device"):
        info(f"device: {esc(describe_device(result['device']))}")
    for w in result.get("source_warnings", []):
        warn(esc(w))
    if result["format"] == "e01":
        _acquisition_verdict(result, as_json)
    if result["acquisition_hash_verified"] is False:
        return exit_codes.INTEGRITY_FAILURE
    return exit_codes.OK


def describe_device(device: dict) -> str:
    """One line of the device facts a phone backup records (model, iOS, serial, IMEI, ...)."""
    parts = [device.get("device_name"), device.get("model") or device.get("product_type")]
    if device.get("ios_version"):
        parts.append(f"iOS {device['ios_version']}")
    parts += [f"{label} {device[key]}" for key, label in (("serial", "serial"), ("imei", "IMEI"), ("udid", "UDID"),
                                                           ("last_backup", "last backup")) if device.get(key)]
    return ", ".join(str(p) for p in parts if p)


def _acquisition_verdict(result: dict, as_json: bool) -> None:
    """Whether the media matches the acquisition hashes stored in the E01: a verdict on
    stdout (in JSON, ``acquisition_hash_verified``; a mismatch is also said on stderr)."""
    stored = result["acquisition_hashes"] or {}
    names = ", ".join(f"{k.upper()} {v}" for k, v in sorted(stored.items()))
    verified = result["acquisition_hash_verified"]
    if as_json:
        if verified is False:
            error(f"the media of {esc(result['item'])} does not match the acquisition hashes stored "
                  f"in the E01 ({esc(names)})")
        return
    if verified:
        verdict(True, "VERIFIED", f"the acquisition hashes stored in the E01 ({names}) match the "
                                  f"media of {result['item']}")
    elif verified is False and result.get("checksum_errors") and result.get("acquisition_hash_match") is not False:
        # The stored hashes may still match (a damaged chunk that was all zeros reads as zeros):
        # the chunks' own checksums say the E01 is damaged.
        ranges = ", ".join(f"bytes {c['start']}-{c['end'] - 1}" for c in result["checksum_errors"][:5])
        more = len(result["checksum_errors"]) - 5
        verdict(False, "DAMAGED", f"{len(result['checksum_errors'])} chunk(s) of the E01 of {result['item']} "
                                  f"fail their checksums ({ranges}{f', and {more} more' if more > 0 else ''}): "
                                  "their bytes are not what was acquired")
    elif verified is False:
        verdict(False, "MISMATCH", f"the media of {result['item']} does not match the acquisition "
                                   f"hashes stored in the E01 ({names}): it changed after acquisition, "
                                   "or the E01 is damaged")
    else:
        verdict(None, "NOT CHECKED", f"the E01 stores no acquisition hash; {result['item']} is "
                                     "recorded with the hashes computed now")


def _custody(case: Case, action: str, result: dict, extra: dict, key_path, passphrase_file) -> None:
    details = {k: result.get(k) for k in ("format", "size", "md5", "acquisition_hashes",
                                          "acquisition_hash_verified", "source")}
    if result.get("checksum_errors"):
        details["checksum_errors"] = result["checksum_errors"]
    details.update({k: v for k, v in extra.items() if v is not None})
    record(case, action, {"item": result["item"]}, sha256=result.get("sha256"), details=details,
           key_path=key_path, passphrase_file=passphrase_file)


@evidence.command("list")
@json_option
@with_case
def list_(case: Case, as_json: bool) -> int:
    """List the case's evidence items: a table on a terminal, tab-separated lines in a pipe
    (item, format, size, SHA-256, triaged at), JSON Lines with --json."""
    rows = [item_json(r) for r in case.items()]
    if as_json:
        emit_jsonl(rows)
    elif stdout_is_terminal():
        from rich.filesize import decimal
        described = any(r["description"] for r in rows)
        table(["Item", "Format", "Size", "SHA-256", "Triaged (UTC)"] + (["Description"] if described else []),
              ([r["item"], r["format"], decimal(r["size"]), r["sha256"],
                r["triaged_at"][:16].replace("T", " ") if r["triaged_at"] else "not triaged"]
               + ([r["description"]] if described else []) for r in rows),
              no_wrap=("Item", "Format", "Size"))
    else:
        for r in rows:
            compact([r["item"], r["format"], r["size"], r["sha256"], r["triaged_at"] or "not triaged"])
    if not as_json:             # the device a backup came from, under the listing (stderr: not a data column)
        for r in rows:
            if r.get("device"):
                info(f"{esc(r['item'])}: device {esc(describe_device(r['device']))}")
    if not rows:
        info("the case has no evidence items yet; add one with 'forensic evidence add SOURCE'")
    return exit_codes.OK


@evidence.command("verify")
@click.argument("item")
@key_options
@json_option
@with_case
def verify(case: Case, item: str, key_path, passphrase_file, as_json: bool) -> int:
    """Re-hash ITEM's source and compare with the hashes recorded at intake. Exit 4 if not ok."""
    row = case.item(item)
    with byte_progress(f"re-hashing {item}", row.size) as advance:
        result = verify_evidence(case, item, progress=advance)
    _custody(case, "evidence.verified", {"item": item, "sha256": result["sha256"], "md5": result["md5"]},
             {"ok": result["ok"], "problem": result["problem"], "expected_sha256": result["expected_sha256"]},
             key_path, passphrase_file)
    if as_json:
        emit_json(result)
    elif result["ok"]:
        extra = ""
        if result.get("acquisition_hash_verified"):
            extra = "; its media still matches the acquisition hashes stored in the E01"
        elif result.get("acquisition_hash_verified") is False:
            extra = "; as at intake, its media does not match the acquisition hashes stored in the E01"
        verdict(True, "VERIFIED", f"{item} matches the hashes recorded at intake "
                                  f"(SHA-256 {result['sha256']}){extra}")
    else:
        verdict(False, "MISMATCH" if result["sha256"] else "NOT VERIFIED", f"{item}: {result['problem']}")
    return exit_codes.OK if result["ok"] else exit_codes.INTEGRITY_FAILURE


COMMANDS = [evidence]
