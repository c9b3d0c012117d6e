"""The one mapping from a source's paths to the device's paths."""
from __future__ import annotations

import pytest

from forensic.devicepath import android_backup_path, device_path, ios_backup_path, looks_like_device_tree


@pytest.mark.parametrize("given, expected", [
    ("apps/com.whatsapp/db/msgstore.db", "/data/data/com.whatsapp/databases/msgstore.db"),
    ("apps/com.whatsapp/f/key", "/data/data/com.whatsapp/files/key"),
    ("apps/com.whatsapp/sp/prefs.xml", "/data/data/com.whatsapp/shared_prefs/prefs.xml"),
    ("apps/com.whatsapp/r/app_x/y", "/data/data/com.whatsapp/app_x/y"),
    ("apps/com.whatsapp/ef/Media/a.jpg", "/sdcard/Android/data/com.whatsapp/files/Media/a.jpg"),
    ("apps/com.whatsapp/a/base.apk", "/data/app/com.whatsapp/base.apk"),
    ("private/var/mobile/Library/SMS/sms.db", "/private/var/mobile/Library/SMS/sms.db"),
    ("filesystem1/private/var/mobile/Library/SMS/sms.db", "/private/var/mobile/Library/SMS/sms.db"),
    ("Dump/data/data/com.android.providers.telephony/databases/mmssms.db",
     "/data/data/com.android.providers.telephony/databases/mmssms.db"),
    ("fs/data/user/0/com.whatsapp/databases/msgstore.db", "/data/data/com.whatsapp/databases/msgstore.db"),
    ("/data/user/0/com.whatsapp/databases/wa.db", "/data/data/com.whatsapp/databases/wa.db"),
    ("/data/user/10/com.whatsapp/databases/wa.db", "/data/user/10/com.whatsapp/databases/wa.db"),
    ("Dump/notes/readme.txt", "/Dump/notes/readme.txt"),       # no device folder: unchanged
    ("DCIM\\100APPLE\\IMG_1.JPG", "/DCIM/100APPLE/IMG_1.JPG"),
])
def test_device_path(given: str, expected: str) -> None:
    assert device_path(given) == expected


def test_backup_names_outside_the_layout_map_to_none() -> None:
    assert android_backup_path("apps/com.whatsapp/_manifest") is None
    assert android_backup_path("shared/1/DCIM/a.jpg") is None
    assert android_backup_path("shared/0/DCIM/a.jpg") == "/sdcard/DCIM/a.jpg"      # adb backup -shared
    assert android_backup_path("apps/../db/x") is None


def test_device_tree_recognised_by_its_folders() -> None:
    assert looks_like_device_tree(["Dump/", "Dump/data/data/com.whatsapp/databases/msgstore.db"])
    assert looks_like_device_tree(["private/var/mobile/Library/SMS/sms.db"])
    assert not looks_like_device_tree(["photos/a.jpg", "docs/data/x.txt"])
    assert not looks_like_device_tree(["sdcard/DCIM/a.jpg"])      # a copy of a card, not a device


@pytest.mark.parametrize("domain, rel, expected", [
    ("HomeDomain", "Library/SMS/sms.db", "/private/var/mobile/Library/SMS/sms.db"),
    ("HomeDomain", "", "/private/var/mobile"),
    ("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.HEIC", "/private/var/mobile/Media/DCIM/100APPLE/IMG_0001.HEIC"),
    ("MediaDomain", "Media/Recordings/a.m4a", "/private/var/mobile/Media/Recordings/a.m4a"),
    ("HealthDomain", "Health/healthdb.sqlite", "/private/var/mobile/Library/Health/healthdb.sqlite"),
    ("AppDomain-net.whatsapp.WhatsApp", "Documents/x.db",
     "/private/var/mobile/Containers/Data/Application/net.whatsapp.WhatsApp/Documents/x.db"),
    ("AppDomainGroup-group.net.whatsapp.WhatsApp.shared", "ChatStorage.sqlite",
     "/private/var/mobile/Containers/Shared/AppGroup/group.net.whatsapp.WhatsApp.shared/ChatStorage.sqlite"),
    ("AppDomainPlugin-com.apple.share", "Library/a",
     "/private/var/mobile/Containers/Data/PluginKitPlugin/com.apple.share/Library/a"),
    ("SysContainerDomain-com.apple.geod", "Library/Caches/x",
     "/private/var/containers/Data/System/com.apple.geod/Library/Caches/x"),
    ("SysSharedContainerDomain-systemgroup.com.apple.x", "Library/y",
     "/private/var/containers/Shared/SystemGroup/systemgroup.com.apple.x/Library/y"),
    ("RootDomain", "Library/Caches/locationd/consolidated.db",
     "/private/var/root/Library/Caches/locationd/consolidated.db"),
    ("WirelessDomain", "Library/CallHistory/call_history.db",
     "/private/var/wireless/Library/CallHistory/call_history.db"),
    ("SystemPreferencesDomain", "SystemConfiguration/preferences.plist",
     "/private/var/preferences/SystemConfiguration/preferences.plist"),
    ("DatabaseDomain", "timezone/localtime", "/private/var/db/timezone/localtime"),
    ("KeychainDomain", "keychain-backup.plist", "/private/var/Keychains/keychain-backup.plist"),
    ("ManagedPreferencesDomain", "mobile/a.plist", "/private/var/Managed Preferences/mobile/a.plist"),
    ("InstallDomain", "Library/x", "/private/var/installd/Library/x"),
])
def test_ios_backup_domains_map_to_device_paths(domain, rel, expected):
    assert ios_backup_path(domain, rel) == expected


@pytest.mark.parametrize("domain, rel", [
    ("NoSuchDomain", "a"), ("AppDomain-", "a"), ("AppDomain-..", "a"), ("HomeDomain", "../../etc/passwd"),
    ("AppDomain-x", "../y/z"),
])
def test_ios_backup_unknown_or_climbing_paths_are_not_mapped(domain, rel):
    assert ios_backup_path(domain, rel) is None
