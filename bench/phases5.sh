# shellcheck shell=bash
# bench/phases5.sh -- the phases of issues 3, 4 and 5, sourced by bench/run.sh after
# phase d (the account's hash is MD5-crypt here: these phases log in thousands of times
# and measure the servers and clients, not yescrypt). Uses run.sh's helpers (log, skip,
# start_servers, stop_servers, settle, url, rotated, pid_of, ensure_src) and variables.
#
#   e  pyftpdlib's ftpbench rows with our driver (tools/ftpbench.py), every server
#   f  clients: ftpc vs curl vs lftp against ftpd (1 GiB get and put, 8 x 128 MiB at once)
#   g  FTPS: 1 GiB get and put with curl (and ftpc --tls) against ftpd --tls and vsftpd
#   h  MODE Z get of a 1 GiB text against ftpd, beside gzip -1 on the same file
#   i  ftpc stress: 1,000 and 5,000 concurrent clients, mixed operations, every server
#   j  ftpc stress: 4 KiB files, 64 clients, files/s (get, then put), every server
#   k  ftpc stress vs tools/conc-dl.py: client CPU per simulated client
# A phase whose tool or feature is missing writes why to RAW/na-<phase>.txt and its cells
# read n/a; the suite goes on.

FTPC_BIN=${FTPC_BIN:-$HERE/build/ftpc}
FB_CLIENTS=${FB_CLIENTS:-300}
FB_SIZE=${FB_SIZE:-10M}
FB_ROUNDS=${FB_ROUNDS:-1}
F_ROUNDS=${F_ROUNDS:-$ROUNDS}
STRESS_CLIENTS=${STRESS_CLIENTS:-1000 5000}
STRESS_DURATION=${STRESS_DURATION:-10}
STRESS_MIX=${STRESS_MIX:-login=1,get=4,put=2,list=1}
STRESS_SIZE=${STRESS_SIZE:-4K-256K}
STRESS_THINK=${STRESS_THINK:-200}
SMALL_CLIENTS=${SMALL_CLIENTS:-64}
SMALL_DURATION=${SMALL_DURATION:-5}
DRIVER_CLIENTS=${DRIVER_CLIENTS:-200}
RUSAGE=("$PY" "$HERE/tools/rusage.py")
echo "params5: FB_CLIENTS=$FB_CLIENTS FB_SIZE=$FB_SIZE FB_ROUNDS=$FB_ROUNDS F_ROUNDS=$F_ROUNDS STRESS_CLIENTS='$STRESS_CLIENTS' STRESS_DURATION=$STRESS_DURATION STRESS_MIX=$STRESS_MIX STRESS_SIZE=$STRESS_SIZE STRESS_THINK=$STRESS_THINK SMALL_CLIENTS=$SMALL_CLIENTS SMALL_DURATION=$SMALL_DURATION DRIVER_CLIENTS=$DRIVER_CLIENTS" >> "$RAW/env.txt"

na() {  # PHASE REASON...: this phase (or part) is not measured, and why
    local p=$1; shift
    echo "$*" >> "$RAW/na-$p.txt"
    log "phase $p: n/a: $*"
}
have_ftpc() { [[ -x "$FTPC_BIN" ]]; }
have_stress() {
    have_ftpc && "$FTPC_BIN" stress --help 2>&1 | grep -q -- '--clients'
}
ftpc_help() { "$FTPC_BIN" --help 2>&1; }
feat_of() {  # NAME -> the server's FEAT reply, one feature a line
    "$PY" - "${PORT[$1]}" <<'EOF'
import ftplib, os, sys
f = ftplib.FTP(timeout=10)
f.connect("127.0.0.1", int(sys.argv[1]))
try:
    print(f.sendcmd("FEAT"))
except ftplib.Error as e:
    print(e)
f.close()
EOF
}
lo_bytes() { cat /sys/class/net/lo/statistics/tx_bytes 2>/dev/null || echo 0; }
lftp_open() {  # NAME -> lftp's open command for it, plain FTP, no MODE Z unless asked
    echo "set ftp:ssl-allow no; set ftp:use-mode-z no; set xfer:clobber on; set net:max-retries 1; set net:timeout 30; set cmd:fail-exit yes; open -u $FTPBENCH_USER,$FTPBENCH_PASS -p ${PORT[$1]} ftp://127.0.0.1"
}

