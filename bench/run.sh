#!/usr/bin/env bash
# bench/run.sh -- the performance comparison of issues 2-5: ftpd against vsftpd, pure-ftpd,
# ProFTPD and pyftpdlib on loopback, every server measured in the same run with
# interleaved rounds, and ftpc against curl and lftp. Run as root:   sudo bench/run.sh
#
# Phases (see bench/README.md for what each one measures and why):
#   a  one 1 GiB RETR and one 1 GiB STOR with curl per server and round (tmpfs)
#   c  200 logins at once with the account's yescrypt hash: login phase against the
#      measured hash cost, and the storm again during a full-speed download and during one
#      held to C_CAPPED_RATE: its rate during the storm (driver tools/login-storm, C;
#      C_DRIVER=python drives it with conc-dl.py as before)
#   b  200 clients log in at once, then each RETRs a 1 MiB file 5 times, with an MD5-crypt
#      hash for the account: total time and peak server memory (driver conc-dl.py, then the
#      same work from login-storm --repeat, C, and from ftpc stress)
#   d  1,000 idle logged-in sessions (MD5-crypt): memory per session
#   e-k (phases5.sh, MD5-crypt): pyftpdlib's ftpbench rows (e), ftpc vs curl vs lftp (f),
#      FTPS (g), MODE Z vs gzip -1 (h), ftpc stress with 1,000/5,000 clients (i), 4 KiB
#      files (j), stress driver CPU vs conc-dl.py (k)
# The account's password is switched to MD5-crypt for b and d and back to yescrypt
# afterwards (also on any exit, by a trap).
#
# Environment (defaults in brackets):
#   ROUNDS          interleaved rounds per phase                        [3]
#   SKIP            phases or steps to leave out: a-k iperf install build plots  [""]
#   PEERS           peers to compare against     [vsftpd pure-ftpd proftpd pyftpdlib]
#   CLIENTS         clients of phases b and c                           [200]
#   REPEAT          RETRs per client in phase b                         [5]
#   IDLE_SESSIONS   sessions of phase d                                 [1000]
#   C_DRIVER        login storm driver of phase c: c or python          [c]
#   C_CAPPED_RATE   MiB/s of phase c's second download (the storm again) [500]
#   BENCH_ROOT      server roots (tmpfs)                                [/dev/shm/ftpd-bench]
#   BENCH_SRC       source files (tmpfs)                                [/dev/shm/ftpd-bench-src]
#   KEEP_SRC=1      keep the 1 GiB source file in tmpfs for the next run
#   FTPD_BIN        use this ftpd instead of building bench/build/ftpd
#   FTPC_BIN        use this ftpc instead of building bench/build/ftpc
#   more knobs of phases e-k: see the head of phases5.sh
#   PORT_<name>     control port, e.g. PORT_ftpd=2145, PORT_pure_ftpd=2142
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$HERE/.." && pwd)
STAMP=$(date -u +%Y-%m-%dT%H%MZ)
OUT="$HERE/results/$STAMP"
RAW="$HERE/results/raw/$STAMP"
ROUNDS=${ROUNDS:-3}
SKIP=${SKIP:-}
PEERS=${PEERS:-vsftpd pure-ftpd proftpd pyftpdlib}
CLIENTS=${CLIENTS:-200}
REPEAT=${REPEAT:-5}
C_CAPPED_RATE=${C_CAPPED_RATE:-500}
IDLE_SESSIONS=${IDLE_SESSIONS:-1000}
C_DRIVER=${C_DRIVER:-c}
BENCH_ROOT=${BENCH_ROOT:-/dev/shm/ftpd-bench}
BENCH_SRC=${BENCH_SRC:-/dev/shm/ftpd-bench-src}
KEEP_SRC=${KEEP_SRC:-0}
FTPBENCH_USER=${FTPBENCH_USER:-ftpbench}
FTPBENCH_PASS=${FTPBENCH_PASS:-ftpbench}
PY=/usr/bin/python3
TOOLS="$HERE/build/tools"
export BENCH_RUN="$RAW/run" FTPBENCH_USER FTPBENCH_PASS
export FTPD_BIN=${FTPD_BIN:-$HERE/build/ftpd}

