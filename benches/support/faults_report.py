#!/usr/bin/env python3
"""The report of benches/faults.sh, from the logs of one run in DIR.

    faults_report.py DIR

Reads DIR/events (`<ms> <phase that starts>`, the last one `end`), the wrk logs
DIR/wrk-<target>.log.<thread> (benches/support/faults.lua), wrk's own output DIR/wrk-<target>.out
and DIR/probe.log (benches/support/faults_probe.py). Exits 1 when a goal fails.
"""

import collections
import glob
import os
import re
import sys

# The 503s the crate documents (README "Errors"; the endpoints' table): a store or a key source
# that cannot answer.
DOCUMENTED_503 = {"revocation_unavailable", "key_source_unavailable", "session_store_unavailable"}
# Refusals of a legitimate token that a documented rule demands, with the rule.
RULES = {
    ("rotated", 403, "unknown_key"):
        "unknown_key: the kid is not in the key set fetched successfully last, and the "
        "cooldown (30 s) since the last fetch a request started forbids another "
        "(src/keys/jwks/mod.rs)",
}
# The faults: (name, phase during which it lasts, phase that starts when it ends, targets
# whose recovery is measured).
FAULTS = [
    ("Redis CLIENT PAUSE", "redis-paused", "after-pause", ["session-a", "session-b", "logout"]),
    ("Redis killed", "redis-down", "after-restart", ["session-a", "session-b", "logout"]),
    ("JWKS slow (5 s)", "jwks-slow", "jwks-down", ["jwks", "rotated rot-slow"]),
    ("JWKS unreachable", "jwks-down", "jwks-back", ["jwks", "rotated rot-down"]),
]
WRK_TARGETS = ["session-a", "session-b", "jwks"]


