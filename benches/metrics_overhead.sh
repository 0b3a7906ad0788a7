#!/usr/bin/env bash
# The layer (HS256) without the feature `metrics` against the layer with it and the Prometheus
# recorder installed: builds benches/metrics_overhead.rs twice (`--features jwks` and
# `--features jwks,metrics`), runs the two binaries in alternation RUNS times (default 5), and
# prints the medians of their `uncached` and `cached` times and the ratios. Each run of the
# feature-on binary also prints its in-binary ratio (recorder installed / no recorder).
#
#   benches/metrics_overhead.sh            # RUNS=5 ROUNDS=61
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
export ROUNDS=${ROUNDS:-61}

build() {
    cargo bench --bench metrics_overhead --no-run --features "$1" 2>&1 |
        sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1
}
off=$(build jwks)
on=$(build jwks,metrics)
[ -x "$off" ] && [ -x "$on" ] || { echo "build failed" >&2; exit 1; }

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq "$RUNS"); do
    "$off" > "$tmp/off.$i"
    "$on" > "$tmp/on.$i"
    grep -h "recorded / bare" "$tmp/on.$i"
done
pick() { cat "$tmp"/$1.* | sed -n "s/^$2 //p" | median; }
off_u=$(pick off "bare uncached"); off_c=$(pick off "bare cached")
on_u=$(pick on "recorded uncached"); on_c=$(pick on "recorded cached")
bare_u=$(pick on "bare uncached"); bare_c=$(pick on "bare cached")
echo "feature off: uncached $off_u ns, cached $off_c ns (medians of $RUNS runs)"
echo "feature on, no recorder: uncached $bare_u ns, cached $bare_c ns"
echo "feature on, recorder installed: uncached $on_u ns, cached $on_c ns"
awk -v a="$on_u" -v b="$off_u" -v c="$on_c" -v d="$off_c" \
    'BEGIN { printf "on / off: uncached %.3f (goal <= 1.05), cached %.3f (goal <= 1.10)\n", a/b, c/d }'
