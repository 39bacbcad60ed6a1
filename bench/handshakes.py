"""Full TLS 1.3 handshakes per second against the gateway, without and with a
client certificate (the mTLS cost per new connection), alternating for a few
rounds in one run. Each handshake is followed by one request on the anonymous
route, so the connection is really used; with the certificate, the gateway
verifies the chain (and parses the certificate once) during the handshake.
Python's ssl module (OpenSSL) is the client.

usage: handshakes.py PORT CA_PEM SERVER_CERT CLIENT_CERT CLIENT_KEY
"""
import socket
import ssl
import statistics
import sys
import time

port, ca, server_cert, client_cert, client_key = sys.argv[1:6]
SECONDS = 3


def context(with_cert):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the dev certificate; the handshake's cost is what counts
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.options |= ssl.OP_NO_TICKET  # no resumption: every connection is a full handshake
    if with_cert:
        ctx.load_cert_chain(client_cert, client_key)
    return ctx


def rate(ctx):
    n, end = 0, time.monotonic() + SECONDS
    req = b"GET /anon/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    while time.monotonic() < end:
        with socket.create_connection(("127.0.0.1", int(port))) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(req)
                while s.recv(65536):
                    pass
        n += 1
    return n / SECONDS


plain, mtls = [], []
for i in range(4):
    for name in (("plain", "mtls") if i % 2 == 0 else ("mtls", "plain")):
        (plain if name == "plain" else mtls).append(rate(context(name == "mtls")))
p, m = statistics.median(plain), statistics.median(mtls)
print(f"## New TLS 1.3 connections per second, one client, {SECONDS}s x 4 each\n")
print(f"without a client certificate: {p:,.0f}/s; with (ECDSA P-256, verified against the CA): {m:,.0f}/s")
print(f"mTLS / plain = {m / p:.3f}; added time per new connection: {(1 / m - 1 / p) * 1e6:,.0f} us")
