"""Seeds fuzz/corpus/<target>/ from the repository's fixtures (RFC vectors,
the shipped gateway.toml) and a few hand-written edge cases. Idempotent:
file names are content hashes. Run by scripts/fuzz.sh."""

import hashlib
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "fixtures" / "vectors"
CORPUS = ROOT / "fuzz" / "corpus"


def strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def dicts(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from dicts(v)
    elif isinstance(node, list):
        for v in node:
            yield from dicts(v)


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha256(data).hexdigest()[:16]).write_bytes(data)


docs = [json.loads(p.read_text()) for p in VECTORS.glob("*.json")]
every = [s for doc in docs for s in strings(doc)]

for s in every:
    if re.fullmatch(r"eyJ[\w-]*\.[\w-]*\.[\w-]*", s):
        put("jws", s)
        put("dpop", s)
    if s.startswith("OAuth "):
        put("oauth1", s[len("OAuth "):])
        put("authorization", "authorization:" + s)
    if "=(" in s or "keyid=" in s or s.startswith(("sha-256=:", "sha-512=:", "sig")):
        put("signature_input", s)
    if re.fullmatch(r"(?:[0-9a-f]{2}){24,}", s):
        put("ohttp", bytes.fromhex(s))
    if s.startswith(("https://", "http://")):
        put("dpop", s)
    if "&" in s and "=" in s and " " not in s:
        put("oauth1", s)
for doc in docs:
    for d in dicts(doc):
        if "kty" in d:
            put("jwks", json.dumps({"keys": [d]}))

# RFC 7516 A.3 (A128KW + A128CBC-HS256): the JWE target's key "a" opens it.
put("jwe", "eyJhbGciOiJBMTI4S1ciLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0.6KB707dM9YTIgHtLvtgWQ8mKwboJW3of9locizkDTHzBC2IlrT1oOQ."
    "AxY8DCtDaGlsbGljb3RoZQ.KDlTtXchhZTGufMYmOYGS4HffxPSUrfmqCHXaI9wOGY.U0m_YmjN04DJvceFICbCVQ")
for p in ["/a/../b", "/%2e%2e/x", "/public/..;/secret", "//x//y", "/a%2Fb", "/%c0%ae/", "*", "/"]:
    put("path", p)
for a in ["authorization:Bearer abc.def.ghi", "authorization:DPoP x.y.z", "authorization:Basic dXNlcg==",
          "cookie:a=1; session=tok; b=2"]:
    put("authorization", a)
# forwarded: a flags byte (bit 0: trusted peer, bit 1: IPv6), the Host line, then headers.
for f in ["\x01example.com\nx-forwarded-for:198.51.100.7, 10.0.0.1\nforwarded:for=198.51.100.7;proto=http",
          "\x00a b\nconnection:x-secret, keep-alive\nx-secret:1\nte:trailers\nupgrade:websocket",
          "\x03[::1]:8443\nforwarded:for=\"[2001:db8::1]\"\nx-request-id:abc"]:
    put("forwarded", f)
put("config", (ROOT / "gateway.toml").read_text())
print("corpora:", ", ".join(sorted(f"{d.name} ({len(list(d.iterdir()))})" for d in CORPUS.iterdir())))
