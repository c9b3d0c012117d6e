"""Contacts and call-log databases built with the operating systems' and WhatsApp's schemas
(the columns the extractors read, declared as the OS declares them), for the phone extractor
and CLI tests. One person, Ana Lima, is in each: national format (06 12 34 56 78, country NL
from the call log) on Android, +31 6 12345678 on iOS, jid 31612345678@s.whatsapp.net in
WhatsApp."""
from __future__ import annotations

import sqlite3
from pathlib import Path

# the Android schemas the sample image plants too (one copy, in the package)
from forensic.training.formats import CALLLOG_SCHEMA, CONTACTS2_SCHEMA, WA_SCHEMA

ANA_E164 = "+31612345678"
ANA_JID = "31612345678@s.whatsapp.net"
# 2021-03-14T21:06:00Z
T0_MS = 1615755960000
T0_CORE_DATA = 1615755960 - 978307200



ADDRESSBOOK_SCHEMA = """
CREATE TABLE ABPerson (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, First TEXT, Last TEXT, Middle TEXT,
  FirstPhonetic TEXT, MiddlePhonetic TEXT, LastPhonetic TEXT, Organization TEXT, Department TEXT, Note TEXT,
  Kind INTEGER, Birthday TEXT, JobTitle TEXT, Nickname TEXT, Prefix TEXT, Suffix TEXT, FirstSort TEXT, LastSort TEXT,
  CreationDate INTEGER, ModificationDate INTEGER, CompositeNameFallback TEXT, ExternalIdentifier TEXT,
  ExternalModificationTag TEXT, ExternalUUID TEXT, StoreID INTEGER, DisplayName TEXT, ExternalRepresentation BLOB,
  FirstSortSection TEXT, LastSortSection TEXT, FirstSortLanguageIndex INTEGER DEFAULT 2147483647,
  LastSortLanguageIndex INTEGER DEFAULT 2147483647, PersonLink INTEGER DEFAULT -1, ImageURI TEXT,
  IsPreferredName INTEGER DEFAULT 1, guid TEXT, PhonemeData TEXT, AlternateBirthday TEXT, MapsData TEXT,
  FirstPronunciation TEXT, MiddlePronunciation TEXT, LastPronunciation TEXT, OrganizationPhonetic TEXT,
  OrganizationPronunciation TEXT, PreviousFamilyName TEXT, PreferredLikenessSource TEXT,
  PreferredPersonaIdentifier TEXT);
CREATE TABLE ABMultiValue (UID INTEGER PRIMARY KEY, record_id INTEGER, property INTEGER, identifier INTEGER,
  label INTEGER, value TEXT, guid TEXT);
CREATE TABLE ABMultiValueLabel (value TEXT, UNIQUE(value));
"""

CALLHISTORY_SCHEMA = """
CREATE TABLE ZCALLRECORD ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZANSWERED INTEGER,
  ZCALL_CATEGORY INTEGER, ZCALLTYPE INTEGER, ZDISCONNECTED_CAUSE INTEGER, ZFACE_TIME_DATA INTEGER,
  ZHANDLE_TYPE INTEGER, ZNUMBER_AVAILABILITY INTEGER, ZORIGINATED INTEGER, ZREAD INTEGER, ZDATE TIMESTAMP,
  ZDURATION FLOAT, ZADDRESS VARCHAR, ZDEVICE_ID VARCHAR, ZISO_COUNTRY_CODE VARCHAR, ZLOCATION VARCHAR, ZNAME VARCHAR,
  ZSERVICE_PROVIDER VARCHAR, ZUNIQUE_ID VARCHAR, ZLOCALPARTICIPANTUUID BLOB, ZOUTGOINGLOCALPARTICIPANTUUID BLOB );
CREATE TABLE Z_PRIMARYKEY (Z_ENT INTEGER PRIMARY KEY, Z_NAME VARCHAR, Z_SUPER INTEGER, Z_MAX INTEGER);
"""


