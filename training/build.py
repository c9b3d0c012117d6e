"""``forensic sample-image``: build the sample case's evidence and its answer key.

Outputs in OUT_DIR: ``phone.raw`` (GPT disk, one ext4 ``userdata`` partition laid out like
Android's /data), ``card.raw`` (MBR disk, one FAT32 camera-card partition with two deleted
and one truncated photo), ``extraction.zip`` (a logical extraction of the same phone),
``answer-key.json`` / ``answer-key.md`` and, with ``e01=True``, ``phone.E01``,
``card-copy.E01`` (a copy of the card with one chunk damaged after acquisition) and
``card.qcow2`` (card.raw as a QCOW2 image, to be read in place), ``iphone-backup/`` (the
handler's iPhone as an iTunes/Finder backup folder: device facts, an sms.db) and ``phone.ab``
(the transporter's Android phone as an ``adb backup``: an mmssms.db with one SMS). The phone's
``mmssms.db`` has a hot ``-journal`` beside it (the phone died inside a transaction): its
committed messages, and texts only the unfinished transaction holds. Its ``Download`` folder
has two hostile file names: a PDF whose name holds U+202E so that it reads as a photo, and a
receipt whose name is Latin-1 bytes, not UTF-8 (the extraction holds only the first). Apps:
an iOS WhatsApp text starting with U+200E, a minimal Telegram export with a shared position,
contacts, call log and WhatsApp contacts naming one caller, a Viber group with a shared
position, WeChat's encrypted database. Two photos with GPS hide inside other files:
``Download/notes.bin`` (seeded random bytes, the photo appended at offset 0x624) and
``Documents/turnos_semana.docx`` (the handler's shift rota, its picture ``word/media/image1.jpeg``).
WhatsApp's ``msgstore.db`` holds a group where the handler writes under an ``@lid``, two of
their messages deleted; Telegram's ``cache4.db`` the recruiter's chat (an ad forwarded from a
channel, the owner's reply to it, a PDF contract sent as a document); ``Pictures/Edited`` a
photo dated by XMP only; ``DCIM/GoPro`` a GoPro clip (local clock, GPS in UTC). Beside the
evidence, ``hashsets/``: ``sample-rds.db`` (an NSRL RDS v3-layout SQLite listing the phone's two
stock wallpapers, known-good) and ``sample-vics.json``
(a VICS 2.0 export, MD5/SHA-1 only, category 2, listing a harmless generated picture the phone
holds as ``Download/ad_0417.jpg`` and, renamed, ``DCIM/.thumbs/0417.dat``): digests of files
made here, never real ones.
For the search cases: on the card a deleted booking note (``MISC/BOOKING.TXT``) and the handler's
pick-up note in two one-cluster parts written back to back (``MISC/NOTE1.TXT``, ``MISC/NOTE2.TXT``:
the meeting place lies across them, so only a search of the image's every byte finds it); on the
phone a UTF-16LE payment note in a free ext4 block, and travel instructions in a downloaded ZIP
(``Download/instrucciones_viaje.zip``, deflated: its words only in the member's content).

The answer key is made here, from the files this module wrote (their bytes, names and the
plan they came from), never by reading the images back with the triage code.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from forensic.errors import UsageError
from forensic.hashing import sha256_file
from forensic.training import formats, jpeg
from forensic.training.story import (DEFAULT_SCENARIO, SCENARIOS, Chat, Interrupted, Message, PhotoPlan, SignalDesktop,
                                     Story, plan)
from forensic.training import tools

# The answer key's "generator" field (docs/formats.md): a name for the keys it writes, kept
# when the code moved from forensic.sample to forensic.training so that keys stay comparable.
GENERATOR = "forensic.sample@1"
OUTPUTS = ("phone.raw", "card.raw", "extraction.zip", "answer-key.json", "answer-key.md", "phone.E01",
           "card-copy.E01", "card.qcow2", "iphone-backup", "phone.ab", "laptop", "hashsets")
HASHSETS_DIR = "hashsets"                 # beside the evidence: the hash sets the trainee imports
RDS_FILE = "hashsets/sample-rds.db"       # an NSRL RDS v3-layout SQLite: the phone's stock files (known-good)
VICS_FILE = "hashsets/sample-vics.json"   # a VICS 2.0 export (MD5/SHA-1 only): the stand-in picture (known-bad)
RDS_VERSION = "2026.03.1"
KNOWN_GOOD_FILES = ("media/0/Pictures/Wallpapers/default_wallpaper.jpg",
                    "media/0/Pictures/Wallpapers/lock_wallpaper.jpg")
KNOWN_BAD_FILE = "media/0/Download/ad_0417.jpg"   # a harmless generated picture standing in for a known-bad one
KNOWN_BAD_COPY = "media/0/DCIM/.thumbs/0417.dat"  # the same bytes, renamed and hidden
KNOWN_BAD_CATEGORY = 2
# the stand-in picture as a messenger re-sent it (resized, re-compressed): in no hash set
KNOWN_BAD_LIKE_DIR = "media/0/WhatsApp/Media/WhatsApp Images"
CARD_NOTE = "MISC/BOOKING.TXT"           # the card: a booking note, deleted (its clusters keep the text)
CARD_SPLIT_DIR = "MISC"                  # the card: a note in two one-cluster parts, back to back (live files)
ARCHIVE_DIR = "media/0/Download"         # the phone: a downloaded ZIP, a text file in it
IBAN_GOAL_BLOCK = 3072                   # the phone: the payment note lies in the first free block from here
IPHONE_BACKUP = "iphone-backup"           # with e01: the handler's iPhone, an iTunes/Finder backup folder
IOS_SMS = ("HomeDomain", "Library/SMS/sms.db")
PHONE_AB = "phone.ab"                     # with e01: the transporter's phone, an adb backup
AB_SMS = "apps/com.android.providers.telephony/db/mmssms.db"
AB_SMS_DEVICE = "/data/data/com.android.providers.telephony/databases/mmssms.db"
LAPTOP = "laptop"                         # with e01: the recruiter's laptop, a Signal Desktop profile (folder)
ANDROID_MEDIA_RW = (1023, 1023)          # owner of /data/media on Android
PHONE_FS_MIB = 16
CARD_FS_MIB = 34                         # FAT32 needs >= 65525 clusters: 33 MiB at 512-byte clusters
EXTRACTION_PREFIX = "Dump/data/"
# where a case lists the extraction's files: a Dump/ tree is read as the phone's own file system,
# under device paths (Dump/data/x is /data/x); locators and warnings keep the member's name
EXTRACTION_DEVICE_PREFIX = "/data/"
CARD_QCOW2 = "card.qcow2"                 # with e01: card.raw as a QCOW2 image, triaged as its own item
RLO = "\u202e"                            # RIGHT-TO-LEFT OVERRIDE: what follows is shown reversed
SPOOFED_NAME = f"foto_pasaporte{RLO}gpj.exe"   # shown as foto_pasaporteexe.jpg; a PDF inside
NOT_UTF8_NAME = b"recibo_dep\xf3sito.txt"     # "depósito" in Latin-1: not valid UTF-8


@dataclass(slots=True)
class FileOut:
    rel: str                 # path inside the file system (phone: relative to /data)
    data: bytes
    mtime: int               # epoch seconds (FAT: the camera's wall clock read as UTC)
    role: str = ""           # what it is, for the answer key

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(slots=True)
class HotJournal:
    """A message database left with a hot ``-journal``: what it holds committed, and the
    unfinished transaction's texts (in the database file, rolled back by the journal)."""

    db_rel: str
    journal_rel: str
    committed: list[Chat]
    interrupted: Interrupted
    deleted: tuple[Chat, Message] | None = None     # a committed message, then deleted (in free space)


