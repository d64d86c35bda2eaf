# Shared pieces of the benchmark scripts (`source`d by scripts/bench-*): release build, a temp
# directory and background processes cleaned up on exit, loopback ports, readiness polling and
# process CPU time. Only loopback is used.

cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "==> cargo build --release" >&2
cargo build --release --quiet --bin wazzup-gateway --bin wazzup-load
# Built where cargo builds: CARGO_TARGET_DIR when set. BENCH_GATEWAY runs another gateway binary
# with the same load tool (A/B runs of two builds).
readonly GATEWAY=${BENCH_GATEWAY:-${CARGO_TARGET_DIR:-target}/release/wazzup-gateway}
readonly LOAD=${CARGO_TARGET_DIR:-target}/release/wazzup-load

workdir=$(mktemp -d)
background_pids=()
cleanup() {
    local status=$?
    for pid in "${background_pids[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
    rm -rf "$workdir"
    exit "$status"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() { # URL: polls up to 15 s
    for _ in $(seq 150); do
        curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2
    return 1
}

readonly CLOCK_TICKS=$(getconf CLK_TCK)

cpu_ticks() { # PID: utime + stime of the process, in clock ticks
    awk '{ print $14 + $15 }' <"/proc/$1/stat"
}

cpu_us_per() { # TICKS COUNT: CPU microseconds per item
    awk -v d="$1" -v hz="$CLOCK_TICKS" -v n="$2" 'BEGIN { printf "%.0f", d * 1e6 / hz / n }'
}

field() { # JSON NAME: one field of a JSON line
    jq -r ".$2" <<<"$1"
}

fmt3() { awk -v v="$1" 'BEGIN { printf "%.3f", v }'; }
