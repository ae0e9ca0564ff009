#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine: OVN packages (when asked) and a virtualenv with ovnlb.
# Usage: scripts/setup.sh [--with-ovn]
set -euo pipefail
cd "$(dirname "$0")/.."

need_ovn=0
[ "${1:-}" = "--with-ovn" ] && need_ovn=1

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if [ ! -f /tmp/.ovnlb-apt-updated ]; then as_root apt-get update -qq && touch /tmp/.ovnlb-apt-updated; fi
    as_root apt-get install -y -qq "$@" >/dev/null
}

if [ "$need_ovn" = 1 ]; then
    missing=()
    for pkg in ovn-central ovn-common openvswitch-common python3-openvswitch; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "setup: installing Debian packages: ${missing[*]}"
        apt_install "${missing[@]}"
    fi
fi

PY=${PYTHON:-python3}
if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "setup: installing python3-venv"
    apt_install python3-venv
fi
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
