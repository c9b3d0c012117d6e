"""XMP (Adobe Extensible Metadata Platform) packets: found in a photo's bytes or read from a
``.xmp`` sidecar, parsed into the properties a photo record uses.

Parsing is our own over :mod:`xml.etree` through defusedxml (XMP is small RDF/XML): a DOCTYPE
or an entity declaration is refused (entity expansion attacks), its size is capped, and a
broken packet gives a problem message, never an exception. Only simple properties are kept
(attributes of ``rdf:Description``, child elements with text, the first item of an
``rdf:Alt``/``rdf:Seq``/``rdf:Bag``), named ``prefix:Name`` with the standard prefix of
their namespace (a writer's own prefixes do not matter).

Dates (XMP spec part 1, 8.2.1.1): ``YYYY[-MM[-DD[Thh:mm[:ss[.s]][TZD]]]]``; exiftool-written
packets also hold EXIF-style ``YYYY:MM:DD hh:mm:ss[Z|±hh:mm]``. A date with ``Z`` or an
offset carries its zone; one without has no known zone (the caller decides, as for EXIF).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime

MAX_PACKET = 4 * 1024 * 1024          # bytes of one XMP packet parsed

_NS = {
    "http://ns.adobe.com/exif/1.0/": "exif",
    "http://cipa.jp/exif/1.0/": "exifEX",
    "http://ns.adobe.com/tiff/1.0/": "tiff",
    "http://ns.adobe.com/xap/1.0/": "xmp",
    "http://ns.adobe.com/photoshop/1.0/": "photoshop",
    "http://ns.adobe.com/exif/1.0/aux/": "aux",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://ns.adobe.com/xap/1.0/mm/": "xmpMM",
    "http://ns.adobe.com/camera-raw-settings/1.0/": "crs",
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": "Iptc4xmpCore",
    "http://ns.google.com/photos/1.0/camera/": "GCamera",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf",
}
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"

# the date properties of a photo, in the order they are listed
DATE_PROPERTIES = ("exif:DateTimeOriginal", "photoshop:DateCreated", "xmp:CreateDate", "exif:DateTimeDigitized",
                   "tiff:DateTime", "exif:DateTime", "xmp:ModifyDate", "xmp:MetadataDate", "exif:GPSTimeStamp")

_DATE = re.compile(r"^(\d{4})(?:[-:](\d{2})(?:[-:](\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?)?)?"
                   r"\s*(Z|[+-]\d{1,2}:\d{2}|[+-]\d{4})?$")
_COORD = re.compile(r"^(\d{1,3}),(\d{1,2}(?:\.\d+)?)(?:,(\d{1,2}(?:\.\d+)?))?([NSEW])$")
_RATIONAL = re.compile(r"^(-?\d+)/(\d+)$")


@dataclass
class XmpDate:
    local: datetime | None             # the wall-clock date-time written (naive); None for a date only
    offset_minutes: int | None          # its zone, when written (Z = 0)
    raw: str


@dataclass
class Xmp:
    """The simple properties of one packet, by ``prefix:Name``."""
    props: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def get(self, *names: str) -> tuple[str | None, str | None]:
        """(value, name) of the first of ``names`` present and not blank."""
        for name in names:
            value = self.props.get(name)
            if value is not None and value.strip():
                return value.strip(), name
        return None, None


def find_packet(buf: bytes, end: int | None = None) -> bytes | None:
    """The first XMP packet inside a file's bytes (any container: JPEG APP1, TIFF tag 700,
    PNG iTXt, ISO BMFF item, RAW...) before ``end``, or None. A UTF-16 or UTF-32 packet (XMP
    allows them) is given back in UTF-8. Three scans of the bytes at most."""
    stop = len(buf) if end is None else min(end, len(buf))
    at = buf.find(b"xmpmeta", 0, stop)
    if at >= 0 or buf.find(b"<rdf:RDF", 0, stop) >= 0:
        return _find_utf8(buf)
    for core, encodings in ((b"x\x00m\x00p\x00m\x00e\x00t\x00a", ("utf-16-be", "utf-16-le")),
                            (b"x\x00\x00\x00m\x00\x00\x00p\x00\x00\x00m", ("utf-32-be", "utf-32-le"))):
        if buf.find(core, 0, stop) < 0:
            continue
        for encoding in encodings:
            start = buf.find("<x:xmpmeta".encode(encoding), 0, stop)
            if start < 0:
                continue
            end_tag = "</x:xmpmeta>".encode(encoding)
            close = buf.find(end_tag, start, start + MAX_PACKET * 4)
            if close < 0:
                close = min(len(buf), start + MAX_PACKET * 4) - len(end_tag)
            return buf[start:close + len(end_tag)].decode(encoding, errors="replace").encode("utf-8")
    return None


def _find_utf8(buf: bytes) -> bytes | None:
    start = buf.find(b"<x:xmpmeta")
    if start < 0:
        start = buf.find(b"<rdf:RDF")
        if start < 0:
            return None
        end_tag = b"</rdf:RDF>"
    else:
        end_tag = b"</x:xmpmeta>"
    end = buf.find(end_tag, start, start + MAX_PACKET)
    if end < 0:
        return buf[start:start + MAX_PACKET]      # truncated: parsed, fails, and says so
    return buf[start:end + len(end_tag)]


def parse(packet: bytes | None) -> Xmp:
    """The properties of a packet; problems (not an exception) for a broken one."""
    out = Xmp()
    if not packet:
        return out
    if len(packet) > MAX_PACKET:
        out.problems.append(f"XMP packet of {len(packet)} bytes is over the {MAX_PACKET}-byte limit: not read")
        return out
    if b"<!DOCTYPE" in packet or b"<!ENTITY" in packet:
        out.problems.append("XMP packet declares a DOCTYPE or entities: refused (not XMP, possibly hostile)")
        return out
    start = packet.find(b"<")
    # defusedxml refuses a DTD in any encoding: a UTF-16 sidecar hides "<!DOCTYPE" from the
    # byte test above (expat would then expand its entities)
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring
    try:
        root = fromstring(packet[start:] if start > 0 else packet, forbid_dtd=True)
    except DefusedXmlException:
        out.problems.append("XMP packet declares a DOCTYPE or entities: refused (not XMP, possibly hostile)")
        return out
    except ET.ParseError as exc:
        out.problems.append(f"XMP packet is not well-formed XML ({exc}): not read")
        return out
    for desc in root.iter(f"{_RDF}Description"):
        for key, value in desc.attrib.items():
            name = _name(key)
            if name and not name.startswith("rdf:"):
                out.props.setdefault(name, value)
        for child in desc:
            name = _name(child.tag)
            if not name:
                continue
            text = _simple_value(child)
            if text is not None:
                out.props.setdefault(name, text)
    return out


def _name(tag: str) -> str | None:
    if not tag.startswith("{"):
        return None
    uri, _, local = tag[1:].partition("}")
    prefix = _NS.get(uri)
    return f"{prefix}:{local}" if prefix else None


def _simple_value(elem: ET.Element) -> str | None:
    resource = elem.get(f"{_RDF}resource")
    if resource is not None:
        return resource
    children = list(elem)
    if not children:
        return (elem.text or "").strip() or None
    container = children[0]
    if container.tag in (f"{_RDF}Alt", f"{_RDF}Seq", f"{_RDF}Bag"):
        items = list(container)
        if items:
            return (items[0].text or "").strip() or None
    return None


def parse_date(raw: str) -> XmpDate | None:
    """An XMP date (see the module's doc); None when it is no date."""
    m = _DATE.match(raw.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, frac, zone = m.groups()
    offset = None
    if zone:
        if zone == "Z":
            offset = 0
        else:
            hours, minutes = (zone[1:].split(":") if ":" in zone else (zone[1:3], zone[3:]))
            offset = int(hours) * 60 + int(minutes)
            if offset > 14 * 60 or int(minutes) >= 60:
                return None
            if zone[0] == "-":
                offset = -offset
    if hour is None:
        return XmpDate(None, offset, raw)
    try:
        # a wall-clock time as written; its zone is offset_minutes (None: not known)
        local = datetime(int(year), int(month or 1), int(day or 1), int(hour), int(minute),  # noqa: DTZ001
                         int(second or 0), int(((frac or "") + "000000")[:6]))
    except ValueError:
        return None
    return XmpDate(local, offset, raw)


def parse_coordinate(raw: str) -> float | None:
    """XMP GPS coordinate ``DDD,MM,SSk`` or ``DDD,MM.mmk`` → signed decimal degrees."""
    m = _COORD.match(raw.strip().replace(" ", ""))
    if not m:
        return None
    value = int(m.group(1)) + float(m.group(2)) / 60 + float(m.group(3) or 0) / 3600
    return -value if m.group(4) in "SW" else value


def parse_rational(raw: str) -> float | None:
    """An XMP rational (``123/10``) or a plain number."""
    text = raw.strip()
    m = _RATIONAL.match(text)
    if m:
        return int(m.group(1)) / int(m.group(2)) if int(m.group(2)) else None
    try:
        return float(text)
    except ValueError:
        return None
