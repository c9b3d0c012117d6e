"""One mapping from where a file sits in a source to where it sat on the device.

Acquisition tools lay a phone's file system out under their own roots: GrayKey and
Cellebrite full-file-system zips under ``private/var/...`` or ``filesystem1/...``, Magnet
and Oxygen under ``fs/`` or ``Dump/``; an Android backup (``.ab``) under
``apps/<package>/<domain>/``; an iTunes/Finder backup under ``<domain>/<relativePath>``
(:func:`ios_backup_path`). :func:`device_path` turns any of these into the path on the
device (``/private/var/mobile/Library/SMS/sms.db``, ``/data/data/com.whatsapp/databases/
msgstore.db``), so every source presents its files under the same device paths and no
extractor guesses paths per source. Android's ``/data/user/0/`` (the per-user view of
``/data/data/``) is folded onto ``/data/data/``.

:func:`looks_like_device_tree` says, from a few member names, whether an archive holds a
device's file system (and so is worth mapping) rather than an ordinary folder tree.
"""
from __future__ import annotations

import posixpath
import re
from typing import Iterable

# Roots acquisition tools put in front of the device's own root, outermost first.
# Each is stripped once, in order (``Dump/filesystem1/private/var`` -> ``/private/var``).
_TOOL_ROOTS = (
    re.compile(r"^(?:dump|extraction|full ?file ?system|ffs)/", re.I),
    re.compile(r"^(?:filesystem\d*|fs|root|files?/(?:full ?file ?system|filesystem\d*))/", re.I),
)
# Top folders that only a device's own file system has: a tree whose members start with
# one of them (once tool roots are stripped) is a device tree.
_DEVICE_TOPS = ("private/var/", "var/mobile/", "data/data/", "data/user/", "data/media/",
                "sdcard/", "storage/emulated/")
# Those that tell a device's file system from a copy of one folder of it: an archive of an
# SD card (``sdcard/DCIM/...``) stays an ordinary archive, listed by its member names.
_SYSTEM_TOPS = ("private/var/", "var/mobile/", "data/data/", "data/user/", "data/media/")

# Android backup (``.ab``) domains: apps/<package>/<domain>/rest -> device folder.
_AB_DOMAINS = {
    "a": "/data/app/{pkg}",                        # the APK itself
    "db": "/data/data/{pkg}/databases",
    "f": "/data/data/{pkg}/files",
    "sp": "/data/data/{pkg}/shared_prefs",
    "r": "/data/data/{pkg}",
    "c": "/data/data/{pkg}/cache",
    "nb": "/data/data/{pkg}/no_backup",
    "ef": "/sdcard/Android/data/{pkg}/files",
    "obb": "/sdcard/Android/obb/{pkg}",
    "k": "/data/data/{pkg}/keyvalue",              # key/value backup data: no device file of its own
}
_AB_RE = re.compile(r"^apps/([^/]+)/([^/]+)(?:/(.*))?$")


def android_backup_path(member: str) -> str | None:
    """The device path of an ``.ab`` TAR member (``apps/com.whatsapp/db/msgstore.db`` ->
    ``/data/data/com.whatsapp/databases/msgstore.db``); None for a name outside that layout
    (the backup's own ``apps/<pkg>/_manifest`` included: it was never a device file)."""
    name = member.lstrip("/").replace("\\", "/")
    if name.startswith("shared/0/"):            # adb backup -shared: the primary external storage
        return _within("/sdcard", name[len("shared/0/"):])
    m = _AB_RE.match(name)
    if m is None:
        return None
    pkg, domain, rest = m.group(1), m.group(2), m.group(3) or ""
    if domain not in _AB_DOMAINS or pkg in (".", ".."):
        return None
    return _within(_AB_DOMAINS[domain].format(pkg=pkg), rest)


def _within(base: str, rest: str) -> str | None:
    """``base/rest`` cleaned; None when a ``..`` in a forged member name climbs out of
    ``base`` (one app's member would pass for another app's file)."""
    path = _clean(f"{base}/{rest}" if rest else base)
    return path if path == _clean(base) or path.startswith(_clean(base) + "/") else None


