"""``forensic tag ...``, ``forensic export``, ``forensic verify-bundle``: court bundles."""
from __future__ import annotations

import os

from pathlib import Path

import click

from forensic.chain_of_custody.hooks import preflight, record
from forensic.chain_of_custody.signing import PublicKey, signer_from_env
from forensic.cli import exit_codes
from forensic.cli.common import json_option, with_case
from forensic.cli.console import emit_json, emit_jsonl, err, esc, info, safe, warn
from forensic.cli.console import verdict as show_verdict
from forensic.case import Case
from forensic.outputs import check_output, create_new, current_cases
from forensic.errors import UsageError
from forensic.intake import read_password


@click.group()
def tag() -> None:
    """Mark files, photos, messages or conversations for export."""


def _actor(case: Case, examiner: str | None) -> str:
    return examiner or case.examiner


@tag.command("add")
@click.argument("targets", nargs=-1)
@click.option("--tag", "name", required=True, help="Tag name (e.g. 'for-court').")
@click.option("--note", default=None, help="Why it matters (kept with the tag, shown in the report).")
@click.option("--sensitive", is_flag=True,
              help="Withhold the content from bundles unless exported with --include-sensitive.")
@click.option("--item", default=None, help="Only in this evidence item.")
@click.option("--conversation", default=None, help="Every message of this conversation (id or title).")
@click.option("--from", "from_at", default=None,
              help="Messages/photos/videos at or after this time (ISO 8601; UTC if no zone).")
@click.option("--to", "to_at", default=None, help="Messages/photos/videos at or before this time.")
@click.option("--geotagged", is_flag=True,
              help="Photos and videos with a valid GPS position (and messages with a location).")
@click.option("--examiner", default=None, help="Who tags (default: the case's examiner).")
@json_option
@with_case
def tag_add(case: Case, targets: tuple[str, ...], name: str, note: str | None, sensitive: bool, item: str | None,
            conversation: str | None, from_at: str | None, to_at: str | None, geotagged: bool,
            examiner: str | None, as_json: bool) -> int:
    """Tag TARGETs (locators, SHA-256 values, message:ID, search-hit:ID) and/or what a query finds."""
    from forensic.exporters.selection import add_tags, find_targets, log_tags
    preflight(case, None, None)           # tags are recorded in the custody log
    if not targets and not (conversation or from_at or to_at or geotagged):
        raise UsageError("nothing to tag", hint="give TARGETs or a query (--conversation, --from/--to, --geotagged)")
    found = find_targets(case, targets, item=item, conversation=conversation, from_at=from_at, to_at=to_at,
                         geotagged=geotagged)
    if not found:
        raise UsageError("the query matched nothing")
    rows = add_tags(case, found, name, note, sensitive, _actor(case, examiner))
    log_tags(case, rows, name, sensitive, note, _actor(case, examiner))
    if as_json:
        emit_jsonl(rows)
    else:
        for r in rows:
            click.echo(safe(f"{r['kind']:12} {r['item']}  {r['label']}"))
    info(f"tagged {len(rows)} target(s) [bold]{esc(name)}[/bold]" + (" (sensitive)" if sensitive else ""))
    return exit_codes.OK


@tag.command("list")
@click.option("--tag", "name", default=None, help="Only this tag.")
@json_option
@with_case
def tag_list(case: Case, name: str | None, as_json: bool) -> int:
    """List the tags."""
    from forensic.exporters.selection import list_tags
    rows = list_tags(case, name)
    if as_json:
        emit_jsonl(rows)
    else:
        for r in rows:
            click.echo(safe(f"{r['tag']:16} {r['kind']:12} {r['item']}  {r['ref']}")
                       + ("  [sensitive]" if r["sensitive"] else ""))
    return exit_codes.OK


@tag.command("remove")
@click.argument("targets", nargs=-1, required=True)
@click.option("--tag", "name", required=True, help="Tag to remove.")
@click.option("--item", default=None, help="Only in this evidence item.")
@json_option
@with_case
def tag_remove(case: Case, targets: tuple[str, ...], name: str, item: str | None, as_json: bool) -> int:
    """Remove a tag from TARGETs."""
    from forensic.exporters.selection import find_targets, remove_tags
    preflight(case, None, None)           # the removal is recorded in the custody log
    found = find_targets(case, targets, item=item)
    n = remove_tags(case, found, name)
    if n:
        record(case, "tag.removed", {"case": case.case_id},
               details={"tag": name, "removed": n, "targets": list(targets), "item": item})
    if as_json:
        emit_json({"removed": n})
    info(f"removed {n} tag(s)")
    return exit_codes.OK


@click.command("export")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The bundle to write (BUNDLE.zip).")
@click.option("--tag", "tags", multiple=True, help="Export what carries this tag; repeatable.")
@click.option("--item", "items", multiple=True, help="Only (or all of) this evidence item; repeatable.")
@click.option("--type", "types", multiple=True, type=click.Choice(["photos", "messages", "files"]),
              help="Only these record types; repeatable (photos: videos too).")
