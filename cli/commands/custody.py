"""``forensic custody ...`` and ``forensic examiner ...``: the chain-of-custody commands."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from forensic.chain_of_custody import merkle
from forensic.chain_of_custody.entry import CustodyEntry
from forensic.chain_of_custody.log import (CHECKPOINTS_NAME, LOG_NAME, Checkpoint, CustodyLog,
                                  iter_lines, read_last_line)
from forensic.chain_of_custody.signing import (PublicKey, Signer, check_examiner_name, read_passphrase,
                                      signer_from_env, write_keypair)
from forensic.chain_of_custody.verify import verify_log
from forensic.chain_of_custody.hooks import pin_key, pinned
from forensic.chain_of_custody.pins import pinned_in_store
from forensic.cli import exit_codes
from forensic.cli.common import json_option, with_case
from forensic.cli.console import emit_json, err, esc, info, json_safe, safe, stdout_is_terminal, verdict, warn
from forensic.case import Case
from forensic.errors import IntegrityError, UsageError
from forensic.outputs import check_output, current_cases


def key_options(f):
    f = click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
                     help="File whose first line is the key's passphrase "
                          "(else $FORENSIC_KEY_PASSPHRASE).")(f)
    f = click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path),
                     help="Examiner key that signs the checkpoint (else $FORENSIC_KEY; "
                          "without one the checkpoint is unsigned).")(f)
    f = click.option("--examiner", help="Who is acting (default: the key's name, else the "
                                        "case's examiner).")(f)
    return f


def open_log(case: Case, key_path: Path | None, passphrase_file: Path | None,
             examiner: str | None) -> tuple[CustodyLog, str]:
    signer = signer_from_env(key_path, passphrase_file)
    actor = examiner or (signer.name if signer and signer.name else None) or case.examiner
    return CustodyLog(case.root, case.db, case.case_id, signer=signer, actor=actor), actor


def subject_for(case: Case, subject: str) -> tuple[dict, str | None]:
    """``case``, an evidence item name, or ``bundle:FILE`` (an exported bundle, hashed now)
    -> (subject object, sha256 of its bytes)."""
    if subject.startswith("bundle:"):
        path = Path(subject[len("bundle:"):])
        if not path.is_file():
            raise UsageError(f"no bundle at {path}", hint="give --subject bundle:PATH/TO/BUNDLE.zip")
        import hashlib
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        return {"bundle": path.name}, h.hexdigest()
    if subject in ("case", case.case_id):
        return {"case": case.case_id}, None
    row = case.item(subject)             # CaseError listing the items when unknown
    return {"item": row.item}, row.sha256


def _done(checkpoint: Checkpoint | None) -> None:
    if checkpoint is not None:
        signed = f"signed by {esc(checkpoint.signer)}" if checkpoint.signature else "unsigned"
        info(f"checkpoint: {checkpoint.tree_size} entries, root {checkpoint.root[:16]}…, {signed}")


@click.group()
def custody() -> None:
    """The case's tamper-evident chain-of-custody log."""


@custody.command("log")
@json_option
@click.option("--action", help="Only entries of this action (e.g. custody.transferred).")
@click.option("--from-seq", type=click.IntRange(min=0), default=0, help="First entry to show.")
@with_case
def log_cmd(case: Case, as_json: bool, action: str | None, from_seq: int) -> None:
    """List the entries (with --json: the stored lines, byte for byte; on a terminal with
    control and bidi characters escaped as \\uXXXX, still valid JSON)."""
    out = sys.stdout
    terminal = stdout_is_terminal()

    raw = None if terminal else getattr(out, "buffer", None)

    def stored(line: bytes) -> None:
        # In a pipe the stored bytes as they are (even a damaged line); on a terminal, what
        # would act on it (ESC, C1 controls, U+202E...) is shown as a JSON escape, which
        # means the same in a string.
        if raw is not None:
            out.flush()
            raw.write(line + b"\n")
        else:
            text = line.decode("utf-8", "replace")
            out.write((json_safe(text) if terminal else text) + "\n")

    for i, line in enumerate(iter_lines(case.root / LOG_NAME)):
        if i < from_seq:
            continue
        if as_json and action is None:
            stored(line)
            continue
        try:
            e = CustodyEntry.from_line(line)
        except (ValueError, KeyError, TypeError):
            warn(f"entry {i} is unreadable; run 'forensic custody verify'")
            continue
        if action is not None and e.action != action:
            continue
        if as_json:
            stored(line)
        else:
            subject = e.subject if isinstance(e.subject, str) else \
                " ".join(f"{k}={v}" for k, v in e.subject.items())
            fields = [str(e.seq), e.at, str(e.actor.get("name")), e.action, subject]
            if e.reason:
                fields.append(f"reason={e.reason}")
            out.write("  ".join(_printable(x) for x in fields) + "\n")
    out.flush()


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@custody.command("verify")
@json_option
@click.option("--pub", "pubs", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Trusted examiner public key (.pub); repeatable. With it, every checkpoint "
                   "must be signed by one of these keys.")
