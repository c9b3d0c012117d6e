"""``forensic person mark|unmark|list|reveal``: the persons the examiner marks as victim,
witness or suspect, and the key of a pseudonymised export.

A person is an identity as ``forensic contacts`` and ``forensic messages`` show them
(:mod:`forensic.store.people`: one identity per person across apps), named by its identity
id, a phone number, an e-mail address, a WhatsApp jid or a user id. Every mark and unmark
is a custody entry (``person.marked``, ``person.unmarked``: the identity, the role, the
note), signed like ``forensic tag add``'s. ``forensic export --pseudonymise`` replaces the
victims and witnesses by pseudonyms (:mod:`forensic.exporters.pseudonyms`).
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from forensic.case import Case
from forensic.chain_of_custody.hooks import preflight, record
from forensic.cli import exit_codes
from forensic.cli.common import json_option, with_case
from forensic.cli.console import emit_json, emit_jsonl, esc, info, safe
from forensic.errors import UsageError
from forensic.intake import read_password
from forensic.store import items as store_items
from forensic.store import people as store_people
from forensic.timestamps import iso_utc, now_utc



def pseudonym_passphrase(path: Path | None, confirm: bool) -> bytes:
    """The passphrase of a pseudonym key: the first line of ``path``, else asked on the
    terminal (twice when ``confirm``)."""
    if path is not None:
        got = read_password(path)
        if not got:
            raise UsageError(f"the passphrase file {path} is empty")
        return got
    if not sys.stdin.isatty():
        raise UsageError("the pseudonym key needs a passphrase",
                         hint="give --pseudonym-passphrase-file FILE (or run on a terminal to be asked)")
    text = click.prompt("Passphrase of the pseudonym key", hide_input=True, confirmation_prompt=confirm,
                        err=True)
    return str(text).encode("utf-8")


def _row(r: store_people.PersonRole, rank: int, ident: store_people.Identity | None) -> dict:
    pseudonym = None
    if r.role in ("victim", "witness"):
        from forensic.exporters.pseudonyms import letters
        pseudonym = f"{r.role.capitalize()}-{letters(rank)}"
    return {"identity": r.identity, "role": r.role, "name": ident.name if ident is not None else None,
            "pseudonym": pseudonym, "note": r.note, "given": r.given, "marked_at": r.at, "by": r.by,
            "in_contacts": ident is not None}


def _find(case: Case, value: str) -> tuple[str, store_people.Identity | None]:
    found = store_people.people(case.db, store_items.ids(case.db))
    got = store_people.identity_key(found, value, case.db)
    if got is None:
        raise UsageError(f"{value!r} names no person of the case",
                         hint="give an identity id or number as 'forensic contacts' shows it (+31612345678), an "
                              "e-mail address, a WhatsApp jid, a user id, or a name as a contact or a chat's "
                              "sender gives it")
    return got


def mark_person(case: Case, identity: str, role: str, note: str | None, actor: str | None
                ) -> tuple[store_people.PersonRole, str, store_people.Identity | None]:
    """Mark the person ``identity`` names with ``role``: the custody preflight, the row, the
    signed ``person.marked`` entry (``person mark`` and ``forensic serve`` both run this).
    Returns the row, the identity's key and the identity (None when no contact holds it)."""
    preflight(case, None, None)           # the mark is recorded in the custody log
    key, ident = _find(case, identity)
    with case.transaction() as db:
        row = store_people.mark(db, key, role, note, identity, iso_utc(now_utc()), actor)
    record(case, "person.marked", {"person": key}, details={"role": role, "note": note, "given": identity},
           examiner=actor)
    return row, key, ident


@click.group()
def person() -> None:
    """Mark persons as victim, witness or suspect (for pseudonymised exports)."""


