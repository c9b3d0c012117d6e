"""Where ``forensic search`` looks, and the hits it reports.

- ``names``, ``messages``, ``metadata``: read from the case store (:mod:`forensic.store.search`);
- ``content``: every file of the item's source, allocated or deleted, read again from the
  evidence (read-only) as a stream: its bytes in UTF-8 and UTF-16LE, then the text of its
  document (:mod:`forensic.search.text`). On a disk image a file's runs give each hit its
  offset in the image, and whether it crosses a fragment (two non-contiguous runs) or a
  sector boundary;
- ``slack`` (``--slack``): the bytes between a file's end and the end of its last cluster;
- ``unallocated`` (``--unallocated``): each volume's unallocated runs from its allocation map
  (:mod:`forensic.sources.unallocated`) searched as one stream (as ``blkls`` lists them), and
  the disk's space outside every partition;
- ``raw`` (``--in raw``, never by default): a disk image's every byte in order, once, as
  ``grep`` over the image would: what lies across two files contiguous on disk (the end of
  one file's last cluster, the start of the next file's first), in file-system metadata or
  between partitions. Each hit names the files whose clusters its bytes are in (``files``).
"""
from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass
from typing import BinaryIO, Callable, Iterator

from forensic.case import Case
from forensic.entry import FileEntry
from forensic.errors import ForensicError
from forensic.search.raw import RunMap, StreamHit, clip, context_text, crosses_sector, scan
from forensic.search.terms import REGEX_STRIKES, Match, Matcher
from forensic.search.text import MAX_DOCUMENT, extract, kind_of
from forensic.store import search as store_search
from forensic.store.search import ContentText
from forensic.timestamps import iso_utc, now_utc

WHERE = ("content", "names", "messages", "metadata")      # --in's default
MAX_HITS_PER_PLACE = 10_000     # hits of one term listed in one file (or one stream of raw bytes)
PLACES = WHERE + ("raw",)
CONTEXT_CHARS = 40

Warn = Callable[[str], None]


@dataclass(slots=True)
class Hit:
    """One hit. The first nine fields are the contract of ``--json`` (issue 20)."""
    term: str
    list: str
    where: str                       # content | name | message | metadata | unallocated | slack
    item: str
    locator: str | None              # of the file, the message's file, or the unallocated run
    image_offset: int | None         # byte offset of the hit in the item's image, where it has one
    file_offset: int | None          # in the file (content, slack) or the unallocated stream
    text: str
    context: str
    encoding: str | None = None      # utf-8 | utf-16le | text (a name, a field, extracted text)
    length: int | None = None        # bytes of the hit
    crosses_fragment: bool | None = None
    crosses_sector: bool | None = None
    path: str | None = None
    deleted: bool | None = None
    record_id: int | None = None
    record_type: str | None = None
    field: str | None = None
    extracted: str | None = None     # the document extractor the text came from (pdf, ooxml, ...)
    files: tuple[str, ...] | None = None   # raw: the files whose clusters (content or slack) hold it

    @property
    def target(self) -> str | None:
        """What ``forensic tag add`` takes to tag what the hit is in: ``message:ID`` for a
        message, the file's locator for the rest; None for unallocated space (no record)."""
        if self.where == "message":
            return f"message:{self.record_id}"
        if self.where in ("unallocated", "raw") or self.locator is None:
            return None
        return self.locator

    def to_json(self) -> dict:
        return {**asdict(self), "target": self.target}


def note_skipped(matcher: Matcher, where: str | None, warn: Warn) -> None:
    """A warning for each regex the time bound stopped in the text just searched."""
    for term, dropped in matcher.take_skipped():
        warn(f"{where or 'a record'}: --regex {term.text!r} ran out of its {matcher.regex_timeout:g} s on this text: "
             "the rest of it is not searched for that term"
             + (f"; out of time on {REGEX_STRIKES} texts, the term is searched no further" if dropped else ""))


def _text_context(value: str, m: Match) -> str:
    s = value[max(0, m.start - CONTEXT_CHARS):m.start] + "[" + m.text + "]" + value[m.end:m.end + CONTEXT_CHARS]
    return "".join(c if c.isprintable() else " " for c in s)


