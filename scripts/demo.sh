#!/usr/bin/env bash
# Quick start: builds ftpd, serves sample_data/ on 127.0.0.1:2121 (anonymous read-only on
# sample_data/pub, and the demo account demo/demo that may upload), and runs client transfers
# you can watch: a download and an upload of a generated 256 MiB file, rate-limited so the
# progress bar is visible, each checked byte for byte. The server stops at the end; pass
# --keep to leave it running in the foreground instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
keep=0
[[ ${1:-} == --keep ]] && keep=1

./scripts/deps.sh
echo "== building (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

# Big files are made here, never committed (sample_data/pub/generated/ is git-ignored).
gen=sample_data/pub/generated
mkdir -p "$gen"
if [[ ! -s $gen/demo-256M.bin ]]; then
    echo "== generating $gen/demo-256M.bin"
    head -c 256M /dev/urandom >"$gen/demo-256M.bin"
fi

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
echo "== download: anonymous, ftp://127.0.0.1:2121/generated/demo-256M.bin"
curl --limit-rate 64M -# -o "$out/demo.bin" ftp://127.0.0.1:2121/generated/demo-256M.bin
cmp "$out/demo.bin" "$gen/demo-256M.bin" && echo "   identical to the source"
echo "== upload: demo/demo, into /incoming/"
curl --limit-rate 64M -# -T "$out/demo.bin" ftp://demo:demo@127.0.0.1:2121/incoming/demo-upload.bin \
    -o /dev/null
cmp "$out/demo.bin" sample_data/pub/incoming/demo-upload.bin && echo "   identical to the source"
echo "== listing"
curl -s ftp://demo:demo@127.0.0.1:2121/incoming/
rm -rf "$out" sample_data/pub/incoming/demo-upload.bin
echo "== server log"
sed 's/^/   ftpd| /' "$log" | tail -n 8
echo "Done. Run ./scripts/demo.sh --keep to leave the server running for your own clients."