@click.option("--deep", is_flag=True,
              help="Also re-hash every file and record in the case store and compare each with "
                   "the hash the log gave it.")
@click.option("--evidence", is_flag=True,
              help="With --deep: also re-read every evidence item and compare its SHA-256 with "
                   "the log's evidence.received entry.")
@with_case
def verify_cmd(case: Case, as_json: bool, pubs: tuple[Path, ...], deep: bool, evidence: bool) -> int:
    """Re-verify the log: hash chain, Merkle roots, checkpoints, signatures. With --deep, the
    case store (and with --evidence, the evidence) against the log. Exit 4 if not ok."""
    if evidence and not deep:
        raise UsageError("--evidence goes with --deep", hint="forensic custody verify --deep --evidence")
    keys = [PublicKey.load(p) for p in pubs]
    report = verify_log(case.root, case.db, case_id=case.case_id, trusted_keys=keys)
    store = _deep(case, evidence) if deep else None
    signatures = (f"{report.signatures_verified} signatures verified, "
                  f"{report.unsigned_checkpoints} unsigned")
    if as_json:
        emit_json({**report.to_dict(), **({"deep": store.to_dict()} if store is not None else {})})
    elif report.ok:
        verdict(True, "VERIFIED", f"the custody log of case {case.case_id} is intact: {report.entries} "
                                  f"entries, {report.checkpoints} checkpoints ({signatures})")
        # Signatures prove which key signed, not whose it is: say which keys, so they can be
        # compared with what the examiners gave (or checked with --pub).
        for signer in report.signers:
            click.echo(f"signed by: {_printable(signer)}")
        if report.signers and not keys:
            info("[dim]compare these fingerprints with those the examiners gave you, or verify with "
                 "--pub EXAMINER.pub[/dim]")
    else:
        verdict(False, "NOT VERIFIED", f"the custody log of case {case.case_id} does not verify: "
                                       f"{report.problem} (first bad entry: {report.first_bad_seq})")
    if not as_json:
        click.echo(f"entries: {report.entries}")
        click.echo(f"checkpoints: {report.checkpoints} ({signatures})")
        if report.root:
            click.echo(f"latest checkpoint: {report.tree_size} entries, root {report.root}")
        if not report.ok:
            click.echo(f"first bad entry: {report.first_bad_seq}")
            click.echo(f"problem: {_printable(report.problem or '')}")
    for w in report.warnings:
        warn(esc(w))
    if store is not None and not as_json:
        _deep_lines(store)
    if not report.ok:
        if as_json:
            err.print(f"[red]custody log does not verify:[/red] {esc(report.problem)}")
        return exit_codes.INTEGRITY_FAILURE
    if store is not None and not store.ok:
        if as_json:
            err.print("[red]the case store does not match the custody log[/red]")
        return exit_codes.INTEGRITY_FAILURE
    return exit_codes.OK


def _deep(case: Case, evidence: bool):
    from forensic.chain_of_custody.deep import deep_verify
    from forensic.intake import hash_source

    def hash_evidence(row) -> str:
        if not row.source.exists():
            raise OSError(f"the source {row.source} is no longer there")
        return hash_source(row.source, row.format).sha256
    return deep_verify(case, evidence=evidence, hash_evidence=hash_evidence)


def _deep_lines(store) -> None:
    """The --deep verdict and each mismatch, one line each (data on stdout)."""
    checked = f"{store.files_checked} files, {store.records_checked} records"
    if store.evidence_checked:
        checked += f", {store.evidence_checked} evidence items"
    if store.ok:
        verdict(True, "STORE MATCHES", f"{checked} checked against the custody log")
    else:
        problems = ", ".join(f"{n} {kind}" for kind, n in sorted(store.counts.items()))
        verdict(False, "STORE DOES NOT MATCH", f"{checked} checked against the custody log: {problems}")
    for m in store.mismatches:
        where = f" (seq {m['seq']})" if m.get("seq") is not None else ""
        click.echo(f"{m['problem']}: {_printable(m['what'])}{where}")
    listed = len(store.mismatches)
    total = sum(store.counts.values())
    if total > listed:
        click.echo(f"... and {total - listed} more (all are counted above)")
    for note in store.notes:
        info(esc(note))


