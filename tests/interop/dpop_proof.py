#!/usr/bin/env python3
"""DPoP proofs made with Python's `cryptography`, independently of the crate (tests/dpop.rs).

  dpop_proof.py keygen DIR
      makes one key per algorithm (ES256, EdDSA, PS256, RS256), writes DIR/<alg>.pem, and prints
      {"<alg>": {"jwk": {...}, "jkt": "<RFC 7638 thumbprint>"}} as JSON.
  dpop_proof.py proof DIR ALG HTM HTU IAT JTI [ACCESS_TOKEN]
      prints a compact proof signed with DIR/<alg>.pem (with `ath` when a token is given).
"""
import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ALGS = ["ES256", "EdDSA", "PS256", "RS256"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n: int, size: int = 0) -> str:
    size = size or (n.bit_length() + 7) // 8
    return b64(n.to_bytes(size, "big"))


def public_jwk(key) -> dict:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        numbers = key.public_key().public_numbers()
        return {"kty": "EC", "crv": "P-256", "x": uint(numbers.x, 32), "y": uint(numbers.y, 32)}
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}
    numbers = key.public_key().public_numbers()
    return {"kty": "RSA", "n": uint(numbers.n), "e": uint(numbers.e)}


def thumbprint(jwk: dict) -> str:
    required = {"EC": ["crv", "kty", "x", "y"], "OKP": ["crv", "kty", "x"], "RSA": ["e", "kty", "n"]}
    members = {name: jwk[name] for name in required[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64(hashlib.sha256(canonical.encode()).digest())


def new_key(alg: str):
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sign(alg: str, key, data: bytes) -> bytes:
    if alg == "ES256":
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == "EdDSA":
        return key.sign(data)
    if alg == "PS256":
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        return key.sign(data, pss, hashes.SHA256())
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def main(argv):
    if argv[1] == "keygen":
        out = {}
        for alg in ALGS:
            key = new_key(alg)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            with open(f"{argv[2]}/{alg}.pem", "wb") as f:
                f.write(pem)
            jwk = public_jwk(key)
            out[alg] = {"jwk": jwk, "jkt": thumbprint(jwk)}
        print(json.dumps(out))
        return
    _, _, directory, alg, htm, htu, iat, jti, *token = argv
    with open(f"{directory}/{alg}.pem", "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": public_jwk(key)}
    claims = {"jti": jti, "htm": htm, "htu": htu, "iat": int(iat)}
    if token:
        claims["ath"] = b64(hashlib.sha256(token[0].encode()).digest())
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    print(signing_input + "." + b64(sign(alg, key, signing_input.encode())))


if __name__ == "__main__":
    main(sys.argv)