def store_hits(case: Case, matcher: Matcher, items: list[str], where: set[str], warn: Warn) -> Iterator[Hit]:
    """Hits in file names, messages and record metadata (the case store)."""
    if "names" in where:
        for row in store_search.names(case.db, items):
            for m in matcher.find_text(row.name):
                yield Hit(m.term.text, m.term.list, "name", row.item, row.locator, None, None, m.text,
                          _text_context(row.name, m), "text", deleted=row.deleted)
            note_skipped(matcher, f"{row.locator} (its name)", warn)
    if "messages" in where or "metadata" in where:
        for rec in store_search.record_texts(case.db, items, "messages" in where, "metadata" in where):
            for m in matcher.find_text(rec.value):
                kind = "message" if rec.record_type == store_search.MESSAGE_TYPE and \
                    rec.field in store_search.MESSAGE_FIELDS else "metadata"
                yield Hit(m.term.text, m.term.list, kind, rec.item, rec.locator, None, None, m.text,
                          _text_context(rec.value, m), "text", record_id=rec.record_id,
                          record_type=rec.record_type, field=rec.field)
            note_skipped(matcher, f"artifact:{rec.record_id} {rec.field}", warn)


def _raw_hit(sh: StreamHit, where: str, item: str, locator: str, runmap: RunMap | None,
             path: str | None = None, deleted: bool | None = None) -> Hit:
    m = sh.match
    img = runmap.image_offset(sh.offset) if runmap is not None else None
    frag = runmap.crosses_fragment(sh.offset, sh.length) if runmap is not None else None
    return Hit(m.term.text, m.term.list, where, item, locator, img, sh.offset, m.text, context_text(sh),
               m.encoding, sh.length, frag, crosses_sector(img, sh.length) if not frag else True,
               path=path, deleted=deleted)


def _stream_reader(fh: BinaryIO) -> Callable[[int, int], bytes]:
    def read(offset: int, n: int) -> bytes:
        fh.seek(offset)
        return bytes(fh.read(n))
    return read


def entry_hits(entry: FileEntry, item: str, matcher: Matcher, content: bool, slack: bool,
               read_image: Callable[[int, int], bytes] | None, warn: Warn,
               collect: list[ContentText] | None = None,
               raw_found: dict[str, set[tuple[str, str]]] | None = None) -> Iterator[Hit]:
    """Hits in one file's content (bytes, then its document's text) and slack. With
    ``collect``, the document's text is extracted, searched and kept there (for the index);
    without it, documents are not extracted (their text is searched in the index) and what
    the bytes held is kept in ``raw_found`` (a hit is reported once)."""
    from forensic.sources.base import spool
    fh = entry.open()
    try:
        layout = fh.layout() if hasattr(fh, "layout") else None
        if not (hasattr(fh, "seekable") and fh.seekable()):
            fh = spool(fh)                  # an archive's member: read once, then searched
        size = entry.size if entry.size is not None else 1 << 62
        loc = str(entry.locator)
        path, deleted = entry.path, entry.deleted
        if content:
            runmap = RunMap(clip(layout[0], 0, size)) if layout else None
            read = _stream_reader(fh)
            found: set[tuple[str, str]] = set()
            for sh in scan(read, size, matcher, short=_shorter(loc, size, warn) if entry.size is not None else None):
                found.add((sh.match.term.text, sh.match.text.lower()))
                yield _raw_hit(sh, "content", item, loc, runmap, path, deleted)
            note_skipped(matcher, loc, warn)
            if raw_found is not None and found:
                raw_found[loc] = found
            kind = kind_of(entry.name, read(0, 4096)) if collect is not None else None
            if kind is not None and collect is not None:
                text, why = extract(kind, read(0, MAX_DOCUMENT))
                if why:
                    warn(f"{loc}: {why}")
                if text:
                    collect.append(ContentText(item, loc, path, deleted, kind, text))
                for m in matcher.find_text(text or ""):
                    if (m.term.text, m.text.lower()) in found:
                        continue          # its bytes were hit already (HTML, text)
                    yield Hit(m.term.text, m.term.list, "content", item, loc, None, None, m.text,
                              _text_context(text or "", m), "text", extracted=kind, path=path, deleted=deleted)
                note_skipped(matcher, f"{loc} (its {kind} text)", warn)
        if slack and layout and read_image is not None and entry.size is not None:
            runs, allocated = layout
            if allocated > entry.size:
                runmap = RunMap(clip(runs, entry.size, allocated))
                for sh in scan(runmap.read_with(read_image), runmap.size, matcher,
                               short=_shorter(f"{loc} (its slack)", runmap.size, warn)):
                    hit = _raw_hit(sh, "slack", item, loc, runmap, path, deleted)
                    hit.file_offset = entry.size + sh.offset
                    yield hit
                note_skipped(matcher, f"{loc} (its slack)", warn)
    finally:
        fh.close()