@custody.command("prove")
@click.argument("seq", type=click.IntRange(min=0))
@json_option
@with_case
def prove_cmd(case: Case, seq: int, as_json: bool) -> None:
    """Inclusion proof of entry SEQ against the latest checkpoint (RFC 9162)."""
    line, _, _ = read_last_line(case.root / CHECKPOINTS_NAME)
    if line is None:
        raise UsageError("the custody log has no checkpoint yet")
    cp = Checkpoint.from_line(line)
    if seq >= cp.tree_size:
        raise UsageError(f"entry {seq} is not covered by the latest checkpoint "
                         f"({cp.tree_size} entries)", hint="entries are checkpointed at the end "
                                                           "of the command that recorded them")
    left = merkle.CompactRange(0)
    right = merkle.CompactRange(seq + 1)
    leaf = None
    for i, entry_line in enumerate(iter_lines(case.root / LOG_NAME)):
        if i >= cp.tree_size:
            break
        h = merkle.leaf_hash(entry_line)
        if i < seq:
            left.append(h)
        elif i == seq:
            leaf = h
        else:
            right.append(h)
    if leaf is None or right.end != cp.tree_size:
        raise IntegrityError("the log is shorter than its checkpoint",
                             hint="run 'forensic custody verify'")
    index = merkle.PieceIndex(left.pieces, [(seq, 1, leaf)], right.pieces)
    proof = merkle.inclusion_proof(seq, cp.tree_size, index.node)
    if not merkle.verify_inclusion(seq, cp.tree_size, leaf, proof, bytes.fromhex(cp.root)):
        raise IntegrityError("the log does not match its latest checkpoint",
                             hint="run 'forensic custody verify'")
    result = {"seq": seq, "leaf_hash": leaf.hex(), "tree_size": cp.tree_size, "root": cp.root,
              "proof": [p.hex() for p in proof], "checkpoint_at": cp.at,
              "checkpoint_signed": cp.signature is not None}
    if as_json:
        emit_json(result)
    else:
        for key, value in result.items():
            if key == "proof":
                click.echo("proof:")
                for p in value:
                    click.echo(f"  {p}")
            else:
                click.echo(f"{key}: {value}")


@custody.command("transfer")
@click.option("--to", "to", required=True, help="Who receives custody.")
@click.option("--reason", required=True, help="Why custody passes (recorded verbatim).")
@click.option("--subject", "subjects", multiple=True, required=True,
              help="'case', an evidence item, or bundle:FILE (an exported bundle); repeatable.")
@key_options
@json_option
@with_case
def transfer_cmd(case: Case, to: str, reason: str, subjects: tuple[str, ...],
                 key_path: Path | None, passphrase_file: Path | None, examiner: str | None,
                 as_json: bool) -> None:
    """Record that custody of SUBJECTs passes to another person."""
    if not to.strip() or not reason.strip():
        raise UsageError("--to and --reason must not be empty")
    resolved = [subject_for(case, s) for s in subjects]
    log, actor = open_log(case, key_path, passphrase_file, examiner)
    with log:
        for subject, digest in resolved:
            log.append("custody.transferred", subject, actor=actor, sha256=digest,
                       details={"from": actor, "to": to}, reason=reason)
        cp = log.commit()
    _report(cp, as_json, len(resolved))


@custody.command("note")
@click.argument("text")
@click.option("--subject", default="case", show_default=True,
              help="'case' or an evidence item.")
@key_options
@json_option
@with_case
def note_cmd(case: Case, text: str, subject: str, key_path: Path | None,
             passphrase_file: Path | None, examiner: str | None, as_json: bool) -> None:
    """Record a free note."""
    subj, digest = subject_for(case, subject)
    log, actor = open_log(case, key_path, passphrase_file, examiner)
    with log:
        log.append("custody.note", subj, actor=actor, sha256=digest, details={"text": text})
        cp = log.commit()
    _report(cp, as_json, 1)


@custody.command("repair")
@click.option("--reason", help="Why (recorded in the repair entry).")
@key_options
@json_option
@with_case
def repair_cmd(case: Case, reason: str | None, key_path: Path | None,
               passphrase_file: Path | None, examiner: str | None, as_json: bool) -> None:
    """Move a torn last line (an interrupted write) into quarantine and record that.

    Never rewrites history: damage anywhere else is refused (see 'forensic custody verify')."""
    log, actor = open_log(case, key_path, passphrase_file, examiner)
    with log:
        result = log.repair(actor=actor, reason=reason)
    if as_json:
        emit_json(result)
    elif result["repaired"]:
        for m in result["repaired"]:
            what = f"{m['entries']} entries no checkpoint covered (entries {m['first_seq']}-{m['last_seq']})" \
                if m.get("entries") else f"{m['bytes']} torn bytes"
            click.echo(f"moved {what} of {m['file']} to {m['quarantine']} (sha256 {m['sha256']})")
    else:
        click.echo("nothing to repair")


