#!/usr/bin/env bash
# The `session` example under load, with the in-memory store and with Redis, in one run:
#
# 1. `GET /api/me` (the layer: HS256, then the revocation check in the store) under wrk, the
#    two servers in turns, ROUNDS rounds of DURATION each; the medians of requests/s and of the
#    per-round ratio Redis / memory are reported (the goal: Redis at least 0.9x memory; the
#    Redis store judges revocation from its local view, see the sessions guide).
# 2. Refresh rotations through `POST /auth/refresh` with CLIENTS concurrent clients, each
#    chaining its own session's refresh tokens (benches/session_load.rs; logins happen before
#    the clock starts), for REFRESH_SECS on each server (the goal: at least 5,000/s through
#    Redis).
#
#   REDIS_URL=redis://127.0.0.1:6379 bash benches/session_load.sh
#
# The load client, the servers and redis-server all run on this machine, left to the scheduler
# (no pinning). The example runs with its defaults (no verified-token cache: every request is
# verified and checked), JWT_ISSUER and JWT_SECRET set. The Redis server uses database
# REDIS_DB (default 9) of REDIS_URL; the script deletes the example's `tjwt2:` keys there
# before and after.
#
# With REDIS_CLUSTER_NODES (host:port,...) set, a third server on that Redis Cluster joins part 1
# (each round: memory, Redis, cluster, in turns) and is reported beside them.
#
# Settings (environment): ROUNDS (default 5), DURATION (wrk -d, default 5s), CONNECTIONS (wrk
# -c, default 32), THREADS (wrk -t, default 1), CLIENTS (default 32), REFRESH_SECS (default 10),
# CLIENT_THREADS (the load client's tokio threads, default 1). Needs wrk, curl, redis-cli.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
CLIENTS=${CLIENTS:-32}
REFRESH_SECS=${REFRESH_SECS:-10}
CLIENT_THREADS=${CLIENT_THREADS:-1}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
REDIS_DB=${REDIS_DB:-9}
CLUSTER_NODES=${REDIS_CLUSTER_NODES:-}
# A benchmark value, not a secret: it signs only the tokens of this script.
SECRET="session-load-secret-of-at-least-32-bytes"

die() {
    echo "session_load.sh: $*" >&2
    exit 1
}

for tool in wrk curl redis-cli cargo; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done

WORK=$(mktemp -d)
PIDS=()
STORE_URL="${REDIS_URL%/}/$REDIS_DB"
flush() {
    redis-cli -u "$STORE_URL" --scan --pattern 'tjwt2:*' | xargs -r -n 500 redis-cli -u "$STORE_URL" DEL >/dev/null
}
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    flush || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "building the session example and the load client (release)..." >&2
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
(cd "$ROOT" && cargo build --release --quiet --example session --features axum,redis)
EXAMPLE_BIN="$TARGET/release/examples/session"
[ -x "$EXAMPLE_BIN" ] || die "no binary at $EXAMPLE_BIN"
CLIENT_BIN=$(cd "$ROOT" && cargo bench --quiet --no-run --bench session_load --features axum,redis \
    --message-format=json | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)
[ -x "$CLIENT_BIN" ] || die "no load client binary (cargo bench --no-run --bench session_load)"

flush

# Starts the example ($1: memory or redis); sets ADDR to its address.
start() {
    local log="$WORK/$1.log" addr=""
    if [ "$1" = redis ]; then
        env -u REDIS_CLUSTER_NODES ADDR=127.0.0.1:0 JWT_SECRET="$SECRET" JWT_ISSUER=session-load \
            REDIS_URL="$STORE_URL" "$EXAMPLE_BIN" 2>"$log" &
    elif [ "$1" = cluster ]; then
        env -u REDIS_URL ADDR=127.0.0.1:0 JWT_SECRET="$SECRET" JWT_ISSUER=session-load \
            REDIS_CLUSTER_NODES="$CLUSTER_NODES" "$EXAMPLE_BIN" 2>"$log" &
    else
        env -u REDIS_URL -u REDIS_CLUSTER_NODES ADDR=127.0.0.1:0 JWT_SECRET="$SECRET" \
            JWT_ISSUER=session-load "$EXAMPLE_BIN" 2>"$log" &
    fi
    PIDS+=($!)
    for _ in $(seq 100); do
        addr=$(sed -n 's|^listening on http://\(127\.0\.0\.1:[0-9]*\)\( .*\)\{0,1\}$|\1|p' "$log")
        [ -n "$addr" ] && break
        sleep 0.1
    done
    [ -n "$addr" ] || { cat "$log" >&2; die "the $1 server did not start"; }
    ADDR=$addr
}

login() {
    curl -sf -X POST -H 'content-type: application/json' \
        -d '{"username":"demo","password":"demo-password"}' "http://$1/auth/login" \
        | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}

