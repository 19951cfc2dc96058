#!/usr/bin/env bash
# install-peers.sh -- installs the peer FTP servers and the load tools the benchmark
# uses (Debian 12, run as root). Idempotent: a second run only re-checks.
#
# vsftpd, pure-ftpd and proftpd-core all "Conflict: ftp-server", so they cannot be
# apt-installed side by side. Only their libraries and the load tools are installed;
# the three server packages are fetched with `apt-get download` and unpacked with
# `dpkg-deb -x` into $PEERS_PREFIX/<pkg>/: no maintainer script runs, no daemon starts,
# and no system-wide ftp-server package is installed.
#
# Also creates the local account $FTPBENCH_USER (password $FTPBENCH_PASS, hash method
# $FTPBENCH_HASH) and the PAM service file vsftpd uses.
#
# Environment (defaults in brackets):
#   PEERS_PREFIX   where the servers are unpacked          [/opt/ftp-peers]
#   FTPBENCH_USER / FTPBENCH_PASS                           [ftpbench / ftpbench]
#   FTPBENCH_HOME  the account's home directory             [/srv/ftpbench]
#   FTPBENCH_HASH  chpasswd -c method                       [YESCRYPT]
#   FORCE=1        download and unpack the servers again
set -euo pipefail

PEERS_PREFIX=${PEERS_PREFIX:-/opt/ftp-peers}
FTPBENCH_USER=${FTPBENCH_USER:-ftpbench}
FTPBENCH_PASS=${FTPBENCH_PASS:-ftpbench}
FTPBENCH_HOME=${FTPBENCH_HOME:-/srv/ftpbench}
FTPBENCH_HASH=${FTPBENCH_HASH:-YESCRYPT}
FORCE=${FORCE:-0}

[[ $(id -u) -eq 0 ]] || { echo "install-peers.sh: run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=300)

# 1. load tools, build tools and the libraries the unpacked servers need. None of
#    these starts a daemon (iperf3's debconf default is "no daemon").
PKGS=(curl lftp iperf3 openssl gzip python3 python3-pyftpdlib python3-psutil python3-matplotlib procps util-linux
      gcc libcrypt-dev cmake make pkg-config check libssl-dev zlib1g-dev
      libcap2 libpam0g libpam-modules libpam-runtime libssl3 libwrap0
      libsodium23 libcrypt1 libhiredis0.14 libmemcached11 libmemcachedutil2
      libpcre2-8-0 libpcre2-posix3 libidn2-0 libacl1 libncursesw6 zlib1g libtinfo6)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    "${APT[@]}" update -qq
    "${APT[@]}" install -y -qq --no-install-recommends "${missing[@]}"
fi

# 2. the three C servers: download and unpack (no maintainer scripts)
BINS=("$PEERS_PREFIX/vsftpd/usr/sbin/vsftpd"
      "$PEERS_PREFIX/pure-ftpd/usr/sbin/pure-ftpd"
      "$PEERS_PREFIX/proftpd-core/usr/sbin/proftpd")
have_all=1
for b in "${BINS[@]}"; do [[ -x "$b" ]] || have_all=0; done
if [[ $have_all -eq 0 || $FORCE == 1 ]]; then
    dl=$(mktemp -d)
    trap 'rm -rf "$dl"' EXIT
    chmod 755 "$dl"; chown _apt "$dl" 2>/dev/null || true
    ( cd "$dl" && "${APT[@]}" download vsftpd pure-ftpd pure-ftpd-common proftpd-core )
    mkdir -p "$PEERS_PREFIX"
    for pkg in vsftpd pure-ftpd proftpd-core; do
        rm -rf "${PEERS_PREFIX:?}/$pkg"
        mkdir -p "$PEERS_PREFIX/$pkg"
        dpkg-deb -x "$dl"/"${pkg}"_*.deb "$PEERS_PREFIX/$pkg"
    done
    dpkg-deb -x "$dl"/pure-ftpd-common_*.deb "$PEERS_PREFIX/pure-ftpd"
    for f in "$dl"/*.deb; do dpkg-deb --show --showformat='${Package} ${Version}\n' "$f"; done \
        > "$PEERS_PREFIX/VERSIONS"
fi
for b in "${BINS[@]}"; do
    if ldd "$b" | grep -q 'not found'; then
        echo "missing libraries for $b:" >&2; ldd "$b" | grep 'not found' >&2; exit 1
    fi
done

# 3. the bench account. pure-ftpd and proftpd are told not to require a valid shell,
#    and vsftpd's PAM file below skips pam_shells.
if ! id "$FTPBENCH_USER" >/dev/null 2>&1; then
    useradd --system --create-home --home-dir "$FTPBENCH_HOME" --shell /bin/bash "$FTPBENCH_USER"
fi
echo "$FTPBENCH_USER:$FTPBENCH_PASS" | chpasswd -c "$FTPBENCH_HASH"

# 4. PAM service for vsftpd: plain pam_unix, no ftpusers list, no shell check
cat > /etc/pam.d/ftpbench-vsftpd <<'PAM'
# PAM service of the FTP benchmark's vsftpd (bench/peers/start-server.sh)
auth     required pam_unix.so
account  required pam_unix.so
session  required pam_permit.so
PAM

# vsftpd wants an empty, root-owned, non-writable secure_chroot_dir
mkdir -p "$PEERS_PREFIX/vsftpd/empty"
chmod 555 "$PEERS_PREFIX/vsftpd/empty"

sed 's/^/  /' "$PEERS_PREFIX/VERSIONS"
echo "peers ready under $PEERS_PREFIX"
