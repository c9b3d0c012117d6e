"""One chat message shape: the record every chat extractor makes and the field list the
listings print in order are the same list."""
from __future__ import annotations

from datetime import datetime, timezone

from forensic.extractors.chat.common import MESSAGE_FIELDS, message_record
from forensic.timestamps import Timestamp


def test_message_record_fields_follow_the_shared_list():
    sent = Timestamp.from_unix("sent", datetime(2024, 3, 1, 9, 15, tzinfo=timezone.utc).timestamp(), raw="x")
    rec = message_record(platform="whatsapp", conversation={"id": "c", "title": "C"}, participants=["A", "B"],
                         sender="A", sent=sent, body="hi", source={"path": "/c.txt", "line": 1},
                         source_ref="line 1", extra={"message_id": 7})
    shared = [k for k in rec.fields if k in MESSAGE_FIELDS]
    assert tuple(shared) == MESSAGE_FIELDS
    assert set(rec.fields) - set(MESSAGE_FIELDS) == {"edited_at", "message_id"}