def with_members(entries: Iterator[FileEntry], warn: Warn, depth: int = 0) -> Iterator[FileEntry]:
    """The entries, each ZIP or TAR archive followed by its members (nested ones too, as deep
    as triage walks them: :attr:`Limits.max_depth`), as triage stores them. An office
    document is not walked: its text is extracted and searched as the document's."""
    from forensic.limits import DEFAULT_LIMITS
    from forensic.sources import open_nested
    from forensic.sources.archive import looks_like_gzip, looks_like_tar, looks_like_zip
    from forensic.sources.base import spool
    from forensic.sources.embedded import document_parts
    for entry in entries:
        yield entry
        if not entry.has_content or depth >= DEFAULT_LIMITS.max_depth:
            continue
        try:
            head = _head(entry)
            if not (looks_like_zip(head) or looks_like_tar(head) or looks_like_gzip(head)):
                continue
            reader = entry.open()
        except (OSError, RuntimeError, ValueError):
            continue                      # said when its content is searched
        try:
            if not (hasattr(reader, "seekable") and reader.seekable()):
                reader = spool(reader)
            try:
                nested = open_nested(reader, head, entry.locator, entry.size or 0, DEFAULT_LIMITS)
            except ForensicError as exc:
                if not looks_like_gzip(head):
                    warn(f"{entry.locator}: its members are not searched ({exc})")
                continue
            if nested is None:
                continue
            try:
                if document_parts(nested) is not nested:
                    continue              # OOXML/ODF
                if getattr(nested, "encrypted", False):
                    warn(f"{entry.locator}: encrypted archive: its members' content is not searched")
                    continue
                yield from with_members(nested.entries(), warn, depth + 1)   # its warnings: triage's
            finally:
                nested.close()
        finally:
            reader.close()


def _head(entry: FileEntry) -> bytes:
    fh = entry.open()
    try:
        return bytes(fh.read(512))
    finally:
        fh.close()


