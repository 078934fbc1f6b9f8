#!/usr/bin/env bash
# One-command install of the storegate box on Debian / Raspberry Pi OS (run as root):
#
#   git clone <storegate> /opt/storegate/src && sudo bash /opt/storegate/src/systemd/install.sh
#
# Creates /opt/storegate/venv (editable install of this source tree), then hands over to
# `gateway install`, which creates the user, directories, units, udev rules and starter
# config and enables the service. Safe to run again: it changes nothing already in place.
# Uninstall: sudo /opt/storegate/venv/bin/gateway uninstall [--purge]   (see docs/install.md)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
venv=/opt/storegate/venv
log() { printf '[storegate install] %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then log "run as root (sudo bash $0)"; exit 1; fi
python3 -c 'import ensurepip, venv' 2>/dev/null || {
    log "installing python3-venv"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
}
stamp="$venv/.storegate-source"
if [ ! -x "$venv/bin/gateway" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$src" ]; then
    log "1/3 creating the virtual environment $venv"
    python3 -m venv "$venv"
    log "2/3 installing storegate from $src and its dependencies with pip (a few minutes on a Raspberry Pi; pip's lines follow)"
    "$venv/bin/pip" install --progress-bar off -e "$src" 2>&1 | sed 's/^/[storegate install]   /' >&2
    printf '%s' "$src" > "$stamp"
    log "virtual environment ready"
fi
log "3/3 user, directories, units, udev rules, starter config (gateway install)"
exec "$venv/bin/gateway" install --venv-from "$venv" "$@"
