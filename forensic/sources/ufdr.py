"""Vendor extractions: Cellebrite UFDR reports and full-file-system archives.

A UFDR is a ZIP holding ``report.xml`` (namespace ``http://pa.cellebrite.com/report/2.0``)
and the extracted files. The report's ``<taggedFiles>`` say where each member sat on the
device (``<file path="/private/var/...">`` with ``<item name="Local Path">files/...``):
:class:`UfdrSource` presents the members under those device paths (the locator keeps the
member's own name) and records the report's ``Device Info`` and ``Extraction Data`` on the
item (details ``device``, ``extraction``). Cellebrite's own decoded records are read by
:mod:`forensic.extractors.ufdr_report` and kept apart from ours.

A full-file-system ZIP or TAR (GrayKey, Magnet, Oxygen, a ``Dump/`` logical extraction) is
recognised by its members (:func:`forensic.devicepath.looks_like_device_tree`) and walked
through :class:`DeviceTreeSource`, which maps each path with
:func:`forensic.devicepath.device_path`.

report.xml is seized, hostile XML: it is parsed as a stream (a report of many GB is never
held whole) by defusedxml, which refuses DTDs and entity declarations (billion laughs,
external entities); a report past :data:`MAX_REPORT` bytes is refused. Either way the
files are still listed, under their member names, with a warning.
"""
from __future__ import annotations

import posixpath
import re
from typing import BinaryIO, Iterator

from forensic.devicepath import device_path, looks_like_device_tree
from forensic.entry import FileEntry
from forensic.limits import DEFAULT_LIMITS, Limits
from forensic.locator import Locator, safe_name
from forensic.sources.archive import ZipSource, bad_zip
from forensic.sources.base import Source

NS = "http://pa.cellebrite.com/report/2.0"
MAX_REPORT = 4 << 30          # bytes of report.xml read at most (a real one reaches a few GB)
MAX_TEXT = 1 << 20            # characters of one metadata value kept
_REPORT_RE = re.compile(r"^(?:[^/]+/)?report\.xml$", re.I)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def report_member(names: list[str]) -> str | None:
    """The report.xml member of a UFDR (at the root or one folder down), if any."""
    found = [n for n in names if _REPORT_RE.match(n.replace("\\", "/"))]
    return min(found, key=len) if found else None


def looks_like_ufdr(zf: object, head_bytes: int = 8192) -> bool:
    """True when the ZIP (a zipfile.ZipFile) holds a report.xml in Cellebrite's namespace."""
    try:
        name = report_member(zf.namelist())  # type: ignore[attr-defined]
        if name is None:
            return False
        with zf.open(name) as fh:  # type: ignore[attr-defined]
            head = fh.read(head_bytes)
    except (OSError, RuntimeError, ValueError, EOFError, NotImplementedError) + bad_zip():
        return False
    return NS.encode() in head


def norm_member(name: str) -> str:
    return posixpath.normpath(name.replace("\\", "/").lstrip("/"))


class ReportError(Exception):
    """report.xml refused (hostile or too large): the files are listed without its paths."""


def parse_report(fh: BinaryIO, max_bytes: int = MAX_REPORT) -> tuple[dict[str, str], dict, dict, list[str]]:
    """From a report.xml stream: member path -> device path, device info, extraction info, and
    problems met. ReportError when the XML is refused (DTD or entities, too large, not XML)."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, iterparse
    capped = _Capped(fh, max_bytes)
    mapping: dict[str, str] = {}
    device: dict[str, str] = {}
    extraction: dict = {}
    problems: list[str] = []
    stack: list[str] = []
    elems: list = []
    # open elements of the kinds that decide what is kept, counted (a test of "x in stack" for
    # every element would be quadratic in a deeply nested report)
    open_: dict[str, int] = {"decodedData": 0, "taggedFiles": 0, "metadata": 0, "file": 0}
    try:
        for event, elem in iterparse(capped, events=("start", "end"), forbid_dtd=True):
            tag = _local(elem.tag)
            if event == "start":
                stack.append(tag)
                elems.append(elem)
                if tag in open_:
                    open_[tag] += 1
                continue
            stack.pop()
            elems.pop()
            if tag in open_:
                open_[tag] -= 1
            if open_["decodedData"]:
                pass                      # decoded records: read by the report extractor, not here
            elif tag == "extractionInfo":
                info = {k: _text(v) for k, v in elem.attrib.items()}
                extraction.setdefault("sources", []).append(info)
            elif tag == "metadata" and elem.get("section") in ("Device Info", "Extraction Data") \
                    and not open_["taggedFiles"]:
                target = device if elem.get("section") == "Device Info" else extraction
                for item in elem:
                    if _local(item.tag) == "item" and item.get("name"):
                        target.setdefault(_text(item.get("name") or ""), _text(item.text or ""))
            elif tag == "file" and stack and stack[-1] == "taggedFiles":
                dev = elem.get("path")
                local = None
                for item in elem.iter(f"{{{NS}}}item"):
                    if item.get("name") == "Local Path" and item.text:
                        local = item.text.strip()
                        break
                if dev and local:
                    mapping.setdefault(norm_member(local), _device_path(dev))
                elif dev:
                    problems.append(f"tagged file {_text(dev)[:200]} has no Local Path in the UFDR")
            # an element read (or of no use here) is dropped from its parent, unless a metadata
            # section or tagged file still open needs it: memory stays flat over millions of
            # tagged files, decoded records or unknown elements
            if elems and (open_["decodedData"] or not (open_["metadata"] or open_["file"])):
                elems[-1].remove(elem)
    except DefusedXmlException as exc:
        raise ReportError(f"report.xml refused: it declares a DTD or entities ({type(exc).__name__}); "
                          "entity expansion (billion laughs) is never performed") from exc
    except _TooLarge as exc:
        raise ReportError(str(exc)) from exc
    except ParseError as exc:
        raise ReportError(f"report.xml is not well-formed XML ({exc}); read up to there") from exc
    except OSError as exc:
        raise ReportError(f"report.xml unreadable: {exc}") from exc
    return mapping, device, extraction, problems


def _device_path(dev: str) -> str:
    """A tagged file's device path as safe as a member name: control characters escaped (a
    device file name may hold a newline) and normalised (a forged ``..`` is resolved once,
    here, never by a later reader)."""
    path = posixpath.normpath("/" + safe_name(dev.lstrip("/"))[0])
    return "/" + path.lstrip("/")


def _text(value: str) -> str:
    value = value.strip()
    return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…[cut]"


class _TooLarge(Exception):
    pass


class _Capped:
    """A stream that refuses to go past ``limit`` bytes (a report.xml too large to trust)."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self.raw, self.limit, self.taken = raw, limit, 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n if n is not None and n >= 0 else 1 << 20)
        self.taken += len(data)
        if self.taken > self.limit:
            raise _TooLarge(f"report.xml refused: larger than {self.limit:,} bytes")
        return data


