#!/usr/bin/env bash
# Quick start: builds ftpd and ftpc, serves sample_data/ on 127.0.0.1:2121 (anonymous
# read-only on sample_data/pub, and the demo account demo/demo that may upload), and runs
# client transfers you can watch: ftpc downloads three generated 96 MiB files at once and
# uploads them back, rate-limited so the progress bars are visible, and every copy is checked
# byte for byte. The server stops at the end; pass --keep to skip the transfers and run just
# the server, in the foreground, for your own clients.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
keep=0
[[ ${1:-} == --keep ]] && keep=1

./scripts/deps.sh
echo "== building (build/)"
# Warnings are errors in CI (scripts/test.sh), not here: a newer compiler must not stop the demo.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFTP_WERROR=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

# Big files are made here, never committed (sample_data/pub/generated/ is git-ignored).
gen=sample_data/pub/generated
mkdir -p "$gen"
for i in 1 2 3; do
    if [[ ! -s $gen/demo-$i.bin ]]; then
        echo "== generating $gen/demo-$i.bin (96 MiB)"
        head -c 96M /dev/urandom >"$gen/demo-$i.bin"
    fi
done

args=()
if [[ $(id -u) == 0 ]]; then
    # ftpd will not run as root; it drops to nobody after binding, so nobody must be able to
    # write the upload folder.
    args+=(--user nobody)
    chmod 0777 sample_data/pub/incoming
fi

log=$(mktemp /tmp/ftpd-demo.XXXXXX.log)
if [[ $keep == 1 ]]; then
    echo "== ftpd on 127.0.0.1:2121 (Ctrl-C stops it)"
    exec ./build/ftpd "${args[@]}"
fi
./build/ftpd "${args[@]}" 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    grep -q "listening on" "$log" && break
    sleep 0.1
done
grep -q "listening on" "$log" || { cat "$log"; echo "ftpd did not start" >&2; exit 1; }
sed 's/^/   ftpd| /' "$log"

out=$(mktemp -d /tmp/ftpd-demo.XXXXXX)
ftpc=./build/ftpc
echo "== download: anonymous, three files at once (ftpc get -j 3)"
$ftpc get -j 3 --limit-rate 40M -O "$out" 'ftp://127.0.0.1:2121/generated/demo-*.bin'
for i in 1 2 3; do cmp "$out/demo-$i.bin" "$gen/demo-$i.bin"; done
echo "   all three identical to the source"
echo "== upload: demo/demo into /incoming/ (ftpc put -j 3)"
$ftpc put -j 3 --limit-rate 40M "$out"/demo-*.bin ftp://demo:demo@127.0.0.1:2121/incoming/
for i in 1 2 3; do cmp "$out/demo-$i.bin" "sample_data/pub/incoming/demo-$i.bin"; done
echo "   all three identical to the source"
echo "== listing of /incoming/ (ftpc ls -l)"
$ftpc ls -l ftp://demo:demo@127.0.0.1:2121/incoming/
rm -rf "$out" sample_data/pub/incoming/demo-*.bin
echo "== server log (its last lines; all of it stays in $log)"
sed 's/^/   ftpd| /' "$log" | tail -n 8
echo "Done. ./scripts/demo.sh --keep runs just the server, in the foreground, for your own"
echo "clients (ftpc, curl, lftp, FileZilla: see README.md)."