MSGSTORE_CALLS_SCHEMA = """
CREATE TABLE jid (_id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, server TEXT NOT NULL, agent INTEGER,
  device INTEGER, type INTEGER, raw_string TEXT);
CREATE TABLE call_log (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid_row_id INTEGER, from_me INTEGER, call_id TEXT,
  transaction_id INTEGER, timestamp INTEGER, video_call INTEGER, duration INTEGER, call_result INTEGER,
  is_dnd_mode_on INTEGER, bytes_transferred INTEGER, group_call_row_id INTEGER, is_joinable_group_call INTEGER,
  call_creator_device_jid_row_id INTEGER NOT NULL DEFAULT 0, call_random_id TEXT, call_link_row_id INTEGER NOT NULL
  DEFAULT 0, call_type INTEGER, offer_silence_reason INTEGER, scheduled_id TEXT);
CREATE TABLE chat (_id INTEGER PRIMARY KEY AUTOINCREMENT, jid_row_id INTEGER UNIQUE, hidden INTEGER, subject TEXT,
  created_timestamp INTEGER);
CREATE TABLE message (_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_row_id INTEGER NOT NULL, from_me INTEGER NOT NULL,
  key_id TEXT NOT NULL, sender_jid_row_id INTEGER, status INTEGER, broadcast INTEGER, recipient_count INTEGER,
  participant_hash TEXT, origination_flags INTEGER, origin INTEGER, timestamp INTEGER, received_timestamp INTEGER,
  receipt_server_timestamp INTEGER, message_type INTEGER, text_data TEXT, starred INTEGER, lookup_tables INTEGER,
  sort_id INTEGER NOT NULL DEFAULT 0);
"""