# Cellebrite's Device Info item names (as normalised by _key) -> the item's device fields,
# the names an iTunes backup's device facts use too
_DEVICE_KEYS = {"model": "model", "devicemodel": "model", "manufacturer": "manufacturer", "vendor": "manufacturer",
                "osversion": "os_version", "androidversion": "os_version", "iosversion": "os_version",
                "imei": "imei", "imei1": "imei", "imei2": "imei2", "serial": "serial", "serialnumber": "serial",
                "msisdn": "phone_number", "phonenumber": "phone_number", "ownernumber": "phone_number",
                "iccid": "iccid", "imsi": "imsi", "devicename": "device_name", "name": "device_name",
                "uniqueid": "udid", "udid": "udid", "androidid": "android_id", "bluetoothmac": "bluetooth_mac",
                "wifimac": "wifi_mac", "timezone": "time_zone"}


def _key(name: str) -> str:
    k = re.sub(r"[^a-z0-9]", "", name.lower())
    for prefix in ("deviceinfo", "detected", "selected"):
        k = k.removeprefix(prefix)
    return k


def device_facts(items: dict[str, str]) -> dict:
    """The device fields recognised among a report's Device Info items (the first of each
    wins), and every item as Cellebrite named it under ``cellebrite``."""
    out: dict = {}
    for name, value in items.items():
        field = _DEVICE_KEYS.get(_key(name))
        if field is not None and value and field not in out:
            out[field] = value
    out["cellebrite"] = items
    return out


class UfdrSource(ZipSource):
    FORMAT = "ufdr"

    def __init__(self, fileobj: BinaryIO, locator: Locator, size: int, password: bytes | None = None,
                 limits: Limits = DEFAULT_LIMITS, label: str = "", max_report: int = MAX_REPORT) -> None:
        super().__init__(fileobj, locator, size, password, limits, label)
        self.mapping: dict[str, str] = {}
        name = report_member([zi.filename for zi in self.infos])
        self.details["ufdr"] = {"report": name}
        if name is None:
            self.warnings.append("no report.xml in the UFDR: files listed under their member names")
            return
        try:
            with self.zf.open(name, pwd=password) as fh:
                self.mapping, dev, extraction, problems = parse_report(fh, max_report)
        except ReportError as exc:
            self.warnings.append(f"{exc}: files listed under their member names")
            return
        except (RuntimeError, ValueError, EOFError) + bad_zip(OSError) as exc:
            self.warnings.append(f"report.xml unreadable ({exc}): files listed under their member names")
            return
        self.details["device"] = device_facts(dev)
        self.details["extraction"] = extraction
        self.warnings.extend(problems[:20])
        if len(problems) > 20:
            self.warnings.append(f"... and {len(problems) - 20} more tagged files without a Local Path")

    def entries(self) -> Iterator[FileEntry]:
        for entry in super().entries():
            dev = self.mapping.get(norm_member(entry.path))
            if dev is not None:          # the locator keeps the member's own name
                entry.path = dev
                entry.name = posixpath.basename(dev)
            yield entry


class DeviceTreeSource(Source):
    """A full-file-system ZIP or TAR: the archive's entries under their device paths."""

    def __init__(self, inner: Source) -> None:
        super().__init__(inner.locator, inner.limits)
        self.inner = inner
        self.FORMAT = inner.FORMAT
        self.warnings = inner.warnings
        self.details = inner.details
        self.details["device_paths"] = "mapped from the acquisition tool's layout (see docs/formats.md)"

    def entries(self) -> Iterator[FileEntry]:
        for entry in self.inner.entries():
            entry.path = device_path(entry.path)
            yield entry

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            super().close()


def zip_kind(zf: object) -> str | None:
    """``ufdr`` for a Cellebrite report, ``device-tree`` for a full-file-system archive, else None."""
    if looks_like_ufdr(zf):
        return "ufdr"
    try:
        names = zf.namelist()  # type: ignore[attr-defined]
    except (OSError, ValueError):
        return None
    return "device-tree" if looks_like_device_tree(names) else None