@click.option("--from", "from_at", default=None, help="Only what is dated at or after this time (ISO 8601).")
@click.option("--to", "to_at", default=None, help="Only what is dated at or before this time.")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Encrypt the ZIP (AES-256) with the password on this file's first line.")
@click.option("--generate-password", is_flag=True,
              help="Encrypt with a new random passphrase, printed once on stderr (never stored).")
@click.option("--password-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --generate-password: write the passphrase to this file (mode 0600) instead of "
                   "printing it, to hand over by a separate channel.")
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Examiner key that signs the bundle (else $FORENSIC_KEY; none: unsigned).")
@click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
              help="File whose first line is the key's passphrase (else $FORENSIC_KEY_PASSPHRASE).")
@click.option("--hide-names", is_flag=True,
              help="Store the bag as one inner archive so no file name shows without the password.")
@click.option("--include-sensitive", is_flag=True, help="Include the content of items tagged --sensitive (logged).")
@click.option("--show-known-good", is_flag=True,
              help="Show photos in a known-good hash set in the report's gallery too (left out by default).")
@click.option("--full-custody", is_flag=True, help="Include the whole custody log, not only the entries that concern "
                                                   "the exported items.")
@click.option("--recipient", default=None, help="Who the bundle is for (recorded in the custody log).")
@click.option("--custody-size", type=click.IntRange(min=1), default=None,
              help="Pin the custody checkpoint of this tree size (to rebuild an earlier bundle byte for byte).")
@click.option("--evidence-password-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Password of an encrypted evidence container (as at intake).")
@click.option("--examiner", default=None, help="Who exports (default: the key's name, else the case's examiner).")
@click.option("--no-pdf", is_flag=True,
              help="Leave out the report's PDF (data/report/report.pdf), e.g. where WeasyPrint's system libraries "
                   "(Pango) are missing: without this option such an export stops before writing anything.")
@click.option("--pseudonymise", is_flag=True,
              help="Replace the names, numbers, e-mail addresses and user ids of persons marked victim or witness "
                   "('forensic person mark') by pseudonyms (Victim-A); files naming them are withheld. The key "
                   "goes to BUNDLE.zip.pseudonyms.key beside the bundle, encrypted with a passphrase.")
@click.option("--pseudonym-passphrase-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --pseudonymise: the file whose first line is the passphrase that encrypts the pseudonyms' "
                   "key (else asked on the terminal).")
@json_option
@with_case
def export(case: Case, out: Path, tags, items, types, from_at, to_at, password_file, generate_password,
           password_out, key_path,
           passphrase_file, hide_names, include_sensitive, full_custody, recipient, custody_size,
           evidence_password_file, examiner, no_pdf, pseudonymise, pseudonym_passphrase_file, as_json,
           show_known_good=False) -> int:
    """Export the selection as one signed, verifiable bundle (ZIP holding a BagIt bag)."""
    from forensic.exporters.bundle import ExportOptions, export_bundle, generate_password as gen, log_export
    from forensic.exporters.selection import SelectionSpec
    if password_file and generate_password:
        raise UsageError("give --password-file or --generate-password, not both")
    password = None
    generated = None
    if password_file:
        password = read_password(password_file)
        if not password:
            raise UsageError(f"the password file {password_file} is empty")
    elif generate_password:
        generated = gen()
        password = generated.encode("ascii")
    if password_out is not None:
        check_output(password_out, case, option="--password-out")
        if password_out.exists() or password_out.is_symlink():
            raise UsageError(f"--password-out {password_out} already exists",
                             hint="a passphrase file is always new: remove it or choose another name")
    pseudonym_passphrase = None
    if pseudonymise:
        from forensic.cli.commands.person import pseudonym_passphrase as ask_passphrase
        pseudonym_passphrase = ask_passphrase(pseudonym_passphrase_file, confirm=True)
    elif pseudonym_passphrase_file is not None:
        raise UsageError("--pseudonym-passphrase-file goes with --pseudonymise")
    signer = signer_from_env(key_path, passphrase_file)
    actor = examiner or (signer.name if signer and signer.name else None) or case.examiner
    spec = SelectionSpec(tuple(tags), tuple(items), tuple(types), from_at, to_at, include_sensitive, show_known_good)
    opts = ExportOptions(out=out, spec=spec, password=password, signer=signer, hide_names=hide_names,
                         full_custody=full_custody, recipient=recipient, actor=actor, custody_size=custody_size,
                         evidence_password=read_password(evidence_password_file), pdf=not no_pdf,
                         pseudonymise=pseudonymise, pseudonym_passphrase=pseudonym_passphrase)
    if generated is not None and password_out is not None:
        # taken before the bundle is written: a second export to the same names is refused here,
        # before it can replace this bundle and leave one password for the other's bundle
        with os.fdopen(create_new(password_out, 0o600), "w") as fh:
            fh.write(generated + "\n")
    try:
        summary = export_bundle(case, opts)
    except BaseException:
        if generated is not None and password_out is not None:
            password_out.unlink(missing_ok=True)
        raise
    cp = log_export(case, summary, spec, recipient, signer, actor)
    summary["custody_logged"] = cp.tree_size if cp is not None else None
    if generated is not None and password_out is not None:
        info(f"bundle password written to {esc(password_out)} (mode 0600); hand it over separately")
    elif generated is not None:
        err.print(f"[bold]bundle password (shown once, not stored anywhere):[/bold] {generated}")
    if as_json:
        emit_json(summary)
    else:
        click.echo(f"{summary['bundle']}  sha256 {summary['sha256']}")
    sources = summary.get("message_sources")
    sources_said = f" ({sources} of them the files the messages were read from)" if sources else ""
    info(f"{summary['files']} file(s){sources_said}, "
         f"{summary['bytes']:,} bytes, {summary['withheld']} withheld"
         + (f", {summary['not_recoverable']} not recoverable" if summary.get("not_recoverable") else "") + "; "
         f"{'signed' if summary['signed'] else 'unsigned'}"
         f"{', encrypted' if summary['encrypted'] else ''}{', names hidden' if summary['hide_names'] else ''}")
    if include_sensitive:
        warn("sensitive items were included (recorded in the custody log)")
    if summary.get("pseudonymised"):
        info(f"pseudonymised: {', '.join(summary['pseudonyms']['pseudonyms'])}; the key (encrypted) is "
             f"{esc(summary['pseudonym_key'])}: keep it apart from the bundle")
    return exit_codes.OK