def _report(cp: Checkpoint | None, as_json: bool, recorded: int) -> None:
    if as_json:
        emit_json({"recorded": recorded, "tree_size": cp.tree_size if cp else 0,
                   "root": cp.root if cp else None,
                   "signed": bool(cp and cp.signature)})
    _done(cp)


@click.group()
def examiner() -> None:
    """Examiner signing keys."""


@examiner.command("add")
@click.argument("public_key", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", default=None, help="The examiner the key belongs to (default: the .pub file's name).")
@click.option("--reason", default=None, help="Why the key is added (recorded).")
@key_options
@json_option
@with_case
def add_cmd(case: Case, public_key: Path, name: str | None, reason: str | None, key_path: Path | None,
            passphrase_file: Path | None, examiner: str | None, as_json: bool) -> None:
    """Pin PUBLIC_KEY (NAME.pub) as a key that may sign this case's custody log.

    A signed entry, made with a key already pinned (--key): a new key is an event in the log,
    never a silent change. On a case with no pinned key yet, the first pin starts the rule
    that every later command is signed by a pinned key."""
    key = PublicKey.load(public_key)
    name = name or public_key.stem
    check_examiner_name(name)
    if key.raw in pinned_in_store(case.db):
        raise UsageError(f"key {key.id_text} is already pinned in this case")
    log, actor = open_log(case, key_path, passphrase_file, examiner)
    if log.signer is None:
        raise UsageError("pinning a key is a signed act: give --key (a key already pinned in this case, "
                         "or, for the first pin, any examiner key)")
    with log:
        pin_key(log, name, key)
        if reason:
            log.append("custody.note", {"case": case.case_id}, actor=actor,
                       details={"text": f"key {key.id_text} of {name} pinned: {reason}"})
        cp = log.commit()
    pinned(case, name, key)
    result = {"examiner": name, "key_id": key.id_text, "fingerprint": key.fingerprint,
              "pinned_by": log.signer.public.id_text, "tree_size": cp.tree_size if cp else 0}
    if as_json:
        emit_json(result)
    else:
        verdict(True, "PINNED", f"key {key.id_text} of {name} (fingerprint {key.fingerprint}) may "
                                 "now sign this case's custody log")
    _done(cp)


@examiner.command("keygen")
@click.argument("name")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("."), show_default=True, help="Folder for NAME.key and NAME.pub.")
@click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Protect the private key with the passphrase on this file's first line "
                   "(else $FORENSIC_KEY_PASSPHRASE; neither: unprotected).")
@click.option("--case", "case_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The case open now: the keys are never written into its evidence or store "
                   "(default: $FORENSIC_CASE and the current folder, when they are cases).")
@json_option
def keygen_cmd(name: str, out_dir: Path, passphrase_file: Path | None, case_dir: Path | None,
               as_json: bool) -> None:
    """Create an Ed25519 key pair: NAME.key (private, 0600) and NAME.pub (minisign format)."""
    check_examiner_name(name)
    with current_cases(case_dir) as cases:
        for path in (out_dir, out_dir / f"{name}.key", out_dir / f"{name}.pub"):
            check_output(path, cases=tuple(cases))
    passphrase = read_passphrase(passphrase_file)
    signer = Signer.generate(name)
    key_path, pub_path = write_keypair(signer, out_dir, passphrase)
    result = {"name": name, "key_id": signer.key_id, "fingerprint": signer.fingerprint,
              "private_key": str(key_path), "public_key": str(pub_path),
              "passphrase_protected": passphrase is not None}
    if as_json:
        emit_json(result)
    else:
        click.echo(f"private key: {safe(key_path)}")
        click.echo(f"public key:  {safe(pub_path)}")
        click.echo(f"key id:      {signer.key_id}")
        click.echo(f"fingerprint: {signer.fingerprint}")
    if passphrase is None:
        info("[yellow]the private key is not passphrase-protected[/yellow]")
    info(f"sign with --key {esc(key_path)} or export FORENSIC_KEY={esc(os.fspath(key_path))}")


COMMANDS = [custody, examiner]
