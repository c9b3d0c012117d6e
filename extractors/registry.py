"""Extractor registry: explicit, by NAME.

An extractor whose dependency is missing is listed as unavailable with the reason;
it never stops the program.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from forensic.extractors.base import Extractor

# (module, class) of every extractor shipped. Order is the order they are tried.
_BUILTIN: list[tuple[str, str]] = [
    ("forensic.extractors.photo_exif", "PhotoExifExtractor"),
    ("forensic.extractors.video_meta", "VideoMetaExtractor"),
    ("forensic.extractors.photo_hash", "PhotoHashExtractor"),
    ("forensic.extractors.video_frames", "VideoFramesExtractor"),
    ("forensic.extractors.chat.whatsapp_txt", "WhatsAppTxtExtractor"),
    ("forensic.extractors.chat.telegram_json", "TelegramJsonExtractor"),
    ("forensic.extractors.chat.facebook_json", "FacebookJsonExtractor"),
    ("forensic.extractors.chat.discord_json", "DiscordJsonExtractor"),
    ("forensic.extractors.chat.android_sms", "AndroidSmsExtractor"),
    ("forensic.extractors.chat.ios_sms", "IosSmsExtractor"),
    ("forensic.extractors.chat.whatsapp_db", "WhatsAppDbExtractor"),
    ("forensic.extractors.chat.whatsapp_ios", "WhatsAppIosExtractor"),
    ("forensic.extractors.chat.viber", "ViberExtractor"),
    ("forensic.extractors.chat.messenger", "MessengerExtractor"),
    ("forensic.extractors.phone.android_contacts", "AndroidContactsExtractor"),
    ("forensic.extractors.phone.android_calls", "AndroidCallLogExtractor"),
    ("forensic.extractors.phone.ios_contacts", "IosContactsExtractor"),
    ("forensic.extractors.phone.ios_calls", "IosCallHistoryExtractor"),
    ("forensic.extractors.phone.whatsapp", "WhatsAppPeopleExtractor"),
    ("forensic.extractors.phone.whatsapp_ios", "WhatsAppIosPeopleExtractor"),
    ("forensic.extractors.chat.instagram", "InstagramExtractor"),
    ("forensic.extractors.chat.google_messages", "GoogleMessagesExtractor"),
    ("forensic.extractors.chat.kik", "KikExtractor"),
    ("forensic.extractors.chat.skype", "SkypeExtractor"),
    ("forensic.extractors.chat.known_apps", "KnownAppsExtractor"),
    ("forensic.extractors.chat.line", "LineExtractor"),
    ("forensic.extractors.chat.signal", "SignalExtractor"),
    ("forensic.extractors.chat.signal_desktop", "SignalDesktopExtractor"),
    ("forensic.extractors.locations.apple_routined", "AppleRoutinedExtractor"),
    ("forensic.extractors.locations.google_maps", "GoogleMapsExtractor"),
    ("forensic.extractors.chat.telegram_android", "TelegramAndroidExtractor"),
    ("forensic.extractors.chat.snapchat", "SnapchatExtractor"),
    # Cellebrite's decoded records in a UFDR's report.xml: stored apart, as vendor/* records
    ("forensic.extractors.ufdr_report", "UfdrReportExtractor"),
]


@dataclass(frozen=True, slots=True)
class ExtractorInfo:
    name: str
    version: str
    description: str
    record_types: tuple[str, ...]
    available: bool
    reason: str | None
    extractor: Extractor | None


def _load(module: str, cls: str) -> ExtractorInfo:
    try:
        mod = importlib.import_module(module)
        klass = getattr(mod, cls)
    except Exception as exc:  # a broken optional module must not break the tool
        return ExtractorInfo(cls, "?", "", (), False, f"cannot load {module}: {exc}", None)
    for dep in klass.REQUIRES:
        try:
            importlib.import_module(dep)
        except Exception as exc:
            return ExtractorInfo(klass.NAME, klass.VERSION, klass.DESCRIPTION,
                                 klass.RECORD_TYPES, False, f"missing dependency {dep}: {exc}", None)
    return ExtractorInfo(klass.NAME, klass.VERSION, klass.DESCRIPTION, klass.RECORD_TYPES,
                         True, None, klass())


def all_extractors() -> list[ExtractorInfo]:
    return [_load(m, c) for m, c in _BUILTIN]


def available_extractors() -> list[Extractor]:
    return [i.extractor for i in all_extractors() if i.available and i.extractor is not None]