@click.command("verify-bundle")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Password of an encrypted bundle (first line); the bundle must then be encrypted.")
@click.option("--pubkey", type=click.Path(dir_okay=False, path_type=Path),
              help="The examiner's public key (.pub), obtained separately from the bundle. Without it the "
                   "key inside the bundle is used, and the bundle is at best intact with its signer "
                   "unconfirmed (exit 5).")
@click.option("--extract", "extract_to", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="When the bundle verifies against --pubkey, extract its bag into this new folder (no "
                   "7-Zip needed for encrypted bundles); nothing is extracted from a bundle that does not.")
@click.option("--case", "case_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --extract: the case open now, whose evidence and store the folder must neither "
                   "be in nor hold (default: $FORENSIC_CASE and the current folder, when they are cases).")
@json_option
def verify_bundle(bundle: Path, password_file: Path | None, pubkey: Path | None, extract_to: Path | None,
                  case_dir: Path | None, as_json: bool) -> int:
    """Check a bundle on its own: ZIP, BagIt manifests, signature, custody excerpt, and that every
    hash it states agrees. Exit 0 verified against --pubkey, 5 intact but its signer not
    confirmed (no --pubkey), 4 not verified."""
    from forensic.exporters.verify import extract_bundle, verify_bundle as run, verdict
    if extract_to is not None:
        with current_cases(case_dir) as cases:
            check_output(extract_to, cases=tuple(cases), option="--extract", folder=True)
    key = PublicKey.load(pubkey) if pubkey else None
    password = read_password(password_file)
    report = run(bundle, password, key)
    sentences = verdict(report)
    if as_json:
        emit_json(report.to_dict())
        style = "green" if report.ok else "yellow" if report.intact else "red"
        for i, line in enumerate(sentences):
            info(f"[{style}]{esc(line)}[/{style}]" if i == 0 else esc(line))
    else:
        # The verdict, then one line per finding: "LABEL: sentence", on stdout in every mode.
        for i, line in enumerate(sentences):
            label, _, text = line.partition(": ")
            show_verdict(_finding_ok(report, i, label), label, text)
        for label in ("missing", "extra", "altered"):
            paths = getattr(report, label)
            if len(paths) > 5:                # the sentence names five: here are all
                for p in paths:
                    click.echo(f"{label}: {safe(p)}")
    if extract_to is not None:
        if report.ok:
            n = extract_bundle(bundle, password, extract_to)
            index = next(iter(sorted(extract_to.glob("**/data/report/index.html"))), None)
            info(f"extracted {n} files into {esc(extract_to)}" + (f"; the report: {esc(index)}" if index else ""))
        elif report.intact:
            err.print("[yellow]not extracted: the bundle is intact, but its signer is not confirmed; pass "
                      "--pubkey EXAMINER.pub (the examiner's key, obtained separately)[/yellow]")
        else:
            err.print("[red]not extracted: the bundle did not verify[/red]")
    if report.ok:
        return exit_codes.OK
    return exit_codes.KEY_NOT_CHECKED if report.intact else exit_codes.INTEGRITY_FAILURE


def _finding_ok(report, index: int, label: str) -> bool | None:
    """How a line of the bundle's verdict is shown: green when it vouches for the bundle,
    red when it is a defect, yellow when it is a caveat (intact but its signer unconfirmed or
    unsigned, a signature checked only with the key inside the bundle, no signature, no custody
    excerpt, packaging not stated)."""
    from forensic.exporters.verify import packaging_matches
    if index == 0:
        return True if report.ok else None if report.intact else False
    if label == "Signature":
        return {"valid": True if report.key_source == "given" else None, "invalid": False}.get(report.signature)
    if label == "Custody excerpt":
        return {"valid": True, "invalid": False}.get(report.custody)
    if label == "Packaging":
        return packaging_matches(report)
    return False


COMMANDS = [tag, export, verify_bundle]