def build(path: Path, script: str, inserts: list[tuple[str, list[tuple] | list[dict]]]) -> Path:
    """A database at ``path``: ``script``, then each (table, rows); a row given as a dict
    names its columns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA page_size=1024")
    db.executescript(script)
    for table, rows in inserts:
        for row in rows:
            if isinstance(row, dict):
                db.execute(f"INSERT INTO {table} ({','.join(row)}) VALUES ({','.join('?' * len(row))})",
                           tuple(row.values()))
            else:
                db.execute(f"INSERT INTO {table} VALUES ({','.join('?' * len(row))})", row)
    db.commit()
    db.close()
    return path


def contacts2(path: Path) -> Path:
    mimes = ["vnd.android.cursor.item/name", "vnd.android.cursor.item/phone_v2", "vnd.android.cursor.item/email_v2",
             "vnd.android.cursor.item/organization", "vnd.android.cursor.item/vnd.com.whatsapp.profile"]
    return build(path, CONTACTS2_SCHEMA, [
        ("accounts", [(1, "ana.device@gmail.com", "com.google", None), (2, "WhatsApp", "com.whatsapp", None)]),
        ("mimetypes", [(i + 1, m) for i, m in enumerate(mimes)]),
        ("raw_contacts", [
            {"_id": 1, "account_id": 1, "contact_id": 1, "display_name": "Ana Lima", "times_contacted": 3,
             "last_time_contacted": T0_MS, "starred": 1},
            {"_id": 2, "account_id": 2, "contact_id": 1, "display_name": "Ana Lima"},
            {"_id": 3, "account_id": 1, "contact_id": 2, "display_name": "Bruno Deleted", "deleted": 1}]),
        ("data", [
            {"mimetype_id": 1, "raw_contact_id": 1, "data1": "Ana Lima", "data2": "Ana", "data3": "Lima"},
            {"mimetype_id": 2, "raw_contact_id": 1, "data1": "06 12 34 56 78", "data2": "2", "data4": None},
            {"mimetype_id": 3, "raw_contact_id": 1, "data1": "ana@example.org", "data2": "1"},
            {"mimetype_id": 4, "raw_contact_id": 1, "data1": "Lima Transport BV"},
            {"mimetype_id": 5, "raw_contact_id": 2, "data1": ANA_JID, "data3": "Message +31 6 12345678"},
            {"mimetype_id": 2, "raw_contact_id": 3, "data1": "+44 7700 900123", "data2": "2",
             "data4": "+447700900123"}]),
    ])


def calllog(path: Path) -> Path:
    """Four calls: Ana incoming (no cached name), outgoing to Ana, a missed call from an
    unknown number, one withheld."""
    return build(path, CALLLOG_SCHEMA, [("calls", [
        {"_id": 1, "number": "0612345678", "date": T0_MS, "duration": 95, "type": 1, "name": None, "countryiso": "NL",
         "subscription_component_name": "com.android.phone/com.android.services.telephony.TelephonyConnectionService",
         "is_read": 1},
        {"_id": 2, "number": "+31612345678", "date": T0_MS + 3_600_000, "duration": 0, "type": 2, "name": "Ana Lima",
         "countryiso": "NL", "is_read": 1},
        {"_id": 3, "number": "0201234567", "date": T0_MS + 7_200_000, "duration": 0, "type": 3, "countryiso": "NL",
         "features": 1},
        {"_id": 4, "number": "", "date": T0_MS + 10_800_000, "duration": 12, "type": 1, "presentation": 2,
         "countryiso": "NL"}])])


def addressbook(path: Path) -> Path:
    return build(path, ADDRESSBOOK_SCHEMA, [
        ("ABMultiValueLabel", [("_$!<Mobile>!$_",), ("iPhone",)]),
        ("ABPerson", [{"ROWID": 1, "First": "Ana", "Last": "Lima", "Organization": "Lima Transport BV",
                       "CreationDate": T0_CORE_DATA, "ModificationDate": T0_CORE_DATA + 60},
                      {"ROWID": 2, "Organization": "Pizza Roma"}]),
        ("ABMultiValue", [(1, 1, 3, 0, 1, "+31 6 12345678", None), (2, 1, 4, 1, None, "ana@example.org", None),
                          (3, 2, 3, 0, 2, "020 765 4321", None)]),
    ])


def callhistory(path: Path) -> Path:
    return build(path, CALLHISTORY_SCHEMA, [("ZCALLRECORD", [
        {"Z_PK": 1, "Z_ENT": 2, "Z_OPT": 1, "ZANSWERED": 1, "ZCALLTYPE": 1, "ZORIGINATED": 0, "ZDATE": T0_CORE_DATA,
         "ZDURATION": 61.5, "ZADDRESS": b"+31612345678", "ZISO_COUNTRY_CODE": "nl",
         "ZSERVICE_PROVIDER": "com.apple.Telephony"},
        {"Z_PK": 2, "Z_ENT": 2, "Z_OPT": 1, "ZANSWERED": 0, "ZCALLTYPE": 8, "ZORIGINATED": 0,
         "ZDATE": T0_CORE_DATA + 60, "ZDURATION": 0.0, "ZADDRESS": "ana@example.org", "ZISO_COUNTRY_CODE": "nl",
         "ZSERVICE_PROVIDER": "com.apple.FaceTime"},
        {"Z_PK": 3, "Z_ENT": 2, "Z_OPT": 1, "ZANSWERED": 1, "ZCALLTYPE": 1, "ZORIGINATED": 1,
         "ZDATE": T0_CORE_DATA + 120, "ZDURATION": 30.0, "ZADDRESS": "020 765 4321", "ZISO_COUNTRY_CODE": "nl",
         "ZSERVICE_PROVIDER": "net.whatsapp.WhatsApp", "ZNAME": None}])])


def wa(path: Path) -> Path:
    return build(path, WA_SCHEMA, [("wa_contacts", [
        {"_id": 1, "jid": ANA_JID, "is_whatsapp_user": 1, "number": "06 12 34 56 78", "display_name": "Ana L.",
         "wa_name": "ana 🌸", "status": "Hey there"},
        {"_id": 2, "jid": "120363025246125486@g.us", "is_whatsapp_user": 1, "display_name": "Family"},
        {"_id": 3, "jid": "447700900999@s.whatsapp.net", "is_whatsapp_user": 1, "number": None, "display_name": None,
         "wa_name": "Carl"}])])


def msgstore_calls(path: Path) -> Path:
    """Two WhatsApp calls with Ana, and one message from her."""
    return build(path, MSGSTORE_CALLS_SCHEMA, [
        ("jid", [(1, "31612345678", "s.whatsapp.net", 0, 0, 0, ANA_JID)]),
        ("chat", [{"_id": 1, "jid_row_id": 1, "hidden": 0}]),
        ("message", [{"_id": 1, "chat_row_id": 1, "from_me": 0, "key_id": "K1", "status": 0,
                      "timestamp": T0_MS + 30_000, "received_timestamp": T0_MS + 31_000, "message_type": 0,
                      "text_data": "call me", "starred": 0}]),
        ("call_log", [{"_id": 1, "jid_row_id": 1, "from_me": 1, "call_id": "CALL1", "timestamp": T0_MS + 60_000,
                       "video_call": 0, "duration": 42, "call_result": 5},
                      {"_id": 2, "jid_row_id": 1, "from_me": 0, "call_id": "CALL2", "timestamp": T0_MS + 120_000,
                       "video_call": 1, "duration": 0, "call_result": 2}])])


WA_IOS_CALLS_SCHEMA = """
CREATE TABLE ZWAAGGREGATECALLEVENT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZINCOMING INTEGER,
  ZMISSED INTEGER, ZVIDEO INTEGER, ZFIRSTDATE TIMESTAMP, ZCALLLINKTOKEN VARCHAR, ZGROUPJID VARCHAR );