# iTunes/Finder backup domains -> the device folder a domain's relativePath starts from.
# The published table (the one iOS-backup "unfunking" tools such as UFADE and iLEAPP's
# backup readers use; theiphonewiki's "ITunes Backup" page): a relativePath keeps the
# folders below that root, so CameraRollDomain's ``Media/DCIM/100APPLE/IMG_0001.HEIC`` is
# ``/private/var/mobile/Media/DCIM/...`` and HealthDomain's ``Health/healthdb.sqlite`` is
# ``/private/var/mobile/Library/Health/healthdb.sqlite``.
_IOS_DOMAINS = {
    "HomeDomain": "/private/var/mobile",
    "CameraRollDomain": "/private/var/mobile",
    "MediaDomain": "/private/var/mobile",
    "TonesDomain": "/private/var/mobile",
    "KeyboardDomain": "/private/var/mobile",
    "HomeKitDomain": "/private/var/mobile",
    "BooksDomain": "/private/var/mobile/Media/Books",
    "HealthDomain": "/private/var/mobile/Library",
    "RootDomain": "/private/var/root",
    "WirelessDomain": "/private/var/wireless",
    "KeychainDomain": "/private/var/Keychains",
    "ManagedPreferencesDomain": "/private/var/Managed Preferences",
    "SystemPreferencesDomain": "/private/var/preferences",
    "DatabaseDomain": "/private/var/db",
    "InstallDomain": "/private/var/installd",
    "MobileDeviceDomain": "/private/var/MobileDevice",
    "NetworkDomain": "/private/var/networkd",
    "ProtectedDomain": "/private/var/protected",
}
# Container domains: ``<prefix>-<identifier>``. On the device the folder is named by a UUID
# the backup does not record; the identifier (bundle or group id) stands in for it.
_IOS_CONTAINERS = (
    ("AppDomainGroup-", "/private/var/mobile/Containers/Shared/AppGroup"),
    ("AppDomainPlugin-", "/private/var/mobile/Containers/Data/PluginKitPlugin"),
    ("AppDomain-", "/private/var/mobile/Containers/Data/Application"),
    ("SysContainerDomain-", "/private/var/containers/Data/System"),
    ("SysSharedContainerDomain-", "/private/var/containers/Shared/SystemGroup"),
)


def ios_backup_path(domain: str, relative_path: str) -> str | None:
    """The device path of an iTunes/Finder backup file (``Manifest.db``'s ``domain`` and
    ``relativePath``): ``("HomeDomain", "Library/SMS/sms.db")`` ->
    ``/private/var/mobile/Library/SMS/sms.db``; ``("AppDomainGroup-group.net.whatsapp.WhatsApp.shared",
    "ChatStorage.sqlite")`` -> ``/private/var/mobile/Containers/Shared/AppGroup/
    group.net.whatsapp.WhatsApp.shared/ChatStorage.sqlite`` (the container's UUID folder is not
    in a backup: the identifier names it). None for a domain outside the table (the caller
    keeps ``/<domain>/<relativePath>``) or a path that climbs out of its domain's folder.
    Table: see ``_IOS_DOMAINS`` (UFADE / iLEAPP backup readers, theiphonewiki "ITunes Backup")."""
    base = _IOS_DOMAINS.get(domain)
    if base is None:
        for prefix, root in _IOS_CONTAINERS:
            ident = domain[len(prefix):] if domain.startswith(prefix) else ""
            if ident and "/" not in ident and ident not in (".", ".."):
                base = f"{root}/{ident}"
                break
    if base is None:
        return None
    rel = relative_path.strip("/")       # a backslash is an ordinary name character on iOS
    path = posixpath.normpath(f"{base}/{rel}") if rel else base
    if path != base and not path.startswith(base + "/"):      # ``../`` in a forged relativePath
        return None
    return path


def device_path(source_path: str) -> str:
    """The device path of a file found at ``source_path`` in an acquisition (zip member,
    folder-relative path or file-system path): tool roots stripped, Android's per-user data
    folder folded onto ``/data/data``, always absolute. A path that names no device folder
    is returned cleaned and absolute, otherwise unchanged."""
    p = source_path.replace("\\", "/").lstrip("/")
    ab = android_backup_path(p)
    if ab is not None:
        return ab
    for root in _TOOL_ROOTS:
        stripped = root.sub("", p, count=1)
        if stripped != p and stripped.lower().startswith(_DEVICE_TOPS + ("data/", "system/", "var/")):
            p = stripped
    return _clean("/" + p)


def _clean(path: str) -> str:
    p = posixpath.normpath(path) if path else "/"
    if p.startswith("//"):
        p = "/" + p.lstrip("/")
    # /data/user/0/<pkg> is the same folder as /data/data/<pkg> (user 0's view)
    return re.sub(r"^/data/user/0/", "/data/data/", p)


def looks_like_device_tree(names: Iterable[str], sample: int = 2000) -> bool:
    """True when the first ``sample`` member names hold a phone's file system under a
    tool's root or the device's own (``private/var/mobile/...``, ``Dump/data/data/...``)."""
    for n, name in enumerate(names):
        if n >= sample:
            break
        p = name.replace("\\", "/").lstrip("/")
        for root in _TOOL_ROOTS:
            p = root.sub("", p, count=1)
        if p.lower().startswith(_SYSTEM_TOPS):
            return True
    return False
