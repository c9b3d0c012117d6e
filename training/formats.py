"""Writers of the sample's files, each in the layout the real application writes.

Each writer returns the files it made as ``{relative path: bytes}``; the times in the
files are rendered from the plan's UTC times the way each application renders them
(WhatsApp: the phone's wall clock at export time, no zone; Telegram Desktop: local time
plus ``date_unixtime``; Facebook: ``timestamp_ms``; Android SMS: epoch milliseconds).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import plistlib
import sqlite3
import struct
import tempfile
import zipfile
import zlib
from datetime import datetime, timedelta, timezone

from forensic.training.story import (Caller, Chat, IphoneBackup, Message, SignalDesktop, Story, TelegramCache,
                                     WaGroup)

ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def local(utc: datetime, offset: int) -> datetime:
    return (utc + timedelta(minutes=offset)).replace(tzinfo=None)


def epoch(utc: datetime) -> int:
    return int(utc.timestamp())


def zip_bytes(members: list[tuple[str, bytes, datetime | None]]) -> bytes:
    """A ZIP with fixed member order, times and attributes (same input, same bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data, when in members:
            info = zipfile.ZipInfo(name, when.timetuple()[:6] if when else ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, data)
    return buf.getvalue()


# -- WhatsApp ------------------------------------------------------------------------------------
def whatsapp_android_es(story: Story, chat: Chat, media: dict[int, str]) -> str:
    """Android export, Spanish: ``15/02/2024, 14:22 - Name: text``; media '(archivo adjunto)'."""
    lines = []
    for i, m in enumerate(chat.messages):
        t = local(m.utc, story.export_offset)
        stamp = f"{t:%d/%m/%Y, %H:%M} - "
        if m.system:
            lines.append(stamp + m.body)
        elif m.attachment:
            lines.append(f"{stamp}{m.sender}: {media[i]} (archivo adjunto)")
        else:
            lines.append(f"{stamp}{m.sender}: {m.body}")
    return "\n".join(lines) + "\n"


def _ios_time(t: datetime) -> str:
    hour = t.hour % 12 or 12
    return f"[{t.month}/{t.day}/{t:%y}, {hour}:{t:%M:%S} {'AM' if t.hour < 12 else 'PM'}]"


def whatsapp_ios_en(story: Story, chat: Chat, media: dict[int, str]) -> str:
    """iOS export, English (US): ``[2/15/24, 2:22:10 PM] Name: text``; media '<attached: …>'."""
    lines = []
    for i, m in enumerate(chat.messages):
        t = local(m.utc, story.export_offset)
        if m.system:
            lines.append(f"{_ios_time(t)} {m.sender}: \u200e{m.body}")
        elif m.attachment:
            lines.append(f"\u200e{_ios_time(t)} {m.sender}: \u200e<attached: {media[i]}>")
        else:
            lines.append(f"{_ios_time(t)} {m.sender}: {m.body}")
    return "\r\n".join(lines) + "\r\n"


# -- Telegram Desktop ----------------------------------------------------------------------------
def telegram_result(story: Story, chat: Chat, media: dict[int, str], chat_id: int) -> str:
    messages = []
    for i, m in enumerate(chat.messages):
        t = local(m.utc, story.export_offset)
        sender_id = "user" + str(chat_id if m.sender == chat.other else chat_id + 1111)
        msg = {"id": 100 + i, "type": "message", "date": t.isoformat(), "date_unixtime": str(epoch(m.utc)),
               "from": m.sender, "from_id": sender_id}
        if m.attachment:
            msg.update({"photo": media[i], "width": 64, "height": 48})
        msg["text"] = m.body
        msg["text_entities"] = [{"type": "plain", "text": m.body}] if m.body else []
        messages.append(msg)
    doc = {"name": chat.title, "type": "personal_chat", "id": chat_id, "messages": messages}
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


# -- Facebook Messenger ----------------------------------------------------------------------------
def _mojibake(text: str) -> str:
    """What Facebook's export does to non-ASCII text: UTF-8 bytes as Latin-1 code points."""
    return text.encode("utf-8").decode("latin-1")


def messenger_json(story: Story, chat: Chat, thread: str) -> str:
    messages = []
    for m in sorted(chat.messages, key=lambda m: m.utc, reverse=True):      # newest first, as exported
        messages.append({"sender_name": _mojibake(m.sender), "timestamp_ms": epoch(m.utc) * 1000,
                         "content": _mojibake(m.body), "is_geoblocked_for_viewer": False,
                         "is_unsent_image_by_messenger_kid_parent": False})
    doc = {"participants": [{"name": _mojibake(chat.other)}, {"name": _mojibake(story.owner)}],
           "messages": messages, "title": _mojibake(chat.title or chat.other), "is_still_participant": True,
           "thread_path": f"inbox/{thread}", "magic_words": []}
    return json.dumps(doc, ensure_ascii=True, indent=2) + "\n"


# -- Android SMS ---------------------------------------------------------------------------------------
_SMS_SCHEMA = """
CREATE TABLE android_metadata (locale TEXT);
CREATE TABLE canonical_addresses (_id INTEGER PRIMARY KEY AUTOINCREMENT, address TEXT);
CREATE TABLE threads (_id INTEGER PRIMARY KEY AUTOINCREMENT, date INTEGER DEFAULT 0,
    message_count INTEGER DEFAULT 0, recipient_ids TEXT, snippet TEXT, snippet_cs INTEGER DEFAULT 0,
    read INTEGER DEFAULT 1, archived INTEGER DEFAULT 0, type INTEGER DEFAULT 0, error INTEGER DEFAULT 0,
    has_attachment INTEGER DEFAULT 0);
CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address TEXT, person INTEGER, date INTEGER,
    date_sent INTEGER DEFAULT 0, protocol INTEGER, read INTEGER DEFAULT 0, status INTEGER DEFAULT -1,
    type INTEGER, reply_path_present INTEGER, subject TEXT, body TEXT, service_center TEXT,
    locked INTEGER DEFAULT 0, sub_id INTEGER DEFAULT -1, error_code INTEGER DEFAULT 0, creator TEXT,
    seen INTEGER DEFAULT 0);
CREATE TABLE pdu (_id INTEGER PRIMARY KEY AUTOINCREMENT, thread_id INTEGER, date INTEGER,
    date_sent INTEGER DEFAULT 0, msg_box INTEGER, read INTEGER DEFAULT 0, m_id TEXT, sub TEXT,
    sub_cs INTEGER, ct_t TEXT, ct_l TEXT, exp INTEGER, m_cls TEXT, m_type INTEGER, v INTEGER,
    m_size INTEGER, pri INTEGER, rr INTEGER, rpt_a INTEGER, resp_st INTEGER, st INTEGER, tr_id TEXT,
    retr_st INTEGER, retr_txt TEXT, retr_txt_cs INTEGER, read_status INTEGER, ct_cls INTEGER,
    resp_txt TEXT, d_tm INTEGER, d_rpt INTEGER, locked INTEGER DEFAULT 0, sub_id INTEGER DEFAULT -1,
    seen INTEGER DEFAULT 0, creator TEXT, text_only INTEGER DEFAULT 0);
CREATE TABLE part (_id INTEGER PRIMARY KEY AUTOINCREMENT, mid INTEGER, seq INTEGER DEFAULT 0, ct TEXT,
    name TEXT, chset INTEGER, cd TEXT, fn TEXT, cid TEXT, cl TEXT, ctt_s INTEGER, ctt_t TEXT, _data TEXT,
    text TEXT);
CREATE TABLE addr (_id INTEGER PRIMARY KEY, msg_id INTEGER, contact_id INTEGER, address TEXT, type INTEGER,
    charset INTEGER);
"""


def _sms_thread(db: sqlite3.Connection, chat: Chat, rowid: int, stored: datetime | None = None,
                deleted: Message | None = None) -> int:
    """Write one thread (address, thread row, its messages) as Android does; ``stored``: when the
    phone wrote received texts (``date``), if not when they were sent (``date_sent``);
    ``deleted``: a message of the thread written in its place, then deleted (its row left in
    the page's free space: SQLite's secure_delete is off, as on Android). Returns the last sms
    rowid used."""
    db.execute("INSERT INTO canonical_addresses(_id, address) VALUES (?, ?)", (chat.thread_id, chat.other))
    last = max(chat.messages, key=lambda m: m.utc)
    db.execute("INSERT INTO threads(_id, date, message_count, recipient_ids, snippet, read) VALUES (?,?,?,?,?,?)",
               (chat.thread_id, epoch(stored or last.utc) * 1000, len(chat.messages), str(chat.thread_id), last.body,
                0 if stored else 1))
    gone = None
    for m in sorted(chat.messages + [deleted], key=lambda m: m.utc) if deleted else chat.messages:
        rowid += 1
        if m is deleted:
            gone = rowid
        ms = epoch(m.utc) * 1000
        date = epoch(stored) * 1000 if stored and m.incoming else ms
        db.execute("INSERT INTO sms(_id, thread_id, address, person, date, date_sent, protocol, read, "
                   "status, type, reply_path_present, body, service_center, seen) "
                   "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (rowid, chat.thread_id, chat.other, None, date, ms if m.incoming else 0, 0 if m.incoming else None,
                    0 if stored else 1, -1, 1 if m.incoming else 2, 0, m.body,
                    "+34609090909" if m.incoming else None, 0 if stored else 1))
    if gone is not None:
        db.execute("PRAGMA secure_delete=OFF")
        db.execute("DELETE FROM sms WHERE _id = ?", (gone,))
    return rowid


