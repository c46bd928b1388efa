#!/usr/bin/env bash
# Set up a fresh Debian machine: system packages, then the project and its Python packages.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
for pkg in ffmpeg sox espeak-ng chromium fonts-noto-cjk poppler-utils fonts-wqy-zenhei postgresql redis-server nodejs; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${need[*]}" >&2
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# exact versions from the lock (refresh: scripts/lock.py); the project itself editable
python3 -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[test]'
