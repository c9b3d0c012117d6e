"""Cellebrite's own decoded records in a UFDR's report.xml, kept apart as ``vendor/*``.

A UFDR's ``<decodedData>`` holds what Cellebrite's software decoded (chats, messages,
contacts, calls...). They are stored for comparison with ours, never merged: record types
``vendor/chat``, ``vendor/chat-message``, ``vendor/contact``, ``vendor/call`` and
``vendor/<model type>`` for the rest, each with ``vendor: "cellebrite"``, the model's type
and id, its fields as the report gives them (values as written, times included: no zone
is assumed for them) and ``location`` (the report.xml member and the model's id). No
listing of our messages, contacts or calls shows them.

report.xml is hostile XML: parsed as a stream by defusedxml (DTDs and entities refused).
"""
from __future__ import annotations

from typing import Any, Iterator
from xml.etree.ElementTree import Element

from forensic.extractors.base import Extractor, ExtractorInput
from forensic.extractors.records import ArtifactRecord, ExtractionWarning

NS = "http://pa.cellebrite.com/report/2.0"
_TYPES = {"chat": "vendor/chat", "instantmessage": "vendor/chat-message", "email": "vendor/email",
          "contact": "vendor/contact", "call": "vendor/call", "sms": "vendor/chat-message",
          "mms": "vendor/chat-message"}
MAX_VALUE = 1 << 20         # characters of one field value kept
MAX_DEPTH = 8               # nested models followed


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def record_type(model_type: str) -> str:
    t = "".join(c for c in model_type.lower() if c.isalnum() or c in "-_")[:64] or "unknown"
    return _TYPES.get(t, f"vendor/{t}")


class UfdrReportExtractor(Extractor):
    NAME = "ufdr_report"
    VERSION = "1"
    DESCRIPTION = "Cellebrite UFDR report.xml: the vendor's decoded records, kept apart (vendor/*)"
    REQUIRES = ("defusedxml",)
    RECORD_TYPES = ("vendor/chat", "vendor/chat-message", "vendor/contact", "vendor/call", "vendor/email")

    def accepts(self, path: str, mime: str, head: bytes) -> bool:
        name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
        return name == "report.xml" and NS.encode() in head

    def extract(self, item: ExtractorInput) -> Iterator[ArtifactRecord | ExtractionWarning]:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import ParseError, iterparse
        where = item.locator or item.path
        stack: list[str] = []
        elems: list[Element] = []
        streamed: dict[int, int] = {}      # id of a chat's Messages field -> messages already yielded
        count = 0
        models = 0                         # open <model> elements (their children are still needed)
        try:
            with item.stream() as fh:
                for event, elem in iterparse(fh, events=("start", "end"), forbid_dtd=True):
                    tag = _local(elem.tag)
                    if event == "start":
                        stack.append(tag)
                        elems.append(elem)
                        models += tag == "model"
                        continue
                    stack.pop()
                    elems.pop()
                    models -= tag == "model"
                    if tag == "model" and stack[-2:] == ["decodedData", "modelType"]:
                        for rec in self._records(elem, where, None, 0, streamed):
                            count += 1
                            yield rec
                        elems[-1].remove(elem)          # done with: memory stays flat over the report
                    elif (tag == "model" and len(stack) >= 4 and stack[-1] == "multiModelField"
                          and stack[-4:-2] == ["decodedData", "modelType"]
                          and (elems[-1].get("name") or "").lower() == "messages"):
                        # a chat's message, yielded as soon as read: a chat of a million messages
                        # is never held whole
                        chat = elems[-2]
                        for rec in self._records(elem, where, {"vendor_type": chat.get("type"),
                                                               "vendor_id": chat.get("id")}, 1, streamed):
                            count += 1
                            yield rec
                        streamed[id(elems[-1])] = streamed.get(id(elems[-1]), 0) + 1
                        elems[-1].remove(elem)
                    elif elems and not models:
                        # outside any model (tagged files, unknown sections): dropped once read,
                        # so millions of such elements do not stay in memory
                        elems[-1].remove(elem)
        except DefusedXmlException as exc:
            yield ExtractionWarning(self.NAME, f"report.xml refused: it declares a DTD or entities "
                                               f"({type(exc).__name__}); entity expansion is never performed")
        except ParseError as exc:
            yield ExtractionWarning(self.NAME, f"report.xml damaged ({exc}): {count} decoded records read before it")
        except OSError as exc:
            yield ExtractionWarning(self.NAME, f"report.xml unreadable ({exc}): {count} decoded records read")

    def _records(self, model: Element, where: str, parent: dict | None, depth: int,
                 streamed: dict[int, int]) -> Iterator[ArtifactRecord]:
        """The model as one record, then the models it still holds in its multi-model fields
        (a chat's messages not yet yielded as read), each a record naming its parent."""
        mtype = model.get("type") or "unknown"
        fields: dict[str, Any] = {}
        children: list[Element] = []
        for child in model:
            kind, name = _local(child.tag), child.get("name") or ""
            if kind == "field":
                fields[name] = _values(child)
            elif kind == "modelField":
                inner = [m for m in child if _local(m.tag) == "model"]
                fields[name] = _flat(inner[0], depth + 1) if inner else None
            elif kind == "multiModelField":
                models = [m for m in child if _local(m.tag) == "model"]
                if name.lower() == "messages" or depth + 1 >= MAX_DEPTH:
                    children.extend(models)
                    fields[name] = {"count": len(models) + streamed.get(id(child), 0)}
                else:
                    fields[name] = [_flat(m, depth + 1) for m in models]
        out: dict[str, Any] = {
            "vendor": "cellebrite", "vendor_type": mtype, "vendor_id": model.get("id"),
            "deleted_state": model.get("deleted_state"), "decoding_confidence": model.get("decoding_confidence"),
            "fields": fields,
            "location": {"report": where, "model_id": model.get("id"), "model_type": mtype},
        }
        if parent is not None:
            out["parent"] = parent
        yield ArtifactRecord(record_type(mtype), out, source_ref=f"model {model.get('id') or '?'}")
        if depth + 1 < MAX_DEPTH:
            ref = {"vendor_type": mtype, "vendor_id": model.get("id")}
            for child_model in children:
                yield from self._records(child_model, where, ref, depth + 1, streamed)


def _values(field: Element) -> Any:
    vals = [_cut(v.text or "") for v in field if _local(v.tag) == "value"]
    if not vals:
        return None
    return vals[0] if len(vals) == 1 else vals


def _flat(model: Element, depth: int) -> dict[str, Any]:
    """A nested model (a party, an attachment) as a plain dict of its fields."""
    out: dict[str, Any] = {"vendor_type": model.get("type")}
    if depth >= MAX_DEPTH:
        return out
    for child in model:
        kind, name = _local(child.tag), child.get("name") or ""
        if kind == "field":
            out[name] = _values(child)
        elif kind == "modelField":
            inner = [m for m in child if _local(m.tag) == "model"]
            out[name] = _flat(inner[0], depth + 1) if inner else None
        elif kind == "multiModelField":
            out[name] = [_flat(m, depth + 1) for m in child if _local(m.tag) == "model"]
    return out


def _cut(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "…[cut]"