def main(directory):
    events = []
    with open(os.path.join(directory, "events")) as f:
        for line in f:
            t, name = line.split()
            events.append((int(t), name))
    phases = [(name, t, events[i + 1][0]) for i, (t, name) in enumerate(events[:-1])]
    start, end = events[0][0], events[-1][0]
    phase_start = {name: t for name, t, _ in phases}

    def phase_of(t):
        for name, a, b in phases:
            if a <= t < b:
                return name
        return None

    # (t, source, status, reason, item); source: a wrk target, `logout`, `revoked`, `rotated`.
    answers = []
    for target in WRK_TARGETS:
        for path in glob.glob(os.path.join(directory, f"wrk-{target}.log.*")):
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 5:
                        answers.append((int(parts[0]), target, int(parts[1]), parts[2], parts[3],
                                        int(parts[4])))
    probe_path = os.path.join(directory, "probe.log")
    logouts = {}  # session index -> time of its 204
    with open(probe_path) as f:
        for line in f:
            t, kind, target, status, reason, item, took = line.split()
            t, status, took = int(t), int(status), int(took)
            if kind == "logout":
                answers.append((t, "logout", status, reason, target, took))
                if status == 204:
                    logouts[item] = t
            elif kind == "revoked":
                answers.append((t, "revoked", status, reason, f"{target}:{item}", took))
            else:
                answers.append((t, "rotated", status, reason, item, took))
    answers.sort()

    sources = WRK_TARGETS + ["logout", "revoked", "rotated"]
    labels = {
        "session-a": "session A, GET /api/me (wrk)",
        "session-b": "session B, GET /api/me (wrk)",
        "jwks": "jwks, GET /me (wrk)",
        "logout": "POST /auth/logout (A and B in turns)",
        "revoked": "revoked tokens, GET /api/me on A and B",
        "rotated": "jwks, GET /me with a rotated key's token",
    }
    by_phase = collections.defaultdict(collections.Counter)
    slowest = collections.defaultdict(int)  # (phase, source) -> ms
    bad_5xx, revoked_ok, legit_refused, rule_refused = [], [], [], collections.Counter()
    for t, source, status, reason, item, took in answers:
        if not start <= t < end:
            continue
        phase = phase_of(t)
        for p in (phase, "total"):
            slowest[(p, source)] = max(slowest[(p, source)], took)
        key = f"{status}" if reason == "-" else f"{status} {reason}"
        by_phase[phase][(source, key)] += 1
        by_phase["total"][(source, key)] += 1
        if status >= 500 and not (status == 503 and reason in DOCUMENTED_503):
            bad_5xx.append((t, phase, source, status, reason, item))
        if source == "revoked" and 200 <= status < 300:
            revoked_ok.append((t, phase, item))
        if source != "revoked" and status in (401, 403):
            rule = RULES.get((source, status, reason))
            if rule:
                rule_refused[(phase, rule)] += 1
            else:
                legit_refused.append((t, phase, source, status, reason, item))

    # wrk's own errors: no answer at all (connect, read, write, timeout).
    socket_errors = {}
    for target in WRK_TARGETS:
        path = os.path.join(directory, f"wrk-{target}.out")
        text = open(path).read() if os.path.exists(path) else ""
        m = re.search(r"Socket errors: (.*)", text)
        socket_errors[target] = m.group(1).strip() if m else "none"

    def secs(ms):
        return f"{ms / 1000:.1f}"

    print(f"run: {secs(end - start)} s of load; phases (s from the start of the load; each "
          "fault's start and end as the script caused them):")
    for name, a, b in phases:
        print(f"  {name:<14} {secs(a - start):>6} .. {secs(b - start):>6}")
    print()
    print("answers by status (status and reason), per phase:")
    for name in [p[0] for p in phases] + ["total"]:
        print(f"  {name}:")
        for source in sources:
            counts = [(k, n) for (s, k), n in by_phase[name].items() if s == source]
            if not counts:
                continue
            counts.sort(key=lambda kn: (kn[0].split()[0] != "200" and kn[0] != "204", kn[0]))
            line = ", ".join(f"{k}: {n}" for k, n in counts)
            print(f"    {labels[source]:<42} {line}; slowest {slowest[(name, source)]} ms")
    print()
    print("wrk socket errors (requests without an answer): "
          + "; ".join(f"{t}: {socket_errors[t]}" for t in WRK_TARGETS))
    print()

    print("recovery (the first 200, or 204 for a logout, after the fault ended):")
    for name, during, after, targets in FAULTS:
        if during not in phase_start or after not in phase_start:
            continue
        fault_start, fault_end = phase_start[during], phase_start[after]
        parts = []
        for target in targets:
            source, _, kid = target.partition(" ")
            relevant = [a for a in answers if a[1] == source and (not kid or a[4] == kid)]
            ok = 204 if source == "logout" else 200
            first = next((a for a in relevant if a[0] >= fault_end and a[2] == ok), None)
            failed = sum(1 for a in relevant
                         if fault_start <= a[0] < (first[0] if first else end) and a[2] != ok)
            when = f"{first[0] - fault_end} ms" if first else "never"
            parts.append(f"{target} {when} ({failed} answers other than {ok} since the fault began)")
        print(f"  {name}: " + "; ".join(parts))
    print()

    documented = sum(n for (s, k), n in by_phase["total"].items()
                     if k.startswith("503 ") and k[4:] in DOCUMENTED_503)
    print(f"documented 503s (revocation, session store or key source unavailable): {documented}")
    print(f"5xx other than the documented 503s: {len(bad_5xx)} (goal 0)")
    for t, phase, source, status, reason, item in bad_5xx[:20]:
        print(f"    {secs(t - start)} s {phase} {source} {status} {reason} {item}")
    revoked_probes = sum(n for (s, k), n in by_phase["total"].items() if s == "revoked")
    print(f"revoked tokens accepted: {len(revoked_ok)} of {revoked_probes} probes of "
          f"{len(logouts)} tokens logged out (goal 0)")
    for t, phase, item in revoked_ok[:20]:
        print(f"    {secs(t - start)} s {phase} {item}")
    print(f"legitimate requests refused with 401/403: {len(legit_refused)} (goal 0)")
    for t, phase, source, status, reason, item in legit_refused[:20]:
        print(f"    {secs(t - start)} s {phase} {source} {status} {reason} {item}")
    print(f"refused by a documented rule (counted apart): {sum(rule_refused.values())}")
    for (phase, rule), n in sorted(rule_refused.items()):
        print(f"    {n} in {phase}: {rule}")
    failed = bool(bad_5xx or revoked_ok or legit_refused)
    print("goals:", "FAILED" if failed else "all met")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