def source_hits(case: Case, item: str, matcher: Matcher, where: set[str], slack: bool, unallocated: bool,
                warn: Warn) -> Iterator[Hit]:
    """Hits in the evidence of one item: its files, their slack, its unallocated space."""
    from forensic.sources import open_source
    from forensic.sources.tsk import TskImageSource
    from forensic.sources.unallocated import unallocated_runs, unpartitioned
    content = "content" in where
    row = case.item(item)
    path = row.source
    if not path.exists():
        warn(f"item {item}: its evidence ({path}) is not there: its content, slack and unallocated space are "
             "not searched (reconnect it at the path it was added from)")
        return
    try:
        src = open_source(path, row.format, path.name)
    except ForensicError as exc:
        warn(f"item {item}: its evidence could not be opened ({exc}): not searched")
        return
    try:
        image = src if isinstance(src, TskImageSource) else None
        if image is not None and row.format == "e01":
            from forensic.sources.ewf import recorded_bad_chunks
            image.note_bad_chunks(recorded_bad_chunks(row.details))
        now = image.img.get_size() if image is not None else None
        read_image = _image_reader(image.img.read, now) if image is not None and now is not None else None
        if now is not None and row.size and now != row.size:
            warn(f"item {item}: its image is {now:,} bytes now, {row.size:,} when it was added: "
                 f"{'shorter' if now < row.size else 'longer'}, it is not the evidence as triaged; hits in it may "
                 f"not be the evidence's (check it: forensic evidence verify {item})")
        if (slack or unallocated) and image is None:
            warn(f"item {item} ({row.format}) is no disk image: it has no slack or unallocated space to search")
        if content or (slack and image is not None):
            indexed = content and store_search.content_indexed(case.db, item, row.triaged_at)
            collect: list[ContentText] | None = [] if content and not indexed else None
            raw_found: dict[str, set[tuple[str, str]]] = {}
            for entry in with_members(src.entries(), warn) if content else src.entries():
                if not entry.has_content:
                    continue
                try:
                    yield from _capped(entry_hits(entry, item, matcher, content, slack and image is not None,
                                                  read_image, warn, collect, raw_found if indexed else None),
                                       str(entry.locator), warn)
                except (OSError, RuntimeError, ValueError) as exc:
                    warn(f"{entry.locator}: not searched ({exc})")
            if collect is not None:       # the whole pass done: the documents' text is indexed
                with case.transaction() as db:
                    store_search.replace_content(db, item, row.triaged_at, collect, iso_utc(now_utc()))
            elif indexed:
                yield from _indexed_hits(case, item, matcher, raw_found, warn)
        if "raw" in where and image is None:
            warn(f"item {item} ({row.format}) is no disk image: it has no raw bytes to search (--in raw)")
        elif "raw" in where and image is not None and read_image is not None:
            yield from _capped(_image_hits(item, image, src.entries(), matcher, read_image, warn),
                               f"{image.locator} (raw)", warn)
        if unallocated and image is not None:
            assert read_image is not None
            for loc, fs, fstype, offset in image.volumes:
                runs = unallocated_runs(fs, fstype, read_image, offset)
                if runs is None:
                    warn(f"{loc}: the allocation map of its {fstype} file system is not read here: "
                         "its unallocated space is not searched")
                    continue
                yield from _capped(_space_hits(item, str(loc), [(offset + s, n) for s, n in runs], matcher,
                                               read_image, warn), f"{loc} (its unallocated space)", warn)
                note_skipped(matcher, f"{loc} (its unallocated space)", warn)
            outside = unpartitioned(image.img)
            if outside:
                yield from _capped(_space_hits(item, f"{image.locator} › outside partitions", outside, matcher,
                                               read_image, warn), f"{image.locator} (outside partitions)", warn)
                note_skipped(matcher, f"{image.locator} (outside partitions)", warn)
        if image is not None:           # an E01's chunks that failed their checksum: read as zeros, no hit there
            for message in image.bad_chunk_warnings():
                warn(f"item {item}: {message.replace('while triaging', 'while searching')}; no hit can be found there")
    finally:
        src.close()


def _capped(hits: Iterator[Hit], where: str, warn: Warn) -> Iterator[Hit]:
    """The first :data:`MAX_HITS_PER_PLACE` hits of each term in one file (or stream), and a
    warning of how many more there were: a file of one word repeated (14 MB of "secret " is
    2 million hits) cannot flood the listing, nor make ``--save`` hold them all (gigabytes)."""
    counts: dict[str, int] = {}
    try:
        for hit in hits:
            n = counts[hit.term] = counts.get(hit.term, 0) + 1
            if n <= MAX_HITS_PER_PLACE:
                yield hit
    finally:
        for term, n in counts.items():
            if n > MAX_HITS_PER_PLACE:
                warn(f"{where}: {n - MAX_HITS_PER_PLACE:,} more hits of {term!r} not listed (the first "
                     f"{MAX_HITS_PER_PLACE:,} are): search for a longer term to see them")


def _image_reader(read: Callable[[int, int], bytes], size: int) -> Callable[[int, int], bytes]:
    """The image's reader, a read past its end or one that fails (a bad sector) coming back
    short, as a file's does: the stream searched ends there, and is said to (:func:`_shorter`),
    where pytsk3 raised and the search stopped with every hit lost."""
    def read_at(offset: int, n: int) -> bytes:
        n = min(n, size - offset)
        if n <= 0:
            return b""
        try:
            return bytes(read(offset, n))
        except OSError:
            return b""
    return read_at


def _shorter(where: str, size: int, warn: Warn) -> Callable[[int], None]:
    """What a search says of a stream that ends before its size: the evidence is shorter than
    the file system (or the triage) said; the rest is not searched."""
    def said(got: int) -> None:
        warn(f"{where}: only {got:,} of its {size:,} bytes could be read: the evidence is shorter than its file "
             "system says (cut short since triage, or damaged); the rest is not searched")
    return said


