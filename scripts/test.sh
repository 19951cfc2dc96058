#!/usr/bin/env bash
# The project's test command (README: `./scripts/test.sh`; CI runs it through .ci/run).
#
#  1. Installs the Debian packages the build and the tests need, if any is missing
#     (needs root; otherwise it prints the apt-get line to run and exits 1).
#  2. Builds build/ (RelWithDebInfo, warnings are errors) and runs every test with ctest:
#     the Check suites and the end-to-end tests (tests/e2e) against the built ftpd.
#  3. Builds build-asan/ with AddressSanitizer + UndefinedBehaviorSanitizer and runs every
#     test again; any sanitizer report fails the run.
#
# Options:
#   --quick       only the normal build (step 2)
#   --asan-only   only the sanitizer build (step 3)
#   --no-interop  do not run bench/peers/install-peers.sh first. By default, as root, it
#                 unpacks vsftpd & co. from Debian's archive (first run only; ~1 s once
#                 installed) so tests/e2e/test_ftpc_interop.py runs ftpc against vsftpd;
#                 without root, or if that install fails, the interop test skips and says why
#   -h, --help    this text
# Environment:
#   JOBS          parallel compile jobs (default: number of cores)
#   CTEST_JOBS    tests run in parallel by ctest (default: 5 for the normal build, 4 for
#                 the sanitizer build; most e2e time is spent waiting on sockets and
#                 timers, the normal build's tests use about one core of two at 3), and
#                 as many again of the "sleepy" ones (CMakeLists.txt) beside them
#                 (default 4)
#   CTEST_ARGS    extra ctest arguments, e.g. CTEST_ARGS="-R e2e_test_curl"
#
# Exits 0 only if every step passed; the last line says what happened.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

run_normal=1
run_asan=1
run_interop=$([[ $(id -u) == 0 ]] && echo 1 || echo 0)
for arg in "$@"; do
    case $arg in
    --quick) run_asan=0 ;;
    --asan-only) run_normal=0 ;;
    --no-interop) run_interop=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "test.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
    esac
done
if [[ $run_normal == 0 && $run_asan == 0 ]]; then
    echo "test.sh: --quick and --asan-only together leave nothing to run" >&2
    exit 2
fi

