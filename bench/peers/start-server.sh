#!/usr/bin/env bash
# start-server.sh NAME PORT ROOTDIR
#   NAME     ftpd | vsftpd | pure-ftpd | proftpd | pyftpdlib
#   PORT     control port on 127.0.0.1
#   ROOTDIR  directory served as the bench account's root (created and chowned to it;
#            every server jails or virtual-roots the account there)
#
# Starts the server in the background in its own session (its PID is its process group
# id), writes $BENCH_RUN/NAME/{pid,port,root} plus its config and logs, and waits until
# it is ready: ftpd's "listening on 127.0.0.1:PORT" on stderr, or the server's 220 greeting.
# Stop it with stop-server.sh NAME.
#
# Settings shared by all servers: account $FTPBENCH_USER/$FTPBENCH_PASS checked against
# the crypt(3) hash in /etc/shadow (pyftpdlib checks a copy of that hash with crypt(3), in
# its one loop, as its UnixAuthorizer would), anonymous off, uploads allowed, umask 022, passive mode on 127.0.0.1 with
# ports PASV_MIN..PASV_MAX (default 10000+(PORT%5)*4000, 4000 ports, all below the
# ephemeral range), no TLS, no reverse DNS or ident, transfer logs off, no login delay,
# session limits far above the test sizes, fd limit raised to the hard limit, listen
# backlog as large as each allows: 4096 (ftpd, pyftpdlib), 255 (ProFTPD's TCPBackLog
# maximum); vsftpd's is fixed at 32, pure-ftpd's is 3 + its session limit / 8.
#
# Environment (defaults in brackets):
#   BENCH_RUN      run-state directory                       [/tmp/ftpd-bench-run]
#   PEERS_PREFIX   servers unpacked by install-peers.sh      [/opt/ftp-peers]
#   FTPD_BIN       the ftpd binary                           [bench/build/ftpd]
#   FTPD_ARGS      further ftpd options, split on spaces (to compare settings) []
#   PEER_PYTHON    python with pyftpdlib                     [/usr/bin/python3]
#   FTPBENCH_USER / FTPBENCH_PASS                            [ftpbench / ftpbench]
#   PASV_MIN / PASV_MAX                                      [see above]
#   MAX_CLIENTS    session limits of pure-ftpd (-c, -C) and ProFTPD (MaxInstances),
#                  raised for the 5,000-client phase (pure-ftpd caps -c at half the
#                  passive range)                            [4096]
#   TLS_CERT / TLS_KEY  PEM files: explicit FTPS (AUTH TLS) on; only ftpd, vsftpd and
#                  pure-ftpd. They then require TLS for the login and PROT P for data.
#   VSFTPD_SSL_REUSE    vsftpd's require_ssl_reuse           [YES, vsftpd's default]
set -euo pipefail

NAME=${1:?usage: start-server.sh NAME PORT ROOTDIR}
PORT=${2:?usage: start-server.sh NAME PORT ROOTDIR}
ROOTDIR=${3:?usage: start-server.sh NAME PORT ROOTDIR}

HERE=$(cd "$(dirname "$0")" && pwd)
BENCH_RUN=${BENCH_RUN:-/tmp/ftpd-bench-run}
PEERS_PREFIX=${PEERS_PREFIX:-/opt/ftp-peers}
FTPD_BIN=${FTPD_BIN:-$HERE/../build/ftpd}
PEER_PYTHON=${PEER_PYTHON:-/usr/bin/python3}
FTPBENCH_USER=${FTPBENCH_USER:-ftpbench}
FTPBENCH_PASS=${FTPBENCH_PASS:-ftpbench}
PASV_MIN=${PASV_MIN:-$((10000 + (PORT % 5) * 4000))}
PASV_MAX=${PASV_MAX:-$((PASV_MIN + 3999))}
MAX_CLIENTS=${MAX_CLIENTS:-4096}
TLS_CERT=${TLS_CERT:-}
TLS_KEY=${TLS_KEY:-}
VSFTPD_SSL_REUSE=${VSFTPD_SSL_REUSE:-YES}
if [[ -n "$TLS_CERT" && "$NAME" != ftpd && "$NAME" != vsftpd && "$NAME" != pure-ftpd ]]; then
    echo "TLS is set up for ftpd, vsftpd and pure-ftpd only, not $NAME" >&2
    exit 2
fi

RUN="$BENCH_RUN/$NAME"
mkdir -p "$RUN"
chmod 755 "$BENCH_RUN" "$RUN"

if [[ -f "$RUN/pid" ]] && kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
    echo "$NAME already running (pid $(cat "$RUN/pid")); stop-server.sh $NAME first" >&2
    exit 1
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "port $PORT on 127.0.0.1 is already in use" >&2
    exit 1
fi
id "$FTPBENCH_USER" >/dev/null 2>&1 || { echo "user $FTPBENCH_USER missing: run install-peers.sh" >&2; exit 1; }

