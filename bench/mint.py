#!/usr/bin/env python3
"""Mint the benchmark's JWTs in-process (PyJWT + cryptography): thousands per
second instead of one `sealgate token mint` process per token.

    mint.py --keys DIR --out DIR --iss ISS --aud AUD --count N

Reads DIR/es256.key, DIR/es256-other.key, DIR/ed25519.key, DIR/rs256.key
(PKCS#8 PEM) and writes to --out:
  es256.jwt          one valid ES256 token (the "repeated token" scenarios)
  es256-many.txt     N distinct valid ES256 tokens, one per line (distinct `sub`/`jti`)
  es256-badsig.jwt   well-formed ES256 token signed by a key nobody trusts (401 path)
  rs256.jwt          one valid RS256 token (RSA-2048)
  eddsa.jwt          one valid EdDSA (Ed25519) token
All tokens: no `kid` (each verifier holds exactly one PEM key), exp = now + 24h.
"""

import argparse
import base64
import os
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def load(path):
    with open(path, "rb") as f:
        pem = f.read()
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except ValueError:
        # `sealgate keygen ed25519` writes PKCS#8 v2 (RFC 5958, public key
        # included), which neither `cryptography` ("extra data") nor OpenSSL 3.0
        # reads: take the 32-byte seed from its CurvePrivateKey OCTET STRING.
        der = base64.b64decode(b"".join(l for l in pem.splitlines() if not l.startswith(b"-----")))
        at = der.find(b"\x04\x22\x04\x20")
        if b"\x06\x03\x2b\x65\x70" not in der or at < 0:
            raise
        return Ed25519PrivateKey.from_private_bytes(der[at + 4 : at + 36])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--iss", required=True)
    ap.add_argument("--aud", required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--ttl", type=int, default=24 * 3600)
    a = ap.parse_args()

    now = int(time.time())
    keys = {n: load(os.path.join(a.keys, f"{n}.key")) for n in ("es256", "es256-other", "ed25519", "rs256")}

    def claims(sub):
        return {
            "iss": a.iss,
            "aud": a.aud,
            "sub": sub,
            "scope": "read",
            "iat": now,
            "nbf": now,
            "exp": now + a.ttl,
            "jti": str(uuid.uuid4()),
        }

    def write(name, text):
        with open(os.path.join(a.out, name), "w") as f:
            f.write(text + "\n")

    write("es256.jwt", jwt.encode(claims("bench-user"), keys["es256"], algorithm="ES256"))
    write("es256-badsig.jwt", jwt.encode(claims("bench-user"), keys["es256-other"], algorithm="ES256"))
    write("rs256.jwt", jwt.encode(claims("bench-user"), keys["rs256"], algorithm="RS256"))
    write("eddsa.jwt", jwt.encode(claims("bench-user"), keys["ed25519"], algorithm="EdDSA"))

    t0 = time.monotonic()
    es = keys["es256"]
    with open(os.path.join(a.out, "es256-many.txt"), "w") as f:
        for i in range(a.count):
            f.write(jwt.encode(claims(f"user-{i}"), es, algorithm="ES256"))
            f.write("\n")
    print(f"minted {a.count} distinct ES256 tokens in {time.monotonic() - t0:.1f}s")


if __name__ == "__main__":
    main()
