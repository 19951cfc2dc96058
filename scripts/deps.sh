#!/usr/bin/env bash
# Installs the Debian packages that building, testing and the demo need, if any is missing.
# Needs root for apt-get; without root it prints the command to run and exits 1.
set -euo pipefail

PACKAGES=(build-essential cmake pkg-config check libsubunit-dev libssl-dev zlib1g-dev
    libcrypt-dev openssl curl lftp wget python3 whois tmux procps libedit-dev iproute2 strace
    python3-fusepy)

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: dpkg-query not found (not Debian?): not checking packages (${PACKAGES[*]})" >&2
    exit 0
fi
missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$p")
done
((${#missing[@]})) || exit 0

if [[ $(id -u) != 0 ]]; then
    echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
    echo "deps.sh: install them as root with:" >&2
    echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
echo "deps.sh: installing ${missing[*]}"
apt-get -o DPkg::Lock::Timeout=300 update
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y \
    --no-install-recommends "${missing[@]}"