# ------------------------------------------------------------------ phase e
if ! skip e; then
    log "phase e: ftpbench rows ($FB_CLIENTS clients, $FB_SIZE), $FB_ROUNDS round(s)"
    for r in $(seq 1 "$FB_ROUNDS"); do
        start_servers "${SERVERS[@]}"   # fresh servers: the idle memory is a fresh one's
        for n in $(rotated "$r" "${UP[@]}"); do
            settle
            log "phase e round $r/$FB_ROUNDS: $n"
            timeout 600 "$PY" "$HERE/tools/ftpbench.py" --port "${PORT[$n]}" --server-pid "$(pid_of "$n")" \
                --clients "$FB_CLIENTS" --size "$FB_SIZE" --label "$n" \
                --json "$RAW/e-ftpbench-$n-$r.json" > "$RAW/e-ftpbench-$n-$r.txt" 2>&1 \
                || log "$n: ftpbench.py rc=$? (see e-ftpbench-$n-$r.txt)"
            rm -rf "${BENCH_ROOT:?}/$n"/*
        done
        stop_servers
    done
    rm -rf "${BENCH_ROOT:?}"/*
fi

# ------------------------------------------------------------------ phase f
if ! skip f; then
    log "phase f: ftpc vs curl vs lftp against ftpd, $F_ROUNDS rounds"
    CLIENTS_F=(curl lftp)
    if have_ftpc; then CLIENTS_F+=(ftpc); else na f "no ftpc binary at $FTPC_BIN"; fi
    if [[ $HAVE_FTPD != 1 ]]; then
        na f "no ftpd binary"
    else
        ensure_src
        if [[ ! -f "$BENCH_SRC/128M.bin" ]]; then head -c 134217728 "$BENCH_SRC/1G.bin" > "$BENCH_SRC/128M.bin"; fi
        start_servers ftpd
        R="$BENCH_ROOT/ftpd"
        mkdir -p "$R/m"
        ln -f "$BENCH_SRC/1G.bin" "$R/1G.bin"
        for i in 0 1 2 3 4 5 6 7; do ln -f "$BENCH_SRC/128M.bin" "$R/m/f$i.bin"; done
        chown -R "$FTPBENCH_USER:" "$R/m"
        DST="$BENCH_ROOT/client-dst"
        U=$(url ftpd)
        for r in $(seq 0 "$F_ROUNDS"); do   # round 0: warm-up, left out
            log "phase f round $r/$F_ROUNDS"
            for c in $(rotated "$r" "${CLIENTS_F[@]}"); do
                for op in get put get8; do
                    rm -rf "$DST"; mkdir -p "$DST"
                    rm -f "$R/up-1G.bin"
                    settle
                    case "$c/$op" in
                    curl/get) cmd=(curl -sS --fail -o "$DST/1G.bin" "$U/1G.bin") ;;
                    curl/put) cmd=(curl -sS --fail -T "$BENCH_SRC/1G.bin" "$U/up-1G.bin") ;;
                    curl/get8)
                        cmd=(curl -sS --fail -Z --parallel-max 8)
                        for i in 0 1 2 3 4 5 6 7; do cmd+=(-o "$DST/f$i.bin" "$U/m/f$i.bin"); done ;;
                    lftp/get) cmd=(lftp -c "$(lftp_open ftpd); get 1G.bin -o $DST/1G.bin") ;;
                    lftp/put) cmd=(lftp -c "$(lftp_open ftpd); put $BENCH_SRC/1G.bin -o up-1G.bin") ;;
                    lftp/get8) cmd=(lftp -c "$(lftp_open ftpd); mget -P 8 -O $DST m/*.bin") ;;
                    ftpc/get) cmd=("$FTPC_BIN" -q --no-verify get "$U/1G.bin" -o "$DST/1G.bin") ;;
                    ftpc/put) cmd=("$FTPC_BIN" -q --no-verify put "$BENCH_SRC/1G.bin" "$U/up-1G.bin") ;;
                    ftpc/get8) cmd=("$FTPC_BIN" -q --no-verify -j 8 get "$U/m/*.bin" -O "$DST") ;;
                    esac
                    "${RUSAGE[@]}" --timeout 120 --label "$c $op" --json "$RAW/f-$op-$c-$r.json" -- "${cmd[@]}" \
                        >> "$RAW/f-$c.out" 2>&1 || log "phase f: $c $op rc=$? (see f-$c.out)"
                    # every byte checked, every round: a fast wrong transfer must not count
                    ok=ok
                    case $op in
                    get) cmp -s "$BENCH_SRC/1G.bin" "$DST/1G.bin" || ok=MISMATCH ;;
                    put) cmp -s "$BENCH_SRC/1G.bin" "$R/up-1G.bin" || ok=MISMATCH ;;
                    get8) for i in 0 1 2 3 4 5 6 7; do cmp -s "$BENCH_SRC/128M.bin" "$DST/f$i.bin" || ok=MISMATCH; done ;;
                    esac
                    printf '%s\t%s\t%s\t%s\n' "$r" "$c" "$op" "$ok" >> "$RAW/f-verify.tsv"
                done
            done
        done
        rm -rf "$DST"
        stop_servers
    fi
    rm -rf "${BENCH_ROOT:?}"/*
fi

# ------------------------------------------------------------------ phase g
if ! skip g; then
    log "phase g: FTPS 1 GiB get and put, ftpd vs vsftpd, $ROUNDS rounds"
    GS=()
    [[ $HAVE_FTPD == 1 ]] && GS+=(ftpd)
    [[ " $PEERS " == *" vsftpd "* ]] && GS+=(vsftpd)
    TLSD="$RAW/tls"
    mkdir -p "$TLSD"
    if ! openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
            -addext "subjectAltName=IP:127.0.0.1" -keyout "$TLSD/key.pem" -out "$TLSD/cert.pem" \
            > "$TLSD/openssl.log" 2>&1; then
        na g "openssl could not make a certificate (see tls/openssl.log)"; GS=()
    fi
    chgrp "$FTPBENCH_USER" "$TLSD/key.pem" 2>/dev/null; chmod 640 "$TLSD/key.pem" 2>/dev/null
    chmod 755 "$TLSD"; chmod 644 "$TLSD/cert.pem" 2>/dev/null
    FTPC_TLS=()
    if have_ftpc && ftpc_help | grep -q -- '--tls'; then
        FTPC_TLS=(--tls)
        for o in --tls-ca --cacert --ca-file --tls-cafile --ca; do
            if ftpc_help | grep -q -- "${o}[ =]"; then FTPC_TLS+=("$o" "$TLSD/cert.pem"); break; fi
        done
        [[ ${#FTPC_TLS[@]} -eq 1 ]] && { na g "ftpc --tls has no option to trust a CA file; ftpc cells n/a"; FTPC_TLS=(); }
    else
        na g "ftpc has no --tls (ftpc --help): ftpc cells n/a"
    fi
    if [[ ${#GS[@]} -gt 0 ]]; then
        ensure_src
        export TLS_CERT="$TLSD/cert.pem" TLS_KEY="$TLSD/key.pem"
        start_servers "${GS[@]}"
        for n in "${UP[@]}"; do ln -f "$BENCH_SRC/1G.bin" "$BENCH_ROOT/$n/1G.bin"; echo probe > "$BENCH_ROOT/$n/probe.txt"; done
        TC=(curl -sS --fail --ssl-reqd --cacert "$TLSD/cert.pem" --max-time 120)
        # vsftpd's require_ssl_reuse=YES (its default) wants every data connection to
        # resume the control connection's TLS session; if curl cannot, say so and turn
        # it off for vsftpd only
        for n in "${UP[@]}"; do
            if ! "${TC[@]}" -o /dev/null "$(url "$n")/probe.txt" > "$RAW/g-probe-$n.txt" 2>&1; then
                if [[ $n == vsftpd ]]; then
                    echo "vsftpd with require_ssl_reuse=YES: curl failed: $(tr '\n' ' ' < "$RAW/g-probe-$n.txt")" > "$RAW/g-vsftpd-reuse.txt"
                    log "vsftpd refuses curl's FTPS data connections with require_ssl_reuse=YES; restarting it with NO"
                    "$HERE/peers/stop-server.sh" vsftpd >> "$RAW/run.log" 2>&1
                    VSFTPD_SSL_REUSE=NO "$HERE/peers/start-server.sh" vsftpd "${PORT[vsftpd]}" "$BENCH_ROOT/vsftpd" \
                        >> "$RAW/run.log" 2>&1 || log "vsftpd TLS restart failed"
                    if "${TC[@]}" -o /dev/null "$(url vsftpd)/probe.txt" >> "$RAW/g-probe-$n.txt" 2>&1; then
                        echo "require_ssl_reuse=NO: works" >> "$RAW/g-vsftpd-reuse.txt"
                    fi
                else
                    na g "$n: curl FTPS probe failed: $(tr '\n' ' ' < "$RAW/g-probe-$n.txt")"
                fi
            fi
        done
        TSV="$RAW/g-tls.tsv"
        printf 'round\tserver\tdir\trc\tbytes\ttime_total\ttime_pretransfer\n' > "$TSV"
        W='%{size_download} %{size_upload} %{time_total} %{time_pretransfer}'
        for r in $(seq 0 "$ROUNDS"); do
            log "phase g round $r/$ROUNDS"
            for n in $(rotated "$r" "${UP[@]}"); do
                settle
                o=$("${TC[@]}" -o /dev/null -w "$W" "$(url "$n")/1G.bin" 2>>"$RAW/g-curl-$n.err"); rc=$?
                read -r sd su tt tp <<< "${o:-0 0 0 0}"
                printf '%s\t%s\tretr\t%s\t%s\t%s\t%s\n' "$r" "$n" "$rc" "$sd" "$tt" "$tp" >> "$TSV"
                o=$("${TC[@]}" -T "$BENCH_SRC/1G.bin" -w "$W" "$(url "$n")/up-1G.bin" 2>>"$RAW/g-curl-$n.err"); rc=$?
                read -r sd su tt tp <<< "${o:-0 0 0 0}"
                printf '%s\t%s\tstor\t%s\t%s\t%s\t%s\n' "$r" "$n" "$rc" "$su" "$tt" "$tp" >> "$TSV"
                [[ $r -eq $ROUNDS ]] && { cmp -s "$BENCH_SRC/1G.bin" "$BENCH_ROOT/$n/up-1G.bin" && echo "$n curl ok" || echo "$n curl MISMATCH"; } >> "$RAW/g-upload-cmp.txt"
                rm -f "$BENCH_ROOT/$n/up-1G.bin"
                if [[ ${#FTPC_TLS[@]} -gt 0 ]]; then   # ftpc: wall time of the whole command
                    DST="$BENCH_ROOT/client-dst"; rm -rf "$DST"; mkdir -p "$DST"
                    "${RUSAGE[@]}" --timeout 120 --json "$RAW/g-ftpc-retr-$n-$r.json" -- \
                        "$FTPC_BIN" -q --no-verify "${FTPC_TLS[@]}" get "$(url "$n")/1G.bin" -o "$DST/1G.bin" >> "$RAW/g-ftpc.out" 2>&1
                    cmp -s "$BENCH_SRC/1G.bin" "$DST/1G.bin" || echo "$r $n ftpc get MISMATCH" >> "$RAW/g-upload-cmp.txt"
                    rm -rf "$DST"
                    "${RUSAGE[@]}" --timeout 120 --json "$RAW/g-ftpc-stor-$n-$r.json" -- \
                        "$FTPC_BIN" -q --no-verify "${FTPC_TLS[@]}" put "$BENCH_SRC/1G.bin" "$(url "$n")/up-1G.bin" >> "$RAW/g-ftpc.out" 2>&1
                    cmp -s "$BENCH_SRC/1G.bin" "$BENCH_ROOT/$n/up-1G.bin" || echo "$r $n ftpc put MISMATCH" >> "$RAW/g-upload-cmp.txt"
                    rm -f "$BENCH_ROOT/$n/up-1G.bin"
                fi
            done
        done
        stop_servers
        unset TLS_CERT TLS_KEY
    fi
    rm -rf "${BENCH_ROOT:?}"/*
fi

# ------------------------------------------------------------------ phase h
if ! skip h; then
    log "phase h: MODE Z download of a 1 GiB text vs gzip -1"
    mkdir -p "$BENCH_SRC"
    TXT="$BENCH_SRC/text-1G.txt"
    if [[ ! -f "$TXT" || $(stat -c %s "$TXT") -ne 1073741824 ]]; then
        "$PY" "$HERE/tools/gentext.py" "$TXT" 1073741824 1 || na h "cannot write the text file"
    fi
    chmod 644 "$TXT"
    # gzip -1 on the same file: the speed a plain deflate of this text reaches here
    "${RUSAGE[@]}" --timeout 300 --json "$RAW/h-gzip.json" -- sh -c "gzip -1 -c '$TXT' > '$BENCH_SRC/text.gz'"
    stat -c %s "$BENCH_SRC/text.gz" > "$RAW/h-gzip-size.txt"
    rm -f "$BENCH_SRC/text.gz"
    if [[ $HAVE_FTPD != 1 ]]; then
        na h "no ftpd binary"
    else
        start_servers ftpd
        ln -f "$TXT" "$BENCH_ROOT/ftpd/text-1G.txt"
        feat_of ftpd > "$RAW/h-feat.txt" 2>&1
        HC=(curl)
        if grep -q "MODE Z" "$RAW/h-feat.txt"; then
            HC+=(lftp)
            if have_ftpc && ftpc_help | grep -qE -- '(-z,|--compress)'; then HC+=(ftpc); else na h "ftpc has no -z/--compress (ftpc --help): ftpc cells n/a"; fi
        else
            na h "ftpd's FEAT does not list MODE Z: MODE Z cells n/a"
        fi
        # wire bytes: ftpd's 226 reply says them under MODE Z ("N bytes, M on the wire"),
        # read from the client's FTP dialogue (lftp -d, ftpc -v); the loopback interface's
        # byte counter over the download is a second, independent figure (TCP/IP headers
        # and any other loopback traffic of the machine included)
        printf 'client\tmode\trc\twire_bytes\tlo_bytes\tverify\n' > "$RAW/h-wire.tsv"
        DST="$BENCH_ROOT/client-dst"
        U=$(url ftpd)
        for c in "${HC[@]}"; do
            rm -rf "$DST"; mkdir -p "$DST"
            settle
            case $c in
            curl) mode=S; cmd=(curl -sS --fail -o "$DST/t.txt" "$U/text-1G.txt") ;;
            lftp) mode=Z; cmd=(lftp -d -c "$(lftp_open ftpd | sed 's/ftp:use-mode-z no/ftp:use-mode-z yes; set ftp:compressed-re ""/'); get text-1G.txt -o $DST/t.txt") ;;
            ftpc) mode=Z; cmd=("$FTPC_BIN" -v --progress none --no-verify -z get "$U/text-1G.txt" -o "$DST/t.txt") ;;
            esac
            l0=$(lo_bytes)
            "${RUSAGE[@]}" --timeout 300 --json "$RAW/h-$c.json" -- "${cmd[@]}" > "$RAW/h-$c.out" 2>&1; rc=$?
            l1=$(lo_bytes)
            if [[ $mode == Z ]]; then
                wb=$(grep -o '[0-9]* on the wire' "$RAW/h-$c.out" | tail -1 | cut -d' ' -f1)
            else
                wb=$(stat -c %s "$DST/t.txt" 2>/dev/null)
            fi
            v=ok; cmp -s "$TXT" "$DST/t.txt" || v=MISMATCH
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$mode" "$rc" "${wb:-n/a}" "$((l1 - l0))" "$v" >> "$RAW/h-wire.tsv"
        done
        rm -rf "$DST"
        stop_servers
    fi
    rm -rf "${BENCH_ROOT:?}"/*
fi

# ------------------------------------------------------------------ phases i, j, k
STRESS_OK=0
if ! skip i || ! skip j || ! skip k; then
    if have_stress; then STRESS_OK=1; else
        for p in i j k; do skip $p || na $p "ftpc stress is not available ($FTPC_BIN stress --help)"; done
    fi
fi
stress_run() {  # OUT_PREFIX NAME TIMEOUT STRESS-ARGS...: one ftpc stress run, server sampled
    local out=$1 n=$2 to=$3; shift 3
    "${RUSAGE[@]}" --timeout "$to" --server-pid "$(pid_of "$n")" --count-port "${PORT[$n]}" \
        --json "$out-rusage.json" -- \
        "$FTPC_BIN" stress "$(url "$n")/" --no-view --seed 1 --json "$out.json" "$@" \
        > "$out.txt" 2>&1 || log "$n: ftpc stress rc=$? (see $(basename "$out").txt)"
}
if [[ $STRESS_OK == 1 ]] && ! skip i; then
    for N in $STRESS_CLIENTS; do
        ramp=$(( N / 500 > 2 ? N / 500 : 2 ))   # connects spread over 2 s (1,000) or 10 s (5,000)
        # ftpc stress's duration includes the ramp-up: N clients are all there for the last
        # STRESS_DURATION seconds; its rates are over the whole run
        log "phase i: $N clients, mix $STRESS_MIX, $STRESS_DURATION s after a ${ramp} s ramp-up"
        for n in "${SERVERS[@]}"; do   # one server at a time, freshly started, wide limits
            PASV_MIN=10000 PASV_MAX=29999 MAX_CLIENTS=$((N + 200)) start_servers "$n"
            [[ ${#UP[@]} -eq 1 ]] || continue
            log "phase i: $N clients against $n"
            stress_run "$RAW/i-$N-$n" "$n" $((STRESS_DURATION + ramp + 120)) --clients "$N" \
                --duration $((STRESS_DURATION + ramp)) --ramp-up "$ramp" --mix "$STRESS_MIX" --size "$STRESS_SIZE" \
                --files 64 --think "$STRESS_THINK"
            stop_servers
            rm -rf "${BENCH_ROOT:?}/$n"
        done
    done
fi
if [[ $STRESS_OK == 1 ]] && ! skip j; then
    log "phase j: 4 KiB files, $SMALL_CLIENTS clients, $SMALL_DURATION s get then put"
    start_servers "${SERVERS[@]}"
    for n in $(rotated 1 "${UP[@]}"); do
        for op in get put; do
            settle
            log "phase j: $n $op"
            stress_run "$RAW/j-$op-$n" "$n" $((SMALL_DURATION + 90)) --clients "$SMALL_CLIENTS" \
                --duration "$SMALL_DURATION" --ramp-up 0 --mix "$op=1" --size 4K --files 64 --think 0
        done
        rm -rf "${BENCH_ROOT:?}/$n"/*
    done
    stop_servers
fi
if [[ $STRESS_OK == 1 ]] && ! skip k && [[ $HAVE_FTPD == 1 ]]; then
    # the same work per client for both drivers: log in, RETR one file five times, QUIT;
    # with 4 KiB files the cost per client shows, with 1 MiB files the cost per byte
    KN=$((DRIVER_CLIENTS * 10))
    log "phase k: client CPU per simulated client, conc-dl.py x $DRIVER_CLIENTS vs ftpc stress x $KN"
    start_servers ftpd
    for size in 4K 1M; do
        case $size in 4K) bytes=4096 ;; 1M) bytes=1048576 ;; esac
        settle
        "${RUSAGE[@]}" --timeout 300 --json "$RAW/k-$size-conc-dl-rusage.json" -- "$PY" "$HERE/tools/conc-dl.py" \
            --port "${PORT[ftpd]}" --clients "$DRIVER_CLIENTS" --repeat 5 --size "$bytes" --name "conc-dl-$size.bin" \
            --deadline 240 --label conc-dl --json "$RAW/k-$size-conc-dl.json" > "$RAW/k-$size-conc-dl.txt" 2>&1 \
            || log "phase k: conc-dl rc=$?"
        settle
        stress_run "$RAW/k-$size-stress" ftpd 300 --clients "$KN" --iterations 5 --ramp-up 2 --mix get=1 \
            --size "$size" --files 1 --think 0
    done
    stop_servers
    rm -rf "${BENCH_ROOT:?}"/*
fi
