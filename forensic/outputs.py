"""Where a command may write: never over evidence, never over the case's own store.

Every file a command writes at a path the examiner names (``--out``, ``--password-out``,
``case init DIR``, ``examiner keygen --out``, ``verify-bundle --extract``) goes through
:func:`check_output` first. A command that works on a case checks against that case; one
that has none of its own (``case init``, ``examiner keygen``, ``verify-bundle``) against the
case the examiner is working in (:func:`current_cases`: ``--case``, else ``$FORENSIC_CASE``
and the current folder, each when it is a case). It refuses a path that is, or is inside, a registered evidence
source of the case (a file, an E01's segments, a folder source), and the case's own files
(``case.db`` and its journals, the custody log, its checkpoints, quarantine, logs and
locks). A new folder written as a whole (``--extract``) may hold none of them either.
Beside a registered E01 it refuses every name libewf would take for a further segment of
the set (``phone.E02`` … ``phone.EZZ`` …), present or not: libewf finds segments by name,
so a file written there would become part of the evidence when it is next opened.
Both the path as written and the path with every symlink resolved are checked, and an
existing file is compared by device and inode too, so a symlink or a hard link to evidence
is caught. New files are then created with ``O_EXCL | O_NOFOLLOW`` (:func:`create_new`),
or written to a fresh temporary file beside the target and renamed over it
(:func:`write_atomic`), which replaces a symlink rather than writing through it.
"""
from __future__ import annotations

import os
import re
import tempfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

from forensic.case import DB_NAME, LOCKS_DIR, Case, item_source
from forensic.errors import UsageError
from forensic.store.postgres import STORE_FILE

# The case folder's own files and folders (see forensic.case and forensic.chain_of_custody.log).
CASE_FILES = ("case.db", "case.db-wal", "case.db-shm", "case.db-journal", STORE_FILE, "custody.jsonl",
              "custody.checkpoints.jsonl", "custody.quarantine", "logs", LOCKS_DIR)
CASE_FOLDERS = ("custody.quarantine", "logs", LOCKS_DIR)


@dataclass(frozen=True)
class Protected:
    path: Path          # absolute, symlinks resolved
    is_dir: bool
    what: str           # for the error message, e.g. "evidence item 'phone'"
    # When set, ``path`` is a folder and what is protected is every name in it that this
    # matches (and anything under such a name), whether it exists or not.
    names: re.Pattern | None = None

    def covers(self, candidate: Path) -> bool:
        """Whether ``candidate`` (absolute) is, or is inside, what this protects."""
        if self.names is None:
            return _inside(candidate, self.path)
        if self.path not in candidate.parents:
            return False
        first = candidate.relative_to(self.path).parts[0]
        return self.names.fullmatch(first) is not None


def _ewf_scheme(name: str) -> tuple[str, str, bool] | None:
    """(stem, extension letter, EWF2?) of an EWF first-segment name, as libewf's glob reads
    it (None when libewf would not glob ``name``)."""
    if len(name) > 4 and name[-4] == "." and name[-3] in "ELes":
        return name[:-4], name[-3], False
    if len(name) > 5 and name[-5] == "." and name[-4] in "EL" and name[-3] == "x":
        return name[:-5], name[-4], True
    return None


def ewf_segment_name(name: str, number: int) -> str | None:
    """The name libewf gives segment ``number`` (1, 2, …) of the set whose first segment is
    called ``name`` (libewf_filename_set_extension): segments 1-99 are the extension letter
    and two digits (``E01``…``E99``); from 100 on two letters count up (``EAA``…``EZZ``) and
    then the first letter itself (``FAA``…``ZZZ``); in EWF2 (``Ex01``) the ``x`` counts on
    instead (``ExAA``…``ExZZ``, ``EyAA``…``EzZZ``)."""
    scheme = _ewf_scheme(name)
    if scheme is None or number < 1:
        return None
    stem, letter, ewf2 = scheme
    if number <= 99:
        digits = f"{number:02d}"
        return f"{stem}.{letter}x{digits}" if ewf2 else f"{stem}.{letter}{digits}"
    n = number - 100
    base = "a" if letter.islower() else "A"
    tail = chr(ord(base) + n // 26 % 26) + chr(ord(base) + n % 26)
    lead = ord("x" if ewf2 else letter) + n // (26 * 26)
    if lead > ord("z") or (letter.isupper() and not ewf2 and lead > ord("Z")):
        return None                           # beyond what libewf can name
    return f"{stem}.{letter}{chr(lead)}{tail}" if ewf2 else f"{stem}.{chr(lead)}{tail}"


def ewf_segment_names(name: str, segments: int = 1) -> re.Pattern | None:
    """The names libewf may take for segments of the EWF set whose first segment is called
    ``name`` and which has ``segments`` segments now, present or not (None when libewf would
    not glob ``name``).

    libewf opens an E01 by globbing: it tries segment 1, 2, … by name until a name is
    missing, so the name after the last segment must never appear. Protected: every name of
    the extension letter's own range (``E01``…``E99``, ``EAA``…``EZZ``; ``Ex01``…``ExZZ``),
    whatever the set's size, and the next segment's name beyond it for a set that large.
    Letters match in either case: on a case-insensitive file system ``phone.e02`` is
    ``phone.E02``."""
    scheme = _ewf_scheme(name)
    if scheme is None:
        return None
    stem, letter, ewf2 = scheme
    own = f"{letter}x(?:[0-9]{{2}}|[a-z]{{2}})" if ewf2 else f"{letter}(?:[0-9]{{2}}|[a-z]{{2}})"
    alternatives = [own]
    following = ewf_segment_name(name, segments + 1)
    if following is not None:
        alternatives.append(re.escape(following[len(stem) + 1:]))
    return re.compile(f"{re.escape(stem)}\\.(?:{'|'.join(alternatives)})", re.IGNORECASE | re.DOTALL)


def protected_paths(case: Case) -> list[Protected]:
    """What no output may overwrite or write into, for ``case``."""
    found: list[Protected] = []
    for row in case.items():
        source = item_source(row)
        what = f"evidence item {row.item!r}"
        found.append(Protected(_resolved(source), source.is_dir(), what))
        details = row.details
        for seg in details.get("segments") or []:      # an E01's other segment files
            found.append(Protected(_resolved(source.parent / seg["name"]), False, what))
        if row.format == "e01" or details.get("segments"):
            # every name libewf would take for a further segment, beside the name as
            # registered and beside the file it resolves to (libewf globs the former)
            count = len(details.get("segments") or []) or 1
            for path in {_resolved(source.parent) / source.name, _resolved(source)}:
                names = ewf_segment_names(path.name, count)
                if names is not None:
                    found.append(Protected(path.parent, False, f"the E01 segment names of {what}", names))
        if details.get("password_file"):
            found.append(Protected(_resolved(Path(details["password_file"])), False,
                                   f"the password file of {what}"))
    root = _resolved(case.root)
    for name in CASE_FILES:
        found.append(Protected(root / name, name in CASE_FOLDERS, "the case store"))
    return found


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(os.path.abspath(path)))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


