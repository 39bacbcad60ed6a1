#!/usr/bin/env python3
"""New TLS connections with a full handshake each, for bench/harness.py.

wrk resumes its TLS sessions on about 99% of its reconnects (see
harness_tls.py), so `h1-es256-newconn` measures resumed handshakes (TLS 1.3
PSK from a session ticket: no certificate signature). This module adds the
same measurement with resumption disabled on the server side, so that every
connection is a full handshake (ECDSA P-256 certificate signature, key
exchange) whatever the client offers:

- `nginx-full`: the `nginx` proxy configuration (same upstream, same
  certificate, 2 workers) plus `ssl_session_tickets off;
  ssl_session_cache off;`, on its own port (P_NGINX_FULL);
- `sealgate-full`: the `sealgate` configuration plus
  `tls.session_tickets = false` and `tls.session_cache = 0` under
  `[listen]`, on its own port and admin port (P_SEALGATE_FULL,
  P_ADMIN_FULL).

Scenario `h1-es256-newconn-full`: wrk with `Connection: close` (exactly as
`h1-es256-newconn`) against the two. Both servers are started just before
the scenario and stopped after it (they cost nothing elsewhere); the
configurations are written and `sealgate check`ed at setup. After the runs
the harness_tls.py relay probes each for 1 s and records how many
handshakes were resumed (expected: none), which the new-connections target
row states.
"""

import os
import subprocess

import harness as H
import harness_tls

SCENARIO = "h1-es256-newconn-full"
CONTENDERS = ("nginx-full", "sealgate-full")
NGINX_SSL_EXTRA = "    ssl_session_tickets off;\n    ssl_session_cache off;\n"
SEALGATE_LISTEN_EXTRA = "tls.session_tickets = false\ntls.session_cache = 0\n"


def wanted():
    return not H.ONLY or SCENARIO in H.ONLY


def setup(bench):
    """Writes both configurations and checks them; the servers start in `before`."""
    if not wanted():
        return
    bench.fullhs = {}
    H.nginx_conf("proxy-full", port=H.P_NGINX_FULL, ssl_extra=NGINX_SSL_EXTRA)
    bench.fullhs["nginx-full"] = H.nginx_server("proxy-full", H.P_NGINX_FULL)
    conf = H.sealgate_conf("gateway-full.toml", H.P_SEALGATE_FULL, H.P_ADMIN_FULL, listen_extra=SEALGATE_LISTEN_EXTRA)
    r = subprocess.run([H.BIN, "check", "--config", conf], capture_output=True, text=True)
    if r.returncode != 0:
        bench.unavailable["sealgate-full"] = (
            "sealgate check refused `tls.session_tickets = false` / `tls.session_cache = 0`: "
            + (r.stdout + r.stderr).strip()[-300:]
        )
    else:
        bench.fullhs["sealgate-full"] = H.Server(
            "sealgate-full", [H.BIN, "run", "--config", conf], H.P_SEALGATE_FULL, "sealgate-full.log",
            ready=H.sealgate_ready(H.P_ADMIN_FULL),
        )


def before(bench, sc):
    """Starts nginx-full and sealgate-full for the scenario."""
    for name, srv in getattr(bench, "fullhs", {}).items():
        try:
            srv.start()
        except RuntimeError as e:
            bench.unavailable[name] = str(e)
            srv.stop()
            continue
        bench.servers[name] = srv  # stop_all() stops it too if the run is interrupted
        H.log(f"  {name}={srv.proc.pid} on {srv.port}")


def after(bench, sc, contenders):
    """Probes resumption through the relay (expected: 0% resumed), then stops the servers."""
    try:
        harness_tls.after_newconn(bench, sc, contenders)
    finally:
        for name in CONTENDERS:
            srv = bench.servers.get(name)
            if srv:
                srv.stop()


def scenarios(es):
    return {
        SCENARIO: dict(
            title="HTTP/1.1 (wrk, `Connection: close`): a new TLS connection per request, resumption disabled "
            "on the server (every handshake full)",
            client="wrk", path="/es256/bench", expect=200, contenders=list(CONTENDERS),
            headers=lambda: [f"Authorization: Bearer {es}", "Connection: close"],
            before=before, after=after,
            note="nginx-full is the nginx proxy configuration plus `ssl_session_tickets off; ssl_session_cache off;`; "
            "sealgate-full is the sealgate configuration plus `tls.session_tickets = false`, `tls.session_cache = 0`. "
            "So each connection costs the server a full handshake (a key exchange and an ECDSA P-256 signature). "
            "Both run only during this scenario. `harness_tls.py` relayed a 1 s wrk run per contender after the "
            "runs and counted the resumed handshakes: see the new-connections row of the targets. (nginx-full "
            "still sends TLS 1.3 session tickets - OpenSSL issues stateful ones when tickets are off - which wrk "
            "offers back and nginx, without a cache, declines; sealgate-full sends none, so wrk offers none.)",
        ),
    }