def mmssms_db(chats: list[Chat], deleted: tuple[Chat, Message] | None = None) -> bytes:
    """A real SQLite ``mmssms.db`` with Android's ``sms``/``threads`` tables (one row per message) and
    its MMS tables (``pdu``, ``part``, ``addr``: empty, no MMS in the story); ``deleted``: a
    message of one of the threads, deleted after it was written (recoverable from free space)."""
    fd, path = tempfile.mkstemp(suffix=".db")
    os.close(fd)
    try:
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode=DELETE")
        db.executescript(_SMS_SCHEMA)
        db.execute("INSERT INTO android_metadata VALUES ('es_ES')")
        rowid = 0
        for chat in chats:
            rowid = _sms_thread(db, chat, rowid, deleted=deleted[1] if deleted and deleted[0] is chat else None)
        db.commit()
        db.close()
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        os.unlink(path)


def mmssms_db_hot_journal(chats: list[Chat], pending: Chat, stored: datetime, nonce: int,
                          deleted: tuple[Chat, Message] | None = None) -> tuple[bytes, bytes]:
    """``mmssms.db`` as a phone leaves it when it dies committing a transaction, and its hot
    ``-journal``: ``chats`` committed; the transaction writing ``pending`` (a new thread,
    received texts stored at ``stored``) has all its pages in the database file, and the
    journal holds the pages they replaced (SQLite's commit order: journal synced, database
    written and synced, then the journal deleted; the phone died before the deletion).
    Returns (database file as found, journal). SQLite, opening the pair, rolls the journal
    back to the committed state: ``mmssms_db(chats, deleted)``, byte for byte. ``nonce`` is the
    journal's checksum nonce (SQLite draws a random one: here it comes from the seed)."""
    committed = mmssms_db(chats, deleted)
    with tempfile.TemporaryDirectory(prefix="sample-sms-") as folder:
        path = os.path.join(folder, "mmssms.db")
        with open(path, "wb") as fh:
            fh.write(committed)
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("BEGIN")
            _sms_thread(db, pending, db.execute("SELECT max(_id) FROM sms").fetchone()[0], stored)
            db.execute("COMMIT")
        finally:
            db.close()
        with open(path, "rb") as fh:
            as_found = fh.read()
    return as_found, rollback_journal(committed, as_found, nonce)


JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")
JOURNAL_SECTOR = 4096                    # what SQLite's unix VFS reports, and so writes in the header


def rollback_journal(before: bytes, after: bytes, nonce: int, sector: int = JOURNAL_SECTOR) -> bytes:
    """The hot rollback journal of the transaction that turned database ``before`` into
    ``after``, in SQLite's format (https://www.sqlite.org/fileformat2.html, "The Rollback
    Journal"; pager.c): a header padded to ``sector`` bytes (magic, record count, checksum
    nonce, the database's size in pages before the transaction, sector size, page size), then
    one record per page of ``before`` that the transaction changed: page number, the page's
    original content, checksum (the nonce plus every 200th byte of the page, from the end).
    Pages past the original size need no record: a rollback truncates the file to it."""
    page = int.from_bytes(before[16:18], "big")
    page = 65536 if page == 1 else page
    if len(before) % page or len(after) % page:
        raise ValueError("a database file is a whole number of pages")
    pages = len(before) // page
    records = []
    for number in range(1, pages + 1):
        old = before[(number - 1) * page:number * page]
        if after[(number - 1) * page:number * page] != old:
            checksum = (nonce + sum(old[page - 200:0:-200])) & 0xFFFFFFFF
            records.append(struct.pack(">I", number) + old + struct.pack(">I", checksum))
    if not records:
        raise ValueError("the transaction changed no page: nothing to roll back")
    header = JOURNAL_MAGIC + struct.pack(">5I", len(records), nonce & 0xFFFFFFFF, pages, sector, page)
    return header.ljust(sector, b"\0") + b"".join(records)


# -- documents ---------------------------------------------------------------------------------------
def job_offer_pdf(story: Story) -> bytes:
    """The recruiter's job offer, a one-page PDF."""
    dest = story.scenario.stops[-1]
    lines = [
        f"{story.hotel} - {dest.city}",
        "OFERTA DE TRABAJO / JOB OFFER",
        "Puesto: camarera de pisos (housekeeping)",
        "Salario: 1.500 EUR al mes, alojamiento incluido",
        "Viaje pagado por la empresa (se descuenta del salario)",
        f"Contacto: {story.recruiter}, {story.recruiter_phone}",
        "Documentos: entregar el pasaporte a la llegada",
    ]
    return _pdf(lines, "Oferta de trabajo", story.start - timedelta(days=7))


def debt_note_pdf(story: Story, when: datetime) -> bytes:
    """The 'debt' the handler says the victim owes, as a one-page PDF (sent named like a photo)."""
    lines = [
        "RECONOCIMIENTO DE DEUDA",
        f"{story.owner} debe {story.debt:,} EUR".replace(",", ".") + " por viaje, alojamiento y documentos.",
        "Se paga con trabajo. Hasta el pago total, el pasaporte queda en custodia.",
        f"{story.hotel} - {story.scenario.stops[-1].city}",
    ]
    return _pdf(lines, "Deuda", when)


def deposit_receipt(story: Story, when: datetime) -> bytes:
    """A money-transfer receipt, Latin-1 text (its file name is Latin-1 too, as an old app wrote it)."""
    text = (f"Recibo de depósito\r\nFecha: {when:%d/%m/%Y %H:%M}\r\nOrdenante: {story.owner}\r\n"
            f"Beneficiario: {story.recruiter}\r\nImporte: 500,00 EUR\r\nConcepto: pago deuda viaje\r\n")
    return text.encode("latin-1", "replace")


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_REL = "http://schemas.openxmlformats.org/package/2006/relationships"


def _xml_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shift_rota_docx(story: Story, image: bytes, when: datetime) -> bytes:
    """The handler's shift rota, a minimal real Word document (OOXML): ``[Content_Types].xml``,
    the package and document relationships, ``word/document.xml`` (three paragraphs and the
    picture, drawn inline) and ``word/media/image1.jpeg`` (``image``, as it was taken)."""
    dest = story.scenario.stops[-1]
    types = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             '<Default Extension="xml" ContentType="application/xml"/>'
             '<Default Extension="jpeg" ContentType="image/jpeg"/>'
             '<Override PartName="/word/document.xml" ContentType="application/'
             'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{_REL}"><Relationship Id="rId1" Type="{_R}/officeDocument" '
            'Target="word/document.xml"/></Relationships>')
    doc_rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<Relationships xmlns="{_REL}"><Relationship Id="rId1" Type="{_R}/image" '
                'Target="media/image1.jpeg"/></Relationships>')
    lines = (f"{story.hotel} - {dest.city}: turnos de la semana",
             f"Entrada de servicio (foto). Preguntar por {story.handler}.",
             "Turno de noche: 22:00 - 06:00. Sin teléfonos en el trabajo.")
    paragraphs = "".join(f'<w:p><w:r><w:t xml:space="preserve">{_xml_text(line)}</w:t></w:r></w:p>' for line in lines)
    emu = 914400 // 96                     # EMU per pixel at 96 dpi: the picture drawn at its 64 x 48 size
    picture = (
        '<w:p><w:r><w:drawing><wp:inline><wp:extent cx="{cx}" cy="{cy}"/><wp:docPr id="1" name="Picture 1"/>'
        '<a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
        '<a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture">'
        '<pic:pic xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture">'
        '<pic:nvPicPr><pic:cNvPr id="1" name="image1.jpeg"/><pic:cNvPicPr/></pic:nvPicPr>'
        '<pic:blipFill><a:blip r:embed="rId1"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill>'
        '<pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="{cx}" cy="{cy}"/></a:xfrm>'
        '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic></a:graphicData></a:graphic>'
        '</wp:inline></w:drawing></w:r></w:p>').format(cx=64 * emu, cy=48 * emu)
    document = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<w:document xmlns:w="{_W}" xmlns:r="{_R}" xmlns:wp="http://schemas.openxmlformats.org/'
                f'drawingml/2006/wordprocessingDrawing"><w:body>{paragraphs}{picture}</w:body></w:document>')
    return zip_bytes([("[Content_Types].xml", types.encode("utf-8"), when), ("_rels/.rels", rels.encode("utf-8"), when),
                      ("word/document.xml", document.encode("utf-8"), when),
                      ("word/_rels/document.xml.rels", doc_rels.encode("utf-8"), when),
                      ("word/media/image1.jpeg", image, when)])


