#!/usr/bin/env python3
"""Does the load generator resume TLS sessions? A counting relay, for bench/harness.py.

The `h1-es256-newconn` and `h1-es256-newconn-full` scenarios send
`Connection: close`, so wrk opens a new TLS connection per request. Whether those handshakes are full or resumed
(a PSK from a session ticket: no certificate signature, cheaper for the
server) changes what the number means, and neither wrk's output nor
sealgate's `sealgate_tls_handshakes_total` says which (its `group` label is
`resumed` only for a TLS 1.2 resumption: a TLS 1.3 PSK resumption still
exchanges keys, so it is labelled with its group like a full handshake).

So this module puts a transparent TCP relay between wrk and a server for a
short run and reads the two unencrypted hello messages of every connection:

- the client offered resumption when its ClientHello carries a
  `pre_shared_key` extension (TLS 1.3) or a non-empty session ticket
  (TLS 1.2);
- the server resumed when its ServerHello carries `pre_shared_key`
  (TLS 1.3), or (TLS 1.2) echoes the client's non-empty session id.

The relay only copies bytes, so it sees exactly what wrk and the server
negotiate. It runs on a free port on 127.0.0.1 for `seconds` seconds.

    python3 bench/harness_tls.py PORT [PATH] [SECONDS] [HEADER ...]   # standalone
"""

import asyncio
import re
import socket
import subprocess
import sys
import threading

EXT_PRE_SHARED_KEY = 41
EXT_SUPPORTED_VERSIONS = 43
EXT_SESSION_TICKET = 35
HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def read_handshake_message(reader):
    """Reads TLS records until one whole handshake message is in: (raw bytes, message) or (raw, None)."""
    raw = b""
    payload = b""
    while True:
        head = await reader.readexactly(5)
        body = await reader.readexactly(int.from_bytes(head[3:5], "big"))
        raw += head + body
        if head[0] != 22:  # not a handshake record (alert, or change_cipher_spec first)
            if head[0] == 20:
                continue
            return raw, None
        payload += body
        if len(payload) >= 4 and len(payload) >= 4 + int.from_bytes(payload[1:4], "big"):
            return raw, payload[: 4 + int.from_bytes(payload[1:4], "big")]


def extensions(buf):
    out = {}
    i = 0
    while i + 4 <= len(buf):
        t = int.from_bytes(buf[i : i + 2], "big")
        n = int.from_bytes(buf[i + 2 : i + 4], "big")
        out[t] = buf[i + 4 : i + 4 + n]
        i += 4 + n
    return out


def parse_client_hello(msg):
    b = msg[4:]
    i = 2 + 32
    sid = b[i + 1 : i + 1 + b[i]]
    i += 1 + b[i]
    i += 2 + int.from_bytes(b[i : i + 2], "big")
    i += 1 + b[i]
    ext = extensions(b[i + 2 : i + 2 + int.from_bytes(b[i : i + 2], "big")]) if i + 2 <= len(b) else {}
    return {
        "sid": sid,
        "psk": EXT_PRE_SHARED_KEY in ext,
        "ticket12": bool(ext.get(EXT_SESSION_TICKET)),
    }


def parse_server_hello(msg):
    b = msg[4:]
    random = b[2:34]
    i = 34
    sid = b[i + 1 : i + 1 + b[i]]
    i += 1 + b[i] + 2 + 1
    ext = extensions(b[i + 2 : i + 2 + int.from_bytes(b[i : i + 2], "big")]) if i + 2 <= len(b) else {}
    tls13 = ext.get(EXT_SUPPORTED_VERSIONS) == b"\x03\x04"
    return {"hrr": random == HRR_RANDOM, "tls13": tls13, "sid": sid, "psk": EXT_PRE_SHARED_KEY in ext}


class Counts:
    def __init__(self):
        self.connections = 0
        self.offered = 0
        self.resumed = 0
        self.full = 0
        self.unparsed = 0
        self.versions = {}

    def as_dict(self):
        return {
            "connections": self.connections,
            "client_offered_resumption": self.offered,
            "resumed": self.resumed,
            "full": self.full,
            "unparsed": self.unparsed,
            "versions": self.versions,
        }


