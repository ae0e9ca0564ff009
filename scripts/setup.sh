#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine: OVN packages (when asked) and a virtualenv with ovnlb.
# Usage: scripts/setup.sh [--with-ovn] [--with-octavia]
#   --with-octavia: also .venv-octavia with the real Octavia 19 API/driver agent (about 150
#   packages, kept apart from .venv) and ovnlb installed in it, for tests/octavia.
set -euo pipefail
cd "$(dirname "$0")/.."

need_ovn=0
need_octavia=0
for arg in "$@"; do
    case "$arg" in
        --with-ovn) need_ovn=1 ;;
        --with-octavia) need_octavia=1 ;;
    esac
done

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

if [ "$need_octavia" = 1 ]; then
    if [ ! -x .venv-octavia/bin/python ]; then
        "$PY" -m venv .venv-octavia
    fi
    if ! .venv-octavia/bin/python -c 'import octavia, octaviaclient' >/dev/null 2>&1; then
        echo "setup: installing Octavia 19.0.0 into .venv-octavia"
        .venv-octavia/bin/python -m pip install -q --upgrade pip
        .venv-octavia/bin/python -m pip install -q 'octavia==19.0.0' python-octaviaclient
    fi
    .venv-octavia/bin/python -m pip install -q -e .
fi