start memory
MEMORY=$ADDR
start redis
REDIS=$ADDR
MEMORY_TOKEN=$(login "$MEMORY")
REDIS_TOKEN=$(login "$REDIS")
if [ -n "$CLUSTER_NODES" ]; then
    start cluster
    CLUSTER=$ADDR
    CLUSTER_TOKEN=$(login "$CLUSTER")
    : >"$WORK/clu"; : >"$WORK/cratio"
fi
for pair in "$MEMORY $MEMORY_TOKEN" "$REDIS $REDIS_TOKEN"; do
    set -- $pair
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" "http://$1/api/me")" = 200 ] \
        || die "/api/me refused the token on $1"
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$1/api/me")" = 401 ] \
        || die "/api/me let a request without a token in on $1"
done

rps() {
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H "Authorization: Bearer $2" "http://$1/api/me" \
        | awk '/^Requests\/sec:/ {print $2} /Non-2xx/ {print "non-2xx " $0 > "/dev/stderr"}'
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "redis-server: $(redis-server --version 2>/dev/null || echo '?')"
echo "GET /api/me, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds:"
: >"$WORK/mem" ; : >"$WORK/red" ; : >"$WORK/ratio"
rps "$MEMORY" "$MEMORY_TOKEN" >/dev/null # warm-up
rps "$REDIS" "$REDIS_TOKEN" >/dev/null
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then
        m=$(rps "$MEMORY" "$MEMORY_TOKEN"); r=$(rps "$REDIS" "$REDIS_TOKEN")
    else
        r=$(rps "$REDIS" "$REDIS_TOKEN"); m=$(rps "$MEMORY" "$MEMORY_TOKEN")
    fi
    echo "  round $round: memory $m/s, redis $r/s, ratio $(awk -v r="$r" -v m="$m" 'BEGIN {printf "%.2f", r/m}')"
    if [ -n "$CLUSTER_NODES" ]; then
        c=$(rps "$CLUSTER" "$CLUSTER_TOKEN")
        echo "    cluster $c/s, ratio cluster/memory $(awk -v c="$c" -v m="$m" 'BEGIN {printf "%.2f", c/m}')"
        echo "$c" >>"$WORK/clu"
        awk -v c="$c" -v m="$m" 'BEGIN {print c/m}' >>"$WORK/cratio"
    fi
    echo "$m" >>"$WORK/mem"; echo "$r" >>"$WORK/red"
    awk -v r="$r" -v m="$m" 'BEGIN {print r/m}' >>"$WORK/ratio"
done
echo "  median: memory $(median <"$WORK/mem")/s, redis $(median <"$WORK/red")/s, ratio redis/memory $(median <"$WORK/ratio" | awk '{printf "%.2f", $1}')"
if [ -n "$CLUSTER_NODES" ]; then
    echo "  median: cluster $(median <"$WORK/clu")/s, ratio cluster/memory $(median <"$WORK/cratio" | awk '{printf "%.2f", $1}')"
fi

# Where the two cores go during one more wrk run on each server: CPU seconds of the server, of
# redis-server and of wrk (utime + stime from /proc/<pid>/stat), per 1,000 requests.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
REDIS_PID=$(redis-cli -u "$STORE_URL" INFO server | tr -d '\r' | sed -n 's/^process_id://p')
echo "CPU during one more wrk run (ms of CPU per 1,000 requests):"
for store in memory redis; do
    if [ "$store" = memory ]; then addr=$MEMORY token=$MEMORY_TOKEN pid=${PIDS[0]}; else addr=$REDIS token=$REDIS_TOKEN pid=${PIDS[1]}; fi
    s0=$(ticks "$pid"); r0=$(ticks "$REDIS_PID")
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H "Authorization: Bearer $token" "http://$addr/api/me")
    s1=$(ticks "$pid"); r1=$(ticks "$REDIS_PID")
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    rate=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
    secs=${DURATION%s}
    awk -v s=$((s1 - s0)) -v r=$((r1 - r0)) -v n="$requests" -v hz="$HZ" -v rate="$rate" -v secs="$secs" -v st="$store" 'BEGIN {
        printf "  %s: %s/s; server %.1f ms, redis-server %.1f ms; wrk and the rest %.1f ms (of %.1f ms of the 2 cores)\n",
            st, rate, s / hz * 1e6 / n, r / hz * 1e6 / n, (2 * secs - (s + r) / hz) * 1e6 / n, 2 * secs * 1e6 / n }'
done

echo "POST /auth/refresh, $CLIENTS clients chaining their own sessions, ${REFRESH_SECS}s:"
for store in redis memory; do
    addr=$MEMORY
    [ "$store" = redis ] && addr=$REDIS
    printf '  %s: ' "$store"
    BASE="http://$addr" CLIENTS="$CLIENTS" DURATION="$REFRESH_SECS" CLIENT_THREADS="$CLIENT_THREADS" "$CLIENT_BIN"
done
