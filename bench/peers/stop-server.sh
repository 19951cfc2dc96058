#!/usr/bin/env bash
# stop-server.sh NAME
# Stops a server started by start-server.sh: SIGTERM to the process group whose id is the
# recorded PID (start-server.sh runs each server under setsid, so that group holds exactly
# the master and its per-connection children), then SIGKILL after 5 s if anything is left.
# Only that recorded group is signalled, and only if the PID still runs the expected
# program.
#   BENCH_RUN  run-state directory  [/tmp/ftpd-bench-run]
set -uo pipefail

NAME=${1:?usage: stop-server.sh NAME}
BENCH_RUN=${BENCH_RUN:-/tmp/ftpd-bench-run}
PIDFILE="$BENCH_RUN/$NAME/pid"

[[ -f "$PIDFILE" ]] || exit 0
PID=$(cat "$PIDFILE")
[[ "$PID" =~ ^[0-9]+$ ]] || { echo "bad pid file $PIDFILE" >&2; exit 1; }
if ! kill -0 "$PID" 2>/dev/null; then
    rm -f "$PIDFILE"
    exit 0
fi

case "$NAME" in
    pyftpdlib) want=pyftpd-peer ;;
    *) want="$NAME" ;;
esac
if ! tr '\0' ' ' < "/proc/$PID/cmdline" | grep -q -- "$want"; then
    echo "$NAME: pid $PID does not look like $want; not signalling it" >&2
    exit 1
fi

PGID=$(ps -o pgid= -p "$PID" | tr -d ' ')
group_alive() {
    if [[ "$PGID" == "$PID" ]]; then pgrep -g "$PGID" >/dev/null 2>&1; else kill -0 "$PID" 2>/dev/null; fi
}
signal() {
    if [[ "$PGID" == "$PID" ]]; then kill "-$1" -- "-$PGID" 2>/dev/null; else kill "-$1" "$PID" 2>/dev/null; fi
}
signal TERM
for _ in $(seq 1 50); do
    group_alive || break
    sleep 0.1
done
group_alive && signal KILL
rm -f "$PIDFILE"
echo "$NAME stopped (pid $PID)"