def _pdf(lines: list[str], title: str, created: datetime) -> bytes:
    """A small, valid one-page PDF (text only, Helvetica), written object by object."""

    def pdf_text(s: str) -> str:
        return s.encode("latin-1", "replace").decode("latin-1").replace("\\", "\\\\").replace("(", "\\(") \
            .replace(")", "\\)")

    content = "BT /F1 12 Tf 60 760 Td 16 TL\n" + "".join(f"({pdf_text(x)}) Tj T*\n" for x in lines) + "ET\n"
    stream = content.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"endstream",
        b"<< /Title (" + title.encode("latin-1") + b") /Producer (forensic sample generator) /CreationDate (D:"
        + f"{created:%Y%m%d%H%M%S}Z".encode() + b") >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)


def extraction_report(story: Story, files: list[tuple[str, int, str]]) -> str:
    """The summary a phone-extraction tool puts beside its dump (fictional tool)."""
    lines = ["Logical extraction report", "Tool: MobiDump 4.2 (fictional)",
             f"Device: {story.phone_make} {story.phone_model}, serial {story.phone_serial}",
             f"Extraction finished: {story.export_utc + timedelta(days=1):%Y-%m-%d %H:%M:%S} UTC",
             f"Files: {len(files)}", "", "SHA-256  size  path"]
    lines += [f"{sha}  {size}  {path}" for path, size, sha in files]
    return "\n".join(lines) + "\n"



# -- a minimal Telegram export ----------------------------------------------------------------------
def telegram_minimal(chat: Chat, place: tuple[Message, float, float]) -> str:
    """A Telegram export cut down to what every message has: ``date_unixtime``, ``from`` and
    ``text`` (no chat name, type or id, no message ids). The first text is a rich-text list
    (strings and entity objects); the message ``place[0]`` carries ``location_information``."""
    shared, lat, lon = place
    messages = []
    for i, m in enumerate(chat.messages):
        text: str | list = m.body
        if i == 0 and m.needle and m.needle in m.body:
            head, _, tail = m.body.partition(m.needle)
            text = [head, {"type": "bold", "text": m.needle}] + ([tail] if tail else [])
        msg: dict = {"date_unixtime": str(epoch(m.utc)), "from": m.sender, "text": text}
        if m is shared:
            msg["location_information"] = {"latitude": lat, "longitude": lon}
        messages.append(msg)
    return json.dumps({"messages": messages}, ensure_ascii=False, indent=1) + "\n"


# -- app databases ------------------------------------------------------------------------------------
def sqlite_bytes(script: str, inserts: list[tuple[str, list[dict]]], page_size: int = 4096) -> bytes:
    """A SQLite database made with ``script`` then each (table, rows as {column: value}), as bytes."""
    fd, path = tempfile.mkstemp(suffix=".db")
    os.close(fd)
    try:
        db = sqlite3.connect(path)
        db.execute(f"PRAGMA page_size={page_size}")
        db.execute("PRAGMA journal_mode=DELETE")
        db.executescript(script)
        for table, rows in inserts:
            for row in rows:
                db.execute(f"INSERT INTO {table} ({','.join(row)}) VALUES ({','.join('?' * len(row))})",
                           tuple(row.values()))
        db.commit()
        db.close()
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        os.unlink(path)


# Android's contacts provider (contacts2.db), call log (calllog.db) and WhatsApp's wa.db: the
# columns the extractors read, declared as the apps declare them
CONTACTS2_SCHEMA = """
CREATE TABLE accounts (_id INTEGER PRIMARY KEY AUTOINCREMENT, account_name TEXT, account_type TEXT, data_set TEXT);
CREATE TABLE mimetypes (_id INTEGER PRIMARY KEY AUTOINCREMENT, mimetype TEXT NOT NULL);
CREATE TABLE raw_contacts (_id INTEGER PRIMARY KEY AUTOINCREMENT, account_id INTEGER REFERENCES accounts(_id),
  sourceid TEXT, backup_id TEXT, raw_contact_is_read_only INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL DEFAULT 1,
  dirty INTEGER NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0, metadata_dirty INTEGER NOT NULL DEFAULT 0,
  contact_id INTEGER REFERENCES contacts(_id), aggregation_mode INTEGER NOT NULL DEFAULT 0,
  aggregation_needed INTEGER NOT NULL DEFAULT 1, custom_ringtone TEXT, send_to_voicemail INTEGER NOT NULL DEFAULT 0,
  times_contacted INTEGER NOT NULL DEFAULT 0, last_time_contacted INTEGER, starred INTEGER NOT NULL DEFAULT 0,
  pinned INTEGER NOT NULL DEFAULT 0, display_name TEXT, display_name_alt TEXT, display_name_source INTEGER NOT NULL
  DEFAULT 0, phonetic_name TEXT, phonetic_name_style TEXT, sort_key TEXT, phonebook_label TEXT,
  phonebook_bucket INTEGER, sort_key_alt TEXT, phonebook_label_alt TEXT, phonebook_bucket_alt INTEGER,
  name_verified INTEGER NOT NULL DEFAULT 0, sync1 TEXT, sync2 TEXT, sync3 TEXT, sync4 TEXT);
CREATE TABLE data (_id INTEGER PRIMARY KEY AUTOINCREMENT, package_id INTEGER REFERENCES package(_id),
  mimetype_id INTEGER REFERENCES mimetype(_id) NOT NULL, raw_contact_id INTEGER REFERENCES raw_contacts(_id) NOT NULL,
  hash_id TEXT, is_read_only INTEGER NOT NULL DEFAULT 0, is_primary INTEGER NOT NULL DEFAULT 0,
  is_super_primary INTEGER NOT NULL DEFAULT 0, data_version INTEGER NOT NULL DEFAULT 0, data1 TEXT, data2 TEXT,
  data3 TEXT, data4 TEXT, data5 TEXT, data6 TEXT, data7 TEXT, data8 TEXT, data9 TEXT, data10 TEXT, data11 TEXT,
  data12 TEXT, data13 TEXT, data14 TEXT, data15 TEXT, data_sync1 TEXT, data_sync2 TEXT, data_sync3 TEXT,
  data_sync4 TEXT, carrier_presence INTEGER NOT NULL DEFAULT 0, preferred_phone_account_component_name TEXT,
  preferred_phone_account_id TEXT);
"""

CALLLOG_SCHEMA = """
CREATE TABLE calls (_id INTEGER PRIMARY KEY AUTOINCREMENT, number TEXT, presentation INTEGER NOT NULL DEFAULT 1,
  post_dial_digits TEXT NOT NULL DEFAULT '', via_number TEXT NOT NULL DEFAULT '', date INTEGER, duration INTEGER,
  data_usage INTEGER, type INTEGER, features INTEGER NOT NULL DEFAULT 0, subscription_component_name TEXT,
  subscription_id TEXT, phone_account_address TEXT, phone_account_hidden INTEGER NOT NULL DEFAULT 0,
  sub_id INTEGER DEFAULT -1, new INTEGER, name TEXT, numbertype INTEGER, numberlabel TEXT, countryiso TEXT,
  voicemail_uri TEXT, is_read INTEGER, geocoded_location TEXT, lookup_uri TEXT, matched_number TEXT,
  normalized_number TEXT, photo_id INTEGER NOT NULL DEFAULT 0, photo_uri TEXT, formatted_number TEXT,
  add_for_all_users INTEGER NOT NULL DEFAULT 1, last_modified INTEGER DEFAULT 0);
"""

