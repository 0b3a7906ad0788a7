#!/usr/bin/env bash
# The axum example under load: requests/s of `/public` (no layer), `/me` (through the layer,
# answering the claims as JSON) and `/private` (the handler of `/public` behind the layer), with
# HS256 and ES256, each without and with the verified-token cache, in one run; then, on the
# reference server of benches/load_reference.rs (the example's app plus reference routes), what
# any layer would cost at least: `/handoff` puts fixed claims into the extensions without reading
# a token, `/floor` verifies the HS256 token with the cryptographic floor of the benches, and
# `/handoff/me` and `/floor/me` do the same before the handler of `/me`.
#
#   bash benches/load.sh
#
# It builds the example in release mode, then for each configuration starts a server on
# 127.0.0.1 (an ephemeral port), checks that the token is accepted and that a request without one
# is refused, warms it up, and runs `wrk` on its routes in turns: each round in a shuffled
# order, each figure divided by the `/public` figure of the same round on the same server. The machines switch between fast and slow phases, so rounds of short runs, not
# absolute figures, are compared, and the medians of the per-round ratios are reported. The
# server runs on one core and wrk on the other (see PIN below).
#
# Tokens are minted here with `openssl` (HS256: HMAC-SHA256; ES256: the ECDSA signature converted
# from DER to JWS's fixed-width R || S) from the keys in tests/keys, with the typical claims of
# benches/verify.rs; the server checks `iss` and `aud`.
#
# Settings (environment): ROUNDS (default 25), DURATION (wrk -d, default 1s), THREADS (wrk -t,
# default 1), CONNECTIONS (wrk -c, default 32), PIN (default 1: the server on CPU 1, wrk on CPU 0,
# with taskset; 0: both left to the scheduler). The defaults take about 9 minutes after the
# build. Needs wrk (Debian package `wrk`; installed here when run as root), openssl, perl, curl.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-25}
DURATION=${DURATION:-1s}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-32}

ISSUER="https://issuer.example"
AUDIENCE="api"
# A benchmark value, not a secret: it signs only the tokens of this script.
HS256_SECRET="load-test-secret-of-at-least-32-bytes"
EC_PRIVATE="$ROOT/tests/keys/ec256_private.pem"
EC_PUBLIC="$ROOT/tests/keys/ec256_public.pem"

die() {
    echo "load.sh: $*" >&2
    exit 1
}

# --- Tools ------------------------------------------------------------------------------------

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        echo "installing wrk (Debian package)..." >&2
        apt-get install -y wrk >/dev/null 2>&1 \
            || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; } \
            || die "could not install wrk"
    else
        die "wrk is missing: install it with 'sudo apt-get install -y wrk', then run again"
    fi
fi
for tool in openssl perl curl cargo; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done

# --- Servers ----------------------------------------------------------------------------------

# The server on one core and wrk on another, so that the two do not take turns on the same core
# and the server's throughput is what one core of it serves. PIN=0 leaves both to the scheduler.
SERVER_CPU=()
WRK_CPU=()
if [ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    SERVER_CPU=(taskset -c 1)
    WRK_CPU=(taskset -c 0)
fi

WORK=$(mktemp -d)
SERVER_PID=""

stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}

cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "load.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT TERM

echo "building the axum example and the reference server (release)..." >&2
(cd "$ROOT" && cargo build --release --quiet --example axum --features axum)
EXAMPLE_BIN="$ROOT/target/release/examples/axum"
[ -x "$EXAMPLE_BIN" ] || die "no binary at $EXAMPLE_BIN"
# benches/load_reference.rs: the example's app plus the reference routes. A bench target's
# binary has a hashed name; cargo says which.
REFERENCE_BIN=$(cd "$ROOT" && cargo bench --quiet --no-run --bench load_reference --features axum \
    --message-format=json | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)
[ -x "$REFERENCE_BIN" ] || die "no reference server binary (cargo bench --no-run --bench load_reference)"

# Starts binary $1 with the environment given as the other arguments (NAME=value ...) on an
# ephemeral loopback port; sets SERVER_PID and ADDR.
start_server() {
    local log="$WORK/server.log" bin=$1
    shift
    env -u JWT_SECRET -u JWT_ALGORITHM -u JWT_PUBLIC_KEY -u JWT_CACHE \
        ADDR=127.0.0.1:0 JWT_ISSUER="$ISSUER" JWT_AUDIENCE="$AUDIENCE" LOAD_REFERENCE_SERVE=1 "$@" \
        "${SERVER_CPU[@]}" "$bin" 2>"$log" &
    SERVER_PID=$!
    ADDR=""
    for _ in $(seq 100); do
        ADDR=$(sed -n 's|^listening on http://\(127\.0\.0\.1:[0-9]*\)$|\1|p' "$log")
        [ -n "$ADDR" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; die "the server exited"; }
        sleep 0.1
    done
    [ -n "$ADDR" ] || { cat "$log" >&2; die "the server did not start"; }
}