async def pipe(r, w):
    try:
        while True:
            data = await r.read(65536)
            if not data:
                break
            w.write(data)
            await w.drain()
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        pass
    finally:
        try:
            w.close()
        except Exception:  # noqa: BLE001
            pass


async def serve(target_port, counts, stop, ready):
    async def handle(cr, cw):
        counts.connections += 1
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            cw.close()
            return
        try:
            for _ in range(2):  # a HelloRetryRequest means a second ClientHello / ServerHello
                raw, ch = await read_handshake_message(cr)
                uw.write(raw)
                raw2, sh = await read_handshake_message(ur)
                cw.write(raw2)
                if not (ch and ch[0] == 1 and sh and sh[0] == 2):
                    counts.unparsed += 1
                    break
                c, s = parse_client_hello(ch), parse_server_hello(sh)
                if s["hrr"]:
                    continue
                # A TLS 1.3 client sends a random legacy session id anyway, so only a
                # PSK or a TLS 1.2 ticket counts as an offer (a TLS 1.2 session-id
                # resumption shows as resumed without being counted as offered).
                offered = c["psk"] or c["ticket12"]
                resumed = s["psk"] if s["tls13"] else bool(s["sid"]) and s["sid"] == c["sid"]
                counts.offered += bool(offered)
                counts.resumed += bool(resumed)
                counts.full += not resumed
                v = "TLSv1.3" if s["tls13"] else "TLSv1.2"
                counts.versions[v] = counts.versions.get(v, 0) + 1
                break
        except (asyncio.IncompleteReadError, ConnectionError, OSError, IndexError):
            counts.unparsed += 1
        await asyncio.gather(pipe(cr, uw), pipe(ur, cw))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
    ready.append(server.sockets[0].getsockname()[1])
    while not stop.is_set():
        await asyncio.sleep(0.05)
    server.close()


def probe(target_port, path, headers, seconds=1, connections=4):
    """Runs `wrk -t1 -c<connections> -H 'Connection: close'` through the relay: a dict of counts."""
    counts = Counts()
    stop = threading.Event()
    ready = []
    t = threading.Thread(target=lambda: asyncio.run(serve(target_port, counts, stop, ready)), daemon=True)
    t.start()
    for _ in range(100):
        if ready:
            break
        threading.Event().wait(0.02)
    if not ready:
        return {"error": "relay did not start"}
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
    for h in headers:
        argv += ["-H", h]
    if not any(h.lower().startswith("connection:") for h in headers):
        argv += ["-H", "Connection: close"]
    argv.append(f"https://127.0.0.1:{ready[0]}{path}")
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30).stdout
    except subprocess.TimeoutExpired:
        out = ""
    stop.set()
    t.join(timeout=5)
    d = counts.as_dict()
    m = re.search(r"(\d+) requests in", out)
    d["wrk_requests"] = int(m.group(1)) if m else None
    done = d["resumed"] + d["full"]
    d["resumed_share"] = d["resumed"] / done if done else None
    return d


def describe(d):
    """One line for the results, e.g. 'resumed 97% of 1,234 handshakes (PSK offered in 98%)'."""
    if not d or d.get("error"):
        return f"unknown ({(d or {}).get('error', 'not probed')})"
    done = d["resumed"] + d["full"]
    if not done:
        return "unknown (no handshake seen)"
    return (
        f"resumed {d['resumed'] / done:.0%} of {done:,} handshakes "
        f"(client offered resumption in {d['client_offered_resumption'] / done:.0%})"
    )


def after_newconn(bench, sc, contenders):
    """Scenario hook (h1-es256-newconn, h1-es256-newconn-full): probes each contender for 1 s after its runs."""
    import harness as H

    for c in contenders:
        if H.out_of_time():
            return
        headers = [h for h in sc["headers"]() if not h.lower().startswith("connection:")]
        d = probe(bench.port_of(c), sc["path"], headers, seconds=1)
        d["scenario"] = sc["name"]
        bench.resumption[c] = d
        H.log(f"  TLS resumption with {c}: {describe(d)}")


if __name__ == "__main__":
    port = int(sys.argv[1])
    path = sys.argv[2] if len(sys.argv) > 2 else "/"
    secs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    res = probe(port, path, sys.argv[4:], secs)
    print(res)
    print(describe(res))