WA_SCHEMA = """
CREATE TABLE wa_contacts (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid TEXT NOT NULL, is_whatsapp_user BOOLEAN NOT NULL,
  status TEXT, status_timestamp INTEGER, number TEXT, raw_contact_id INTEGER, display_name TEXT, phone_type INTEGER,
  phone_label TEXT, unseen_msg_count INTEGER, photo_ts INTEGER, thumb_ts INTEGER, photo_id_timestamp INTEGER,
  given_name TEXT, family_name TEXT, wa_name TEXT, sort_name TEXT, nickname TEXT, company TEXT, title TEXT,
  status_autodownload_disabled INTEGER, keep_timestamp INTEGER, is_spam_reported INTEGER, is_sidelist_synced BOOLEAN
  DEFAULT 0, is_business_synced BOOLEAN DEFAULT 0, disappearing_mode_duration INTEGER,
  disappearing_mode_timestamp LONG, history_sync_initial_phash TEXT);
"""

_MIMES = ("vnd.android.cursor.item/name", "vnd.android.cursor.item/phone_v2",
          "vnd.android.cursor.item/vnd.com.whatsapp.profile")


def contacts2_db(owner_account: str, caller: Caller) -> bytes:
    """The address book: the caller, saved with a national number, and the same person's
    WhatsApp raw contact (as WhatsApp's sync adapter adds it)."""
    return sqlite_bytes(CONTACTS2_SCHEMA, [
        ("accounts", [{"_id": 1, "account_name": owner_account, "account_type": "com.google"},
                      {"_id": 2, "account_name": "WhatsApp", "account_type": "com.whatsapp"}]),
        ("mimetypes", [{"_id": i + 1, "mimetype": m} for i, m in enumerate(_MIMES)]),
        ("raw_contacts", [{"_id": 1, "account_id": 1, "contact_id": 1, "display_name": caller.name},
                          {"_id": 2, "account_id": 2, "contact_id": 1, "display_name": caller.name}]),
        ("data", [{"mimetype_id": 1, "raw_contact_id": 1, "data1": caller.name, "data2": caller.name},
                  {"mimetype_id": 2, "raw_contact_id": 1, "data1": caller.national, "data2": "2"},
                  {"mimetype_id": 3, "raw_contact_id": 2, "data1": caller.jid,
                   "data3": f"Message {caller.e164}"}]),
    ])


def calllog_db(caller: Caller) -> bytes:
    """One incoming call from the caller: the number as dialled in the country, no cached name."""
    return sqlite_bytes(CALLLOG_SCHEMA, [("calls", [
        {"_id": 1, "number": caller.national.replace(" ", ""), "date": epoch(caller.call_utc) * 1000,
         "duration": caller.duration, "type": 1, "name": None, "countryiso": caller.country, "is_read": 1, "new": 0,
         "subscription_component_name": "com.android.phone/com.android.services.telephony.TelephonyConnectionService"},
    ])])


def wa_db(caller: Caller) -> bytes:
    """WhatsApp's contact list: the caller as a jid (the number in international form)."""
    return sqlite_bytes(WA_SCHEMA, [("wa_contacts", [
        {"_id": 1, "jid": caller.jid, "is_whatsapp_user": 1, "number": caller.national, "raw_contact_id": 2,
         "display_name": caller.name, "wa_name": caller.name.split()[0]},
    ])])


# Viber for Android's viber_messages (the tables and columns its extractor reads)
VIBER_SCHEMA = """
CREATE TABLE conversations (_id INTEGER PRIMARY KEY AUTOINCREMENT, group_id LONG DEFAULT 0, group_name TEXT,
  conversation_type INTEGER DEFAULT 0, date LONG DEFAULT 0, flags INTEGER DEFAULT 0);
CREATE TABLE participants_info (_id INTEGER PRIMARY KEY AUTOINCREMENT, participant_type INTEGER DEFAULT 1,
  member_id TEXT, encrypted_member_id TEXT, number TEXT, display_name TEXT, contact_name TEXT, viber_name TEXT,
  contact_id LONG DEFAULT 0);
CREATE TABLE participants (_id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id LONG,
  participant_info_id LONG, active INTEGER DEFAULT 0);
CREATE TABLE messages (_id INTEGER PRIMARY KEY AUTOINCREMENT, msg_date LONG, conversation_id LONG,
  participant_id LONG, send_type INTEGER, body TEXT, unread INTEGER, extra_uri TEXT, extra_mime INTEGER DEFAULT 0,
  location_lat INTEGER DEFAULT 0, location_lng INTEGER DEFAULT 0, deleted INTEGER DEFAULT 0, token LONG);
"""


def viber_messages_db(group: Chat, place: tuple[Message, float, float], owner_number: str, sender_number: str,
                      group_id: int) -> bytes:
    """A group chat in ``viber_messages``: the owner and the sender as participants, the
    position of ``place[0]`` stored as Viber stores it (integer micro-degrees)."""
    shared, lat, lon = place
    owner = next(m.sender for m in group.messages if not m.incoming)
    sender = next(m.sender for m in group.messages if m.incoming)
    rows = []
    for i, m in enumerate(group.messages, start=1):
        mine = not m.incoming
        rows.append({"_id": i, "msg_date": epoch(m.utc) * 1000 + m.utc.microsecond // 1000, "conversation_id": 1,
                     "participant_id": 1 if mine else 2, "send_type": 1 if mine else 0, "body": m.body,
                     "unread": 0, "extra_mime": 5 if m is shared else 0,
                     "location_lat": round(lat * 1e6) if m is shared else 0,
                     "location_lng": round(lon * 1e6) if m is shared else 0, "deleted": 0, "token": group_id * 100 + i})
    return sqlite_bytes(VIBER_SCHEMA, [
        ("conversations", [{"_id": 1, "group_id": group_id, "group_name": group.title, "conversation_type": 1}]),
        ("participants_info", [
            {"_id": 1, "participant_type": 0, "member_id": "owner", "number": owner_number, "display_name": owner},
            {"_id": 2, "participant_type": 1, "member_id": f"m{group_id}", "number": sender_number,
             "display_name": sender, "contact_name": sender}]),
        ("participants", [{"_id": 1, "conversation_id": 1, "participant_info_id": 1, "active": 1},
                          {"_id": 2, "conversation_id": 1, "participant_info_id": 2, "active": 1}]),
        ("messages", rows),
    ])


# WhatsApp for Android's msgstore.db, current schema (jid, jid_map, chat, message): the columns
# its extractor reads, declared as the app declares them
MSGSTORE_SCHEMA = """
CREATE TABLE jid (_id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, server TEXT NOT NULL,
  agent INTEGER, device INTEGER, type INTEGER, raw_string TEXT);
CREATE TABLE jid_map (lid_row_id INTEGER PRIMARY KEY NOT NULL, jid_row_id INTEGER NOT NULL, sort_id INTEGER);
CREATE TABLE chat (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid_row_id INTEGER UNIQUE, hidden INTEGER,
  subject TEXT, created_timestamp INTEGER);
CREATE TABLE message (_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_row_id INTEGER NOT NULL, from_me INTEGER NOT NULL,
  key_id TEXT NOT NULL, sender_jid_row_id INTEGER, status INTEGER, broadcast INTEGER, recipient_count INTEGER,
  origination_flags INTEGER, timestamp INTEGER, received_timestamp INTEGER, receipt_server_timestamp INTEGER,
  message_type INTEGER, text_data TEXT, starred INTEGER, lookup_tables INTEGER, sort_id INTEGER);
"""


def _ms(utc: datetime) -> int:
    return epoch(utc) * 1000 + utc.microsecond // 1000


def msgstore_db(wa: WaGroup) -> bytes:
    """``msgstore.db`` with the group's messages, the handler's stored under their ``@lid`` jid
    (``jid_map`` maps it to the phone-number jid); then ``wa.deleted`` deleted in a transaction
    of their own, as the app deletes them: with secure_delete off and 1024-byte pages, the rows
    stay in their page's free space."""
    import hashlib

    jids = [wa.handler_jid, wa.group_jid, wa.member_jid, wa.handler_lid]
    row_of = {j: n for n, j in enumerate(jids, start=1)}
    fd, path = tempfile.mkstemp(suffix=".db")
    os.close(fd)
    try:
        db = sqlite3.connect(path, isolation_level=None)
        db.executescript("PRAGMA page_size=1024; PRAGMA secure_delete=OFF; PRAGMA auto_vacuum=NONE; "
                         "PRAGMA journal_mode=DELETE;" + MSGSTORE_SCHEMA)
        db.execute("BEGIN")
        for j, n in row_of.items():
            user, server = j.split("@")
            db.execute("INSERT INTO jid VALUES (?,?,?,0,0,?,?)", (n, user, server, 1 if server == "g.us" else 0, j))
        db.execute("INSERT INTO jid_map VALUES (?,?,0)", (row_of[wa.handler_lid], row_of[wa.handler_jid]))
        db.execute("INSERT INTO chat VALUES (1,?,0,?,?)", (row_of[wa.group_jid], wa.title, _ms(wa.messages[0].utc)))
        for i, m in enumerate(wa.messages, start=1):
            mine = not m.incoming
            sender = None if mine else row_of[wa.handler_lid if m.sender == wa.handler_jid else m.sender]
            key_id = hashlib.sha256(f"{wa.group_jid}/{i}".encode()).hexdigest()[:20].upper()
            db.execute(f"INSERT INTO message VALUES ({','.join('?' * 17)})",
                       (i, 1, int(mine), key_id, sender, 13 if mine else 0, 0, 0, 0, _ms(m.utc),
                        0 if mine else _ms(m.utc) + 1500, _ms(m.utc) + 800, 0, m.body, 0, 0, i))
        db.execute("COMMIT")
        db.execute("BEGIN")
        for m in wa.deleted:
            db.execute("DELETE FROM message WHERE _id = ?", (wa.messages.index(m) + 1,))
        db.execute("COMMIT")
        db.close()
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        os.unlink(path)