CREATE TABLE ZWACDCALLEVENT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZBYTESRECEIVED INTEGER,
  ZBYTESSENT INTEGER, ZOUTCOME INTEGER, Z1CALLEVENTS INTEGER, ZDATE TIMESTAMP, ZDURATION FLOAT,
  ZCALLIDSTRING VARCHAR, ZGROUPCALLCREATORUSERJIDSTRING VARCHAR, ZGROUPJIDSTRING VARCHAR );
CREATE TABLE ZWACDCALLEVENTPARTICIPANT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZOUTCOME INTEGER,
  Z1PARTICIPANTS INTEGER, ZJIDSTRING VARCHAR );
"""

WA_IOS_CONTACTS_SCHEMA = """
CREATE TABLE ZWAADDRESSBOOKCONTACT ( Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZABUSERID INTEGER,
  ZCONTACTTYPE INTEGER, ZABOUTTIMESTAMP TIMESTAMP, ZABOUTTEXT VARCHAR, ZBUSINESSNAME VARCHAR, ZFULLNAME VARCHAR,
  ZGIVENNAME VARCHAR, ZLASTNAME VARCHAR, ZIDENTIFIER VARCHAR, ZLID VARCHAR, ZLOCALIZEDPHONENUMBERLABEL VARCHAR,
  ZPHONENUMBER VARCHAR, ZPHONENUMBERLABEL VARCHAR, ZWHATSAPPID VARCHAR );
"""


def wa_ios_calls(path: Path) -> Path:
    """An incoming answered voice call from Ana, a missed video call from an @lid party."""
    return build(path, WA_IOS_CALLS_SCHEMA, [
        ("ZWAAGGREGATECALLEVENT", [{"Z_PK": 1, "ZINCOMING": 1, "ZMISSED": 0, "ZVIDEO": 0, "ZFIRSTDATE": T0_CORE_DATA},
                                   {"Z_PK": 2, "ZINCOMING": 1, "ZMISSED": 1, "ZVIDEO": 1,
                                    "ZFIRSTDATE": T0_CORE_DATA + 600}]),
        ("ZWACDCALLEVENT", [{"Z_PK": 1, "Z1CALLEVENTS": 1, "ZOUTCOME": 0, "ZDATE": T0_CORE_DATA, "ZDURATION": 75.0,
                             "ZCALLIDSTRING": "A1"},
                            {"Z_PK": 2, "Z1CALLEVENTS": 2, "ZOUTCOME": 1, "ZDATE": T0_CORE_DATA + 600,
                             "ZDURATION": 0.0, "ZCALLIDSTRING": "A2"}]),
        ("ZWACDCALLEVENTPARTICIPANT", [{"Z_PK": 1, "Z1PARTICIPANTS": 1, "ZJIDSTRING": ANA_JID},
                                       {"Z_PK": 2, "Z1PARTICIPANTS": 2, "ZJIDSTRING": "81234567890123@lid"}])])


def wa_ios_contacts(path: Path) -> Path:
    return build(path, WA_IOS_CONTACTS_SCHEMA, [("ZWAADDRESSBOOKCONTACT", [
        {"Z_PK": 1, "ZFULLNAME": "Ana Lima", "ZGIVENNAME": "Ana", "ZPHONENUMBER": "+31 6 12345678",
         "ZWHATSAPPID": ANA_JID, "ZLID": "81234567890123@lid"}])])