# --- Tokens -----------------------------------------------------------------------------------

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

NOW=$(date +%s)
HEADER_CLAIMS() {
    local alg=$1
    local header claims
    header=$(printf '{"alg":"%s","typ":"at+jwt","kid":"k1"}' "$alg" | b64url)
    claims=$(printf '{"sub":"user-1234","iss":"%s","aud":"%s","exp":%d,"iat":%d,"nbf":%d,"jti":"4f1c2a9e-7d1b-4c55-9a57-0f3f2b8c1d11","scope":"read write"}' \
        "$ISSUER" "$AUDIENCE" $((NOW + 3600)) "$NOW" "$NOW" | b64url)
    printf '%s.%s' "$header" "$claims"
}

mint_hs256() {
    local input key
    input=$(HEADER_CLAIMS HS256)
    key=$(printf '%s' "$HS256_SECRET" | od -An -tx1 | tr -d ' \n')
    printf '%s.%s' "$input" \
        "$(printf '%s' "$input" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | b64url)"
}

mint_es256() {
    local input der r s
    input=$(HEADER_CLAIMS ES256)
    der="$WORK/sig.der"
    printf '%s' "$input" | openssl dgst -sha256 -sign "$EC_PRIVATE" -binary >"$der"
    # The DER SEQUENCE holds two INTEGERs, r and s: each becomes 32 big-endian bytes.
    { read -r r; read -r s; } < <(openssl asn1parse -inform DER -in "$der" \
        | sed -n 's/.*INTEGER *:\([0-9A-Fa-f]*\)$/\1/p')
    [ -n "$r" ] && [ -n "$s" ] || die "could not read the ECDSA signature"
    printf '%s.%s' "$input" \
        "$(perl -e 'print pack("H*", join "", map { substr(("0" x 64) . $_, -64) } @ARGV)' \
            "$r" "$s" | b64url)"
}

HS256_TOKEN=$(mint_hs256)
ES256_TOKEN=$(mint_es256)

# --- Cases ------------------------------------------------------------------------------------

# One server per configuration; on each, its routes are measured in turns, the first being
# `/public`. The last configuration is the reference server (benches/load_reference.rs):
# `/handoff` only puts fixed claims into the extensions, `/floor` verifies the token with the
# cryptographic floor of benches/support/floor.rs; each also with the handler of `/me`.
CONFIG_NAMES=("HS256" "HS256, cache on" "ES256" "ES256, cache on" "reference, HS256")
CONFIG_TOKENS=("$HS256_TOKEN" "$HS256_TOKEN" "$ES256_TOKEN" "$ES256_TOKEN" "$HS256_TOKEN")
EXAMPLE_ROUTES="/public /me /private"
CONFIG_ROUTES=("$EXAMPLE_ROUTES" "$EXAMPLE_ROUTES" "$EXAMPLE_ROUTES" "$EXAMPLE_ROUTES"
    "/public /handoff /handoff/me /floor /floor/me")

# The server's binary and environment for configuration $1, in SERVER_ARGS.
config_server() {
    case $1 in
        0) SERVER_ARGS=("$EXAMPLE_BIN" "JWT_SECRET=$HS256_SECRET") ;;
        1) SERVER_ARGS=("$EXAMPLE_BIN" "JWT_SECRET=$HS256_SECRET" JWT_CACHE=10000) ;;
        2) SERVER_ARGS=("$EXAMPLE_BIN" JWT_ALGORITHM=ES256 "JWT_PUBLIC_KEY=$EC_PUBLIC") ;;
        3) SERVER_ARGS=("$EXAMPLE_BIN" JWT_ALGORITHM=ES256 "JWT_PUBLIC_KEY=$EC_PUBLIC" JWT_CACHE=10000) ;;
        4) SERVER_ARGS=("$REFERENCE_BIN" "JWT_SECRET=$HS256_SECRET") ;;
    esac
}

# Checks the routes of the running server: every route answers 200 with the token, and the
# layer's routes refuse a request without it.
check_routes() {
    local token=$1 route status
    shift
    for route in "$@"; do
        status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
            "http://$ADDR$route") || status="no answer"
        [ "$status" = 200 ] || die "$route: $status, expected 200"
        case $route in
            /me | /private)
                status=$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR$route") \
                    || status="no answer"
                [ "$status" = 401 ] || die "$route without a token: $status, expected 401"
                ;;
        esac
    done
}

