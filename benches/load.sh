#!/usr/bin/env bash
# The axum example under load: requests/s of `/public` (no layer) and of `/me` (through the layer)
# with HS256 and ES256, each without and with the verified-token cache, in one run.
#
#   bash benches/load.sh
#
# It builds the example in release mode, then for each round starts, for each case in a shuffled
# order, a fresh server on 127.0.0.1 (an ephemeral port), checks that the token is accepted and
# that a request without one is refused, runs `wrk` against it for a bounded time, and stops it.
# Each `/me` figure is divided by the `/public` figure of the same round (the machines switch
# between fast and slow phases, so rounds, not absolute figures, are compared), and the medians
# are reported. wrk and the server share the machine's cores.
#
# Tokens are minted here with `openssl` (HS256: HMAC-SHA256; ES256: the ECDSA signature converted
# from DER to JWS's fixed-width R || S) from the keys in tests/keys, with the typical claims of
# benches/verify.rs; the server checks `iss` and `aud`.
#
# Settings (environment): ROUNDS (default 5), DURATION (wrk -d, default 5s), THREADS (wrk -t,
# default 2), CONNECTIONS (wrk -c, default 32). The defaults take about 2.5 minutes after the
# build. Needs wrk (Debian package `wrk`; installed here when run as root), openssl, perl, curl.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
THREADS=${THREADS:-2}
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

echo "building the axum example (release)..." >&2
(cd "$ROOT" && cargo build --release --quiet --example axum --features axum)
BIN="$ROOT/target/release/examples/axum"
[ -x "$BIN" ] || die "no binary at $BIN"

# Starts the example with the environment given as arguments (NAME=value ...) on an ephemeral
# loopback port; sets SERVER_PID and ADDR.
start_server() {
    local log="$WORK/server.log"
    env -u JWT_SECRET -u JWT_ALGORITHM -u JWT_PUBLIC_KEY -u JWT_CACHE \
        ADDR=127.0.0.1:0 JWT_ISSUER="$ISSUER" JWT_AUDIENCE="$AUDIENCE" "$@" \
        "$BIN" 2>"$log" &
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

CASE_NAMES=("/public" "/me HS256" "/me HS256 cached" "/me ES256" "/me ES256 cached")
CASE_PATHS=(/public /me /me /me /me)
CASE_TOKENS=("" "$HS256_TOKEN" "$HS256_TOKEN" "$ES256_TOKEN" "$ES256_TOKEN")

# The server's environment for case $1, in ENV_ARGS.
case_env() {
    case $1 in
        0 | 1) ENV_ARGS=("JWT_SECRET=$HS256_SECRET") ;;
        2) ENV_ARGS=("JWT_SECRET=$HS256_SECRET" JWT_CACHE=10000) ;;
        3) ENV_ARGS=(JWT_ALGORITHM=ES256 "JWT_PUBLIC_KEY=$EC_PUBLIC") ;;
        4) ENV_ARGS=(JWT_ALGORITHM=ES256 "JWT_PUBLIC_KEY=$EC_PUBLIC" JWT_CACHE=10000) ;;
    esac
}

# Runs case $1 on a fresh server; sets RESULT to its requests/s. (Not in a subshell, so that
# the trap stops the server whatever happens.)
run_case() {
    local name=${CASE_NAMES[$1]} url token=${CASE_TOKENS[$1]} status out
    case_env "$1"
    start_server "${ENV_ARGS[@]}"
    url="http://$ADDR${CASE_PATHS[$1]}"
    local -a auth=()
    if [ -n "$token" ]; then
        auth=(-H "Authorization: Bearer $token")
        # The layer is there: a request without the token is refused.
        status=$(curl -s -o /dev/null -w '%{http_code}' "$url") || status="no answer"
        [ "$status" = 401 ] || die "$name: without a token: $status, expected 401"
    fi
    status=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$url") || status="no answer"
    [ "$status" = 200 ] || die "$name: $status, expected 200"
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "${auth[@]}" "$url") \
        || { echo "$out" >&2; die "$name: wrk failed"; }
    stop_server
    if grep -q "Non-2xx" <<<"$out"; then
        echo "$out" >&2
        die "$name: wrk saw answers other than 200"
    fi
    RESULT=$(sed -n 's/^Requests\/sec: *\([0-9.]*\)$/\1/p' <<<"$out")
    [ -n "$RESULT" ] || { echo "$out" >&2; die "$name: no requests/s in wrk's output"; }
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "$(nproc) cores; wrk -t$THREADS -c$CONNECTIONS -d$DURATION on 127.0.0.1; $ROUNDS rounds," \
    "cases shuffled per round, a fresh server per case"
RANDOM=4242
declare -a RPS RATIO THIS
for round in $(seq "$ROUNDS"); do
    # A shuffled order, drawn here (not in a subshell, whose RANDOM would repeat).
    keyed=()
    for i in "${!CASE_NAMES[@]}"; do keyed+=("$RANDOM $i"); done
    order=$(printf '%s\n' "${keyed[@]}" | sort -n | cut -d' ' -f2)
    for i in $order; do
        run_case "$i"
        THIS[$i]=$RESULT
    done
    line="round $round:"
    for i in "${!CASE_NAMES[@]}"; do
        RPS[$i]+="${THIS[$i]} "
        RATIO[$i]+="$(awk -v a="${THIS[$i]}" -v b="${THIS[0]}" 'BEGIN { printf "%.3f", a / b }') "
        line+=" ${CASE_NAMES[$i]} $(printf '%.0f' "${THIS[$i]}")"
    done
    echo "$line (order: $(echo $order))" >&2
done

echo
printf '%-18s %12s %10s   %s\n' "case" "requests/s" "/ /public" "per-round ratios"
for i in "${!CASE_NAMES[@]}"; do
    name=${CASE_NAMES[$i]}
    rps=$(tr ' ' '\n' <<<"${RPS[$i]}" | grep . | median)
    ratio=$(tr ' ' '\n' <<<"${RATIO[$i]}" | grep . | median)
    printf '%-18s %12.0f %10.3f   %s\n' "$name" "$rps" "$ratio" "${RATIO[$i]}"
done
echo
echo "requests/s: median over rounds; / /public: median of the per-round ratios to /public"
