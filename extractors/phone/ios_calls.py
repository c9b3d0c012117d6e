"""iOS call history ``CallHistory.storedata`` (``/private/var/mobile/Library/CallHistoryDB/``):
cellular, FaceTime and the VoIP apps that report to CallKit (WhatsApp, Signal, ...).

Schema read (iOS 8 to iOS 17, a Core Data store; the columns iLEAPP's ``callHistory.py``
queries): ``ZCALLRECORD`` (``Z_PK``, ``ZADDRESS`` the other party, TEXT or on some versions a
BLOB of UTF-8, ``ZNAME``, ``ZDATE`` Core Data seconds since 2001-01-01 UTC, ``ZDURATION``
seconds (REAL), ``ZORIGINATED`` 1 outgoing, ``ZANSWERED`` 1 answered, ``ZCALLTYPE`` 1 phone,
8 FaceTime video, 16 FaceTime audio, ``ZSERVICE_PROVIDER`` the app's bundle id
(``com.apple.Telephony``, ``com.apple.FaceTime``, ``net.whatsapp.WhatsApp``, ...),
``ZISO_COUNTRY_CODE`` (the country for reading a national number), ``ZLOCATION``,
``ZDISCONNECTED_CAUSE``, ``ZREAD``). The iOS 7 and earlier ``call_history.db`` is not read.
"""
from __future__ import annotations

from typing import Iterator

from forensic.extractors.chat.sqlite_chat import rows
from forensic.extractors.phone.common import CALL, PhoneDbExtractor, call_record, core_data_time, seconds, source, text
from forensic.extractors.records import ArtifactRecord

CALL_TYPES = {1: "phone", 8: "facetime_video", 16: "facetime_audio"}
_APPS = {"com.apple.telephony": "phone", "com.apple.facetime": "facetime", "net.whatsapp.whatsapp": "whatsapp"}
_COLS = ("ZADDRESS", "ZNAME", "ZDATE", "ZDURATION", "ZORIGINATED", "ZANSWERED", "ZCALLTYPE", "ZSERVICE_PROVIDER",
         "ZISO_COUNTRY_CODE", "ZLOCATION", "ZDISCONNECTED_CAUSE", "ZREAD")


class IosCallHistoryExtractor(PhoneDbExtractor):
    NAME = "ios_calls"
    VERSION = "1"
    DESCRIPTION = "iOS call history (CallHistory.storedata: phone, FaceTime, CallKit apps)"
    FILE_NAMES = ("callhistory.storedata",)
    MARKERS = (b"CREATE TABLE ZCALLRECORD",)
    REQUIRED = ("ZCALLRECORD",)
    RECORD_TYPES = (CALL,)

    def read(self, conn, tables, item, problems) -> Iterator[ArtifactRecord]:
        for r in rows(conn, "ZCALLRECORD", tables["ZCALLRECORD"], _COLS, problems):
            yield self._call(item, r)

    def _call(self, item, r) -> ArtifactRecord:
        problems: list[str] = []
        started = core_data_time(r["ZDATE"], "started", problems)
        if started is None and not problems:
            problems.append("call without a start time")
        originated, answered = r["ZORIGINATED"], r["ZANSWERED"]
        direction = "outgoing" if originated == 1 else "incoming" if originated == 0 else "unknown"
        if answered is None:
            outcome = None
        elif answered:
            outcome = "answered"
        else:
            outcome = "not_answered" if direction == "outgoing" else "missed" if direction == "incoming" else None
        provider = text(r["ZSERVICE_PROVIDER"])
        app = _APPS.get(provider.lower(), provider) if provider else "phone"
        kind = r["ZCALLTYPE"]
        extra = {"call_type": CALL_TYPES.get(kind, kind), "service_provider": provider,
                 "country_iso": (text(r["ZISO_COUNTRY_CODE"]) or "").upper() or None,
                 "video": kind == 8 if kind in CALL_TYPES else None, "location": text(r["ZLOCATION"]),
                 "disconnected_cause": r["ZDISCONNECTED_CAUSE"],
                 "read": bool(r["ZREAD"]) if r["ZREAD"] is not None else None}
        return call_record(app=app, os="ios", direction=direction, outcome=outcome, number=text(r["ZADDRESS"]),
                           name=text(r["ZNAME"]), started=started, duration_s=seconds(r["ZDURATION"], problems),
                           source=source(item.path, "ZCALLRECORD", r["_rowid"]),
                           source_ref=f"ZCALLRECORD:{r['_rowid']}", extra=extra, problems=problems)