@person.command("mark")
@click.argument("identity")
@click.option("--role", required=True, type=click.Choice(store_people.ROLES), help="What the person is to the case.")
@click.option("--note", default=None, help="Why (kept with the mark, in the custody log).")
@click.option("--examiner", default=None, help="Who marks (default: the case's examiner).")
@json_option
@with_case
def person_mark(case: Case, identity: str, role: str, note: str | None, examiner: str | None, as_json: bool) -> int:
    """Mark the person IDENTITY (an identity id, an E.164 number, an e-mail address, a user id,
    or a name as a contact or a chat's sender gives it) with --role. Victims and witnesses get
    a pseudonym in exports with --pseudonymise, in the order they were first marked (Victim-A,
    Witness-B)."""
    actor = examiner or case.examiner
    row, key, ident = mark_person(case, identity, role, note, actor)
    everyone = store_people.roles(case.db, marked_only=False)
    rank = next(i for i, r in enumerate(everyone) if r.identity == key)
    out = _row(row, rank, ident)
    if as_json:
        emit_json(out)
    else:
        click.echo(safe(f"{key}  {role}" + (f"  {out['pseudonym']}" if out["pseudonym"] else "")))
    if ident is None:
        info(f"{esc(key)} is in no contact list of the case: only this value is replaced in pseudonymised exports")
    info(f"marked {esc(out['name'] or key)} as {role}")
    return exit_codes.OK


@person.command("unmark")
@click.argument("identity")
@click.option("--examiner", default=None, help="Who unmarks (default: the case's examiner).")
@json_option
@with_case
def person_unmark(case: Case, identity: str, examiner: str | None, as_json: bool) -> int:
    """Take the role off the person IDENTITY (its pseudonym's letter stays reserved)."""
    preflight(case, None, None)
    key, _ = _find(case, identity)
    actor = examiner or case.examiner
    with case.transaction() as db:
        was = store_people.unmark(db, key, iso_utc(now_utc()), actor)
    if was is None:
        raise UsageError(f"{identity} is not marked", hint="see 'forensic person list'")
    record(case, "person.unmarked", {"person": key}, details={"role": was.role, "given": identity}, examiner=actor)
    if as_json:
        emit_json({"identity": key, "role": None, "was": was.role})
    info(f"unmarked {esc(key)} (was {was.role})")
    return exit_codes.OK


@person.command("list")
@json_option
@with_case
def person_list(case: Case, as_json: bool) -> int:
    """List the marked persons, in the order they were first marked."""
    found = store_people.people(case.db, store_items.ids(case.db))
    everyone = store_people.roles(case.db, marked_only=False)
    rows = [_row(r, i, found.identity(r.identity)) for i, r in enumerate(everyone) if r.role is not None]
    if as_json:
        emit_jsonl(rows)
    else:
        for r in rows:
            click.echo(safe(f"{r['role']:8} {r['pseudonym'] or '-':10} {r['identity']}  {r['name'] or '-'}"
                            + (f"  ({r['note']})" if r["note"] else "")))
    info(f"{len(rows)} person(s) marked")
    return exit_codes.OK


@person.command("reveal")
@click.argument("keyfile", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The file whose first line is the key's passphrase (else asked on the terminal).")
@json_option
def person_reveal(keyfile: Path, passphrase_file: Path | None, as_json: bool) -> int:
    """Decrypt a pseudonymised bundle's key file (BUNDLE.zip.pseudonyms.key): who each pseudonym is."""
    from forensic.exporters.pseudonyms import read_key
    doc = read_key(keyfile, pseudonym_passphrase(passphrase_file, confirm=False))
    if as_json:
        emit_json(doc)
    else:
        for p in doc.get("persons", []):
            click.echo(safe(f"{p['pseudonym']:10} {p['role']:8} {p['identity']}  {', '.join(p['names']) or '-'}"))
    info(f"bundle {esc(doc.get('bundle'))} (sha256 {esc(doc.get('bundle_sha256'))}), case {esc(doc.get('case_id'))}")
    return exit_codes.OK


COMMANDS = [person]