@dataclass(slots=True)
class Layout:
    """Everything written, with what each file means."""

    story: Story
    phone: list[FileOut] = field(default_factory=list)
    card: list[FileOut] = field(default_factory=list)
    card_deleted: list[str] = field(default_factory=list)
    card_truncated: str = ""
    photo_files: dict[str, tuple[PhotoPlan, FileOut, jpeg.ExifSpec]] = field(default_factory=dict)
    card_photo_files: dict[str, tuple[PhotoPlan, FileOut, jpeg.ExifSpec]] = field(default_factory=dict)
    chat_files: list[tuple[Chat, str, str]] = field(default_factory=list)   # chat, file rel, layout name
    hot_journal: HotJournal | None = None
    extraction_members: list[tuple[str, bytes, datetime]] = field(default_factory=list)
    damaged_copy: DamagedCopy | None = None
    apps: dict[str, str] = field(default_factory=dict)      # what -> file rel, for the app cases
    container: str = ""                                      # the card as a QCOW2 image (with e01), its name
    card_carved: tuple[PhotoPlan, FileOut, jpeg.ExifSpec] | None = None   # deleted, entry reused: carving only
    embedded: list[EmbeddedPhoto] = field(default_factory=list)           # photos inside other phone files
    iphone_backup: list[tuple[str, bytes]] = field(default_factory=list)  # the backup folder's files (path, bytes)
    extra_items: list[str] = field(default_factory=list)                  # written with e01: iphone-backup, ...
    phone_ab: bytes = b""                                                 # the adb backup's bytes
    xmp_photo: tuple[PhotoPlan, FileOut, str] | None = None              # plan, file, DateCreated as written
    video: tuple[PhotoPlan, FileOut] | None = None                        # the GoPro clip
    forwarded: tuple[PhotoPlan, FileOut, FileOut, jpeg.ExifSpec] | None = None   # original, WhatsApp copy
    saved_place: tuple[PhotoPlan, FileOut] | None = None   # the place, gmm_myplaces.db
    clip: tuple[PhotoPlan, FileOut, FileOut] | None = None   # a video, and a frame of it sent as a picture
    known_good: list[FileOut] = field(default_factory=list)   # phone files the sample's RDS holds
    known_bad: list[FileOut] = field(default_factory=list)    # the stand-in picture, then its renamed copy
    hashsets: dict[str, bytes] = field(default_factory=dict)  # RDS_FILE / VICS_FILE -> bytes
    known_bad_like: FileOut | None = None     # the stand-in picture resized and re-compressed: in no set
    card_note: FileOut | None = None          # the deleted booking note on the card
    # found by build_sample in the images it wrote (None for a layout never built):
    note_offset: int | None = None            # card.raw offset of the booking note's phrase
    iban_offset: int | None = None            # phone.raw offset of the IBAN (UTF-16LE)
    iban_block: int | None = None             # the free ext4 block the payment note lies in
    laptop: list[tuple[str, bytes]] = field(default_factory=list)   # written with e01: the laptop's files
    card_split: list[FileOut] = field(default_factory=list)   # the note's two parts (NOTE1.TXT, NOTE2.TXT)
    split_offset: int | None = None           # card.raw offset of the meeting place, across the two parts
    archive: FileOut | None = None            # the downloaded ZIP holding the travel instructions


@dataclass(slots=True)
class EmbeddedPhoto:
    """A photo inside another file of the phone: appended after other data (``offset``), or a
    part of a document (``part``)."""

    plan: PhotoPlan
    container: str             # the file holding it (relative to /data)
    data: bytes                # the photo's own bytes
    spec: jpeg.ExifSpec
    offset: int | None = None  # where it starts in the container (appended data)
    part: str | None = None    # the document part it is (an OOXML document)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(slots=True)