START=$SECONDS
STAGE="start-up"
DONE=()   # stages whose tests all passed
FAILED=() # stages whose tests failed (the next stage still runs)
BG_PID="" # a build running in the background (its own process group), if any
LANE_PID="" # the ctest of the sleepy tests (run_tests; its own process group), while it runs
stop_background_build() {
    if [[ -n $BG_PID ]]; then
        kill -- "-$BG_PID" 2>/dev/null || kill "$BG_PID" 2>/dev/null || true
        BG_PID=""
    fi
    if [[ -n $LANE_PID ]]; then
        kill -- "-$LANE_PID" 2>/dev/null || kill "$LANE_PID" 2>/dev/null || true
        LANE_PID=""
    fi
}
on_exit() {
    local rc=$?
    local took=$((SECONDS - START))
    stop_background_build
    if [[ $rc == 0 ]]; then
        echo "test.sh: PASSED: ${DONE[*]} in ${took}s"
    elif ((${#FAILED[@]})) && [[ $STAGE == finished ]]; then
        echo "test.sh: FAILED: tests failed in ${FAILED[*]}${DONE[*]:+ (passed: ${DONE[*]})} after ${took}s"
    else
        echo "test.sh: FAILED during ${STAGE} (exit ${rc}) after ${took}s${FAILED[*]:+; tests failed in ${FAILED[*]}}${DONE[*]:+; passed: ${DONE[*]}}"
    fi
}
trap on_exit EXIT

section() { printf '\n==== %s (%ss) ====\n' "$1" "$((SECONDS - START))"; }

# ---------------------------------------------------------------- packages
STAGE="packages"
"$ROOT/scripts/deps.sh"

if [[ $run_interop == 1 ]]; then
    STAGE="interop peers"
    "$ROOT/bench/peers/install-peers.sh" ||
        echo "test.sh: WARNING: install-peers.sh failed; the vsftpd interop test will skip" >&2
fi

JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
CTEST_JOBS_SET=${CTEST_JOBS:-}
read -r -a CTEST_EXTRA <<<"${CTEST_ARGS:-}"

echo "test.sh: $(cmake --version | head -1); $(cc --version | head -1); $(python3 --version 2>&1)"
echo "test.sh: $(curl --version 2>/dev/null | head -1 | cut -d' ' -f1-2); $(lftp --version 2>/dev/null | head -1)"

# configure NAME DIR [cmake -D options...]
configure() {
    local name=$1 dir=$2
    shift 2
    STAGE="${name}: configure"
    section "$name: configure $dir"
    cmake -S "$ROOT" -B "$ROOT/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFTP_WERROR=ON "$@"
}

# build NAME DIR
build() {
    STAGE="$1: build"
    section "$1: build"
    cmake --build "$ROOT/$2" -j "$JOBS"
}

# The sanitizer build is configured and compiles while the normal build's tests run: those
# mostly wait on sockets and timers, and at nice 19 cmake and the compiler take only the CPU
# time they leave idle (it saves the build's ~55 s of wall time on 2 cores, and the
# configure's ~4 s). Its output goes to DIR/build.log.
# build_in_background NAME DIR [cmake -D options...]
build_in_background() {
    local name=$1 dir=$2
    shift 2
    section "$name: configure and build start in the background (nice 19; output in $dir/build.log)"
    mkdir -p "$ROOT/$dir"
    # shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
    setsid -w nice -n 19 bash -c 'cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DFTP_WERROR=ON "${@:4}" && cmake --build "$2" -j "$3"' \
        bash "$ROOT" "$ROOT/$dir" "$JOBS" "$@" >"$ROOT/$dir/build.log" 2>&1 &
    BG_PID=$!
}

# wait_for_background_build NAME DIR
wait_for_background_build() {
    STAGE="$1: build"
    section "$1: build (waiting for the background build)"
    local rc=0
    wait "$BG_PID" || rc=$?
    BG_PID=""
    if [[ $rc != 0 ]]; then
        cat "$ROOT/$2/build.log"
        return "$rc"
    fi
    tail -n 3 "$ROOT/$2/build.log"
}

# run_tests NAME DIR JOBS
# The tests labelled "sleepy" (CMakeLists.txt: a deliberately slow disk) wait for minutes with
# almost no CPU. In the one ctest -j they held four of its slots from the start, and the rest
# queued behind them for the CPU they left idle; they run in a second ctest beside it, its
# output shown when both are done.
run_tests() {
    local name=$1 dir=$2 jobs=${CTEST_JOBS_SET:-$3}
    local lane_log="$ROOT/$dir/sleepy-tests.log" rc=0 lane_rc=0
    STAGE="${name}: tests"
    section "$name: ctest (the sleepy tests beside it, output in $dir/sleepy-tests.log)"
    # CTEST_ARGS may pick tests of one lane only: the other lane then has none, and that is
    # no error; without it, a lane without tests means the build registered none.
    local no_tests=error
    ((${#CTEST_EXTRA[@]})) && no_tests=ignore
    setsid -w ctest --test-dir "$ROOT/$dir" --output-on-failure --no-tests="$no_tests" \
        -j "${CTEST_JOBS_SET:-4}" -L sleepy ${CTEST_EXTRA[@]+"${CTEST_EXTRA[@]}"} \
        >"$lane_log" 2>&1 &
    LANE_PID=$!
    ctest --test-dir "$ROOT/$dir" --output-on-failure --no-tests="$no_tests" -j "$jobs" \
        -LE sleepy ${CTEST_EXTRA[@]+"${CTEST_EXTRA[@]}"} || rc=$?
    wait "$LANE_PID" || lane_rc=$?
    LANE_PID=""
    section "$name: ctest of the sleepy tests"
    cat "$lane_log"
    # A test failure does not stop the run: the other build's results are worth having.
    if [[ $rc == 0 && $lane_rc == 0 ]]; then
        DONE+=("$name")
    else
        FAILED+=("$name")
    fi
}

if [[ $run_normal == 1 ]]; then
    configure normal build -DFTP_SANITIZE=OFF
    build normal build
    if [[ $run_asan == 1 ]]; then
        build_in_background asan build-asan -DFTP_SANITIZE=ON
    fi
    run_tests normal build 5
fi

if [[ $run_asan == 1 ]]; then
    if [[ -n $BG_PID ]]; then
        wait_for_background_build asan build-asan
    else
        configure asan build-asan -DFTP_SANITIZE=ON
        build asan build-asan
    fi
    # abort_on_error makes a report fail the process even where the code catches exits;
    # the e2e harness also fails a test on any sanitizer line in the server's output.
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    run_tests asan build-asan 4
fi

STAGE=finished
if ((${#FAILED[@]})); then
    exit 1
fi
