#!/usr/bin/env bash
# Refresh rotations per second through the `session` example, on three stores in one run, in
# interleaved rounds: the in-memory store (the baseline), one Redis node (REDIS_URL), and a
# Redis Cluster of 3 primaries and 3 replicas (every rotation waits for one replica: `WAIT 1`).
# Each round runs the load client of benches/session_load.rs (CLIENTS clients each chaining
# its own session's refresh tokens, every answer 200) for REFRESH_SECS on each store in turn;
# the script reports every round, the medians, and the median per-round ratios against memory.
#
#   REDIS_URL=redis://127.0.0.1:6379 bash benches/session_rotations.sh
#
# The cluster: REDIS_CLUSTER_NODES when set (host:port,…), otherwise six redis-server processes
# of the script's own on 127.0.0.1:7301-7306 (stopped at the end). Settings: ROUNDS (default 3),
# REFRESH_SECS (default 5), CLIENTS (default 32), CLIENT_THREADS (default 1), REDIS_DB (default
# 9; the script deletes the example's `tjwt2:` keys there before and after). Needs curl,
# redis-cli, redis-server (for its own cluster), cargo. BASELINE_BIN: another build of the
# example (for example the main branch's), run on the same Redis as a fourth server, `base`.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-3}
REFRESH_SECS=${REFRESH_SECS:-5}
CLIENTS=${CLIENTS:-32}
CLIENT_THREADS=${CLIENT_THREADS:-1}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
REDIS_DB=${REDIS_DB:-9}
# A benchmark value, not a secret: it signs only the tokens of this script.
SECRET="session-rotations-secret-of-at-least-32-bytes"

die() {
    echo "session_rotations.sh: $*" >&2
    exit 1
}

for tool in curl redis-cli cargo; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done

WORK=$(mktemp -d)
PIDS=()
OWN_PORTS=""
STORE_URL="${REDIS_URL%/}/$REDIS_DB"
flush() {
    redis-cli -u "$STORE_URL" --scan --pattern 'tjwt2:*' | xargs -r -n 500 redis-cli -u "$STORE_URL" DEL >/dev/null
}
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for port in $OWN_PORTS; do
        redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    done
    flush || true
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ -z "${REDIS_CLUSTER_NODES:-}" ]; then
    command -v redis-server >/dev/null || die "redis-server is missing (or set REDIS_CLUSTER_NODES)"
    OWN_PORTS="7301 7302 7303 7304 7305 7306"
    for port in $OWN_PORTS; do
        mkdir -p "$WORK/$port"
        redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$WORK/$port" \
            --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
            --save "" --appendonly no --logfile "$WORK/$port/log" >/dev/null
    done
    sleep 0.5
    # shellcheck disable=SC2046
    redis-cli --cluster create $(for port in $OWN_PORTS; do echo "127.0.0.1:$port"; done) \
        --cluster-replicas 1 --cluster-yes >/dev/null
    for _ in $(seq 1 100); do
        redis-cli -p 7301 cluster info | grep -q cluster_state:ok && break
        sleep 0.2
    done
    sleep 2
    REDIS_CLUSTER_NODES="127.0.0.1:7301,127.0.0.1:7302,127.0.0.1:7303"
fi

echo "building the session example and the load client (release)..." >&2
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
(cd "$ROOT" && cargo build --release --quiet --example session --features axum,redis)
EXAMPLE_BIN="$TARGET/release/examples/session"
[ -x "$EXAMPLE_BIN" ] || die "no binary at $EXAMPLE_BIN"
CLIENT_BIN=$(cd "$ROOT" && cargo bench --quiet --no-run --bench session_load --features axum,redis \
    --message-format=json | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)
[ -x "$CLIENT_BIN" ] || die "no load client binary (cargo bench --no-run --bench session_load)"

flush

# Starts the example on store $1 (memory, redis, cluster); sets ADDR to its address.
start() {
    local log="$WORK/$1.log" addr=""
    case "$1" in
    memory) env -u REDIS_URL -u REDIS_CLUSTER_NODES ADDR=127.0.0.1:0 JWT_SECRET="$SECRET" \
        JWT_ISSUER=session-rotations "$EXAMPLE_BIN" >/dev/null 2>"$log" & ;;
    redis) env -u REDIS_CLUSTER_NODES ADDR=127.0.0.1:0 JWT_SECRET="$SECRET" \
        JWT_ISSUER=session-rotations REDIS_URL="$STORE_URL" "$EXAMPLE_BIN" >/dev/null 2>"$log" & ;;
    base) env -u REDIS_CLUSTER_NODES ADDR=127.0.0.1:0 JWT_SECRET="$SECRET" \
        JWT_ISSUER=session-rotations REDIS_URL="$STORE_URL" "$BASELINE_BIN" >/dev/null 2>"$log" & ;;
    cluster) env -u REDIS_URL ADDR=127.0.0.1:0 JWT_SECRET="$SECRET" JWT_ISSUER=session-rotations \
        REDIS_CLUSTER_NODES="$REDIS_CLUSTER_NODES" "$EXAMPLE_BIN" >/dev/null 2>"$log" & ;;
    esac
    PIDS+=($!)
    for _ in $(seq 100); do
        addr=$(sed -n 's|^listening on http://\(127\.0\.0\.1:[0-9]*\)\( .*\)\{0,1\}$|\1|p' "$log")
        [ -n "$addr" ] && break
        sleep 0.1
    done
    [ -n "$addr" ] || { cat "$log" >&2; die "the $1 server did not start"; }
    ADDR=$addr
}

STORES="memory redis cluster"
[ -n "${BASELINE_BIN:-}" ] && STORES="memory base redis cluster"
declare -A ADDRS
for store in $STORES; do
    start "$store"
    ADDRS[$store]=$ADDR
done

declare -A RATES
echo "POST /auth/refresh, $CLIENTS clients chaining their own sessions, ${REFRESH_SECS}s per store and round:"
for round in $(seq 1 "$ROUNDS"); do
    line="  round $round:"
    for store in $STORES; do
        out=$(BASE="http://${ADDRS[$store]}" CLIENTS="$CLIENTS" DURATION="$REFRESH_SECS" \
            CLIENT_THREADS="$CLIENT_THREADS" "$CLIENT_BIN")
        rate=$(echo "$out" | sed -n 's|.* = \([0-9]*\)/s .*|\1|p')
        [ -n "$rate" ] || die "no rate in: $out"
        RATES[$store]="${RATES[$store]:-} $rate"
        line="$line $store ${rate}/s"
    done
    echo "$line"
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratios() {
    local -a m=(${RATES[memory]}) s=(${RATES[$1]})
    for i in "${!m[@]}"; do awk -v a="${s[$i]}" -v b="${m[$i]}" 'BEGIN {printf "%.2f ", a / b}'; done
}
for store in $STORES; do
    printf '  %s: median %s rotations/s' "$store" "$(echo "${RATES[$store]}" | median)"
    if [ "$store" != memory ]; then
        r=$(ratios "$store")
        printf '; per-round ratio to memory %s(median %s)' "$r" "$(echo "$r" | median)"
    fi
    echo
done
