#!/usr/bin/env python3
"""Logins, logouts and probes of benches/faults.sh, with standard-library HTTP only.

    faults_probe.py login A B COUNT OUT
        COUNT logins of the demo user, alternating between the session instances at A and B
        (host:port); OUT gets one line per session: `<instance index> <access token>`.

    faults_probe.py run A B JWKS DIR LOG SECONDS REVOKE_EVERY SESSIONS
        For SECONDS seconds (then it stops, whatever happens):
        - every REVOKE_EVERY seconds, logs out the next session of the file SESSIONS through
          `POST /auth/logout` (bearer), on A and B in turns; a logout that is not answered 204
          is tried again every 0.25 s (at most 200 tries in all);
        - from a logout's 204 on, sends that access token to `GET /api/me` on both instances:
          at once, then (in a thread of its own) every revoked token on each instance, in
          rounds at least PROBE_PERIOD (0.5 s) apart;
        - in a thread of its own, once a second, sends the token DIR/<kid>.token of each rotated
          key whose file DIR/<kid>.active exists to `GET /me` of the jwks example at JWKS (a
          request may wait for a key set fetch, up to 21 s).
        Log lines in LOG: `<ms since the epoch> <kind> <target> <status> <reason> <item> <ms
        the answer took>`, kind `logout`, `revoked` or `rotated`; status 0 when no answer came
        (the reason then says why).
"""

import http.client
import json
import os
import sys
import threading
import time

PROBE_PERIOD = 0.5
TIMEOUT = 30
LOGIN_BODY = json.dumps({"username": "demo", "password": "demo-password"})


def now_ms() -> int:
    return int(time.time() * 1000)


class Client:
    """One keep-alive connection to one server; reconnects after any failure."""

    def __init__(self, addr: str):
        self.host, port = addr.rsplit(":", 1)
        self.port = int(port)
        self.conn = None

    def request(self, method: str, path: str, headers=None, body=None):
        """`(status, reason, body)`; status 0 and the error's name when no answer came."""
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as error:
                self.conn.close()
                self.conn = None
                # A kept-alive connection the server closed meanwhile: once more, fresh.
                if attempt == 0 and isinstance(error, (http.client.RemoteDisconnected,
                                                       BrokenPipeError, ConnectionResetError)):
                    continue
                return 0, type(error).__name__, b""
            reason = "-"
            if response.status != 200 and data:
                try:
                    reason = json.loads(data).get("reason", "-")
                except (ValueError, AttributeError):
                    reason = "-"
            if response.getheader("connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return response.status, reason, data
        return 0, "retry", b""


def login(a: str, b: str, count: int, out: str) -> None:
    clients = [Client(a), Client(b)]
    lines = []
    for i in range(count):
        status, reason, data = clients[i % 2].request(
            "POST", "/auth/login", {"content-type": "application/json"}, LOGIN_BODY)
        if status != 200:
            sys.exit(f"login {i} on instance {i % 2}: {status} {reason}")
        lines.append(f"{i % 2} {json.loads(data)['access_token']}\n")
    with open(out, "w") as f:
        f.writelines(lines)


def run(a: str, b: str, jwks: str, directory: str, log_path: str, seconds: float,
        revoke_every: float, sessions_file: str) -> None:
    deadline = time.monotonic() + seconds
    log = open(log_path, "w", buffering=1)
    lock = threading.Lock()

    def write(kind, target, status, reason, item, sent_ms):
        with lock:
            t = now_ms()
            log.write(f"{t} {kind} {target} {status} {reason} {item} {t - sent_ms}\n")

    def rotated():
        client = Client(jwks)
        while time.monotonic() < deadline:
            started = time.monotonic()
            for kid in ("rot-slow", "rot-down"):
                if not os.path.exists(os.path.join(directory, f"{kid}.active")):
                    continue
                with open(os.path.join(directory, f"{kid}.token")) as f:
                    token = f.read().strip()
                sent = now_ms()
                status, reason, _ = client.request("GET", "/me",
                                                   {"authorization": f"Bearer {token}"})
                write("rotated", "jwks", status, reason, kid, sent)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

    threads = [threading.Thread(target=rotated, daemon=True)]

    with open(sessions_file) as f:
        sessions = [line.split() for line in f if line.strip()]
    revoked = []  # (index, token), appended by the logout loop, read by the probe loop

    def probe(clients, index, token):
        for name, client in clients.items():
            sent = now_ms()
            status, reason, _ = client.request("GET", "/api/me",
                                               {"authorization": f"Bearer {token}"})
            write("revoked", f"session-{name}", status, reason, index, sent)

    def probes():
        clients = {"a": Client(a), "b": Client(b)}
        while time.monotonic() < deadline:
            started = time.monotonic()
            with lock:
                snapshot = list(revoked)
            for index, token in snapshot:
                if time.monotonic() >= deadline:
                    break
                probe(clients, index, token)
            time.sleep(max(0.0, PROBE_PERIOD - (time.monotonic() - started)))

    threads.append(threading.Thread(target=probes, daemon=True))
    for thread in threads:
        thread.start()

    # The logouts, on A and B in turns (not necessarily the instance that logged the session
    # in); each 204 is followed at once by a probe on both instances.
    clients = {"a": Client(a), "b": Client(b)}
    next_session = 0
    tries = 0
    while time.monotonic() < deadline and next_session < len(sessions) and tries < 200:
        time.sleep(max(0.0, min(revoke_every, deadline - time.monotonic())))
        while time.monotonic() < deadline and tries < 200:
            tries += 1
            name = "ab"[next_session % 2]
            token = sessions[next_session][1]
            sent = now_ms()
            status, reason, _ = clients[name].request(
                "POST", "/auth/logout", {"authorization": f"Bearer {token}"})
            write("logout", f"session-{name}", status, reason, next_session, sent)
            if status == 204:
                probe(clients, next_session, token)
                with lock:
                    revoked.append((next_session, token))
                next_session += 1
                break
            time.sleep(0.25)
    # The other loops end at the deadline, after their request under way (at most TIMEOUT).
    for thread in threads:
        thread.join(TIMEOUT + 5)
    log.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 5 and args[0] == "login":
        login(args[1], args[2], int(args[3]), args[4])
    elif len(args) == 9 and args[0] == "run":
        run(args[1], args[2], args[3], args[4], args[5], float(args[6]), float(args[7]), args[8])
    else:
        sys.exit(__doc__)