@contextmanager
def current_cases(case_dir: Path | None) -> Iterator[list[Case]]:
    """The cases a command with no case of its own keeps its outputs out of, open while in
    the ``with``: the one at ``case_dir`` (``--case``; it must be a case), else those at
    ``$FORENSIC_CASE`` and at the current folder, each when it holds ``case.db`` (or the
    ``store.json`` of a store on PostgreSQL). A case
    found there that cannot be opened is an error (its evidence could not be checked)."""
    if case_dir is not None:
        folders = [Path(case_dir)]
    else:
        folders = [Path(f) for f in (os.environ.get("FORENSIC_CASE"), ".") if f]
        folders = [f for f in folders if (f / DB_NAME).is_file() or (f / STORE_FILE).is_file()]
    with ExitStack() as stack:
        opened: list[Case] = []
        seen: set[Path] = set()
        for folder in folders:
            if _resolved(folder) in seen:
                continue
            seen.add(_resolved(folder))
            case = Case.open(folder)
            stack.callback(case.close)
            opened.append(case)
        yield opened


def check_output(path: Path, case: Case | None = None, *, cases: tuple[Case, ...] = (), option: str = "--out",
                 folder: bool = False) -> Path:
    """Refuse ``path`` as an output when it is, or is inside, a protected path of ``case``
    (and of each of ``cases``); with ``folder`` (a new folder written as a whole), also when
    a protected path is inside it. Returns ``path``."""
    guarded = [p for c in (case, *cases) if c is not None for p in protected_paths(c)]
    if not guarded:
        return path
    candidates = {Path(os.path.abspath(path)), _resolved(path)}
    try:        # the parent resolved, the last component as written (a symlink not followed)
        candidates.add(_resolved(Path(path).parent) / Path(path).name)
    except OSError:
        pass
    try:
        st = os.stat(path)
        same_inode = (st.st_dev, st.st_ino)
    except OSError:
        same_inode = None
    for p in guarded:
        for c in candidates:
            if p.covers(c):
                raise UsageError(f"{option} {path} would write over {p.what} "
                                 f"({p.path if p.names is None else c})",
                                 hint="evidence and the case store are never written: choose a path "
                                      "outside them")
            if folder and _inside(p.path, c):
                raise UsageError(f"{option} {path} would hold {p.what} ({p.path})",
                                 hint="evidence and the case store are never written: choose a "
                                      "folder outside them")
        if same_inode is not None and p.names is None:
            try:
                pst = os.stat(p.path)
            except OSError:
                continue
            if (pst.st_dev, pst.st_ino) == same_inode:
                raise UsageError(f"{option} {path} is the same file as {p.what} ({p.path})",
                                 hint="evidence and the case store are never written: choose a path "
                                      "outside them")
    return path


def create_new(path: Path, mode: int = 0o600) -> int:
    """Create ``path`` as a new file (never an existing one, never through a symlink) and
    return its descriptor open for writing."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    except FileExistsError as exc:
        raise UsageError(f"{path} already exists", hint="remove it or choose another name") from exc


@contextmanager
def write_atomic(path: Path, mode: str = "w", **open_kw: Any) -> Iterator[IO[Any]]:
    """Write ``path`` through a new temporary file beside it, flushed to disk and renamed
    over ``path`` at the end (a symlink at ``path`` is replaced, never written through);
    on any error the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path} is a folder", hint="give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"the folder of {path} does not exist", hint="create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=parent)
    try:
        with os.fdopen(fd, mode, **open_kw) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