declare -A PORT=([ftpd]=2145 [vsftpd]=2141 [pure-ftpd]=2142 [proftpd]=2143 [pyftpdlib]=2144)
for n in "${!PORT[@]}"; do v="PORT_${n//-/_}"; [[ -n "${!v:-}" ]] && PORT[$n]=${!v}; done

skip() { [[ " $SKIP " == *" $1 "* ]]; }
log() { echo "[$(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)] $*" | tee -a "$RAW/run.log" >&2; }
die() { log "FATAL: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || { echo "run as root: sudo bench/run.sh" >&2; exit 1; }
[[ "$ROUNDS" =~ ^[1-9][0-9]?$ ]] || { echo "ROUNDS must be 1..99" >&2; exit 1; }
for p in $PEERS; do
    [[ -n "${PORT[$p]:-}" && "$p" != ftpd ]] || { echo "unknown peer '$p'" >&2; exit 1; }
done
mkdir -p "$OUT" "$RAW" "$BENCH_RUN"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true   # 20000 here; phase d needs > 2 x 1000

# ------------------------------------------------------------------ clean-up
HASH_CHANGED=0
BG_PIDS=()
cleanup() {
    local p n
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for n in ftpd $PEERS; do "$HERE/peers/stop-server.sh" "$n" >> "$RAW/run.log" 2>&1; done
    if [[ $HASH_CHANGED == 1 ]]; then
        echo "$FTPBENCH_USER:$FTPBENCH_PASS" | chpasswd -c YESCRYPT && HASH_CHANGED=0
        log "password hash of $FTPBENCH_USER restored to yescrypt"
    fi
    rm -rf "${BENCH_ROOT:?}"
    [[ $KEEP_SRC == 1 ]] || rm -rf "${BENCH_SRC:?}"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

# ------------------------------------------------------------------ set-up
if ! skip install; then
    log "installing peers and tools (bench/peers/install-peers.sh)"
    "$HERE/peers/install-peers.sh" >> "$RAW/install.log" 2>&1 || die "install failed, see $RAW/install.log"
fi
id "$FTPBENCH_USER" >/dev/null 2>&1 || die "no $FTPBENCH_USER account: run without SKIP=install"
if [[ "$(getent shadow "$FTPBENCH_USER" | cut -d: -f2)" != '$y$'* ]]; then
    echo "$FTPBENCH_USER:$FTPBENCH_PASS" | chpasswd -c YESCRYPT
fi

HAVE_FTPD=0
if [[ "$FTPD_BIN" == "$HERE/build/ftpd" ]] && ! skip build; then
    log "building ftpd (Release) into bench/build"
    if cmake -S "$SRC_DIR" -B "$HERE/build" -DCMAKE_BUILD_TYPE=Release -DFTP_WERROR=OFF \
            > "$RAW/build.log" 2>&1 &&
        cmake --build "$HERE/build" --target ftpd -j"$(nproc)" >> "$RAW/build.log" 2>&1; then
        :
    else
        log "ftpd build FAILED (see $RAW/build.log); measuring the peers only"
    fi
    if [[ -z "${FTPC_BIN:-}" ]] &&
        ! cmake --build "$HERE/build" --target ftpc -j"$(nproc)" >> "$RAW/build.log" 2>&1; then
        log "ftpc build FAILED (see $RAW/build.log); its cells read n/a"
        rm -f "$HERE/build/ftpc"
    fi
fi
[[ -x "$FTPD_BIN" ]] && HAVE_FTPD=1
mkdir -p "$TOOLS"
gcc -O2 -Wall -o "$TOOLS/ftp-rate" "$HERE/tools/ftp-rate.c" || die "cannot build ftp-rate"
gcc -O2 -Wall -pthread -o "$TOOLS/crypt-cost" "$HERE/tools/crypt-cost.c" -lcrypt || die "cannot build crypt-cost"
gcc -O2 -Wall -o "$TOOLS/login-storm" "$HERE/tools/login-storm.c" || die "cannot build login-storm"

SERVERS=()
[[ $HAVE_FTPD == 1 ]] && SERVERS+=(ftpd)
for p in $PEERS; do SERVERS+=("$p"); done

{
    echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "kernel: $(uname -r)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
    echo "mem: $(free -m | awk '/Mem:/{print $2" MiB"}')"
    echo "ftpd: $([[ $HAVE_FTPD == 1 ]] && "$FTPD_BIN" --version 2>&1 | head -1 || echo absent) ($(git -C "$SRC_DIR" rev-parse --short HEAD 2>/dev/null || echo 'no commit'))${FTPD_ARGS:+ with $FTPD_ARGS}"
    sed 's/^/peer: /' /opt/ftp-peers/VERSIONS 2>/dev/null
    echo "pyftpdlib: $($PY -c 'import pyftpdlib; print(pyftpdlib.__ver__)' 2>/dev/null)"
    echo "curl: $(curl --version | head -1 | cut -d' ' -f1-2)"
    echo "lftp: $(lftp --version 2>/dev/null | head -1 | sed 's/.*Version \([^ ]*\).*/\1/')"
    echo "ftpc: $("${FTPC_BIN:-$HERE/build/ftpc}" --version 2>&1 | head -1)"
    echo "gzip: $(gzip --version | head -1)"
    echo "params: ROUNDS=$ROUNDS CLIENTS=$CLIENTS REPEAT=$REPEAT IDLE_SESSIONS=$IDLE_SESSIONS SKIP='$SKIP' PEERS='$PEERS' C_CAPPED_RATE=$C_CAPPED_RATE"
    echo "servers: ${SERVERS[*]}"
    echo "loadavg_start: $(cat /proc/loadavg)"
} > "$RAW/env.txt"
log "servers: ${SERVERS[*]}; raw data in $RAW"

# ------------------------------------------------------------------ helpers
UP=()   # servers running in the current phase
declare -A IDLE_PROCS
start_servers() {  # NAME...
    local n
    UP=()
    for n in "$@"; do
        rm -rf "${BENCH_ROOT:?}/$n"
        if "$HERE/peers/start-server.sh" "$n" "${PORT[$n]}" "$BENCH_ROOT/$n" >> "$RAW/run.log" 2>&1; then
            UP+=("$n")
            IDLE_PROCS[$n]=$("$PY" "$HERE/tools/procmem.py" procs "$(pid_of "$n")")
        else
            log "$n: start FAILED (see run.log and $BENCH_RUN/$n/stderr.log)"
        fi
    done
}
stop_servers() {
    local n
    for n in "${UP[@]}"; do "$HERE/peers/stop-server.sh" "$n" >> "$RAW/run.log" 2>&1; done
    UP=()
}
pid_of() { cat "$BENCH_RUN/$1/pid"; }
settle() {  # wait until every running server is idle again (at most 60 s each)
    local n w
    for n in "${UP[@]}"; do
        w=$("$PY" "$HERE/tools/procmem.py" wait-idle "$(pid_of "$n")" "${IDLE_PROCS[$n]}" 60)
        [[ "$w" == -1 ]] && log "$n still busy after 60 s; going on"
        [[ "$w" != -1 && "${w%.*}" -ge 3 ]] && log "waited ${w} s for $n to become idle"
    done
    sleep 1
}
url() { echo "ftp://$FTPBENCH_USER:$FTPBENCH_PASS@127.0.0.1:${PORT[$1]}"; }
rotated() {  # ROUND NAME... -> the names rotated by ROUND, so no server always goes first
    local r=$1; shift
    local a=("$@") i k=$#
    for ((i = 0; i < k; i++)); do echo "${a[(i + r) % k]}"; done
}
set_hash() {  # YESCRYPT | MD5
    echo "$FTPBENCH_USER:$FTPBENCH_PASS" | chpasswd -c "$1" || die "chpasswd -c $1 failed"
    if [[ $1 == YESCRYPT ]]; then HASH_CHANGED=0; else HASH_CHANGED=1; fi
    log "password hash of $FTPBENCH_USER is now $1 ($(getent shadow "$FTPBENCH_USER" | cut -d: -f2 | cut -c1-4)...)"
}

ensure_src() {  # the 1 GiB random file in tmpfs that phases a and c serve
    mkdir -p "$BENCH_SRC"
    if [[ ! -f "$BENCH_SRC/1G.bin" || $(stat -c %s "$BENCH_SRC/1G.bin") -ne 1073741824 ]]; then
        head -c 1073741824 /dev/urandom > "$BENCH_SRC/1G.bin"
    fi
    chmod 644 "$BENCH_SRC/1G.bin"
    chown "$FTPBENCH_USER:" "$BENCH_SRC/1G.bin"
}

# ------------------------------------------------------------------ phase a
if ! skip a; then
    log "phase a: 1 GiB RETR and STOR, $ROUNDS rounds + 1 warm-up"
    ensure_src
    start_servers "${SERVERS[@]}"
    for n in "${UP[@]}"; do ln -f "$BENCH_SRC/1G.bin" "$BENCH_ROOT/$n/1G.bin"; done
    TSV="$RAW/a-single-stream.tsv"
    printf 'round\tserver\tdir\trc\tbytes\ttime_total\ttime_pretransfer\n' > "$TSV"
    W='%{size_download} %{size_upload} %{time_total} %{time_pretransfer}'
    for r in $(seq 0 "$ROUNDS"); do   # round 0 is a warm-up, left out of the results
        if [[ $r -ge 1 ]] && ! skip iperf && command -v iperf3 >/dev/null; then
            iperf3 -s -1 -B 127.0.0.1 -p 5241 > /dev/null 2>&1 &
            ipid=$!; BG_PIDS+=("$ipid")
            sleep 0.5
            timeout 20 iperf3 -c 127.0.0.1 -p 5241 -t 3 -J > "$RAW/a-iperf3-$r.json" 2>&1
            sleep 0.2
            kill "$ipid" 2>/dev/null; wait "$ipid" 2>/dev/null; BG_PIDS=()
        fi
        settle
        log "phase a round $r/$ROUNDS"
        for n in $(rotated "$r" "${UP[@]}"); do
            o=$(curl -sS --fail --max-time 60 -o /dev/null -w "$W" "$(url "$n")/1G.bin" 2>>"$RAW/a-curl-$n.err"); rc=$?
            read -r sd su tt tp <<< "${o:-0 0 0 0}"
            printf '%s\t%s\tretr\t%s\t%s\t%s\t%s\n' "$r" "$n" "$rc" "$sd" "$tt" "$tp" >> "$TSV"
            o=$(curl -sS --fail --max-time 60 -T "$BENCH_SRC/1G.bin" -w "$W" "$(url "$n")/up-1G.bin" 2>>"$RAW/a-curl-$n.err"); rc=$?
            read -r sd su tt tp <<< "${o:-0 0 0 0}"
            printf '%s\t%s\tstor\t%s\t%s\t%s\t%s\n' "$r" "$n" "$rc" "$su" "$tt" "$tp" >> "$TSV"
            if [[ $r -eq $ROUNDS ]]; then   # integrity of the last upload
                if cmp -s "$BENCH_SRC/1G.bin" "$BENCH_ROOT/$n/up-1G.bin"; then echo "$n ok"; else echo "$n MISMATCH"; fi \
                    >> "$RAW/a-upload-cmp.txt"
            fi
            rm -f "$BENCH_ROOT/$n/up-1G.bin"
        done
    done
    stop_servers
    rm -rf "${BENCH_ROOT:?}"/*
fi

# ------------------------------------------------------------------ phase c
if ! skip c; then
    log "phase c: $CLIENTS logins at once with yescrypt, alone and during a download, $ROUNDS rounds"
    HASH=$(getent shadow "$FTPBENCH_USER" | cut -d: -f2)
    "$TOOLS/crypt-cost" "$HASH" "$FTPBENCH_PASS" 30 "$(nproc)" > "$RAW/c-hash-cost.json" 2>>"$RAW/run.log" \
        || log "crypt-cost failed"
    log "hash cost: $(cat "$RAW/c-hash-cost.json")"
    # The C driver costs the download far less CPU than 200 Python threads (bench/README.md)
    STORM=("$TOOLS/login-storm")
    [[ $C_DRIVER == python ]] && STORM=("$PY" "$HERE/tools/conc-dl.py" --repeat 0)
    STORM+=(--user "$FTPBENCH_USER" --password "$FTPBENCH_PASS")
    ensure_src
    start_servers "${SERVERS[@]}"
    for n in "${UP[@]}"; do ln -f "$BENCH_SRC/1G.bin" "$BENCH_ROOT/$n/1G.bin"; done
    for r in $(seq 1 "$ROUNDS"); do
        # this shared VM's speed drifts: measure the hash cost again in every round
        settle
        "$TOOLS/crypt-cost" "$HASH" "$FTPBENCH_PASS" 15 "$(nproc)" > "$RAW/c-hash-cost-$r.json" 2>>"$RAW/run.log"
        for n in $(rotated "$r" "${UP[@]}"); do
            settle
            log "phase c round $r/$ROUNDS: $n"
            timeout 150 "${STORM[@]}" --port "${PORT[$n]}" --clients "$CLIENTS" \
                --deadline 120 --timeout 30 --label "$n" \
                --json "$RAW/c-storm-$n-$r.json" > "$RAW/c-storm-$n-$r.txt" 2>&1 \
                || log "$n: login storm rc=$? (see c-storm-$n-$r.txt)"
            settle
            # one download stream, RETR of 1G.bin again and again in one session
            "$TOOLS/ftp-rate" "${PORT[$n]}" "$FTPBENCH_USER" "$FTPBENCH_PASS" 1G.bin 150 50 \
                > "$RAW/c-rate-$n-$r.txt" 2> "$RAW/c-rate-$n-$r.err" &
            dpid=$!; BG_PIDS+=("$dpid")
            sleep 2.5   # the download alone: the reference rate
            timeout 150 "${STORM[@]}" --port "${PORT[$n]}" --clients "$CLIENTS" \
                --deadline 120 --timeout 30 --label "$n+download" \
                --json "$RAW/c-stormdl-$n-$r.json" > "$RAW/c-stormdl-$n-$r.txt" 2>&1 \
                || log "$n: login storm during download rc=$? (see c-stormdl-$n-$r.txt)"
            sleep 2.5   # the download alone again: the reference is before and after
            kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; BG_PIDS=()
            # Again with the download held to C_CAPPED_RATE MiB/s, as over a real network:
            # a full-speed loopback stream keeps both vCPUs busy by itself (bench/README.md)
            settle
            "$TOOLS/ftp-rate" "${PORT[$n]}" "$FTPBENCH_USER" "$FTPBENCH_PASS" 1G.bin 150 50 \
                "$C_CAPPED_RATE" > "$RAW/c-ratecap-$n-$r.txt" 2> "$RAW/c-ratecap-$n-$r.err" &
            dpid=$!; BG_PIDS+=("$dpid")
            sleep 2.5
            timeout 150 "${STORM[@]}" --port "${PORT[$n]}" --clients "$CLIENTS" \
                --deadline 120 --timeout 30 --label "$n+capped download" \
                --json "$RAW/c-stormcap-$n-$r.json" > "$RAW/c-stormcap-$n-$r.txt" 2>&1 \
                || log "$n: login storm during capped download rc=$? (see c-stormcap-$n-$r.txt)"
            sleep 2.5
            kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; BG_PIDS=()
        done
    done
    stop_servers
    rm -rf "${BENCH_ROOT:?}"/*
fi

# ------------------------------------------------------------------ phases b and d
if ! skip b || ! skip d || ! skip e || ! skip f || ! skip g || ! skip h || ! skip i || ! skip j || ! skip k; then
    set_hash MD5
fi
if ! skip b; then
    log "phase b: $CLIENTS clients x $REPEAT RETR 1 MiB, MD5-crypt, $ROUNDS rounds"
    B_FTPC=${FTPC_BIN:-$HERE/build/ftpc}
    B_CPU=$(($(nproc) - 1))
    start_servers "${SERVERS[@]}"
    for r in $(seq 1 "$ROUNDS"); do
        for n in $(rotated "$r" "${UP[@]}"); do
            settle   # the previous run's leftovers must not load this one
            log "phase b round $r/$ROUNDS: $n"
            timeout 240 "$PY" "$HERE/tools/conc-dl.py" --port "${PORT[$n]}" --clients "$CLIENTS" \
                --repeat "$REPEAT" --server-pid "$(pid_of "$n")" --deadline 180 --timeout 30 \
                --label "$n" --json "$RAW/b-conc-$n-$r.json" > "$RAW/b-conc-$n-$r.txt" 2>&1 \
                || log "$n: conc-dl rc=$? (see b-conc-$n-$r.txt)"
            # The same driver held to one CPU. Unpinned, its 200 threads spread over every idle
            # CPU and hand the interpreter lock from CPU to CPU: against a server that leaves a
            # CPU idle most of the context switches are then lock waits, and the driver takes
            # longer the less CPU the server uses (bench/README.md, phase b).
            settle
            log "phase b round $r/$ROUNDS: $n, conc-dl.py on CPU $B_CPU"
            timeout 240 taskset -c "$B_CPU" "$PY" "$HERE/tools/conc-dl.py" --port "${PORT[$n]}" \
                --clients "$CLIENTS" --repeat "$REPEAT" --deadline 180 --timeout 30 --label "$n" \
                --json "$RAW/b-pin-$n-$r.json" > "$RAW/b-pin-$n-$r.txt" 2>&1 \
                || log "$n: conc-dl on one CPU rc=$? (see b-pin-$n-$r.txt)"
            # The same work, barrier and all, from login-storm: one epoll loop in C, so the
            # driver is no longer the bottleneck, and it is not ftpd's own client.
            settle
            log "phase b round $r/$ROUNDS: $n, login-storm"
            "$PY" "$HERE/tools/rusage.py" --timeout 200 --server-pid "$(pid_of "$n")" \
                --json "$RAW/b-storm-$n-$r-rusage.json" -- \
                "$TOOLS/login-storm" --port "${PORT[$n]}" --clients "$CLIENTS" --repeat "$REPEAT" \
                --user "$FTPBENCH_USER" --password "$FTPBENCH_PASS" --deadline 180 --timeout 30 \
                --label "$n" --json "$RAW/b-storm-$n-$r.json" > "$RAW/b-storm-$n-$r.txt" 2>&1 \
                || log "$n: login-storm rc=$? (see b-storm-$n-$r.txt)"
            # The same work from a driver that is not the bottleneck: conc-dl.py's 200 Python
            # threads share one GIL, ftpc stress runs every client on one event loop in C.
            if [[ -x "$B_FTPC" ]]; then
                settle
                log "phase b round $r/$ROUNDS: $n, ftpc stress"
                "$PY" "$HERE/tools/rusage.py" --timeout 120 --server-pid "$(pid_of "$n")" \
                    --json "$RAW/b-stress-$n-$r-rusage.json" -- \
                    "$B_FTPC" stress "$(url "$n")/b-stress" --no-view --seed 1 --clients "$CLIENTS" \
                    --iterations "$REPEAT" --mix get=1 --size 1M --files 1 --think 0 \
                    --json "$RAW/b-stress-$n-$r.json" > "$RAW/b-stress-$n-$r.txt" 2>&1 \
                    || log "$n: ftpc stress rc=$? (see b-stress-$n-$r.txt)"
            fi
        done
    done
    stop_servers
    rm -rf "${BENCH_ROOT:?}"/*
fi
if ! skip d; then
    log "phase d: $IDLE_SESSIONS idle logged-in sessions, MD5-crypt"
    for n in "${SERVERS[@]}"; do   # one at a time, each freshly started
        start_servers "$n"
        [[ ${#UP[@]} -eq 1 ]] || continue
        sleep 1
        log "phase d: $n"
        timeout 200 "$PY" "$HERE/tools/idle-sessions.py" --port "${PORT[$n]}" --server-pid "$(pid_of "$n")" \
            --sessions "$IDLE_SESSIONS" --deadline 150 --label "$n" \
            --json "$RAW/d-idle-$n.json" > "$RAW/d-idle-$n.txt" 2>&1 \
            || log "$n: idle-sessions rc=$? (see d-idle-$n.txt)"
        stop_servers
    done
    rm -rf "${BENCH_ROOT:?}"/*
fi
# shellcheck source=phases5.sh
. "$HERE/phases5.sh"
if [[ $HASH_CHANGED == 1 ]]; then set_hash YESCRYPT; fi

# ------------------------------------------------------------------ summary
echo "loadavg_end: $(cat /proc/loadavg)" >> "$RAW/env.txt"
for n in "${SERVERS[@]}"; do   # keep each server's logs next to the figures
    [[ -s "$BENCH_RUN/$n/stderr.log" ]] && cp "$BENCH_RUN/$n/stderr.log" "$RAW/log-$n.stderr"
done
"$PY" "$HERE/summarize.py" "$RAW" > "$OUT/summary.md" || log "summarize.py failed"
if ! skip plots; then
    "$PY" "$HERE/plots.py" "$RAW" "$OUT" >> "$RAW/run.log" 2>&1 || log "plots.py failed (see run.log)"
fi
cat "$OUT/summary.md"
log "summary: $OUT/summary.md   raw data: $RAW"
