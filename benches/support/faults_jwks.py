#!/usr/bin/env python3
"""The identity provider of benches/faults.sh: its key sets, its tokens, and its JWKS server.

    faults_jwks.py setup DIR ISSUER AUDIENCE   keys, key sets and tokens into DIR
    faults_jwks.py serve PORT DIR              serves DIR/current.json on 127.0.0.1:PORT

`setup` builds three key sets from the test keys in tests/keys (never use them elsewhere: their
private keys are public):

- jwks-0.json: `ec1` (ES256, ec256), `rsa1` (RS256, rsa), `ed1` (EdDSA, ed25519);
- jwks-1.json: the same and `rot-slow` (RS256, rsa2): the provider rotates to a new key when it
  turns slow;
- jwks-2.json: the same and `rot-down` (ES256, a P-256 key made here): the key it rotates to
  while its key endpoint is unreachable (the tokens are issued by its token endpoint, which is
  still up).

and writes the tokens: tokens.txt (one per line, for wrk: each of `ec1`, `rsa1`, `ed1` for
several users), rot-slow.token and rot-down.token. Each token lives an hour.

`serve` answers every GET with the file DIR/current.json (re-read on every request) and
`Cache-Control: max-age=30` (the layer's shortest cache lifetime, so that its background refresh
runs every 24 s); while the file DIR/slow exists, each answer waits 5 s first. Unreachable is
the script stopping this process; back is starting it again on the same port.
"""

import base64
import http.server
import json
import os
import sys
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
KEYS = os.path.join(ROOT, "tests", "keys")
SLOW_SECS = 5


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n: int, size: int = 0) -> bytes:
    size = size or (n.bit_length() + 7) // 8
    return n.to_bytes(size, "big")


def load(name: str):
    with open(os.path.join(KEYS, name), "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def jwk(kid: str, alg: str, key) -> dict:
    public = key.public_key()
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = public.public_numbers()
        return {"kty": "RSA", "kid": kid, "alg": alg, "use": "sig",
                "n": b64url(uint(numbers.n)), "e": b64url(uint(numbers.e))}
    if isinstance(key, ec.EllipticCurvePrivateKey):
        numbers = public.public_numbers()
        return {"kty": "EC", "kid": kid, "alg": alg, "use": "sig", "crv": "P-256",
                "x": b64url(uint(numbers.x, 32)), "y": b64url(uint(numbers.y, 32))}
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "kid": kid, "alg": alg, "use": "sig", "crv": "Ed25519", "x": b64url(raw)}


def sign(kid: str, alg: str, key, claims: dict) -> str:
    header = {"alg": alg, "typ": "JWT", "kid": kid}
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                     + b64url(json.dumps(claims, separators=(",", ":")).encode())).encode()
    if alg == "RS256":
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "ES256":
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = uint(r, 32) + uint(s, 32)
    else:
        signature = key.sign(signing_input)
    return signing_input.decode() + "." + b64url(signature)


def setup(directory: str, issuer: str, audience: str) -> None:
    base = [("ec1", "ES256", load("ec256_private.pem")),
            ("rsa1", "RS256", load("rsa_private.pem")),
            ("ed1", "EdDSA", load("ed25519_private.pem"))]
    rot_slow = ("rot-slow", "RS256", load("rsa2_private.pem"))
    rot_down = ("rot-down", "ES256", ec.generate_private_key(ec.SECP256R1()))
    sets = [base, base + [rot_slow], base + [rot_slow, rot_down]]
    for i, keys in enumerate(sets):
        with open(os.path.join(directory, f"jwks-{i}.json"), "w") as f:
            json.dump({"keys": [jwk(kid, alg, key) for kid, alg, key in keys]}, f)
    now = int(time.time())

    def claims(sub: str) -> dict:
        return {"sub": sub, "iss": issuer, "aud": audience, "iat": now, "nbf": now,
                "exp": now + 3600, "jti": f"{sub}-{now}", "scope": "read"}

    with open(os.path.join(directory, "tokens.txt"), "w") as f:
        for user in range(3):
            for kid, alg, key in base:
                f.write(sign(kid, alg, key, claims(f"user-{kid}-{user}")) + "\n")
    for kid, alg, key in (rot_slow, rot_down):
        with open(os.path.join(directory, f"{kid}.token"), "w") as f:
            f.write(sign(kid, alg, key, claims(f"user-{kid}")) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    directory = "."

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        if os.path.exists(os.path.join(self.directory, "slow")):
            time.sleep(SLOW_SECS)
        with open(os.path.join(self.directory, "current.json"), "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=30")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("%.3f jwks-server %s\n" % (time.time(), fmt % args))


def serve(port: int, directory: str) -> None:
    Handler.directory = directory
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    sys.stderr.write(f"jwks server listening on http://127.0.0.1:{port}\n")
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "setup":
        setup(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(__doc__)
