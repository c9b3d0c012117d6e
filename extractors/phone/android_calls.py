"""Android call log: ``calllog.db`` (Android 7 / API 24 and later), or the ``calls`` table of
``contacts2.db`` on earlier versions.

Schema read (``android.provider.CallLog.Calls``; the columns ALEAPP's ``callLogs.py``
queries): ``calls`` (``_id``, ``number``, ``date`` Unix ms UTC, ``duration`` seconds,
``type``, ``name`` (the name cached from the contacts at the time of the call),
``countryiso`` (the country the phone was in, for reading a national number),
``geocoded_location``, ``features`` (bit 0: video), ``presentation``,
``subscription_component_name`` (the calling app: the cellular telephony, or a VoIP app's
component), ``is_read``, ``new``, ``phone_account_address``).

``type``: 1 incoming, 2 outgoing, 3 missed, 4 voicemail, 5 rejected, 6 blocked, 7 answered
externally (on another device); an outgoing call's outcome is not in the log (null: a duration of
0 may be an unanswered call or a connected one cut at once); other values are kept as ``type``
with direction ``unknown``.
``presentation``: 1 allowed, 2 restricted (number withheld), 3 unknown, 4 pay phone.
"""
from __future__ import annotations

from typing import Iterator

from forensic.extractors.chat.sqlite_chat import rows
from forensic.extractors.phone.common import CALL, PhoneDbExtractor, call_record, seconds, source, text, unix_ms_time
from forensic.extractors.records import ArtifactRecord

# type -> (direction, outcome)
TYPES = {1: ("incoming", "answered"), 2: ("outgoing", None), 3: ("incoming", "missed"),
         4: ("incoming", "voicemail"), 5: ("incoming", "rejected"), 6: ("incoming", "blocked"),
         7: ("incoming", "answered_elsewhere")}
PRESENTATION = {1: "allowed", 2: "restricted", 3: "unknown", 4: "payphone"}
_COLS = ("number", "date", "duration", "type", "name", "countryiso", "geocoded_location", "features", "presentation",
         "subscription_component_name", "is_read", "new", "phone_account_address")


def _app(component: str | None) -> str:
    """The calling app from ``subscription_component_name``: ``phone`` for the telephony
    service (or when the log does not say), else the component as stored."""
    if not component or component.startswith(("com.android.phone/", "com.android.server.telecom/")):
        return "phone"
    return component


class AndroidCallLogExtractor(PhoneDbExtractor):
    NAME = "android_calls"
    VERSION = "1"
    DESCRIPTION = "Android call log (calllog.db; the calls table of contacts2.db before Android 7)"
    FILE_NAMES = ("calllog.db",)
    OTHER_NAMES = ("contacts2.db",)
    MARKERS = ()
    REQUIRED = ("calls",)
    RECORD_TYPES = (CALL,)

    def read(self, conn, tables, item, problems) -> Iterator[ArtifactRecord]:
        for r in rows(conn, "calls", tables["calls"], _COLS, problems):
            yield self._call(item, r)

    def _call(self, item, r) -> ArtifactRecord:
        problems: list[str] = []
        started = unix_ms_time(r["date"], "started", problems)
        if started is None and not problems:
            problems.append("call without a start time")
        kind = r["type"]
        direction, outcome = TYPES.get(kind, ("unknown", None))
        duration = seconds(r["duration"], problems)
        features = r["features"] if isinstance(r["features"], int) else None
        presentation = r["presentation"]
        extra = {"type": kind, "country_iso": text(r["countryiso"]), "video": bool(features & 1) if features is not None
                 else None, "presentation": PRESENTATION.get(presentation, presentation),
                 "geocoded_location": text(r["geocoded_location"]),
                 "calling_app": text(r["subscription_component_name"]),
                 "phone_account": text(r["phone_account_address"]),
                 "read": bool(r["is_read"]) if r["is_read"] is not None else None}
        return call_record(app=_app(text(r["subscription_component_name"])), os="android", direction=direction,
                           outcome=outcome, number=text(r["number"]), name=text(r["name"]), started=started,
                           duration_s=duration, source=source(item.path, "calls", r["_rowid"]),
                           source_ref=f"calls:{r['_rowid']}", extra=extra, problems=problems)