# Telegram for Android's cache4.db (MessagesStorage.java): the tables a chat lives in, declared
# as the app declares them (messages_v2 as from Telegram Android 10.x, with reply_to_story_id)
CACHE4_SCHEMA = """
CREATE TABLE users(uid INTEGER PRIMARY KEY, name TEXT, status INTEGER, data BLOB);
CREATE TABLE chats(uid INTEGER PRIMARY KEY, name TEXT, data BLOB);
CREATE TABLE dialogs(did INTEGER PRIMARY KEY, date INTEGER, unread_count INTEGER, last_mid INTEGER, inbox_max INTEGER,
  outbox_max INTEGER, last_mid_i INTEGER, unread_count_i INTEGER, pts INTEGER, date_i INTEGER, pinned INTEGER,
  flags INTEGER, folder_id INTEGER, data BLOB, unread_reactions INTEGER, last_mid_group INTEGER, ttl_period INTEGER);
CREATE TABLE messages_v2(mid INTEGER, uid INTEGER, read_state INTEGER, send_state INTEGER, date INTEGER, data BLOB,
  out INTEGER, ttl INTEGER, media INTEGER, replydata BLOB, imp INTEGER, mention INTEGER, forwards INTEGER,
  replies_data BLOB, thread_reply_id INTEGER, is_channel INTEGER, reply_to_message_id INTEGER, custom_params BLOB,
  group_id INTEGER, reply_to_story_id INTEGER, PRIMARY KEY(mid, uid));
CREATE INDEX uid_mid_read_out_idx_messages_v2 ON messages_v2(uid, mid, read_state, out);
CREATE INDEX uid_date_mid_idx_messages_v2 ON messages_v2(uid, date, mid);
"""

# TL constructors of Telegram's API schema, layer 181 (api.tl; the same ids through layer 195):
# message#94345242 flags:# ... flags2:# ... id:int from_id:flags.8?Peer from_boosts_applied:flags.29?int
#   peer_id:Peer saved_peer_id:flags.28?Peer fwd_from:flags.2?MessageFwdHeader via_bot_id:flags.11?long
#   via_business_bot_id:flags2.0?long reply_to:flags.3?MessageReplyHeader date:int message:string
#   media:flags.9?MessageMedia reply_markup:flags.6?... (later fields: none set here)
# messageFwdHeader#4e4df4bb flags:# from_id:flags.0?Peer from_name:flags.5?string date:int
#   channel_post:flags.2?int post_author:flags.3?string saved_from_peer:flags.4?Peer ... psa_type:flags.6?string
# messageReplyHeader#afbc09db flags:# reply_to_msg_id:flags.4?int reply_to_peer_id:flags.0?Peer ...
# messageMediaDocument#4cf4d72d flags:# document:flags.0?Document alt_document:flags.5?Document
#   ttl_seconds:flags.2?int
# document#8fd4c4d8 flags:# id:long access_hash:long file_reference:bytes date:int mime_type:string
#   size:long thumbs:flags.0?Vector<PhotoSize> video_thumbs:flags.1?Vector<VideoSize> dc_id:int
#   attributes:Vector<DocumentAttribute>
# documentAttributeFilename#15590068 file_name:string; peerUser#59511722 user_id:long;
# peerChannel#a2a5371e channel_id:long; vector#1cb5c415
TL_MESSAGE_181 = 0x94345242
TL_FWD_HEADER = 0x4E4DF4BB
TL_REPLY_HEADER = 0xAFBC09DB
TL_MEDIA_DOCUMENT = 0x4CF4D72D
TL_DOCUMENT = 0x8FD4C4D8
TL_ATTR_FILENAME = 0x15590068
TL_PEER_USER, TL_PEER_CHANNEL, TL_VECTOR = 0x59511722, 0xA2A5371E, 0x1CB5C415
TL_OUT, TL_FWD, TL_REPLY, TL_FROM, TL_MEDIA = 1 << 1, 1 << 2, 1 << 3, 1 << 8, 1 << 9


def tl_string(text: str | bytes) -> bytes:
    """A TL string/bytes: a length byte (below 254) or 0xFE and 3 length bytes, the bytes,
    zeros to a multiple of 4."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    head = bytes([len(raw)]) if len(raw) < 254 else b"\xfe" + len(raw).to_bytes(3, "little")
    body = head + raw
    return body + b"\x00" * (-len(body) % 4)


def _tl_peer(ctor: int, ident: int) -> bytes:
    return struct.pack("<Iq", ctor, ident)


def tl_message_181(mid: int, date: int, text: str, *, out: bool, from_id: int, peer_id: int,
                   fwd: tuple[int, int, int] | None = None, reply_to: int | None = None,
                   document: tuple[int, int, str, int, str, int] | None = None) -> bytes:
    """A ``message#94345242`` blob (layer 181) as cache4.db stores it: ``fwd`` (channel id, the
    channel's date, its post id) a forward from a channel; ``reply_to`` the replied-to id;
    ``document`` (id, access_hash, mime type, size, file name, date) a file sent as a document."""
    flags = TL_FROM | (TL_OUT if out else 0) | (TL_FWD if fwd else 0) | (TL_REPLY if reply_to is not None else 0) | \
        (TL_MEDIA if document else 0)
    blob = struct.pack("<IIIi", TL_MESSAGE_181, flags, 0, mid)             # flags2 0: no business bot
    blob += _tl_peer(TL_PEER_USER, from_id) + _tl_peer(TL_PEER_USER, peer_id)
    if fwd:
        channel, posted, post = fwd
        # flags.0 from_id (the channel), flags.2 channel_post
        blob += struct.pack("<II", TL_FWD_HEADER, 1 | 1 << 2) + _tl_peer(TL_PEER_CHANNEL, channel) + \
            struct.pack("<ii", posted, post)
    if reply_to is not None:
        blob += struct.pack("<IIi", TL_REPLY_HEADER, 1 << 4, reply_to)      # flags.4 reply_to_msg_id
    blob += struct.pack("<i", date) + tl_string(text)
    if document:
        doc_id, access_hash, mime, size, name, doc_date = document
        attrs = struct.pack("<Ii", TL_VECTOR, 1) + struct.pack("<I", TL_ATTR_FILENAME) + tl_string(name)
        blob += struct.pack("<II", TL_MEDIA_DOCUMENT, 1)                    # flags.0 document
        blob += struct.pack("<IIqq", TL_DOCUMENT, 0, doc_id, access_hash) + tl_string(bytes(8)) + \
            struct.pack("<i", doc_date) + tl_string(mime) + struct.pack("<qi", size, 2) + attrs   # no thumbs; dc 2
    return blob


def _search_name(name: str, username: str = "") -> str:
    """How Telegram Android stores a name for its search (users.name): lower case, and
    ``;;;`` and the username after it."""
    return f"{name};;;{username}".lower()


def cache4_db(tc: TelegramCache, owner: str) -> bytes:
    """``cache4.db`` with the recruiter's private chat: ``users`` (the owner, the recruiter),
    ``chats`` (the channel the ad came from, its title lower-cased as the app stores it), one
    ``dialogs`` row and the messages in ``messages_v2``, each a layer-181 ``TL_message`` blob."""
    ids = {id(m): tc.mid(m) for m in tc.chat.messages}
    rows = []
    for m in tc.chat.messages:
        mid, date, mine = ids[id(m)], epoch(m.utc), not m.incoming
        doc = None
        if m is tc.contract and m.attachment:
            doc = (int.from_bytes(hashlib.sha256(f"{tc.first_id}/doc".encode()).digest()[:8], "little") >> 1,
                   int.from_bytes(hashlib.sha256(f"{tc.first_id}/hash".encode()).digest()[:8], "little") >> 1,
                   tc.contract_mime, tc.contract_size, m.attachment, date)
        blob = tl_message_181(
            mid, date, m.body, out=mine, from_id=tc.owner_id if mine else tc.recruiter_id,
            # a private chat: peer_id is the other side of the chat as the sender sees it
            peer_id=tc.recruiter_id if mine else tc.owner_id,
            fwd=(tc.channel_id, epoch(tc.ad_posted), tc.channel_post) if m is tc.ad else None,
            reply_to=ids[id(tc.ad)] if m is tc.reply else None, document=doc)
        rows.append({"mid": mid, "uid": tc.recruiter_id, "read_state": 1, "send_state": 0, "date": date,
                     "data": blob, "out": int(mine), "ttl": 0, "media": 1 if doc else 0, "replydata": None,
                     "imp": 0, "mention": 0, "forwards": 0, "replies_data": None, "thread_reply_id": 0,
                     "is_channel": 0, "reply_to_message_id": ids[id(tc.ad)] if m is tc.reply else 0,
                     "custom_params": None, "group_id": 0, "reply_to_story_id": 0})
    last = tc.chat.messages[-1]
    return sqlite_bytes(CACHE4_SCHEMA, [
        ("users", [{"uid": tc.owner_id, "name": _search_name(owner), "status": 0, "data": None},
                   {"uid": tc.recruiter_id, "name": _search_name(tc.chat.other, tc.recruiter_username), "status": 0,
                    "data": None}]),
        ("chats", [{"uid": tc.channel_id, "name": tc.channel.lower(), "data": None}]),
        ("dialogs", [{"did": tc.recruiter_id, "date": epoch(last.utc), "unread_count": 0, "last_mid": ids[id(last)],
                      "inbox_max": max(ids[id(m)] for m in tc.chat.messages if m.incoming),
                      "outbox_max": max(ids[id(m)] for m in tc.chat.messages if not m.incoming), "last_mid_i": 0,
                      "unread_count_i": 0, "pts": 0, "date_i": 0, "pinned": 0, "flags": 0, "folder_id": 0,
                      "data": None, "unread_reactions": 0, "last_mid_group": 0, "ttl_period": 0}]),
        ("messages_v2", rows),
    ])


# iOS Messages (sms.db): the tables and columns its extractor reads, declared as iOS declares them
IOS_SMS_SCHEMA = """
CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, text TEXT,
  replace INTEGER DEFAULT 0, handle_id INTEGER DEFAULT 0, subject TEXT, attributedBody BLOB, service TEXT,
  date INTEGER, date_read INTEGER, date_delivered INTEGER, is_from_me INTEGER DEFAULT 0, is_read INTEGER DEFAULT 0,
  item_type INTEGER DEFAULT 0, group_title TEXT, cache_has_attachments INTEGER DEFAULT 0,
  associated_message_guid TEXT, associated_message_type INTEGER DEFAULT 0, date_edited INTEGER DEFAULT 0);
CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL, country TEXT,
  service TEXT NOT NULL, uncanonicalized_id TEXT, UNIQUE (id, service));
CREATE TABLE chat (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL, style INTEGER,
  chat_identifier TEXT, service_name TEXT, display_name TEXT);
CREATE TABLE chat_message_join (chat_id INTEGER, message_id INTEGER, PRIMARY KEY (chat_id, message_id));
CREATE TABLE chat_handle_join (chat_id INTEGER, handle_id INTEGER, UNIQUE(chat_id, handle_id));
"""
APPLE_EPOCH = 978307200                  # 2001-01-01T00:00:00Z in Unix seconds


def ios_sms_db(m: Message) -> bytes:
    """``sms.db`` with one SMS thread: ``m`` received from ``m.sender`` (its time in Apple-epoch
    nanoseconds, as iOS 11 and later store it), and the owner's short reply a minute later."""
    ns = (epoch(m.utc) - APPLE_EPOCH) * 10**9 + m.utc.microsecond * 1000
    chat_guid = f"SMS;-;{m.sender}"
    return sqlite_bytes(IOS_SMS_SCHEMA, [
        ("handle", [{"ROWID": 1, "id": m.sender, "country": "es", "service": "SMS", "uncanonicalized_id": m.sender}]),
        ("chat", [{"ROWID": 1, "guid": chat_guid, "style": 45, "chat_identifier": m.sender, "service_name": "SMS"}]),
        ("chat_handle_join", [{"chat_id": 1, "handle_id": 1}]),
        ("message", [
            {"ROWID": 1, "guid": f"{epoch(m.utc):08X}-0001", "text": m.body, "handle_id": 1, "service": "SMS",
             "date": ns, "date_read": ns + 90 * 10**9, "date_delivered": 0, "is_from_me": 0, "is_read": 1},
            {"ROWID": 2, "guid": f"{epoch(m.utc):08X}-0002", "text": "Ok", "handle_id": 1, "service": "SMS",
             "date": ns + 60 * 10**9, "date_read": 0, "date_delivered": ns + 61 * 10**9, "is_from_me": 1}]),
        ("chat_message_join", [{"chat_id": 1, "message_id": 1}, {"chat_id": 1, "message_id": 2}]),
    ])


def _mbfile(rel: str, size: int, mode: int, mtime: int) -> bytes:
    """A Manifest.db ``file`` blob: an NSKeyedArchiver archive of an MBFile, as iOS 10+ writes it."""
    root = {"$class": plistlib.UID(3), "Size": size, "Mode": mode, "LastModified": mtime, "Birth": mtime,
            "LastStatusChange": mtime, "InodeNumber": 0, "ProtectionClass": 3, "Flags": 0, "UserID": 501,
            "GroupID": 501, "RelativePath": plistlib.UID(2)}
    objects = ["$null", root, rel, {"$classname": "MBFile", "$classes": ["MBFile", "NSObject"]}]
    return plistlib.dumps({"$version": 100000, "$archiver": "NSKeyedArchiver", "$top": {"root": plistlib.UID(1)},
                           "$objects": objects}, fmt=plistlib.FMT_BINARY, sort_keys=True)


def itunes_backup(ip: IphoneBackup, files: list[tuple[str, str, bytes | None]]) -> list[tuple[str, bytes]]:
    """An unencrypted iTunes/Finder backup folder, as (path in the folder, bytes): every file
    stored as ``fileID[:2]/fileID`` with ``fileID`` = SHA-1 of ``domain-relativePath``,
    ``Manifest.db`` (table ``Files``) mapping them back, ``Info.plist`` with the device facts,
    ``Manifest.plist`` and ``Status.plist``. ``files``: (domain, relativePath, bytes, or None
    for a folder)."""
    import hashlib

    when = epoch(ip.last_backup)
    rows, out = [], []
    for domain, rel, data in files:
        fid = hashlib.sha1(f"{domain}-{rel}".encode()).hexdigest()    # noqa: S324 (the format's name, not security)
        if data is None:
            rows.append({"fileID": fid, "domain": domain, "relativePath": rel, "flags": 2,
                         "file": _mbfile(rel, 0, 0o40755, when)})
            continue
        rows.append({"fileID": fid, "domain": domain, "relativePath": rel, "flags": 1,
                     "file": _mbfile(rel, len(data), 0o100644, when)})
        out.append((f"{fid[:2]}/{fid}", data))
    manifest_db = sqlite_bytes("CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, "
                               "flags INTEGER, file BLOB); CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);",
                               [("Files", rows)])
    last = ip.last_backup.replace(tzinfo=None)           # a plist <date> is UTC
    lockdown = {"ProductType": ip.product_type, "ProductVersion": ip.ios_version, "BuildVersion": ip.build_version,
                "SerialNumber": ip.serial, "UniqueDeviceID": ip.udid, "DeviceName": ip.device_name}
    info = {"Device Name": ip.device_name, "Display Name": ip.device_name, "Product Name": ip.model,
            "Product Type": ip.product_type, "Product Version": ip.ios_version, "Build Version": ip.build_version,
            "IMEI": ip.imei, "Serial Number": ip.serial, "Unique Identifier": ip.udid, "Target Identifier": ip.udid,
            "Target Type": "Device", "Last Backup Date": last}
    out += [("Info.plist", plistlib.dumps(info, sort_keys=True)),
            ("Manifest.db", manifest_db),
            ("Manifest.plist", plistlib.dumps({"Version": "10.0", "IsEncrypted": False, "Date": last,
                                               "WasPasscodeSet": True, "Lockdown": lockdown},
                                              fmt=plistlib.FMT_BINARY, sort_keys=True)),
            ("Status.plist", plistlib.dumps({"IsFullBackup": False, "Version": "3.3", "BackupState": "new",
                                             "Date": last, "SnapshotState": "finished"},
                                            fmt=plistlib.FMT_BINARY, sort_keys=True))]
    return sorted(out)


