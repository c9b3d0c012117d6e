"""The store package is the one owner of the case store: no SQL anywhere else.

Every module of the installed package is read (its syntax tree, docstrings left out): a
string that holds an SQL statement, or a call of ``execute``/``executemany``/
``executescript``, is allowed only in ``forensic/store/`` and in the modules that read or
build *evidence* databases (a phone's SQLite files), which must not name a case-store table.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("forensic", "cli", "exporters", "chain_of_custody", "extractors", "training")
STORE = ROOT / "forensic" / "store"

# Modules whose SQL runs against evidence databases, never the case store.
EVIDENCE_SQL = {
    "extractors/sqlite_journal.py": "opens a phone database with its journal, read-only",
    "forensic/sources/itunes.py": "an iTunes/Finder backup's Manifest.db (a private copy)",
    "extractors/chat/common.py": "reads tables of a phone database damage-tolerantly",
    "extractors/chat/sqlite_chat.py": "base of the phone-database chat extractors",
    "extractors/chat/whatsapp_db.py": "WhatsApp msgstore.db / wa.db",
    "extractors/chat/whatsapp_ios.py": "WhatsApp iOS ChatStorage.sqlite",
    "extractors/chat/android_sms.py": "Android mmssms.db",
    "extractors/chat/ios_sms.py": "iOS sms.db",
    "extractors/phone/android_contacts.py": "Android contacts2.db",
    "extractors/phone/android_calls.py": "Android calllog.db",
    "extractors/phone/ios_contacts.py": "iOS AddressBook.sqlitedb",
    "extractors/phone/ios_calls.py": "iOS CallHistory.storedata",
    "extractors/phone/whatsapp.py": "WhatsApp wa.db / msgstore.db call_log",
    "extractors/phone/whatsapp_ios.py": "WhatsApp iOS CallHistory.sqlite / ContactsV2.sqlite",
    "extractors/chat/viber.py": "Viber viber_messages / viber_data",
    "extractors/chat/messenger.py": "Facebook Messenger threads_db2",
    "extractors/chat/instagram.py": "Instagram direct.db",
    "extractors/chat/google_messages.py": "Google Messages bugle_db",
    "extractors/chat/kik.py": "Kik kikDatabase.db / kik.sqlite",
    "extractors/chat/skype.py": "Skype main.db / s4l-*.db",
    "extractors/chat/known_apps.py": "opens known app databases to list their tables",
    "extractors/chat/line.py": "LINE naver_line",
    "extractors/chat/signal.py": "Signal signal.db (decrypted)",
    "extractors/chat/signal_desktop.py": "Signal Desktop db.sqlite (decrypted or SQLCipher with key)",
    "extractors/chat/telegram_android.py": "Telegram Android cache4.db",
    "extractors/chat/snapchat.py": "Snapchat arroyo.db",
    "training/formats.py": "builds the sample phone databases",
}

SQL = re.compile(r"\b(SELECT\s|INSERT\s+(OR\s+\w+\s+)?INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|"
                 r"CREATE\s+(TABLE|INDEX|VIRTUAL|UNIQUE)\b|DROP\s+(TABLE|INDEX)\b|ALTER\s+TABLE\b|PRAGMA\s|"
                 r"BEGIN\s+IMMEDIATE\b|SAVEPOINT\s|ROLLBACK\b|ATTACH\s+DATABASE\b)")
STORE_TABLES = re.compile(r"\b(FROM|INTO|JOIN|UPDATE|TABLE)\s+(meta|items|files|warnings|artifacts|timestamps|"
                          r"chat_messages|messages_fts|chat_index|tags|custody_checkpoints|custody_pins)\b")
CALLS = {"execute", "executemany", "executescript"}


def _modules() -> list[Path]:
    out = []
    for pkg in PACKAGES:
        out.extend(p for p in (ROOT / pkg).rglob("*.py") if STORE not in p.parents)
    return sorted(out)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _sql_of(path: Path) -> tuple[list[str], list[str]]:
    """(SQL strings, calls of execute*) in ``path``, each as 'file:line: text'."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = _docstrings(tree)
    rel = path.relative_to(ROOT).as_posix()
    strings, calls = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            if SQL.search(node.value):
                strings.append(f"{rel}:{node.lineno}: {node.value[:80]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CALLS:
            calls.append(f"{rel}:{node.lineno}: .{node.func.attr}(...)")
    return strings, calls


def test_no_case_store_sql_outside_the_store_package():
    found = []
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        if rel in EVIDENCE_SQL:
            continue
        strings, calls = _sql_of(path)
        found += strings + calls
    assert not found, "SQL outside forensic/store/ (move it into a store function):\n" + "\n".join(found)


def test_evidence_readers_never_name_a_case_store_table():
    found = []
    for rel in EVIDENCE_SQL:
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and STORE_TABLES.search(node.value):
                found.append(f"{rel}:{node.lineno}: {node.value[:80]!r}")
    assert not found, "\n".join(found)


def test_the_checks_see_sql(tmp_path):
    """The patterns catch what they are for (a check that finds nothing proves nothing)."""
    sample = tmp_path / "m.py"
    sample.write_text('"""SELECT in a docstring is prose."""\n'
                      'Q = "SELECT id FROM files WHERE item = ?"\n'
                      'def f(db):\n    db.execute(Q)\n', encoding="utf-8")
    strings, calls = _sql_of_in(sample, tmp_path)
    assert len(strings) == 1 and "m.py:2" in strings[0]
    assert len(calls) == 1 and "m.py:4" in calls[0]
    assert STORE_TABLES.search("INSERT INTO artifacts(id) VALUES (1)")
    assert not STORE_TABLES.search("SELECT * FROM message WHERE key_remote_jid = ?")


def _sql_of_in(path: Path, root: Path) -> tuple[list[str], list[str]]:
    global ROOT
    saved, ROOT = ROOT, root
    try:
        return _sql_of(path)
    finally:
        ROOT = saved