mkdir -p "$ROOTDIR"
ROOTDIR=$(cd "$ROOTDIR" && pwd)
chown "$FTPBENCH_USER:" "$ROOTDIR"
chmod 755 "$ROOTDIR"
HASH=$(getent shadow "$FTPBENCH_USER" | cut -d: -f2)
U_ID=$(id -u "$FTPBENCH_USER"); G_ID=$(id -g "$FTPBENCH_USER")

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

case "$NAME" in
ftpd)
    [[ -x "$FTPD_BIN" ]] || { echo "no ftpd binary at $FTPD_BIN" >&2; exit 1; }
    # the very hash /etc/shadow holds, so ftpd checks the same hash type as the peers
    printf '%s:%s:%s:elradfmw\n' "$FTPBENCH_USER" "$HASH" "$ROOTDIR" > "$RUN/users"
    chown "root:$G_ID" "$RUN/users"
    chmod 640 "$RUN/users"
    # ftpd refuses to run as root without --user: it binds, then drops to the bench account
    CMD=("$FTPD_BIN" --users "$RUN/users" --no-anonymous --listen "127.0.0.1:$PORT"
         --pasv-ports "$PASV_MIN-$PASV_MAX" --max-sessions 20000 --max-per-ip 20000
         --log-level warn --login-failure-delay 0 --user "$FTPBENCH_USER")
    # shellcheck disable=SC2206 # word splitting wanted: several options
    [[ -n "${FTPD_ARGS:-}" ]] && CMD+=($FTPD_ARGS)
    if [[ -n "$TLS_CERT" ]]; then
        CMD+=(--tls-cert "$TLS_CERT" --tls-key "${TLS_KEY:-$TLS_CERT}" --require-tls)
    fi
    ;;
vsftpd)
    EMPTY="$PEERS_PREFIX/vsftpd/empty"
    mkdir -p "$EMPTY"; chmod 555 "$EMPTY"
    cat > "$RUN/vsftpd.conf" <<CONF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$PORT
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
local_root=$ROOTDIR
chroot_local_user=YES
allow_writeable_chroot=YES
pasv_enable=YES
pasv_min_port=$PASV_MIN
pasv_max_port=$PASV_MAX
pasv_address=127.0.0.1
port_enable=YES
pam_service_name=ftpbench-vsftpd
secure_chroot_dir=$EMPTY
ssl_enable=NO
xferlog_enable=NO
dual_log_enable=NO
vsftpd_log_file=$RUN/vsftpd.log
tcp_wrappers=NO
userlist_enable=NO
use_sendfile=YES
lock_upload_files=NO
max_clients=0
max_per_ip=0
dirmessage_enable=NO
seccomp_sandbox=NO
CONF
    if [[ -n "$TLS_CERT" ]]; then
        # vsftpd's own default cipher list is DES-CBC3-SHA, which OpenSSL 3 refuses
        cat >> "$RUN/vsftpd.conf" <<CONF
ssl_enable=YES
rsa_cert_file=$TLS_CERT
rsa_private_key_file=${TLS_KEY:-$TLS_CERT}
ssl_ciphers=HIGH
force_local_logins_ssl=YES
force_local_data_ssl=YES
require_ssl_reuse=$VSFTPD_SSL_REUSE
CONF
        sed -i 's/^ssl_enable=NO$//' "$RUN/vsftpd.conf"
    fi
    chmod 600 "$RUN/vsftpd.conf"
    CMD=("$PEERS_PREFIX/vsftpd/usr/sbin/vsftpd" "$RUN/vsftpd.conf")
    ;;
pure-ftpd)
    # A puredb virtual user mapped onto the bench account, home ROOTDIR. Its password
    # field is the shadow hash: pure-pw's own default (argon2id) would cost far more
    # per login than the others' crypt().
    rm -f "$RUN/pureftpd.passwd" "$RUN/pureftpd.pdb"
    printf '%s:%s:%s:%s::%s/./::::::::::::\n' "$FTPBENCH_USER" "$HASH" "$U_ID" "$G_ID" "$ROOTDIR" \
        > "$RUN/pureftpd.passwd"
    chmod 600 "$RUN/pureftpd.passwd"
    "$PEERS_PREFIX/pure-ftpd/usr/bin/pure-pw" mkdb "$RUN/pureftpd.pdb" -f "$RUN/pureftpd.passwd"
    # -c is capped at half the passive range, hence the wide range
    CMD=("$PEERS_PREFIX/pure-ftpd/usr/sbin/pure-ftpd" -S "127.0.0.1,$PORT" -4 -E
         -l "puredb:$RUN/pureftpd.pdb" -p "$PASV_MIN:$PASV_MAX" -P 127.0.0.1 -A -H
         -c "$MAX_CLIENTS" -C "$MAX_CLIENTS" -u 1 -U 133:022 -g "$RUN/pure-ftpd.pid" -I 15)
    if [[ -n "$TLS_CERT" ]]; then
        # -Y 3: TLS for the control connection and the data connections alike
        CMD+=(-Y 3 -2 "$TLS_CERT,${TLS_KEY:-$TLS_CERT}")
    else
        CMD+=(-Y 0)
    fi
    ;;
