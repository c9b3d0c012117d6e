#!/usr/bin/env bash
# Installs everything forensic and its tests need on a fresh Debian machine:
# system tools (Sleuth Kit, libewf tools, mtools, ...) and a virtualenv in .venv.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"

APT_PACKAGES=(libmagic1 sleuthkit ewf-tools mtools dosfstools e2fsprogs fdisk zip unzip 7zip
              minisign libimage-exiftool-perl sqlite3 ntfs-3g chromium chromium-driver xorriso qemu-utils exfatprogs
              libpango-1.0-0 libpangoft2-1.0-0 poppler-utils postgresql)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# (Re)install the package when pyproject.toml changed since the last install.
stamp=".venv/.forensic-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! .venv/bin/python -c "import forensic.cli.main" 2>/dev/null; then
  echo "setup: installing forensic and its Python dependencies into .venv" >&2
  log="$(mktemp)"
  if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e '.[test]'; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup: pip install failed (log above)" >&2
    exit 1
  fi
  rm -f "$log"
  echo "$want" > "$stamp"
fi
# Byte-compile the package (an editable install is not compiled, and where
# PYTHONDONTWRITEBYTECODE is set every command would compile ~50 modules again: ~80 ms).
.venv/bin/python -m compileall -q -j 0 forensic extractors chain_of_custody exporters cli >/dev/null