def _indexed_hits(case: Case, item: str, matcher: Matcher,
                  raw_found: dict[str, set[tuple[str, str]]], warn: Warn) -> Iterator[Hit]:
    """Hits in the documents' text the index keeps (not found in their bytes already)."""
    for doc in store_search.content_texts(case.db, item, matcher.prefilter()):
        found = raw_found.get(doc.locator, set())
        for m in matcher.find_text(doc.text):
            if (m.term.text, m.text.lower()) not in found:
                yield Hit(m.term.text, m.term.list, "content", item, doc.locator, None, None, m.text,
                          _text_context(doc.text, m), "text", extracted=doc.extractor, path=doc.path,
                          deleted=doc.deleted)
        note_skipped(matcher, f"{doc.locator} (its {doc.extractor} text)", warn)


def _space_hits(item: str, volume: str, runs: list[tuple[int, int]], matcher: Matcher,
                read_image: Callable[[int, int], bytes], warn: Warn) -> Iterator[Hit]:
    runmap = RunMap([(s, n) for s, n in runs])
    for sh in scan(runmap.read_with(read_image), runmap.size, matcher,
                   short=_shorter(f"{volume} (its unallocated space)", runmap.size, warn)):
        hit = _raw_hit(sh, "unallocated", item, volume, runmap)
        i = runmap.run_index(sh.offset)
        start, n = runmap.runs[i]
        hit.locator = f"{volume} › unallocated bytes {start:,}-{(start or 0) + n - 1:,}"
        yield hit


class Owners:
    """Which files' clusters hold a span of the image: every run of every file (allocated or
    deleted; a deleted file's clusters may since hold another's) by image offset."""

    def __init__(self, runs: list[tuple[int, int, str]]) -> None:
        self.runs = sorted(runs)                         # (image offset, end, locator)
        self.starts = [r[0] for r in self.runs]
        self.reach: list[int] = []                       # the furthest end of the runs up to each one
        for _, end, _ in self.runs:
            self.reach.append(max(end, self.reach[-1] if self.reach else end))

    def of(self, offset: int, length: int) -> tuple[str, ...]:
        out: list[str] = []
        j = bisect.bisect_left(self.starts, offset + length) - 1
        while j >= 0 and self.reach[j] > offset:
            start, end, loc = self.runs[j]
            if end > offset and loc not in out:
                out.append(loc)
            j -= 1
        return tuple(sorted(out))


def _owners(entries: Iterator[FileEntry], warn: Warn) -> Owners:
    runs: list[tuple[int, int, str]] = []
    for entry in entries:
        if not entry.has_content:
            continue
        try:
            fh = entry.open()
            try:
                layout = fh.layout() if hasattr(fh, "layout") else None
            finally:
                fh.close()
        except (OSError, RuntimeError, ValueError) as exc:
            warn(f"{entry.locator}: where its clusters lie is not known ({exc}): a raw hit in them names no file")
            continue
        for img, n in (layout[0] if layout else []):
            if img is not None:
                runs.append((img, img + n, str(entry.locator)))
    return Owners(runs)


def _image_hits(item: str, image: object, entries: Iterator[FileEntry], matcher: Matcher,
                read_image: Callable[[int, int], bytes], warn: Warn) -> Iterator[Hit]:
    """Hits in the image's every byte (``--in raw``), each with the files its bytes are in."""
    owners: Owners | None = None
    size = image.img.get_size()                  # type: ignore[attr-defined]
    loc = str(image.locator)                     # type: ignore[attr-defined]
    for sh in scan(read_image, size, matcher):
        if owners is None:                       # the files' runs, read when a first hit needs them
            owners = _owners(entries, warn)
        m = sh.match
        files = owners.of(sh.offset, sh.length)
        yield Hit(m.term.text, m.term.list, "raw", item, loc, sh.offset, None, m.text, context_text(sh), m.encoding,
                  sh.length, len(files) > 1, crosses_sector(sh.offset, sh.length), files=files)
    note_skipped(matcher, f"{loc} (raw)", warn)


def search_case(case: Case, matcher: Matcher, items: list[str], where: set[str], slack: bool,
                unallocated: bool, warn: Warn) -> Iterator[Hit]:
    yield from store_hits(case, matcher, items, where, warn)
    if "content" in where or "raw" in where or slack or unallocated:
        for item in items:
            yield from source_hits(case, item, matcher, where, slack, unallocated, warn)
