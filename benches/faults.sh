#!/usr/bin/env bash
# Faults under load: what clients see while Redis and the identity provider fail.
#
#   bash benches/faults.sh
#
# Starts, all on 127.0.0.1:
# - a redis-server of its own on REDIS_PORT (default 6391; never 6379), AOF on
#   (`--appendonly yes --appendfsync always`) in a temporary directory;
# - two `session` example instances (A and B) sharing that Redis and one JWT_SECRET;
# - a JWKS server (benches/support/faults_jwks.py) publishing keys built from tests/keys, and the
#   `jwks` example verifying tokens against it.
# Then it puts the three under steady wrk load (benches/support/faults.lua: 2 connections each,
# a DELAY_MS pause before each request, rotating through valid tokens: session tokens from real
# logins on both instances for A and B, ES256, RS256 and EdDSA tokens for jwks) and, meanwhile,
# in order (seconds from the start of the load):
#
#     0  baseline
#    20  Redis `CLIENT PAUSE 5000 ALL`                      phase redis-paused
#    25  the pause ends                                     phase after-pause
#    40  Redis killed (SIGKILL)                             phase redis-down
#    45  Redis restarted on the same port and AOF directory  phase after-restart
#    60  the JWKS server answers after 5 s, and publishes a new key `rot-slow`    jwks-slow
#    80  the JWKS server is stopped (connections refused); its set, when back, has
#        another new key `rot-down`, whose tokens are in use from now on        jwks-down
#   110  the JWKS server is back                            phase jwks-back
#   140  end
#
# During all of it benches/support/faults_probe.py logs sessions out through `/auth/logout` (one
# every REVOKE_EVERY seconds, on A and B in turns) and, from each logout's 204 on, sends each
# revoked access token to `/api/me` on both instances (at once, then in rounds every 0.5 s); and
# once a second it sends a token of each rotated key in use to the jwks example.
#
# The report (benches/support/faults_report.py) gives, per phase and in total, the answers by
# status and reason; the 5xx other than the documented 503s (goal 0); the revoked tokens
# accepted (goal 0); the legitimate requests refused with 401 or 403 (goal 0), with the
# refusals a documented rule demands counted apart and the rule named; and, per fault, the time
# from its end to the first 200 (204 for logouts). The script exits 1 when a goal fails.
#
# Settings (environment): REDIS_PORT (default 6391), DELAY_MS (default 5), REVOKE_EVERY
# (default 3), KEEP=1 (keep the logs in the temporary directory and print its path). About 3
# minutes after the build. Needs, as root on Debian, installs when missing: wrk, redis-server,
# python3-cryptography; and curl, python3, cargo.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUPPORT="$ROOT/benches/support"
REDIS_PORT=${REDIS_PORT:-6391}
DELAY_MS=${DELAY_MS:-5}
REVOKE_EVERY=${REVOKE_EVERY:-3}
# Benchmark values, not secrets: they sign only the tokens of this script.
SECRET="faults-bench-secret-of-at-least-32-bytes"
ISSUER="faults-bench"
JWKS_ISSUER="https://idp.faults.example"
JWKS_AUDIENCE="faults-api"
WRK_SESSIONS=8
REVOKE_SESSIONS=60
# The phases: seconds each lasts.
BASELINE=20 PAUSED=5 AFTER_PAUSE=15 DOWN=5 AFTER_RESTART=15 SLOW=20 JWKS_DOWN=30 JWKS_BACK=30
LOAD_SECS=$((BASELINE + PAUSED + AFTER_PAUSE + DOWN + AFTER_RESTART + SLOW + JWKS_DOWN + JWKS_BACK))

die() {
    echo "faults.sh: $*" >&2
    exit 1
}

[ "$REDIS_PORT" != 6379 ] || die "REDIS_PORT must not be 6379: this script uses a Redis of its own"

# --- Tools ------------------------------------------------------------------------------------

apt_install() {
    [ "$(id -u)" = 0 ] || die "$1 is missing: install the Debian package $2, then run again"
    echo "installing $2 (Debian package)..." >&2
    apt-get install -y "$2" >/dev/null 2>&1 \
        || { apt-get update >/dev/null && apt-get install -y "$2" >/dev/null; } \
        || die "could not install $2"
}
command -v wrk >/dev/null || apt_install wrk wrk
command -v redis-server >/dev/null || apt_install redis-server redis-server
command -v redis-cli >/dev/null || apt_install redis-cli redis-tools
for tool in curl python3 cargo; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done
python3 -c 'import cryptography' 2>/dev/null || apt_install "python3 cryptography" python3-cryptography