# Runs wrk on route $1 of the running server with token $2; sets RESULT to its requests/s.
run_wrk() {
    local url="http://$ADDR$1" token=$2 out
    local -a auth=(-H "Authorization: Bearer $token")
    out=$("${WRK_CPU[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "${auth[@]}" "$url") \
        || { echo "$out" >&2; die "$1: wrk failed"; }
    if grep -q "Non-2xx" <<<"$out"; then
        echo "$out" >&2
        die "$1: wrk saw answers other than 200"
    fi
    RESULT=$(sed -n 's/^Requests\/sec: *\([0-9.]*\)$/\1/p' <<<"$out")
    [ -n "$RESULT" ] || { echo "$out" >&2; die "$1: no requests/s in wrk's output"; }
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

pinning="both on any core"
[ ${#SERVER_CPU[@]} -gt 0 ] && pinning="server on CPU 1, wrk on CPU 0"
echo "$(nproc) cores ($pinning); wrk -t$THREADS -c$CONNECTIONS -d$DURATION on 127.0.0.1;" \
    "per configuration one server, $ROUNDS rounds of its routes in a shuffled order"
RANDOM=4242
declare -a PUBLIC_RPS
for c in "${!CONFIG_NAMES[@]}"; do
    read -r -a ROUTES <<<"${CONFIG_ROUTES[$c]}"
    config_server "$c"
    start_server "${SERVER_ARGS[@]}"
    check_routes "${CONFIG_TOKENS[$c]}" "${ROUTES[@]}"
    # Warm up (connections, the cache) before the first measured round.
    DURATION_SAVED=$DURATION DURATION=1s
    run_wrk "${ROUTES[1]}" "${CONFIG_TOKENS[$c]}"
    DURATION=$DURATION_SAVED
    for round in $(seq "$ROUNDS"); do
        keyed=()
        for i in "${!ROUTES[@]}"; do keyed+=("$RANDOM $i"); done
        order=$(printf '%s\n' "${keyed[@]}" | sort -n | cut -d' ' -f2)
        declare -a THIS=()
        for i in $order; do
            run_wrk "${ROUTES[$i]}" "${CONFIG_TOKENS[$c]}"
            THIS[$i]=$RESULT
        done
        PUBLIC_RPS+=("${THIS[0]}")
        line="${CONFIG_NAMES[$c]}, round $round:"
        for i in "${!ROUTES[@]}"; do
            [ "$i" = 0 ] && continue
            RPS_LIST="RPS_${c}_${i}"
            RATIO_LIST="RATIO_${c}_${i}"
            printf -v "$RPS_LIST" '%s' "${!RPS_LIST:-}${THIS[$i]} "
            printf -v "$RATIO_LIST" '%s' "${!RATIO_LIST:-}$(awk -v a="${THIS[$i]}" -v b="${THIS[0]}" 'BEGIN { printf "%.3f", a / b }') "
            line+=" ${ROUTES[$i]} $(printf '%.0f' "${THIS[$i]}")"
        done
        echo "$line /public $(printf '%.0f' "${THIS[0]}") (order: $(echo $order))" >&2
    done
    stop_server
done

echo
printf '%-28s %12s %10s   %s\n' "case" "requests/s" "/ /public" "per-round ratios"
printf '%-28s %12.0f %10.3f\n' "/public (all servers)" \
    "$(printf '%s\n' "${PUBLIC_RPS[@]}" | median)" 1
for c in "${!CONFIG_NAMES[@]}"; do
    read -r -a ROUTES <<<"${CONFIG_ROUTES[$c]}"
    for i in "${!ROUTES[@]}"; do
        [ "$i" = 0 ] && continue
        RPS_LIST="RPS_${c}_${i}"
        RATIO_LIST="RATIO_${c}_${i}"
        rps=$(tr ' ' '\n' <<<"${!RPS_LIST}" | grep . | median)
        ratio=$(tr ' ' '\n' <<<"${!RATIO_LIST}" | grep . | median)
        printf '%-28s %12.0f %10.3f   %s\n' "${ROUTES[$i]} ${CONFIG_NAMES[$c]}" "$rps" "$ratio" \
            "${!RATIO_LIST}"
    done
done
echo
echo "requests/s: median over rounds; / /public: median of the per-round ratios to /public on the"
echo "same server. /private has the handler of /public behind the layer; /me answers the claims."
echo "Reference: /handoff hands fixed claims over without reading a token (the most any layer"
echo "that delivers claims can keep); /floor verifies with the cryptographic floor, then hands over."