proftpd)
    cat > "$RUN/proftpd.conf" <<CONF
ServerName              "proftpd bench"
ServerType              standalone
UseIPv6                 off
DefaultAddress          127.0.0.1
SocketBindTight         on
Port                    $PORT
PassivePorts            $PASV_MIN $PASV_MAX
ModulePath              $PEERS_PREFIX/proftpd-core/usr/lib/proftpd
PidFile                 $RUN/proftpd.pid
ScoreboardFile          $RUN/proftpd.scoreboard
SystemLog               $RUN/proftpd.log
TransferLog             none
WtmpLog                 off
UseLastlog              off
User                    nobody
Group                   nogroup
MaxInstances            $MAX_CLIENTS
TCPBackLog              255
MaxClients              none
MaxClientsPerHost       none
MaxLoginAttempts        100
UseReverseDNS           off
<IfModule mod_ident.c>
  IdentLookups          off
</IfModule>
DelayEngine             off
AuthOrder               mod_auth_unix.c
AuthPAM                 off
RequireValidShell       off
DefaultRoot             $ROOTDIR
DefaultChdir            $ROOTDIR
Umask                   022 022
AllowOverwrite          on
AllowStoreRestart       on
UseSendfile             on
TimeoutIdle             900
TimeoutNoTransfer       900
<Limit LOGIN>
  AllowUser $FTPBENCH_USER
  DenyAll
</Limit>
CONF
    CMD=("$PEERS_PREFIX/proftpd-core/usr/sbin/proftpd" -n -q -c "$RUN/proftpd.conf")
    ;;
pyftpdlib)
    # runs as the bench account, so it holds no root privileges and its files are owned
    # by that account as with the other servers; it cannot read /etc/shadow, so it gets a
    # copy of the account's hash only it can read
    printf '%s\n' "$HASH" > "$RUN/hash"
    chown "$FTPBENCH_USER:" "$RUN/hash"
    chmod 600 "$RUN/hash"
    CMD=(setpriv --reuid="$FTPBENCH_USER" --regid="$G_ID" --init-groups
         "$PEER_PYTHON" "$HERE/pyftpd-peer.py" "$PORT" "$ROOTDIR" "$PASV_MIN" "$PASV_MAX"
         "$FTPBENCH_USER" "$FTPBENCH_PASS" "$RUN/hash")
    ;;
*)
    echo "unknown server '$NAME' (ftpd | vsftpd | pure-ftpd | proftpd | pyftpdlib)" >&2
    exit 2
    ;;
esac

# setsid: own session and process group (PGID == PID), so stop-server.sh can end the
# master and its per-connection children together. vsftpd reports start-up errors on
# fd 0, so for it fd 0 is the log file too.
: > "$RUN/stderr.log"
if [[ "$NAME" == vsftpd ]]; then
    setsid "${CMD[@]}" > "$RUN/stdout.log" 2>> "$RUN/stderr.log" 0>> "$RUN/stderr.log" &
else
    setsid "${CMD[@]}" > "$RUN/stdout.log" 2>> "$RUN/stderr.log" < /dev/null &
fi
PID=$!
echo "$PID" > "$RUN/pid"
echo "$PORT" > "$RUN/port"
echo "$ROOTDIR" > "$RUN/root"

# Ready means a 220 greeting, not merely an accepted connect: the greeting shows that the
# server accepts and serves a session (once in CI a peer said started by a connect refused
# the caller's first session).
greets() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        line=""
        read -r -t 5 -u 3 line || true
        [[ "$line" == 220* ]]
    ) 2>/dev/null
}

deadline=$((SECONDS + 10))
while ((SECONDS < deadline)); do
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "$NAME exited during start-up; $RUN/stderr.log says:" >&2
        tail -20 "$RUN/stderr.log" >&2 || true
        rm -f "$RUN/pid"
        exit 1
    fi
    # ftpd announces "listening on 127.0.0.1:PORT", but only at log level info and
    # above; under --log-level warn its banner is the sign
    if { [[ "$NAME" == ftpd ]] && grep -q "listening on 127.0.0.1:$PORT" "$RUN/stderr.log"; } ||
        greets "$PORT"; then
        echo "$NAME started: pid $PID, port $PORT, root $ROOTDIR, pasv $PASV_MIN-$PASV_MAX"
        exit 0
    fi
    sleep 0.1
done
echo "$NAME did not become ready on 127.0.0.1:$PORT within 10 s; stopping it" >&2
"$HERE/stop-server.sh" "$NAME" >&2
exit 1