# --- Processes and cleanup ----------------------------------------------------------------------

WORK=$(mktemp -d)
mkdir "$WORK/redis" "$WORK/idp"
REDIS_PID="" JWKS_SERVER_PID=""
PIDS=()

stop() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop "$pid"; done
    stop "$JWKS_SERVER_PID"
    stop "$REDIS_PID"
    if [ "${KEEP:-0}" = 1 ]; then
        echo "logs kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'echo "faults.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT TERM

echo "building the session and jwks examples (release)..." >&2
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
(cd "$ROOT" && cargo build --release --quiet --example session --example jwks --features axum,redis,jwks)
SESSION_BIN="$TARGET/release/examples/session"
JWKS_BIN="$TARGET/release/examples/jwks"
[ -x "$SESSION_BIN" ] && [ -x "$JWKS_BIN" ] || die "no example binaries in $TARGET/release/examples"

# --- Redis ------------------------------------------------------------------------------------

redis() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

if redis PING >/dev/null 2>&1 || (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null; then
    die "127.0.0.1:$REDIS_PORT is in use: set REDIS_PORT to a free port"
fi

start_redis() {
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$WORK/redis" \
        --appendonly yes --appendfsync always --save "" --maxmemory-policy noeviction \
        --daemonize no --logfile "$WORK/redis.log" &
    REDIS_PID=$!
    for _ in $(seq 100); do
        [ "$(redis PING 2>/dev/null)" = PONG ] && return 0
        kill -0 "$REDIS_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK/redis.log" >&2
    die "redis-server did not start on 127.0.0.1:$REDIS_PORT"
}

# --- The identity provider ----------------------------------------------------------------------

python3 "$SUPPORT/faults_jwks.py" setup "$WORK/idp" "$JWKS_ISSUER" "$JWKS_AUDIENCE"
cp "$WORK/idp/jwks-0.json" "$WORK/idp/current.json"
JWKS_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

start_jwks_server() {
    python3 "$SUPPORT/faults_jwks.py" serve "$JWKS_PORT" "$WORK/idp" 2>>"$WORK/jwks-server.log" &
    JWKS_SERVER_PID=$!
    for _ in $(seq 100); do
        curl -sf -o /dev/null "http://127.0.0.1:$JWKS_PORT/jwks.json" && return 0
        kill -0 "$JWKS_SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK/jwks-server.log" >&2
    die "the JWKS server did not start on 127.0.0.1:$JWKS_PORT"
}

# --- The examples -------------------------------------------------------------------------------

# Starts a binary ($2) with the environment given as the other arguments; $1 names its log. Sets
# ADDR from its `listening on` line.
start_example() {
    local name=$1 bin=$2 log="$WORK/$1.log" addr=""
    shift 2
    env ADDR=127.0.0.1:0 "$@" "$bin" 2>"$log" &
    PIDS+=($!)
    for _ in $(seq 100); do
        addr=$(sed -n 's|^listening on http://\(127\.0\.0\.1:[0-9]*\)[ ,].*$|\1|p' "$log")
        [ -n "$addr" ] && break
        kill -0 "${PIDS[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$addr" ] || { cat "$log" >&2; die "the $name example did not start"; }
    ADDR=$addr
}

start_redis
start_jwks_server
SESSION_ENV=(JWT_SECRET="$SECRET" JWT_ISSUER="$ISSUER" REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
    ACCESS_TTL_SECS=1800)
start_example session-a "$SESSION_BIN" "${SESSION_ENV[@]}"
A=$ADDR
start_example session-b "$SESSION_BIN" "${SESSION_ENV[@]}"
B=$ADDR
start_example jwks "$JWKS_BIN" JWKS_URL="http://127.0.0.1:$JWKS_PORT/jwks.json" \
    JWT_ISSUER="$JWKS_ISSUER" JWT_AUDIENCE="$JWKS_AUDIENCE"
J=$ADDR
grep -q '^keys loaded' "$WORK/jwks.log" || { cat "$WORK/jwks.log" >&2; die "the jwks example has no keys"; }

echo "logging in $((WRK_SESSIONS + REVOKE_SESSIONS)) sessions..." >&2
python3 "$SUPPORT/faults_probe.py" login "$A" "$B" "$WRK_SESSIONS" "$WORK/wrk-sessions"
python3 "$SUPPORT/faults_probe.py" login "$A" "$B" "$REVOKE_SESSIONS" "$WORK/revoke-sessions"
cut -d' ' -f2 "$WORK/wrk-sessions" >"$WORK/session-tokens"

status() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" || true; }
while read -r token; do
    for addr in "$A" "$B"; do
        [ "$(status -H "Authorization: Bearer $token" "http://$addr/api/me")" = 200 ] \
            || die "a session token is refused on $addr"
    done
done <"$WORK/session-tokens"
while read -r token; do
    [ "$(status -H "Authorization: Bearer $token" "http://$J/me")" = 200 ] \
        || die "a jwks token is refused"
done <"$WORK/idp/tokens.txt"
for url in "http://$A/api/me" "http://$B/api/me" "http://$J/me"; do
    [ "$(status "$url")" = 401 ] || die "$url let a request without a token in"
done

# --- Load and faults ----------------------------------------------------------------------------

event() { echo "$(date +%s%3N) $1" >>"$WORK/events"; }

load() {
    local name=$1 url=$2 tokens=$3
    FAULTS_TOKENS=$tokens FAULTS_PATH="/${url#http://*/}" FAULTS_OUT="$WORK/wrk-$name.log" \
        FAULTS_DELAY_MS=$DELAY_MS \
        wrk -t2 -c2 -d"$((LOAD_SECS + 2))s" --timeout 30s -s "$SUPPORT/faults.lua" "$url" \
        >"$WORK/wrk-$name.out" 2>&1 &
    PIDS+=($!)
}

echo "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on 127.0.0.1:$REDIS_PORT" \
    "(AOF, appendfsync always); session A $A, session B $B; jwks $J with the JWKS server on" \
    "127.0.0.1:$JWKS_PORT; wrk -t2 -c2, ${DELAY_MS} ms between requests of a connection;" \
    "a logout every ${REVOKE_EVERY} s; $(nproc) cores, nothing pinned"
event baseline
load session-a "http://$A/api/me" "$WORK/session-tokens"
load session-b "http://$B/api/me" "$WORK/session-tokens"
load jwks "http://$J/me" "$WORK/idp/tokens.txt"
python3 "$SUPPORT/faults_probe.py" run "$A" "$B" "$J" "$WORK/idp" "$WORK/probe.log" "$LOAD_SECS" \
    "$REVOKE_EVERY" "$WORK/revoke-sessions" 2>"$WORK/probe.err" &
PROBE_PID=$!
PIDS+=($PROBE_PID)

echo "load for ${LOAD_SECS} s: baseline" >&2
sleep "$BASELINE"
# Each event is written when the fault starts or ends: before the command that makes it.
event redis-paused
[ "$(redis CLIENT PAUSE $((PAUSED * 1000)) ALL)" = OK ] || die "CLIENT PAUSE failed"
echo "Redis paused" >&2
sleep "$PAUSED"
event after-pause
sleep "$AFTER_PAUSE"
event redis-down
kill -KILL "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null || true
REDIS_PID=""
echo "Redis killed" >&2
sleep "$DOWN"
# The fault ends when the new redis-server starts (it then loads the AOF).
event after-restart
start_redis
echo "Redis restarted" >&2
sleep "$AFTER_RESTART"
event jwks-slow
touch "$WORK/idp/slow"
cp "$WORK/idp/jwks-1.json" "$WORK/idp/current.json.new"
mv "$WORK/idp/current.json.new" "$WORK/idp/current.json"
touch "$WORK/idp/rot-slow.active"
echo "JWKS server slow" >&2
sleep "$SLOW"
event jwks-down
stop "$JWKS_SERVER_PID"
JWKS_SERVER_PID=""
rm -f "$WORK/idp/slow"
cp "$WORK/idp/jwks-2.json" "$WORK/idp/current.json.new"
mv "$WORK/idp/current.json.new" "$WORK/idp/current.json"
touch "$WORK/idp/rot-down.active"
echo "JWKS server unreachable" >&2
sleep "$JWKS_DOWN"
event jwks-back
start_jwks_server
echo "JWKS server back" >&2
sleep "$JWKS_BACK"
event end

# wrk runs 2 s longer than the load, the probes stop by themselves; bounded waits.
for pid in "${PIDS[@]:3}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
done
wait "$PROBE_PID" 2>/dev/null || true
if [ -s "$WORK/probe.err" ]; then
    echo "probe errors:" >&2
    cat "$WORK/probe.err" >&2
fi
echo
rc=0
python3 "$SUPPORT/faults_report.py" "$WORK" || rc=$?
exit "$rc"