def android_backup(files: list[tuple[str, bytes]], mtime: int) -> bytes:
    """An unencrypted ``adb backup`` file: the header ``ANDROID BACKUP`` / 5 / 1 / ``none``, then
    zlib of a TAR of ``files`` (``apps/<package>/<domain>/...``, as adb names them), every
    member with fixed owner, mode and time (same files, same bytes)."""
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), mtime, 0o600
            info.uid = info.gid = 10000
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return b"ANDROID BACKUP\n5\n1\nnone\n" + zlib.compress(buf.getvalue(), 9)


def xmp_photo(jpeg_bytes: bytes, date_created: str) -> bytes:
    """A JPEG (no EXIF) given an XMP packet (APP1 ``http://ns.adobe.com/xap/1.0/``) whose only
    date is ``photoshop:DateCreated`` (ISO 8601 with its offset), as an editing app writes it."""
    packet = ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
              '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Sample XMP Core 1.0">'
              '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              '<rdf:Description rdf:about="" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
              'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Sample Photo Editor 2.3" '
              f'photoshop:DateCreated="{date_created}"/>'
              '</rdf:RDF></x:xmpmeta><?xpacket end="r"?>').encode("utf-8")
    body = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    return jpeg_bytes[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg_bytes[2:]


# -- a GoPro clip, atom by atom: mvhd (the camera's local clock), a gpmd track of GPMF samples
# (GPS5 points with their UTC time, GPSU), udta with the camera's model, serial and firmware
EPOCH_1904 = -2082844800                 # 1904-01-01T00:00:00Z in Unix seconds


def _atom(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _klv(key: bytes, type_code: bytes, size: int, values: bytes) -> bytes:
    repeat = len(values) // size if size else 0
    return struct.pack(">4scBH", key, type_code, size, repeat) + values + b"\0" * ((-len(values)) % 4)


def _nest(key: bytes, *items: bytes) -> bytes:
    body = b"".join(items)
    return struct.pack(">4scBH", key, b"\0", 1, len(body)) + body


def gopro_mp4(local: datetime, utc: datetime, points: list[tuple[float, float, float]], model: str,
              serial: str, firmware: str) -> bytes:
    """A GoPro MP4: ``mvhd`` holds ``local`` (the camera's wall clock, no zone, as GoPro writes
    it); one GPMF sample a second, each with its GPSU time (UTC) and a GPS5 point (lat, lon,
    alt, speeds 0), from ``utc`` on."""
    scal = (10_000_000, 10_000_000, 1000, 1000, 100)
    samples = []
    for n, (lat, lon, alt) in enumerate(points):
        gpsu = (utc + timedelta(seconds=n)).strftime("%y%m%d%H%M%S.000")
        gps5 = struct.pack(">5i", round(lat * scal[0]), round(lon * scal[1]), round(alt * scal[2]), 0, 0)
        strm = _nest(b"STRM", _klv(b"STNM", b"c", 1, b"GPS (Lat., Long., Alt., 2D speed, 3D speed)"),
                     _klv(b"GPSF", b"L", 4, struct.pack(">I", 3)), _klv(b"GPSU", b"U", 16, gpsu.encode()),
                     _klv(b"GPSP", b"S", 2, struct.pack(">H", 180)), _klv(b"SCAL", b"l", 4, struct.pack(">5i", *scal)),
                     _klv(b"GPS5", b"l", 20, gps5))
        samples.append(_nest(b"DEVC", _klv(b"DVID", b"L", 4, struct.pack(">I", 1)),
                             _klv(b"DVNM", b"c", 1, model.encode()), strm))
    ftyp = _atom(b"ftyp", b"mp41", b"\0\0\0\0", b"mp41")
    mdat = _atom(b"mdat", *samples)
    offsets, pos = [], len(ftyp) + 8
    for sample in samples:
        offsets.append(pos)
        pos += len(sample)
    n = len(samples)
    when = epoch(local.replace(tzinfo=timezone.utc)) - EPOCH_1904      # wall clock written as if UTC
    mvhd = _atom(b"mvhd", struct.pack(">B3xIIII", 0, when, when, 1000, 1000 * n), b"\0" * 80)
    video = _atom(b"trak", _atom(b"tkhd", b"\0" * 76, struct.pack(">II", 1920 << 16, 1080 << 16)),
                  _atom(b"mdia", _atom(b"mdhd", struct.pack(">B3xIIIIHH", 0, when, when, 1000, 1000 * n, 0, 0)),
                        _atom(b"hdlr", b"\0\0\0\0mhlrvide", b"\0" * 12, b"\0"),
                        _atom(b"minf", _atom(b"stbl", _atom(b"stsd", struct.pack(">II", 0, 1),
                                                            _atom(b"avc1", b"\0" * 78)),
                                             _atom(b"stts", struct.pack(">IIII", 0, 1, 30 * n, 1000 // 30))))))
    stbl = _atom(b"stbl", _atom(b"stsd", struct.pack(">II", 0, 1), _atom(b"gpmd", b"\0" * 8)),
                 _atom(b"stts", struct.pack(">IIII", 0, 1, n, 1000)),
                 _atom(b"stsc", struct.pack(">IIIII", 0, 1, 1, 1, 1)),
                 _atom(b"stsz", struct.pack(">III", 0, 0, n), *(struct.pack(">I", len(x)) for x in samples)),
                 _atom(b"stco", struct.pack(">II", 0, n), *(struct.pack(">I", o) for o in offsets)))
    meta = _atom(b"trak", _atom(b"tkhd", b"\0" * 84),
                 _atom(b"mdia", _atom(b"mdhd", struct.pack(">B3xIIIIHH", 0, when, when, 1000, 1000 * n, 0, 0)),
                       _atom(b"hdlr", b"\0\0\0\0mhlrmeta", b"\0" * 12, b"\0"), _atom(b"minf", stbl)))
    gpmf = (_klv(b"FIRM", b"c", 1, firmware.encode()) + _klv(b"CASN", b"c", 1, serial.encode())
            + _klv(b"MINF", b"c", 1, model.encode()))
    udta = _atom(b"udta", _atom(b"FIRM", firmware.encode()), _atom(b"GPMF", gpmf))
    return ftyp + mdat + _atom(b"moov", mvhd, video, meta, udta)


GMM_MYPLACES_SCHEMA = """
CREATE TABLE sync_item (corpus INTEGER NOT NULL, key_string TEXT NOT NULL, timestamp INTEGER, merge_key INTEGER,
  feature_fprint TEXT, latitude INTEGER, longitude INTEGER, is_local INTEGER, sync_item BLOB,
  PRIMARY KEY (corpus, key_string));
"""


def gmm_myplaces_db(key: str, label: str, lat: float, lon: float, saved: datetime) -> bytes:
    """Google Maps' saved places (Android ``gmm_myplaces.db``): one starred place (corpus 14),
    position in millionths of a degree, saved time in milliseconds since 1970 (UTC)."""
    blob = b"\x0a" + bytes([len(label.encode())]) + label.encode()
    return sqlite_bytes(GMM_MYPLACES_SCHEMA, [("sync_item", [
        {"corpus": 14, "key_string": key, "timestamp": _ms(saved), "merge_key": 1, "feature_fprint": None,
         "latitude": round(lat * 1_000_000), "longitude": round(lon * 1_000_000), "is_local": 0,
         "sync_item": blob}])])


CLIP_SECONDS, CLIP_FPS, FRAME_AT_S = 5, 5, 2


def clip_and_frame(seed: str) -> tuple[bytes, bytes]:
    """A short phone clip (MP4, MPEG-4 Part 2, 320x240, 5 s at 5 fps, a key frame every second,
    each second a different seeded scene) and the picture a messenger makes of its frame at
    :data:`FRAME_AT_S` s: that scene resized to 50%, JPEG quality 75, no EXIF. Encoded by PyAV
    (FFmpeg) with ``bitexact`` flags, so the same seed gives the same bytes with the same FFmpeg."""
    import io

    import av
    from PIL import Image

    from forensic.training.jpeg import scene
    scenes = [scene(f"{seed}/second-{k}", (320, 240)) for k in range(CLIP_SECONDS)]
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4", options={"fflags": "+bitexact"}) as out:
        stream = out.add_stream("mpeg4", rate=CLIP_FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.gop_size = CLIP_FPS                      # a key frame at every whole second
        stream.codec_context.options = {"flags": "+bitexact", "qscale": "3"}
        for k in range(CLIP_SECONDS * CLIP_FPS):
            frame = av.VideoFrame.from_image(scenes[k // CLIP_FPS])
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    img = scenes[FRAME_AT_S]
    copy = io.BytesIO()
    img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS).save(copy, "JPEG", quality=75)
    return buf.getvalue(), copy.getvalue()


# -- hash sets the sample ships beside its evidence (never real hashes: digests of generated files) -------
def _digests(data: bytes) -> dict[str, str]:
    return {alg: hashlib.new(alg, data).hexdigest().upper() for alg in ("sha256", "sha1", "md5")}


def nsrl_rds_v3(files: list[tuple[str, bytes]], version: str) -> bytes:
    """An NSRL RDS v3 'minimal'-style SQLite, as NIST lays it out: ``FILE`` keyed by sha256
    (WITHOUT ROWID, so its primary key is its index), sha1 and md5 indexed, hex in upper case;
    ``PKG``/``OS``/``MFG``/``VERSION`` beside it. One package, the phone's stock files."""
    script = """
        CREATE TABLE VERSION (version TEXT, build_set TEXT, build_date TEXT, release_date TEXT, description TEXT);
        CREATE TABLE MFG (manufacturer_id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE OS (operating_system_id INTEGER PRIMARY KEY, name TEXT, version TEXT, manufacturer_id INTEGER);
        CREATE TABLE PKG (package_id INTEGER PRIMARY KEY, name TEXT, version TEXT, operating_system_id INTEGER,
                          manufacturer_id INTEGER, language TEXT, application_type TEXT);
        CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL,
                           crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL,
                           package_id INTEGER NOT NULL, PRIMARY KEY (sha256, package_id, file_name, file_size))
                           WITHOUT ROWID;
        CREATE INDEX FILE_sha1 ON FILE(sha1);
        CREATE INDEX FILE_md5 ON FILE(md5);
    """
    rows = []
    for name, data in files:
        d = _digests(data)
        rows.append({"sha256": d["sha256"], "sha1": d["sha1"], "md5": d["md5"],
                     "crc32": f"{zlib.crc32(data):08X}", "file_name": name, "file_size": len(data), "package_id": 1})
    return sqlite_bytes(script, [
        ("VERSION", [{"version": version, "build_set": "minimal", "build_date": version[:7] + "-01",
                      "release_date": version[:7] + "-15", "description": "forensic sample (generated, not NIST's)"}]),
        ("MFG", [{"manufacturer_id": 1, "name": "Sample Phone Co."}]),
        ("OS", [{"operating_system_id": 1, "name": "Android", "version": "13", "manufacturer_id": 1}]),
        ("PKG", [{"package_id": 1, "name": "Stock Android media", "version": "13", "operating_system_id": 1,
                  "manufacturer_id": 1, "language": "Multilanguage", "application_type": "Operating System"}]),
        ("FILE", rows)])


def vics_json(case_number: str, media: list[tuple[str, bytes, int]]) -> bytes:
    """A Project VIC VICS 2.0 export (OData JSON): one case holding ``media`` (file name, bytes,
    category), each with MD5 and SHA-1 only, as many VICS exports have."""
    items = []
    for i, (name, data, category) in enumerate(media, start=1):
        d = _digests(data)
        items.append({"MediaID": i, "Category": category, "MD5": d["md5"], "SHA1": d["sha1"], "MediaSize": len(data),
                      "IsPrecategorized": True, "MediaFiles": [{"MD5": d["md5"], "FileName": name}]})
    doc = {"@odata.context": "http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/CASE/$metadata#Cases",
           "value": [{"CaseID": "1", "CaseNumber": case_number, "Media": items}]}
    return (json.dumps(doc, indent=1) + "\n").encode("utf-8")


# Signal Desktop's sql/db.sqlite (the tables and columns its migrations create and its
# extractor reads: the message and conversation objects in the json column)
SIGNAL_DESKTOP_SCHEMA = """
CREATE TABLE conversations(id STRING PRIMARY KEY ASC, json TEXT, active_at INTEGER, type STRING, members TEXT,
  name TEXT, profileName TEXT, profileFamilyName TEXT, profileFullName TEXT, e164 TEXT, serviceId TEXT,
  groupId TEXT, profileLastFetchedAt INTEGER);
CREATE TABLE messages(rowid INTEGER PRIMARY KEY ASC, id STRING UNIQUE, json TEXT, readStatus INTEGER,
  expires_at INTEGER, sent_at INTEGER, schemaVersion INTEGER, conversationId STRING, received_at INTEGER,
  source STRING, hasAttachments INTEGER, hasFileAttachments INTEGER, hasVisualMediaAttachments INTEGER,
  expireTimer INTEGER, expirationStartTimestamp INTEGER, type STRING, body TEXT, sourceServiceId TEXT);
"""


def signal_desktop_db(sd: SignalDesktop) -> bytes:
    """The chat with the handler as Signal Desktop stores it, unencrypted (``signal_desktop_sealed``
    encrypts it): one private conversation, each message's object in ``json``."""
    conv = {"id": "conv-1", "type": "private", "name": sd.chat.other, "e164": sd.handler_e164,
            "serviceId": sd.handler_service_id}
    rows = []
    for n, m in enumerate(sd.chat.messages, start=1):
        sent = _ms(m.utc)
        obj = {"id": f"msg-{n}", "conversationId": conv["id"], "type": "incoming" if m.incoming else "outgoing",
               "body": m.body, "sent_at": sent, "received_at": 1000 + n, "received_at_ms": sent + 900,
               "schemaVersion": 10, **({"sourceServiceId": sd.handler_service_id, "source": sd.handler_e164}
                                       if m.incoming else {})}
        rows.append({"rowid": n, "id": obj["id"], "json": json.dumps(obj, ensure_ascii=False), "readStatus": 0,
                     "sent_at": sent, "schemaVersion": 10, "conversationId": conv["id"], "received_at": 1000 + n,
                     "source": obj.get("source"), "hasAttachments": 0, "hasFileAttachments": 0,
                     "hasVisualMediaAttachments": 0, "type": obj["type"], "body": m.body,
                     "sourceServiceId": obj.get("sourceServiceId")})
    return sqlite_bytes(SIGNAL_DESKTOP_SCHEMA, [
        ("conversations", [{"id": conv["id"], "json": json.dumps(conv), "active_at": _ms(sd.chat.messages[-1].utc),
                            "type": "private", "name": conv["name"], "e164": conv["e164"],
                            "serviceId": conv["serviceId"]}]),
        ("messages", rows)])


def signal_desktop_sealed(plain: bytes, key_hex: str) -> bytes:
    """``plain`` encrypted with SQLCipher 4 (its defaults, the raw key ``x'<hex>'`` as Signal Desktop
    sets it), by the SQLCipher library (``sqlcipher3``, a dependency of forensic). Its salt and
    page IVs come from SQLCipher's random generator: the bytes differ on every build."""
    import sqlcipher3
    with tempfile.TemporaryDirectory(prefix="signal-") as tmp:
        src, out = os.path.join(tmp, "plain.db"), os.path.join(tmp, "db.sqlite")
        with open(src, "wb") as fh:
            fh.write(plain)
        conn = sqlcipher3.connect(src)
        try:
            conn.execute("ATTACH DATABASE ? AS sealed KEY \"x'" + key_hex + "'\"", (out,))
            conn.execute("SELECT sqlcipher_export('sealed')").fetchone()
            conn.execute("DETACH DATABASE sealed")
        finally:
            conn.close()
        with open(out, "rb") as fh:
            return fh.read()


SAFE_STORAGE_LINUX_PASSWORD = b"peanuts"    # Chromium os_crypt_linux.cc: no keyring available (v10)


def signal_desktop_config(key_hex: str) -> bytes:
    """Signal Desktop's config.json (7.16 and later) on Linux without a keyring: ``encryptedKey``, the
    key sealed by Electron safeStorage as Chromium's os_crypt does it (os_crypt_linux.cc): 'v10', then
    AES-128-CBC (IV 16 spaces, PKCS#7) under PBKDF2-HMAC-SHA1('peanuts', 'saltysalt', 1 iteration,
    16 bytes); hex. Made with the ``cryptography`` library's primitives: the same key, the same bytes."""
    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
    k = PBKDF2HMAC(algorithm=hashes.SHA1(), length=16, salt=b"saltysalt",   # noqa: S303 (Chromium's scheme)
                   iterations=1).derive(SAFE_STORAGE_LINUX_PASSWORD)
    pad = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(k), modes.CBC(b" " * 16)).encryptor()
    sealed = b"v10" + enc.update(pad.update(key_hex.encode("ascii")) + pad.finalize()) + enc.finalize()
    return json.dumps({"encryptedKey": sealed.hex(), "mediaPermissions": True,
                       "mediaCameraPermissions": True}, indent=2).encode("utf-8")