class DamagedCopy:
    """``card-copy.E01``: the card acquired again, one chunk of it damaged after acquisition.
    libewf reads a chunk that fails its checksum as zeros, so the copy's media are card.raw
    with ``start``..``end`` zeroed (``media_sha256``)."""

    file: str
    chunk: int
    start: int                 # first media byte of the damaged chunk
    end: int                   # one past its last
    media_sha256: str
    holds: list[FileOut]       # the card files (live or deleted) with bytes in the chunk

    @property
    def span(self) -> dict:
        """The span as ``evidence add`` reports it in ``checksum_errors``."""
        return {"start": self.start, "end": self.end, "first_sector": self.start // tools.SECTOR,
                "last_sector": (self.end - 1) // tools.SECTOR}


# C1 controls and the bidi marks, embeddings, overrides and isolates: JSON escapes them, so the key
# read in a terminal or an editor shows a name as it is, not as it renders
_CONTROLS = re.compile("[\u0080-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape_controls(text: str) -> str:
    return _CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _ts(dt: datetime) -> int:
    return int(dt.timestamp())


def _blocks(seed: int, name: str) -> list[list[tuple[int, int, int]]]:
    rnd = random.Random(f"{seed}/{name}")
    base = (rnd.randrange(40, 216), rnd.randrange(40, 216), rnd.randrange(40, 216))
    rows = []
    for r in range(6):
        row = []
        for c in range(8):
            shade = rnd.randrange(-40, 40)
            row.append(tuple(max(0, min(255, v + shade + (r - c) * 3)) for v in base))
        rows.append(row)
    return rows


def _exif(story: Story, p: PhotoPlan, camera: bool) -> jpeg.ExifSpec:
    lat = lon = None
    if p.write_gps:
        lat_ref, lat_r, exact_lat = jpeg.dms(p.lat, "N", "S")
        lon_ref, lon_r, exact_lon = jpeg.dms(p.lon, "E", "W")
        p.lat, p.lon = exact_lat, exact_lon           # what the rationals say, to 1/1000 s
        lat, lon = (lat_ref, lat_r), (lon_ref, lon_r)
    sign = "+" if p.offset >= 0 else "-"
    offset = f"{sign}{abs(p.offset) // 60:02d}:{abs(p.offset) % 60:02d}" if p.write_offset else None
    gps_utc = p.utc.replace(microsecond=0, tzinfo=None) if p.write_gps_time else None
    if camera:
        return jpeg.ExifSpec(story.camera_make, story.camera_model, "Altura FW 1.02", story.camera_serial,
                             p.local, offset, lat, lon, round(p.alt * 10) if p.write_gps else None, gps_utc,
                             width=64, height=48)
    return jpeg.ExifSpec(story.phone_make, story.phone_model, f"{story.phone_model} firmware 13.1",
                         None, p.local, offset, lat, lon,
                         round(p.alt * 10) if p.write_gps else None, gps_utc, 64, 48)


def _slug(text: str) -> str:
    import unicodedata
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c.lower() if c.isalnum() else "_" for c in ascii_).strip("_")


def layout(seed: int, scenario: str = DEFAULT_SCENARIO) -> Layout:
    """Plan the story and make every file's bytes (no image yet)."""
    story = plan(seed, scenario)
    lay = Layout(story)
    export_ts = _ts(story.export_utc)
    add = lay.phone.append

    for p in story.photos:
        spec = _exif(story, p, camera=False)
        f = FileOut(f"media/0/DCIM/Camera/{p.name}", jpeg.photo(_blocks(seed, p.name), spec), _ts(p.utc), "photo")
        add(f)
        lay.photo_files[f.rel] = (p, f, spec)

    def media_jpeg(name: str, when: datetime) -> FileOut:
        # messaging apps re-encode what they send and drop its EXIF: a plain JFIF picture
        return FileOut("", jpeg.photo(_blocks(seed, name), None), _ts(when), "chat media")

    wa, ios, tg, fb, sms_carrier, sms_threat = story.chats
    # WhatsApp, Android, Spanish: a folder with the .txt and the media beside it
    folder = f"media/0/Download/Chat de WhatsApp con {wa.title}"
    def attachments(chat, name_of) -> dict[int, str]:
        """Message index -> media file name, for every message with an attachment (n counts from 1)."""
        named: dict[int, str] = {}
        for i, m in enumerate(chat.messages):
            if m.attachment:
                named[i] = name_of(len(named) + 1, formats.local(m.utc, story.export_offset))
        return named

    def add_media(chat, media: dict[int, str], folder: str) -> None:
        for i, name in media.items():
            f = media_jpeg(name, chat.messages[i].utc)
            f.rel = f"{folder}/{name}"
            add(f)

    media = attachments(wa, lambda n, t: f"IMG-{t:%Y%m%d}-WA{n:04d}.jpg")
    add_media(wa, media, folder)
    txt_rel = f"{folder}/Chat de WhatsApp con {wa.title}.txt"
    add(FileOut(txt_rel, formats.whatsapp_android_es(story, wa, media).encode("utf-8"), export_ts, "chat export"))
    lay.chat_files.append((wa, txt_rel, "whatsapp-android-es"))

    # WhatsApp, iOS, English: a .zip with _chat.txt and the media
    media = attachments(ios, lambda n, t: f"{n + 10:08d}-PHOTO-{t:%Y-%m-%d-%H-%M-%S}.jpg")
    members = [(name, media_jpeg(name, ios.messages[i].utc).data,
                formats.local(ios.messages[i].utc, story.export_offset)) for i, name in media.items()]
    chat_txt = formats.whatsapp_ios_en(story, ios, media).encode("utf-8")
    export_local = formats.local(story.export_utc, story.export_offset)
    members.insert(0, ("_chat.txt", chat_txt, export_local))
    zip_rel = f"media/0/Download/WhatsApp Chat - {ios.title}.zip"
    add(FileOut(zip_rel, formats.zip_bytes(members), export_ts, "chat export (zip)"))
    lay.chat_files.append((ios, zip_rel + "!_chat.txt", "whatsapp-ios-en"))

    # Telegram Desktop export
    export_dir = f"media/0/Download/Telegram Desktop/ChatExport_{export_local:%Y-%m-%d}"
    media = attachments(tg, lambda n, t: f"photos/photo_{n}@{t:%d-%m-%Y_%H-%M-%S}.jpg")
    add_media(tg, media, export_dir)
    tg_rel = f"{export_dir}/result.json"
    add(FileOut(tg_rel, formats.telegram_result(story, tg, media, 700000000 + seed % 1000).encode("utf-8"),
                export_ts, "chat export"))
    lay.chat_files.append((tg, tg_rel, "telegram-desktop-json"))

    # Facebook "Download your information": Messenger thread
    thread = f"{_slug(fb.other)}_{10**15 + seed}"
    fb_rel = (f"media/0/Download/facebook-{_slug(story.owner)}/your_facebook_activity/messages/inbox/"
              f"{thread}/message_1.json")
    add(FileOut(fb_rel, formats.messenger_json(story, fb, thread).encode("ascii"), export_ts, "chat export"))
    lay.chat_files.append((fb, fb_rel, "facebook-messenger-json"))

    # Android SMS database, left with a hot journal: the phone died saving the relative's texts
    sms_rel = "user_de/0/com.android.providers.telephony/databases/mmssms.db"
    cut = story.interrupted
    gone = (sms_threat, story.deleted_sms) if story.deleted_sms is not None else None
    db, journal = formats.mmssms_db_hot_journal([sms_carrier, sms_threat], cut.chat, cut.stored,
                                                 _nonce(seed, sms_rel), gone)
    add(FileOut(sms_rel, db, _ts(cut.died), "sms database"))
    add(FileOut(sms_rel + "-journal", journal, _ts(cut.died), "sms database journal"))
    lay.hot_journal = HotJournal(sms_rel, sms_rel + "-journal", [sms_carrier, sms_threat], cut, gone)
    lay.chat_files.append((sms_carrier, sms_rel, "android-mmssms"))
    lay.chat_files.append((sms_threat, sms_rel, "android-mmssms"))

    # documents: the job offer, and a photo of a document disguised as a PDF
    offer_rel = f"media/0/Documents/Oferta_trabajo_{_slug(story.hotel)}.pdf"
    add(FileOut(offer_rel, formats.job_offer_pdf(story), _ts(story.start - timedelta(days=7)), "job offer"))
    doc = story.photos[-1]
    doc_spec = _exif(story, doc, camera=False)
    add(FileOut("media/0/Documents/contrato_firmado.pdf", jpeg.photo(_blocks(seed, "contract"), doc_spec),
                _ts(doc.utc) + 60, "disguised"))

    # hostile file names: a PDF whose name, with U+202E, reads as a photo; a name that is not
    # UTF-8 (held here as surrogate escapes, written to the file system as its bytes). The
    # logical extraction holds the first only: a ZIP name without the UTF-8 flag is read as
    # code page 437, which any bytes are, so a Latin-1 name there is mojibake, not a warning.
    sent = story.arrivals[-1] + timedelta(days=2, hours=6)
    add(FileOut(f"media/0/Download/{SPOOFED_NAME}", formats.debt_note_pdf(story, sent), _ts(sent), "spoofed name"))
    paid = sent + timedelta(hours=20)
    add(FileOut("media/0/Download/" + NOT_UTF8_NAME.decode("utf-8", "surrogateescape"),
                formats.deposit_receipt(story, paid), _ts(paid), "name not utf-8"))

    _embedded_files(lay, seed)
    _media_files(lay, seed)
    _app_files(lay, seed)
    _hashset_files(lay, seed)
    _archive_files(lay)
    lay.phone.sort(key=lambda f: f.rel)

    # the camera card
    deleted_idx = sorted(random.Random(f"{seed}/card").sample(range(1, 5), 2))
    for k, p in enumerate(story.card_photos):
        spec = _exif(story, p, camera=True)
        data = jpeg.photo(_blocks(seed, p.name), spec)
        rel = f"DCIM/100ALTRA/{p.name}"
        role = "card photo"
        if k == len(story.card_photos) - 1:
            data = data[: len(data) * 3 // 5]          # the camera lost power while writing
            role = "truncated"
            lay.card_truncated = rel
        f = FileOut(rel, data, _ts(p.local.replace(tzinfo=timezone.utc)), role)   # FAT: wall clock
        if k in deleted_idx:
            f.role = "deleted"
            lay.card_deleted.append(rel)
        lay.card.append(f)
        lay.card_photo_files[rel] = (p, f, spec)

    # a photo with GPS, deleted, whose directory entry the next photo took: only carving finds it
    gone, taker = story.carved_photo, story.slot_taker
    if gone is not None and taker is not None:
        spec = _exif(story, gone, camera=True)
        f = FileOut(f"DCIM/100ALTRA/{gone.name}", jpeg.photo(_blocks(seed, gone.name), spec),
                    _ts(gone.local.replace(tzinfo=timezone.utc)), "carved")
        lay.card_carved = (gone, f, spec)
        spec = _exif(story, taker, camera=True)
        f = FileOut(f"DCIM/100ALTRA/{taker.name}", jpeg.photo(_blocks(seed, taker.name), spec),
                    _ts(taker.local.replace(tzinfo=timezone.utc)), "card photo")
        lay.card.append(f)
        lay.card_photo_files[f.rel] = (taker, f, spec)

    # a booking note on the card, deleted after the photos were taken (its clusters keep the text)
    note = story.booking_note
    if note is not None:
        dest = story.scenario.stops[-1]
        lay.card_note = FileOut(CARD_NOTE, note.text.encode(note.encoding),
                                _ts((note.written + timedelta(minutes=dest.offset)).replace(tzinfo=timezone.utc)),
                                "deleted note")

    # the handler's pick-up note, in two one-cluster parts written back to back (live files)
    sn = story.split_note
    if sn is not None:
        dest = story.scenario.stops[-1]
        mtime = _ts((sn.written + timedelta(minutes=dest.offset)).replace(tzinfo=timezone.utc))
        lay.card_split = [FileOut(f"{CARD_SPLIT_DIR}/{name}", part, mtime, "split note")
                          for name, part in zip(sn.names, sn.parts, strict=True)]

    # the handler's iPhone as an iTunes/Finder backup (written with e01): sms.db under HomeDomain
    ip = story.iphone
    if ip is not None:
        lay.iphone_backup = formats.itunes_backup(ip, [
            ("HomeDomain", "", None), ("HomeDomain", "Library", None), ("HomeDomain", "Library/SMS", None),
            (*IOS_SMS, formats.ios_sms_db(ip.message))])

    # the transporter's phone as an adb backup (written with e01): its SMS database
    if story.ab_sms is not None:
        last = story.ab_sms.messages[-1].utc
        lay.phone_ab = formats.android_backup([(AB_SMS, formats.mmssms_db([story.ab_sms]))], _ts(last) + 3600)

    # the logical extraction: the same user files, as an extraction tool lays them out
    extracted = [f for f in lay.phone if f.role != "name not utf-8"]
    listing = [(EXTRACTION_PREFIX + f.rel, len(f.data), f.sha256) for f in extracted]
    for f in extracted:
        lay.extraction_members.append((EXTRACTION_PREFIX + f.rel, f.data,
                                       datetime.fromtimestamp(f.mtime, timezone.utc).replace(tzinfo=None)))
    report = formats.extraction_report(story, listing).encode("utf-8")
    lay.extraction_members.append(("Report/extraction_report.txt", report,
                                   (story.export_utc + timedelta(days=1)).replace(tzinfo=None)))
    return lay


TELEGRAM_BACKUP = "media/0/Download/backup.json"
CONTACTS_DB = "data/com.android.providers.contacts/databases/contacts2.db"
GMM_MYPLACES = "data/com.google.android.apps.maps/databases/gmm_myplaces.db"
CALLLOG_DB = "data/com.android.providers.contacts/databases/calllog.db"
WA_DB = "data/com.whatsapp/databases/wa.db"
VIBER_DB = "data/com.viber.voip/databases/viber_messages"
MSGSTORE_DB = "data/com.whatsapp/databases/msgstore.db"
TELEGRAM_CACHE = "data/org.telegram.messenger/files/cache4.db"     # /data/data/org.telegram.messenger/files


def wechat_db(seed: int) -> str:
    """WeChat's folder name is MD5("mm" + uin): here 32 hex digits from the seed."""
    folder = hashlib.md5(f"mm{seed * 7919 % 10**9}".encode()).hexdigest()    # noqa: S324 (a name, not security)
    return f"data/com.tencent.mm/MicroMsg/{folder}/EnMicroMsg.db"


HIDDEN_FILE = "media/0/Download/notes.bin"
HIDDEN_OFFSET = 1572                     # the random bytes before the photo: it starts at 0x624
ROTA_DOCX = "media/0/Documents/turnos_semana.docx"
ROTA_PART = "word/media/image1.jpeg"


def _embedded_files(lay: Layout, seed: int) -> None:
    """Photos hidden inside other files: ``notes.bin``, seeded random bytes with a GPS photo
    appended (as ``copy /b`` joins them), and the shift rota, a .docx whose picture has GPS."""
    s = lay.story
    p = s.hidden_photo
    if p is not None:
        spec = _exif(s, p, camera=False)
        data = jpeg.photo(_blocks(seed, "hidden"), spec)
        noise = random.Random(f"{seed}/notes.bin").randbytes(HIDDEN_OFFSET)
        lay.phone.append(FileOut(HIDDEN_FILE, noise + data, _ts(p.utc) + 120, "embedded (appended)"))
        lay.embedded.append(EmbeddedPhoto(p, HIDDEN_FILE, data, spec, offset=HIDDEN_OFFSET))
    p = s.document_photo
    if p is not None:
        spec = _exif(s, p, camera=False)
        data = jpeg.photo(_blocks(seed, "rota"), spec)
        sent = p.utc + timedelta(hours=1)
        docx = formats.shift_rota_docx(s, data, formats.local(sent, p.offset))
        lay.phone.append(FileOut(ROTA_DOCX, docx, _ts(sent), "embedded (document)"))
        lay.embedded.append(EmbeddedPhoto(p, ROTA_DOCX, data, spec, part=ROTA_PART))


XMP_PHOTO_DIR = "media/0/Pictures/Edited"
GOPRO_DIR = "media/0/DCIM/GoPro"
WA_SENT_DIR = "media/0/WhatsApp/Media/WhatsApp Images/Sent"
GOPRO = ("HERO9 Black", "C3441325012345", "HD9.01.01.72.00")      # model, serial (fictional), firmware


def _media_files(lay: Layout, seed: int) -> None:
    """An edited photo whose only date is XMP's (with the zone), and a GoPro clip whose clock is
    local time and whose GPS (UTC) fixes the zone and gives the place."""
    s = lay.story
    p = s.xmp_photo
    if p is not None:
        sign = "+" if p.offset >= 0 else "-"
        created = f"{p.local:%Y-%m-%dT%H:%M:%S}{sign}{abs(p.offset) // 60:02d}:{abs(p.offset) % 60:02d}"
        f = FileOut(f"{XMP_PHOTO_DIR}/{p.name}", formats.xmp_photo(jpeg.photo(_blocks(seed, p.name), None), created),
                    _ts(p.utc) + 600, "edited photo")
        lay.phone.append(f)
        lay.xmp_photo = (p, f, created)
    v = s.gopro
    if v is not None:
        points = [(round(v.lat + k * 1e-5, 7), round(v.lon + k * 1e-5, 7), v.alt) for k in range(3)]
        f = FileOut(f"{GOPRO_DIR}/{v.name}", formats.gopro_mp4(v.local, v.utc, points, *GOPRO),
                    _ts(v.utc) + 3600, "video")
        lay.phone.append(f)
        lay.video = (v, f)
    p = s.forwarded
    if p is not None:
        spec = dataclasses.replace(_exif(s, p, camera=False), width=640, height=480)
        original, copy = jpeg.camera_and_copy(f"{seed}/{p.name}", spec)
        f = FileOut(f"media/0/DCIM/Camera/{p.name}", original, _ts(p.utc), "camera original")
        sent = p.utc + timedelta(minutes=7)
        c = FileOut(f"{WA_SENT_DIR}/IMG-{formats.local(sent, p.offset):%Y%m%d}-WA0001.jpg", copy, _ts(sent),
                    "whatsapp copy")
        lay.phone += [f, c]
        lay.forwarded = (p, f, c, spec)
    p = s.saved_place
    if p is not None:
        key = f"0x{random.Random(f'{seed}/maps-key').getrandbits(60):x}:0x{seed:x}"
        f = FileOut(GMM_MYPLACES, formats.gmm_myplaces_db(key, p.name, p.lat, p.lon, p.utc), _ts(p.utc),
                    "maps saved places")
        lay.phone.append(f)
        lay.saved_place = (p, f)
    p = s.clip
    if p is not None:
        try:
            video, frame = formats.clip_and_frame(f"{seed}/{p.name}")
        except ImportError:                              # PyAV (FFmpeg) absent: no clip in this sample
            return
        f = FileOut(f"media/0/DCIM/Camera/{p.name}", video, _ts(p.utc) + formats.CLIP_SECONDS, "video")
        sent = p.utc + timedelta(minutes=12)
        c = FileOut(f"{WA_SENT_DIR}/IMG-{formats.local(sent, p.offset):%Y%m%d}-WA0002.jpg", frame, _ts(sent),
                    "whatsapp frame of a video")
        lay.phone += [f, c]
        lay.clip = (p, f, c)


def _hashset_files(lay: Layout, seed: int) -> None:
    """Files a hash set knows, and the sets: two stock wallpapers the NSRL-style RDS holds
    (known-good, with stock files the phone does not have), and a harmless generated picture
    standing in for a known-bad one, stored twice (the second renamed and hidden), which the
    VICS export lists with category 2. Never real hashes: digests of files made from the seed."""
    s = lay.story
    stock = _ts(s.start - timedelta(days=200))          # copied by the phone's first set-up
    for rel in KNOWN_GOOD_FILES:
        f = FileOut(rel, jpeg.photo(_blocks(seed, "stock/" + rel), None), stock, "known good")
        lay.phone.append(f)
        lay.known_good.append(f)
    got = s.arrivals[1] + timedelta(hours=5)
    picture = jpeg.photo(_blocks(seed, "ad_0417"), None)
    for rel, when in ((KNOWN_BAD_FILE, got), (KNOWN_BAD_COPY, got + timedelta(minutes=3))):
        f = FileOut(rel, picture, _ts(when), "known bad")
        lay.phone.append(f)
        lay.known_bad.append(f)
    # the same picture, re-sent on WhatsApp a day later: resized and re-compressed, so no set
    # lists its hashes; its perceptual hash is the stand-in's (triage: suspected known-bad)
    sent = got + timedelta(days=1, minutes=random.Random(f"{seed}/known-bad-like").randrange(60))
    dest = s.scenario.stops[1]
    like = FileOut(f"{KNOWN_BAD_LIKE_DIR}/IMG-{formats.local(sent, dest.offset):%Y%m%d}-WA0003.jpg",
                   jpeg.resized_copy(picture), _ts(sent), "known bad, altered")
    lay.phone.append(like)
    lay.known_bad_like = like
    rnd = random.Random(f"{seed}/hashsets")
    not_here = [(name, rnd.randbytes(rnd.randrange(2000, 9000)))
                for name in ("Pixie_Dust.ogg", "Argon.ogg", "boot_logo.png", "NOTICE.html.gz")]
    lay.hashsets[RDS_FILE] = formats.nsrl_rds_v3([(rel.rsplit("/", 1)[-1], f.data) for rel, f in
                                                  zip(KNOWN_GOOD_FILES, lay.known_good, strict=True)] + not_here,
                                                 RDS_VERSION)
    lay.hashsets[VICS_FILE] = formats.vics_json(f"SAMPLE-{seed}", [
        ("ad_0417.jpg", picture, KNOWN_BAD_CATEGORY),
        ("ad_0418.jpg", jpeg.photo(_blocks(seed, "ad_0418"), None), KNOWN_BAD_CATEGORY)])


def _archive_files(lay: Layout) -> None:
    """The recruiter's travel instructions, downloaded as a ZIP before the journey: one text file,
    deflated (its words are in no raw byte of the image, only in the member's content)."""
    a = lay.story.archive_note
    if a is None:
        return
    when = formats.local(a.written, lay.story.scenario.stops[0].offset)
    f = FileOut(f"{ARCHIVE_DIR}/{a.archive}", formats.zip_bytes([(a.member, a.text.encode("utf-8"), when)]),
                _ts(a.written) + 90, "downloaded archive")
    lay.phone.append(f)
    lay.archive = f


def _app_files(lay: Layout, seed: int) -> None:
    """The files of the app cases: a minimal Telegram export, the contacts, the call log and
    WhatsApp's contact list naming one person, a Viber group, WeChat's encrypted database
    (SQLCipher: random-looking bytes from the first byte, so no SQLite header), WhatsApp's
    msgstore.db and Telegram for Android's cache4.db (a forwarded ad, a reply, a PDF)."""
    s = lay.story
    add = lay.phone.append
    tg, place = s.telegram_backup, s.telegram_place
    if tg is not None and place is not None:
        add(FileOut(TELEGRAM_BACKUP, formats.telegram_minimal(tg, (place.message, place.lat, place.lon))
                    .encode("utf-8"), _ts(tg.messages[-1].utc) + 300, "chat export"))
        lay.apps["telegram_backup"] = TELEGRAM_BACKUP
    c = s.caller
    if c is not None:
        account = _slug(s.owner).replace("_", ".") + "@example.com"
        add(FileOut(CONTACTS_DB, formats.contacts2_db(account, c), _ts(c.call_utc) - 86400, "contacts database"))
        add(FileOut(CALLLOG_DB, formats.calllog_db(c), _ts(c.call_utc) + c.duration, "call log database"))
        add(FileOut(WA_DB, formats.wa_db(c), _ts(c.call_utc) - 3600, "whatsapp contacts database"))
        lay.apps.update(contacts=CONTACTS_DB, calllog=CALLLOG_DB, wa=WA_DB)
    v, vp = s.viber, s.viber_place
    if v is not None and vp is not None and c is not None:
        digits = s.owner_phone.replace(" ", "")
        add(FileOut(VIBER_DB, formats.viber_messages_db(v, (vp.message, vp.lat, vp.lon), digits, c.e164,
                                                        5000 + seed % 1000),
                    _ts(v.messages[-1].utc), "viber database"))
        lay.apps["viber"] = VIBER_DB
        rel = wechat_db(seed)
        noise = random.Random(f"{seed}/wechat").randbytes(4 * 4096)
        add(FileOut(rel, noise, _ts(v.messages[0].utc), "encrypted database"))
        lay.apps["wechat"] = rel
    wa = s.wa_group
    if wa is not None and c is not None:
        add(FileOut(MSGSTORE_DB, formats.msgstore_db(wa), _ts(wa.messages[-1].utc) + 60, "whatsapp database"))
        lay.apps["msgstore"] = MSGSTORE_DB
    tc = s.telegram_android
    if tc is not None:
        add(FileOut(TELEGRAM_CACHE, formats.cache4_db(tc, s.owner), _ts(tc.chat.messages[-1].utc) + 30,
                    "telegram database"))
        lay.apps["telegram_android"] = TELEGRAM_CACHE


def signal_dir(user: str) -> str:
    """Signal Desktop's profile folder on a Linux laptop, in the laptop folder item."""
    return f"home/{user}/.config/Signal"


def laptop_files(sd: SignalDesktop) -> list[tuple[str, bytes]]:
    """The laptop folder's files: Signal Desktop's config.json (the key sealed, Linux v10) and its
    database encrypted with SQLCipher (bytes that differ on every call: SQLCipher's salt and IVs)."""
    return [(f"{signal_dir(sd.user)}/config.json", formats.signal_desktop_config(sd.key_hex)),
            (f"{signal_dir(sd.user)}/sql/db.sqlite",
             formats.signal_desktop_sealed(formats.signal_desktop_db(sd), sd.key_hex))]


def _write_tree(root: Path, files: list[FileOut], dir_mtime: int) -> dict[str, int]:
    """Write the files with fixed modes and times; return path -> atime for every inode."""
    atimes: dict[str, int] = {"/": dir_mtime}
    dirs: set[Path] = set()
    for f in files:
        p = root / f.rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(f.data)
        os.chmod(p, 0o660)
        os.utime(p, (f.mtime, f.mtime))
        atimes["/" + f.rel] = f.mtime
        parent = p.parent
        while parent != root and parent not in dirs:
            dirs.add(parent)
            parent = parent.parent
    for d in sorted(dirs, key=lambda d: -len(d.parts)):
        os.chmod(d, 0o770)
        os.utime(d, (dir_mtime, dir_mtime))
        atimes["/" + d.relative_to(root).as_posix()] = dir_mtime
    os.utime(root, (dir_mtime, dir_mtime))
    return atimes


def _write_backup(root: Path, files: list[tuple[str, bytes]], when: int) -> None:
    """The backup folder's files, with fixed modes and times (the backup's date)."""
    for rel, data in files:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.chmod(p, 0o644)
        os.utime(p, (when, when))
    for d in sorted({p.parent for p in root.rglob("*")}, key=lambda d: -len(d.parts)):
        os.chmod(d, 0o755)
        os.utime(d, (when, when))


def folder_listing_sha256(files: list[tuple[str, bytes]]) -> str:
    """A folder item's SHA-256 as docs/formats.md defines it, from the files written into it: one
    line per entry (folders too), depth first, names sorted as bytes, ``kind TAB size TAB sha256
    TAB path TAB link-target LF``, hashed as one stream."""
    entries: dict[tuple[bytes, ...], bytes | None] = {}
    for rel, data in files:
        parts = tuple(part.encode() for part in rel.split("/"))
        for n in range(1, len(parts)):
            entries.setdefault(parts[:n], None)
        entries[parts] = data
    h = hashlib.sha256()
    for parts in sorted(entries):
        data = entries[parts]
        path = "/" + b"/".join(parts).decode()
        if data is None:
            h.update(f"dir\t\t\t{path}\t\n".encode())
        else:
            h.update(f"file\t{len(data)}\t{hashlib.sha256(data).hexdigest()}\t{path}\t\n".encode())
    return h.hexdigest()


def _uuid(seed: int, what: str) -> str:
    h = hashlib.sha256(f"forensic-sample/{seed}/{what}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _nonce(seed: int, what: str) -> int:
    """A journal's checksum nonce: random in SQLite, from the seed here (same seed, same bytes)."""
    return int.from_bytes(hashlib.sha256(f"forensic-sample/{seed}/nonce/{what}".encode()).digest()[:4], "big")


def _damaged_copy(lay: Layout, card_raw: Path) -> DamagedCopy:
    """Which chunk of the card's copy to damage: the one holding the first photo's bytes (on
    this card, also the camera's folders and every other photo). Found from the generator's
    own file bytes in the card image it wrote."""
    raw = bytearray(card_raw.read_bytes())
    first = raw.find(lay.card[0].data)
    chunk = first // tools.E01_CHUNK
    start, end = chunk * tools.E01_CHUNK, min((chunk + 1) * tools.E01_CHUNK, len(raw))
    holds = []
    for f in lay.card:
        at = raw.find(f.data)
        if at >= 0 and at < end and at + len(f.data) > start:
            holds.append(f)
    raw[start:end] = bytes(end - start)
    return DamagedCopy("card-copy.E01", chunk, start, end, hashlib.sha256(raw).hexdigest(), holds)


def build_sample(out_dir: Path, seed: int = 1, scenario: str = DEFAULT_SCENARIO, e01: bool = False,
                 force: bool = False, progress: Callable[[str], None] | None = None) -> dict:
    """Build the sample evidence and answer key in ``out_dir``; return a summary."""
    from forensic.training.answer_key import answer_key, render_markdown

    if scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {scenario!r}", hint="one of: " + ", ".join(SCENARIOS))
    out_dir = Path(out_dir)
    existing = [n for n in OUTPUTS if (out_dir / n).exists()]
    if existing and not force:
        raise UsageError(f"{out_dir} already holds a sample ({', '.join(existing)})",
                         hint="choose an empty folder, or pass --force to replace it")
    tools.require("mke2fs", "debugfs", "sfdisk", "mkfs.vfat", "mcopy", "mmd", "mdel")
    if e01:
        tools.require("ewfacquire", "qemu-img")
    say = progress or (lambda _m: None)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in existing:
        if (out_dir / name).is_dir() and not (out_dir / name).is_symlink():
            shutil.rmtree(out_dir / name)          # a backup folder this generator wrote
        else:
            (out_dir / name).unlink()
    lay = layout(seed, scenario)
    story = lay.story
    work = Path(tempfile.mkdtemp(prefix=".sample-build-", dir=out_dir))
    try:
        say("phone: ext4 user-data partition in a GPT disk")
        root = work / "userdata"
        when = _ts(story.export_utc + timedelta(days=1))
        atimes = _write_tree(root, lay.phone, _ts(story.export_utc))
        fs = work / "userdata.ext4"
        tools.ext4_image(root, fs, PHONE_FS_MIB, uuid=_uuid(seed, "userdata"), hash_seed=_uuid(seed, "htree"),
                         when=when, label="userdata", owner=ANDROID_MEDIA_RW, atimes=atimes)
        pay = story.iban_note
        if pay is not None:
            # the payment note's bytes, left in a block the file system marks free (its file
            # long deleted): only a search of unallocated space reaches them
            lay.iban_block = tools.ext4_free_block(fs, IBAN_GOAL_BLOCK)
            tools.write_at(fs, lay.iban_block * tools.EXT4_BLOCK, pay.text.encode(pay.encoding))
        offsets = tools.disk_image(work / "phone.raw", [{"image": fs, "type": "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
                                                         "name": "userdata", "uuid": _uuid(seed, "part-userdata")}],
                                   label="gpt", label_id=_uuid(seed, "disk"))
        if pay is not None and lay.iban_block is not None:
            data = pay.text.encode(pay.encoding)
            lay.iban_offset = (offsets[0] + lay.iban_block * tools.EXT4_BLOCK
                               + data.index(pay.phrase.encode(pay.encoding)))
        say("card: FAT32 camera card (two photos deleted, one truncated)")
        src = work / "card"
        for f in lay.card:
            p = src / f.rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(f.data)
            os.utime(p, (f.mtime, f.mtime))
        fat = work / "card.fat32"
        # the photo only carving finds: copied, deleted, and its directory slot taken by the next
        # photo, copied after it (mtools gives the new entry the first free slot, and the new data
        # the clusters after the last allocated: the deleted photo's bytes stay whole)
        files, overwritten, then = [f.rel for f in lay.card], [], []
        if lay.card_carved is not None and story.slot_taker is not None:
            gone = lay.card_carved[1]
            (src / gone.rel).write_bytes(gone.data)
            os.utime(src / gone.rel, (gone.mtime, gone.mtime))
            taker = f"DCIM/100ALTRA/{story.slot_taker.name}"
            files = [r for r in files if r != taker] + [gone.rel]
            overwritten.append((gone.rel, taker))
        note = lay.card_note
        if note is not None:                      # copied after every photo, deleted with the others
            (src / note.rel).parent.mkdir(parents=True, exist_ok=True)
            (src / note.rel).write_bytes(note.data)
            os.utime(src / note.rel, (note.mtime, note.mtime))
            then.append(note.rel)
        gone_after = list(then)
        for f in lay.card_split:                  # after the note: the next clusters, one each, in order
            (src / f.rel).parent.mkdir(parents=True, exist_ok=True)
            (src / f.rel).write_bytes(f.data)
            os.utime(src / f.rel, (f.mtime, f.mtime))
            then.append(f.rel)
        tools.fat32_image(fat, CARD_FS_MIB, volume_id=f"{seed * 2654435761 % (1 << 32):08x}",
                          src_root=src, files=files, deleted=lay.card_deleted + gone_after,
                          when=_ts(story.card_photos[-1].utc), overwritten=overwritten, then=then)
        tools.disk_image(work / "card.raw", [{"image": fat, "type": "c"}], label="dos",
                         label_id=f"0x{seed * 40503 % (1 << 32):08x}")
        card_raw = (work / "card.raw").read_bytes()
        if note is not None and story.booking_note is not None:
            # where the phrase lies in the card image: found from the note's own bytes, as written
            at = card_raw.find(note.data)
            if at < 0:
                raise tools.SampleToolError("the deleted booking note's bytes are not whole in card.raw")
            lay.note_offset = at + note.data.index(story.booking_note.phrase.encode(story.booking_note.encoding))
        if lay.card_split and story.split_note is not None:
            # the two parts back to back (the first fills its cluster): the meeting place lies across them
            first, second = (f.data for f in lay.card_split)
            at = card_raw.find(first + second)
            if at < 0:
                raise tools.SampleToolError("the split note's two parts are not back to back in card.raw")
            lay.split_offset = at + len(first) - story.split_note.cut
        del card_raw
        say("extraction.zip: logical extraction of the phone")
        (work / "extraction.zip").write_bytes(formats.zip_bytes(lay.extraction_members))
        for name in ("phone.raw", "card.raw", "extraction.zip"):
            shutil.move(str(work / name), str(out_dir / name))
        if lay.hashsets:
            say("hashsets: an RDS v3-layout SQLite (known-good) and a VICS 2.0 export (known-bad)")
            _write_backup(work / HASHSETS_DIR, [(rel.split("/", 1)[1], data) for rel, data in lay.hashsets.items()],
                          _ts(story.export_utc))
            shutil.move(str(work / HASHSETS_DIR), str(out_dir / HASHSETS_DIR))
        e01_path = None
        if e01:
            say("phone.E01: acquired from phone.raw with ewfacquire")
            e01_path = tools.e01_image(out_dir / "phone.raw", work / "phone", case=f"SAMPLE-{seed}",
                                       evidence="EV-01 phone", examiner="Training Examiner",
                                       description=f"{story.phone_make} {story.phone_model} (sample, seed {seed})",
                                       notes=f"forensic sample-image, scenario {scenario}")
            shutil.move(str(e01_path), str(out_dir / "phone.E01"))
            e01_path = out_dir / "phone.E01"
            say("card-copy.E01: the card acquired again, one chunk damaged after acquisition")
            lay.damaged_copy = _damaged_copy(lay, out_dir / "card.raw")
            copy = tools.e01_image(out_dir / "card.raw", work / "card-copy", case=f"SAMPLE-{seed}",
                                   evidence="EV-02 card (second copy)", examiner="Training Examiner",
                                   description=f"{story.camera_make} {story.camera_model} card (sample, seed {seed})",
                                   notes=f"forensic sample-image, scenario {scenario}")
            tools.damage_e01_chunk(copy, lay.damaged_copy.chunk)
            shutil.move(str(copy), str(out_dir / lay.damaged_copy.file))
            say("card.qcow2: the card as a QCOW2 image (qemu-img convert of card.raw)")
            tools.qcow2_image(out_dir / "card.raw", work / "card.qcow2")
            shutil.move(str(work / "card.qcow2"), str(out_dir / CARD_QCOW2))
            lay.container = CARD_QCOW2
            if lay.iphone_backup:
                say("iphone-backup: the handler's iPhone, an iTunes/Finder backup folder")
                _write_backup(work / IPHONE_BACKUP, lay.iphone_backup, _ts(story.iphone.last_backup))
                shutil.move(str(work / IPHONE_BACKUP), str(out_dir / IPHONE_BACKUP))
                lay.extra_items.append(IPHONE_BACKUP)
            if lay.phone_ab:
                say("phone.ab: the transporter's phone, an adb backup (unencrypted)")
                (out_dir / PHONE_AB).write_bytes(lay.phone_ab)
                lay.extra_items.append(PHONE_AB)
            sd = story.signal
            if sd is not None:
                # SQLCipher draws the database's salt and page IVs from its own random generator:
                # these bytes (and so the folder's SHA-256 in the key) differ on every build
                say("laptop: the recruiter's laptop, a Signal Desktop profile (its database sealed)")
                lay.laptop = laptop_files(sd)
                _write_backup(work / LAPTOP, lay.laptop, _ts(sd.chat.messages[-1].utc) + 600)
                shutil.move(str(work / LAPTOP), str(out_dir / LAPTOP))
                lay.extra_items.append(LAPTOP)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    key = answer_key(lay, out_dir, e01_path)
    (out_dir / "answer-key.json").write_text(_escape_controls(json.dumps(key, ensure_ascii=False, indent=2)) + "\n",
                                             encoding="utf-8")
    (out_dir / "answer-key.md").write_text(render_markdown(key), encoding="utf-8")
    return {"out_dir": str(out_dir), "seed": seed, "scenario": scenario,
            "files": {name: {"size": (out_dir / name).stat().st_size, "sha256": sha256_file(out_dir / name)}
                      for name in OUTPUTS if (out_dir / name).is_file()}
            | {name: {"size": key["items"][name]["size"], "sha256": key["items"][name]["sha256"]}
               for name in lay.extra_items if (out_dir / name).is_dir()},
            "facts": len(key["facts"])}


