#!/usr/bin/env python3
"""sealgate macro benchmark: the orchestration behind bench/run.sh.

Starts a fast local upstream (nginx `return 200`), nginx as a plain TLS reverse
proxy, HAProxy verifying the same JWT with `jwt_verify`, and sealgate (with and
without the signed identity assertion), all on 127.0.0.1 with the same ECDSA
P-256 certificate, then drives each with the same client (wrk for HTTP/1.1,
h2load for HTTP/2 and for fixed-rate runs), alternating contenders and
repeating every run. Results go to bench/results/ as Markdown and JSON.

run.sh has already installed the packages, built target/release/sealgate,
made bench/.venv, written keys/certificates and minted tokens into the work
directory; this script reads them from there. Everything is bounded in time
and targets 127.0.0.1 only.

Pieces live in sibling modules (imported below; they reach this module's
helpers as `harness`): harness_targets.py (the issue's goals),
harness_redis.py (the Redis-backed contender and its scenario),
harness_scaling.py (1 vs 2 workers, and the concurrent keep-alive
connections step), harness_tls.py (does the client resume TLS sessions?),
harness_fullhs.py (nginx and sealgate with resumption disabled: new
connections with a full handshake each).
"""

import datetime
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time
import urllib.request

# The sibling modules `import harness`: let them share this running module
# instead of importing a second copy of it.
if __name__ == "__main__":
    sys.modules.setdefault("harness", sys.modules[__name__])

import harness_fullhs  # noqa: E402
import harness_redis  # noqa: E402
import harness_scaling  # noqa: E402
import harness_targets  # noqa: E402
import harness_tls  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
WORK = os.environ.get("BENCH_WORK", os.path.join(BENCH, ".work"))
RESULTS = os.environ.get("BENCH_RESULTS") or os.path.join(BENCH, "results")
BIN = os.path.join(ROOT, "target", "release", "sealgate")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def env_float(name, default):
    v = os.environ.get(name, "")
    return float(v) if v.strip() else default


DURATION = env_int("BENCH_DURATION", 5)
REPS = env_int("BENCH_REPS", 3)
WARMUP = env_int("BENCH_WARMUP", 1)
CONNS = env_int("BENCH_CONNECTIONS", 50)
THREADS = env_int("BENCH_THREADS", 2)
H2_CLIENTS = env_int("BENCH_H2_CLIENTS", 10)
H2_STREAMS = env_int("BENCH_H2_STREAMS", 10)
IDLE_CONNS = env_int("BENCH_IDLE_CONNS", 10000)
PORT_BASE = env_int("BENCH_PORT_BASE", 18400)
MAX_SECONDS = env_int("BENCH_MAX_SECONDS", 1500)
QUIET_WAIT = env_float("BENCH_QUIET_WAIT", 10)  # per run, at most
QUIET_BUDGET = env_float("BENCH_QUIET_BUDGET", 120)  # for the whole benchmark
FIXED_RATE_FRACTION = env_float("BENCH_FIXED_RATE_FRACTION", 0.5)
PERF = os.environ.get("BENCH_PERF", "auto")
ONLY = [s for s in os.environ.get("BENCH_SCENARIOS", "").split(",") if s.strip()]
ISS = os.environ.get("BENCH_ISS", "https://issuer.bench.sealgate")
AUD = os.environ.get("BENCH_AUD", "bench-api")

P_UP = PORT_BASE  # upstream, plain HTTP/1.1
P_UP_TLS = PORT_BASE + 1  # the same upstream over TLS: the "direct" ceiling
P_NGINX = PORT_BASE + 2
P_HAPROXY = PORT_BASE + 3
P_SEALGATE = PORT_BASE + 4
P_SEALGATE_A = PORT_BASE + 5
P_SEALGATE_R = PORT_BASE + 6  # sealgate+redis
P_SEALGATE_1W = PORT_BASE + 7  # sealgate-1w
P_NGINX_FULL = PORT_BASE + 8  # nginx-full: nginx without session tickets or cache
P_SEALGATE_FULL = PORT_BASE + 9  # sealgate-full: sealgate without session tickets or cache
P_ADMIN = PORT_BASE + 14
P_ADMIN_A = PORT_BASE + 15
P_ADMIN_R = PORT_BASE + 16
P_ADMIN_1W = PORT_BASE + 17
P_ADMIN_FULL = PORT_BASE + 18
# Every sealgate contender's admin port (metrics); sealgate+ohttp is the sealgate process.
ADMIN = {
    "sealgate": P_ADMIN,
    "sealgate+assertion": P_ADMIN_A,
    "sealgate+ohttp": P_ADMIN,
    "sealgate+redis": P_ADMIN_R,
    "sealgate-1w": P_ADMIN_1W,
    "sealgate-full": P_ADMIN_FULL,
}

STARTED = time.monotonic()


def log(*a):
    print(f"[{time.monotonic() - STARTED:6.1f}s]", *a, flush=True)


def out_of_time():
    return time.monotonic() - STARTED > MAX_SECONDS


# ---------------------------------------------------------------- /proc helpers


def proc_children(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            ppid = int(st[st.rindex(")") + 2 :].split()[1])
            if ppid == pid:
                kids.append(int(d))
        except (OSError, ValueError):
            pass
    return kids


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
            fields = st[st.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return total


def status_kib(pids, key):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def reset_hwm(pids):
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


def system_user_sys_ticks():
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    user, nice, system = (int(x) for x in parts[:3])
    return user + nice + system


def all_ticks():
    """pid -> (comm, utime+stime ticks) for every process and kernel thread."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            comm = st[st.index("(") + 1 : st.rindex(")")]
            fields = st[st.rindex(")") + 2 :].split()
            out[int(d)] = (comm, int(fields[11]) + int(fields[12]))
        except (OSError, ValueError, IndexError):
            pass
    return out


def top_others(before, after, known, n=3):
    """The other processes that used the most CPU between two snapshots, by name."""
    by = {}
    for pid, (comm, t1) in after.items():
        if pid in known:
            continue
        t0 = before.get(pid, (comm, 0))[1] if before.get(pid, ("", 0))[0] == comm else 0
        if t1 - t0 > 0:
            name = re.sub(r"/\d+$", "", comm)
            by[name] = by.get(name, 0) + (t1 - t0)
    return {k: round(v / CLK_TCK, 2) for k, v in sorted(by.items(), key=lambda kv: -kv[1])[:n]}


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def busy_foreign_processes():
    """Other CPU-heavy tools seen right now (the concurrent compile), by name."""
    names = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm in ("rustc", "cargo", "cc", "cc1", "ld", "rust-lld", "clippy-driver", "build-script-b"):
            names[comm] = names.get(comm, 0) + 1
    return names


QUIET_SPENT = [0.0]


def wait_quiet():
    """Waits while compilers run on this machine, at most BENCH_QUIET_WAIT s per run
    and BENCH_QUIET_BUDGET s in all; returns the seconds waited."""
    t0 = time.monotonic()
    limit = min(QUIET_WAIT, QUIET_BUDGET - QUIET_SPENT[0])
    while limit > 0 and busy_foreign_processes() and time.monotonic() - t0 < limit:
        time.sleep(0.5)
    waited = time.monotonic() - t0
    QUIET_SPENT[0] += waited
    return waited


# ---------------------------------------------------------------- processes


def wait_port(port, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Server:
    """A server process this harness started and alone stops (by its own pid)."""

    def __init__(self, name, argv, port, logname, ready=None):
        self.name, self.argv, self.port, self.ready = name, argv, port, ready
        self.logpath = os.path.join(WORK, "logs", logname)
        self.proc = None

    def start(self):
        logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            self.argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=WORK
        )
        logf.close()
        if not wait_port(self.port):
            raise RuntimeError(f"{self.name} did not listen on {self.port}; see {self.logpath}")
        if self.ready:
            self.ready()
        time.sleep(0.2)

    def pids(self):
        if not self.proc or self.proc.poll() is not None:
            return []
        return [self.proc.pid] + proc_children(self.proc.pid)

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def restart(self):
        self.stop()
        self.start()


def sealgate_ready(admin_port):
    def check():
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.1)
        raise RuntimeError("sealgate never became ready")

    return check


def scrape_sealed_2xx(admin_port):
    """sealgate_sealed_requests_total{status_class="2xx"}: opened requests whose inner answer was 2xx."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except Exception:
        return 0.0
    for line in text.splitlines():
        m = re.match(r'sealgate_sealed_requests_total\{[^}]*status_class="2xx"[^}]*\}\s+([0-9.e+]+)', line)
        if m:
            return float(m.group(1))
    return 0.0


def emit_envelopes(token, count):
    """Fetches the gateway's key configuration and seals `count` copies of
    GET /es256/bench with the token (the same request the plaintext contender
    sends), hex, one per line, with `sealgate ohttp request --emit`."""
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(f"https://127.0.0.1:{P_SEALGATE}/.well-known/ohttp-gateway", context=ctx, timeout=5) as r:
        config = r.read()
    keys = os.path.join(WORK, "out", "ohttp-keys.bin")
    with open(keys, "wb") as f:
        f.write(config)
    out = os.path.join(WORK, "out", "ohttp-envelopes.txt")
    subprocess.run(
        [BIN, "ohttp", "request", "--keys", keys, "--emit", out, "--count", str(count),
         "-H", f"Authorization: Bearer {token}", "https://127.0.0.1/es256/bench"],
        check=True, capture_output=True,
    )
    return out


def scrape_cache(admin_port):
    """sealgate_token_cache_total by result (hit/miss), summed over authenticators."""
    out = {"hit": 0.0, "miss": 0.0}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except Exception:
        return out
    for line in text.splitlines():
        m = re.match(r'sealgate_token_cache_total\{[^}]*result="(\w+)"[^}]*\}\s+([0-9.e+]+)', line)
        if m and m.group(1) in out:
            out[m.group(1)] += float(m.group(2))
    return out


def start_sealgate(bench, name, conf, port, admin, logname, refused_hint=""):
    """Checks `conf` with `sealgate check` and starts it as contender `name`;
    on either failure the contender is marked unavailable (with the reason)
    and None is returned."""
    r = subprocess.run([BIN, "check", "--config", conf], capture_output=True, text=True)
    if r.returncode != 0:
        bench.unavailable[name] = (
            f"sealgate check refused its configuration{refused_hint}: " + (r.stdout + r.stderr).strip()[-300:]
        )
        return None
    srv = Server(name, [BIN, "run", "--config", conf], port, logname, ready=sealgate_ready(admin))
    try:
        srv.start()
    except RuntimeError as e:
        bench.unavailable[name] = str(e)
        srv.stop()
        return None
    bench.servers[name] = srv
    return srv


def metric_sum(admin_port, name, match=None):
    """The sum of every sample of metric `name` (whose labels contain `match`, if given) on /metrics."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except Exception:
        return None
    total = 0.0
    for line in text.splitlines():
        m = re.match(re.escape(name) + r"(\{[^}]*\})?\s+([0-9.e+-]+)$", line)
        if m and (match is None or match in (m.group(1) or "")):
            total += float(m.group(2))
    return total


# ---------------------------------------------------------------- configuration files


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def nginx_conf(kind, port=P_NGINX, ssl_extra=""):
    """The upstream (`kind` "upstream"), or nginx as a plain TLS proxy to it listening on
    `port` (any other kind, e.g. "proxy"), with `ssl_extra` added to its TLS directives."""
    d = os.path.join(WORK, f"nginx-{kind}")
    os.makedirs(d, exist_ok=True)
    tls = os.path.join(WORK, "tls")
    common = f"""
worker_processes 2;
worker_rlimit_nofile 20000;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 12000; }}
http {{
    access_log off;
    default_type text/plain;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_timeout 300s;
    keepalive_requests 100000000;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate {tls}/cert.pem;
    ssl_certificate_key {tls}/key.pem;
{ssl_extra}"""
    if kind == "upstream":
        body = f"""
    server {{
        listen 127.0.0.1:{P_UP};
        listen 127.0.0.1:{P_UP_TLS} ssl http2;
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""
    else:
        body = f"""
    upstream up {{
        server 127.0.0.1:{P_UP};
        keepalive 256;
        keepalive_requests 100000000;
    }}
    server {{
        listen 127.0.0.1:{port} ssl http2;
        location / {{
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
        }}
    }}
}}
"""
    return write(os.path.join(d, "nginx.conf"), common + body)


def nginx_server(kind, port):
    """The Server running the nginx configuration `nginx_conf(kind, ...)` wrote."""
    d = os.path.join(WORK, f"nginx-{kind}")
    return Server(
        f"nginx-{kind}",
        ["nginx", "-p", d + "/", "-e", f"{d}/error.log", "-c", f"{d}/nginx.conf", "-g", "daemon off;"],
        port,
        f"nginx-{kind}.log",
    )


def haproxy_conf(eddsa):
    keys = os.path.join(WORK, "keys")
    eddsa_acl = (
        f'    acl sig_eddsa var(txn.bearer),jwt_verify(txn.alg,"{keys}/ed25519.pub.pem") -m int 1\n'
        if eddsa
        else ""
    )
    eddsa_or = " or alg_eddsa sig_eddsa" if eddsa else ""
    text = f"""# Written by bench/harness.py: HAProxy verifying the same JWTs as sealgate.
global
    nbthread 2
    maxconn 9900
    tune.ssl.default-dh-param 2048
    ssl-default-bind-options ssl-min-ver TLSv1.2

defaults
    mode http
    maxconn 9900
    timeout connect 2s
    timeout client 300s
    timeout server 30s
    timeout http-keep-alive 300s
    option http-keep-alive

frontend fe
    bind 127.0.0.1:{P_HAPROXY} ssl crt {WORK}/tls/haproxy.pem alpn h2,http/1.1
    http-request set-var(txn.bearer) http_auth_bearer
    http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('$.alg')
    http-request set-var(txn.iss) var(txn.bearer),jwt_payload_query('$.iss')
    http-request set-var(txn.aud) var(txn.bearer),jwt_payload_query('$.aud')
    http-request set-var(txn.exp) var(txn.bearer),jwt_payload_query('$.exp','int'),add(30)
    http-request set-var(txn.now) date()
    acl alg_es256 var(txn.alg) -m str ES256
    acl alg_rs256 var(txn.alg) -m str RS256
    acl alg_eddsa var(txn.alg) -m str EdDSA
    acl sig_es256 var(txn.bearer),jwt_verify(txn.alg,"{keys}/es256.pub.pem") -m int 1
    acl sig_rs256 var(txn.bearer),jwt_verify(txn.alg,"{keys}/rs256.pub.pem") -m int 1
{eddsa_acl}    http-request deny deny_status 401 unless {{ var(txn.bearer) -m found }}
    http-request deny deny_status 401 unless {{ var(txn.iss) -m str {ISS} }}
    http-request deny deny_status 401 unless {{ var(txn.aud) -m str {AUD} }}
    http-request deny deny_status 401 unless {{ var(txn.exp) -m found }} {{ var(txn.exp),sub(txn.now) -m int gt 0 }}
    http-request deny deny_status 401 unless alg_es256 sig_es256 or alg_rs256 sig_rs256{eddsa_or}
    http-request set-header x-auth-subject %[var(txn.bearer),jwt_payload_query('$.sub')]
    http-request del-header authorization
    option forwardfor
    default_backend up

backend up
    http-reuse safe
    server s1 127.0.0.1:{P_UP}
"""
    return write(os.path.join(WORK, "haproxy", "haproxy.cfg"), text)


def sealgate_conf(filename, port, admin, assertion=False, listen_extra="", extra=""):
    """One sealgate configuration; every sealgate contender differs from `sealgate`
    only by its ports and `listen_extra` (more [listen] keys) / `extra` (more tables)."""
    keys = os.path.join(WORK, "keys")
    auth = ""
    for name, alg, pem in (("es256", "ES256", "es256"), ("rs256", "RS256", "rs256"), ("eddsa", "EdDSA", "ed25519")):
        auth += f"""
[authenticators.{name}]
kind = "jwt"
issuer = "{ISS}"
audiences = ["{AUD}"]
algorithms = ["{alg}"]
keys = "file:{keys}/{pem}.pub.pem"

[[routes]]
name = "{name}"
path_prefix = "/{name}"
upstream = "up"
auth = ["{name}"]
sealed = "optional"
"""
    ident = '[identity]\nsubject_header = "x-auth-subject"\n'
    if assertion:
        ident += f'assertion.header = "x-sealgate-assertion"\nassertion.key = "file:{keys}/assertion.key"\nassertion.ttl = "60s"\n'
    text = f"""# Written by bench/harness.py.
[listen]
address = "127.0.0.1:{port}"
tls.cert = "{WORK}/tls/cert.pem"
tls.key = "{WORK}/tls/key.pem"
shutdown_grace = "1s"
header_read_timeout = "300s"
# Room for the concurrent keep-alive connections step (all from 127.0.0.x).
idle_timeout = "600s"
max_connections = 200000
max_connections_per_ip = 200000
{listen_extra}
[admin]
address = "127.0.0.1:{admin}"

[log]
format = "json"
level = "warn"

[reload]
watch = false

[envelope]
[[envelope.keys]]
id = 1
kem = "x25519"
private_key = "file:{keys}/ohttp-1.key"

[upstreams.up]
targets = ["http://127.0.0.1:{P_UP}"]
{auth}
{ident}{extra}"""
    return write(os.path.join(WORK, "sealgate", filename), text)


# ---------------------------------------------------------------- clients


def read_token(name):
    with open(os.path.join(WORK, "tokens", name)) as f:
        return f.read().strip()


def first_line(path):
    with open(path) as f:
        return f.readline().strip()


def tls_probe(port, path, headers):
    """One HTTP/1.1 request: (status, TLS version, cipher) or (error text, None, None)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
        c.connect()
        v, ciph = c.sock.version(), c.sock.cipher()[0]
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status, v, ciph
    except Exception as e:  # noqa: BLE001
        return f"error: {e}", None, None


def run_client(argv, outpath):
    """Runs a load generator; returns (stdout text, its CPU seconds from wait4)."""
    with open(outpath, "w") as out:
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + DURATION + WARMUP + 60
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                p.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                p.returncode = -9
                break
            time.sleep(0.02)
    with open(outpath) as f:
        text = f.read()
    return text, ru.ru_utime + ru.ru_stime, p.returncode


def wrk_argv(port, path, duration, headers, script="report.lua", script_args=()):
    argv = ["wrk", "-t", str(THREADS), "-c", str(CONNS), "-d", f"{duration}s", "--timeout", "5s"]
    for h in headers:
        argv += ["-H", h]
    argv += ["-s", os.path.join(BENCH, "lua", script), f"https://127.0.0.1:{port}{path}"]
    if script_args:
        argv += ["--", *script_args]
    return argv


def parse_wrk(text):
    m = re.search(r"^WRKJSON (\{.*\})$", text, re.M)
    if not m:
        return None
    d = json.loads(m.group(1))
    e = d["errors"]
    return {
        "requests": d["requests"],
        "seconds": d["duration_us"] / 1e6,
        "rps": d["requests"] / (d["duration_us"] / 1e6),
        "p50_ms": d["lat_p50_us"] / 1000,
        "p90_ms": d["lat_p90_us"] / 1000,
        "p99_ms": d["lat_p99_us"] / 1000,
        "p999_ms": d["lat_p999_us"] / 1000,
        "non2xx": e["status"],
        "errors": e["connect"] + e["read"] + e["write"] + e["timeout"],
        "error_detail": e,
        "statuses": d.get("statuses"),
    }


def h2load_argv(port, path, duration, headers, logfile, h1=False, rps=None):
    clients = CONNS if h1 else H2_CLIENTS
    argv = ["h2load", "-D", str(duration), "-c", str(clients), "-t", str(THREADS), "--log-file", logfile]
    argv += ["--h1", "-m", "1"] if h1 else ["-m", str(H2_STREAMS)]
    if rps:
        argv += [f"--rps={rps:.3f}"]
    for h in headers:
        argv += ["-H", h]
    argv.append(f"https://127.0.0.1:{port}{path}")
    return argv


def percentile(sorted_vals, q):
    if not sorted_vals:
        return float("nan")
    k = (len(sorted_vals) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def parse_h2load(text, logfile):
    fin = re.search(r"finished in ([0-9.]+)(m?s), ([0-9.]+) req/s", text)
    req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", text)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if not (fin and req and codes):
        return None
    secs = float(fin.group(1)) / (1000 if fin.group(2) == "ms" else 1)
    lat = []
    try:
        with open(logfile) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    lat.append(int(parts[2]))
    except OSError:
        pass
    lat.sort()
    done = int(req.group(3))
    return {
        "requests": done,
        "seconds": secs,
        "rps": float(fin.group(3)),
        "p50_ms": percentile(lat, 50) / 1000,
        "p90_ms": percentile(lat, 90) / 1000,
        "p99_ms": percentile(lat, 99) / 1000,
        "p999_ms": percentile(lat, 99.9) / 1000,
        "non2xx": int(codes.group(2)) + int(codes.group(3)) + int(codes.group(4)),
        "errors": int(req.group(6)) + int(req.group(7)),
        "error_detail": {"failed": int(req.group(5)), "errored": int(req.group(6)), "timeout": int(req.group(7))},
    }


# ---------------------------------------------------------------- the benchmark


class Bench:
    def __init__(self):
        self.runs = []
        self.skipped = []
        self.notes = []
        self.tls = {}
        self.servers = {}
        self.ratios = {}
        self.cpu_ratios = {}
        self.idle = []
        self.perf = None
        self.aux = []  # helper servers (redis-server), stopped after the contenders
        self.unavailable = {}  # contender -> why it was not started
        self.counters = {}  # contender -> callable: {name: count} from the servers' own counters
        self.conns = []  # harness_scaling.conns_step rows
        self.resumption = {}  # contender -> harness_tls.probe counts (h1-es256-newconn, h1-es256-newconn-full)

    # ---- setup
    def setup(self):
        os.makedirs(os.path.join(WORK, "logs"), exist_ok=True)
        os.makedirs(os.path.join(WORK, "out"), exist_ok=True)
        nginx_conf("upstream")
        nginx_conf("proxy")
        sg = sealgate_conf("gateway.toml", P_SEALGATE, P_ADMIN)
        sga = sealgate_conf("gateway-assertion.toml", P_SEALGATE_A, P_ADMIN_A, assertion=True)
        for conf in (sg, sga):
            r = subprocess.run([BIN, "check", "--config", conf], capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"sealgate check failed for {conf}:\n{r.stdout}{r.stderr}")
        # HAProxy 2.6 may not know EdDSA: try with it, fall back without.
        self.haproxy_eddsa = True
        cfg = haproxy_conf(True)
        r = subprocess.run(["haproxy", "-c", "-f", cfg], capture_output=True, text=True)
        if r.returncode != 0:
            self.haproxy_eddsa = False
            self.notes.append("HAProxy refused the EdDSA key in its configuration: " + r.stderr.strip()[-300:])
            cfg = haproxy_conf(False)
            r = subprocess.run(["haproxy", "-c", "-f", cfg], capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("haproxy -c failed:\n" + r.stdout + r.stderr)

        self.upstream = nginx_server("upstream", P_UP)
        self.servers = {
            "nginx": nginx_server("proxy", P_NGINX),
            "haproxy": Server("haproxy", ["haproxy", "-db", "-f", cfg], P_HAPROXY, "haproxy.log"),
            "sealgate": Server(
                "sealgate", [BIN, "run", "--config", sg], P_SEALGATE, "sealgate.log", ready=sealgate_ready(P_ADMIN)
            ),
            "sealgate+assertion": Server(
                "sealgate+assertion",
                [BIN, "run", "--config", sga],
                P_SEALGATE_A,
                "sealgate-assertion.log",
                ready=sealgate_ready(P_ADMIN_A),
            ),
        }
        self.upstream.start()
        for s in self.servers.values():
            s.start()
        # Optional contenders, started only when a selected scenario uses them.
        harness_redis.setup(self)
        harness_scaling.setup(self)
        harness_fullhs.setup(self)  # only writes and checks: its servers run during their scenario
        log("servers up:", ", ".join(f"{k}={v.proc.pid}" for k, v in self.servers.items()), f"upstream={self.upstream.proc.pid}")

    def stop_all(self):
        for s in list(self.servers.values()) + self.aux + [getattr(self, "upstream", None)]:
            if s:
                try:
                    s.stop()
                except Exception as e:  # noqa: BLE001
                    log("stop failed:", s.name, e)

    # ---- contenders
    def port_of(self, contender):
        return {
            "direct": P_UP_TLS,
            "nginx": P_NGINX,
            "haproxy": P_HAPROXY,
            "sealgate": P_SEALGATE,
            "sealgate+assertion": P_SEALGATE_A,
            "sealgate+ohttp": P_SEALGATE,
            "sealgate+redis": P_SEALGATE_R,
            "sealgate-1w": P_SEALGATE_1W,
            "nginx-full": P_NGINX_FULL,
            "sealgate-full": P_SEALGATE_FULL,
        }[contender]

    def server_of(self, contender):
        # sealgate+ohttp is the sealgate server driven with sealed requests.
        return self.servers["sealgate" if contender == "sealgate+ohttp" else contender]

    def pids_of(self, contender):
        if contender == "direct":
            return self.upstream.pids()
        return self.server_of(contender).pids()

    # ---- one measured run
    def measure(self, sc, contender, rep, duration, record=True, rps=None):
        port = self.port_of(contender)
        # A scenario may drive one contender differently (sealgate+ohttp: sealed POSTs).
        sc = {**sc, **sc.get("per_contender", {}).get(contender, {})}
        headers = sc["headers"]()
        tag = f"{sc['name']}.{contender}.{rep}"
        outpath = os.path.join(WORK, "out", tag + ".txt")
        logfile = os.path.join(WORK, "out", tag + ".h2log")
        if sc["client"] == "wrk":
            argv = wrk_argv(port, sc["path"], duration, headers, sc.get("script", "report.lua"), sc.get("script_args", ()))
        else:
            argv = h2load_argv(port, sc["path"], duration, headers, logfile, h1=sc["client"] == "h2load-h1", rps=rps)
        pids = self.pids_of(contender)
        up_pids = self.upstream.pids()
        admin = ADMIN.get(contender)
        cache0 = scrape_cache(admin) if admin and record else None
        count = self.counters.get(contender) if record and sc.get("counted") else None
        counts0 = count() if count else None
        sealed0 = scrape_sealed_2xx(admin) if contender == "sealgate+ohttp" else None
        waited = wait_quiet() if record else 0.0
        reset_hwm(pids)
        foreign = busy_foreign_processes()
        load0 = loadavg()
        snap0 = all_ticks()
        c0, u0, s0 = cpu_ticks(pids), cpu_ticks(up_pids), system_user_sys_ticks()
        t0 = time.monotonic()
        text, client_cpu, rc = run_client(argv, outpath)
        wall = time.monotonic() - t0
        c1, u1, s1 = cpu_ticks(pids), cpu_ticks(up_pids), system_user_sys_ticks()
        hwm = status_kib(pids, "VmHWM")
        others = top_others(snap0, all_ticks(), set(pids) | set(up_pids) | {os.getpid()})
        if not record:
            return None
        res = parse_wrk(text) if sc["client"] == "wrk" else parse_h2load(text, logfile)
        if res is None:
            log(f"  {tag}: could not parse client output (rc={rc}); see {outpath}")
            self.skipped.append({"scenario": sc["name"], "contender": contender, "reason": f"client output unparsable (rc={rc})"})
            return None
        cpu = (c1 - c0) / CLK_TCK
        up_cpu = (u1 - u0) / CLK_TCK
        known = cpu + (0 if contender == "direct" else up_cpu) + client_cpu
        res.update(
            {
                "scenario": sc["name"],
                "contender": contender,
                "rep": rep,
                "cpu_s": cpu,
                "cpu_s_per_10k": cpu / res["requests"] * 10000 if res["requests"] else None,
                "peak_rss_mib": hwm / 1024,
                "upstream_cpu_s": up_cpu,
                "client_cpu_s": client_cpu,
                "other_cpu_s": max(0.0, (s1 - s0) / CLK_TCK - known),
                "wall_s": wall,
                "loadavg_1m": load0,
                "foreign_busy_processes": foreign,
                "waited_for_quiet_s": waited,
                "top_other_processes_cpu_s": others,
            }
        )
        if rps:
            res["target_rps"] = rps * (CONNS if sc["client"] == "h2load-h1" else H2_CLIENTS)
        if sealed0 is not None:
            # The outer answer is always 200; count the inner 2xx from the gateway's metrics.
            res["inner_2xx"] = scrape_sealed_2xx(admin) - sealed0
            res["non2xx"] = res.get("non2xx", 0) + max(0, res["requests"] - res["inner_2xx"])
        if counts0 is not None:
            counts1 = count()
            res["per_request"] = {
                k: (v - counts0.get(k, 0)) / res["requests"] for k, v in counts1.items() if res["requests"]
            }
        if cache0 is not None:
            cache1 = scrape_cache(admin)
            hits, misses = cache1["hit"] - cache0["hit"], cache1["miss"] - cache0["miss"]
            res["token_cache_hit_ratio"] = hits / (hits + misses) if hits + misses else None
        expect = sc["expect"]
        if res.get("statuses") is not None:
            bad = res["errors"] + res["requests"] - res["statuses"].get(str(expect), 0)
        else:
            bad = res["errors"] + (res["non2xx"] if expect == 200 else res["requests"] - res["non2xx"])
        res["valid"] = res["requests"] > 0 and bad <= 0.01 * max(1, res["requests"])
        self.runs.append(res)
        hit = res.get("token_cache_hit_ratio")
        log(
            f"  {tag}: {res['rps']:9.0f} req/s  p50 {res['p50_ms']:.2f} ms  p99 {res['p99_ms']:.2f} ms  "
            f"cpu/10k {res['cpu_s_per_10k'] or 0:.2f}s  rss {res['peak_rss_mib']:.1f} MiB  other-cpu {res['other_cpu_s']:.1f}s"
            + (f"  cache-hit {hit:.2f}" if hit is not None else "")
            + ("" if res["valid"] else f"  INVALID (non2xx={res['non2xx']} errors={res['errors']})")
            + (f"  others {others}" if res["other_cpu_s"] > 0.5 else "")
        )
        return res

    def probe(self, sc, contender):
        if contender == "sealgate+ohttp":
            return self.probe_sealed(sc)
        headers = {}
        for h in sc.get("probe_headers", sc["headers"])():
            k, v = h.split(":", 1)
            headers[k.strip()] = v.strip()
        status, version, cipher = tls_probe(self.port_of(contender), sc["path"], headers)
        if version:
            self.tls[contender] = f"{version} {cipher}"
        return status

    def probe_sealed(self, sc):
        """One sealed request must open and come back with an inner 2xx."""
        try:
            envelopes = sc["per_contender"]["sealgate+ohttp"]["script_args"][0]
            with open(envelopes) as f:
                body = bytes.fromhex(f.readline().strip())
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            before = scrape_sealed_2xx(P_ADMIN)
            req = urllib.request.Request(
                f"https://127.0.0.1:{P_SEALGATE}/.well-known/ohttp-gateway", data=body,
                headers={"Content-Type": "message/ohttp-req"}, method="POST")
            with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
                status = r.status
            return status if scrape_sealed_2xx(P_ADMIN) == before + 1 else 599
        except Exception as e:  # noqa: BLE001
            log("  sealed probe failed:", e)
            return 0

    def scenario(self, sc):
        if ONLY and sc["name"] not in ONLY:
            return
        if out_of_time():
            self.notes.append(f"{sc['name']}: skipped, the time budget (BENCH_MAX_SECONDS={MAX_SECONDS}) ran out")
            return
        log(f"scenario {sc['name']}: {sc['title']}")
        if sc.get("before"):
            sc["before"](self, sc)  # e.g. starts contenders that run only during this scenario
        contenders = []
        for c in sc["contenders"]:
            if c in self.unavailable:
                log(f"  {c}: n/a ({self.unavailable[c]})")
                self.skipped.append({"scenario": sc["name"], "contender": c, "reason": self.unavailable[c]})
                continue
            st = self.probe(sc, c)
            if st != sc["expect"]:
                reason = f"probe answered {st}, expected {sc['expect']}"
                log(f"  {c}: n/a ({reason})")
                self.skipped.append({"scenario": sc["name"], "contender": c, "reason": reason})
            else:
                contenders.append(c)
        rps = sc.get("rps_per_client")
        if WARMUP > 0 and not sc.get("restart_sealgate"):
            for c in contenders:
                self.measure(sc, c, "warmup", WARMUP, record=False, rps=rps)
        for rep in range(REPS):
            # Rotate the order every repetition so no contender always runs first.
            order = contenders[rep % len(contenders) :] + contenders[: rep % len(contenders)] if contenders else []
            for c in order:
                if sc.get("restart_sealgate") and c.startswith("sealgate"):
                    self.server_of(c).restart()  # empty token cache for every run
                self.measure(sc, c, rep + 1, DURATION, rps=rps)
        if sc.get("after"):
            sc["after"](self, sc, contenders)

    # ---- idle TLS connection footprint
    def idle_footprint(self):
        if out_of_time() or (ONLY and "idle" not in ONLY):
            return
        log(f"idle footprint: {IDLE_CONNS} idle TLS connections per server")
        for name in ("sealgate", "haproxy", "nginx"):
            srv = self.servers[name]
            srv.restart()
            time.sleep(1.0)
            rss0 = status_kib(srv.pids(), "VmRSS")
            # HAProxy reserves 2 fds per connection and this sandbox's hard
            # `ulimit -n` is 20000, so its maxconn is 9900: ask it for fewer.
            n = min(IDLE_CONNS, 9500) if name == "haproxy" else IDLE_CONNS
            p = subprocess.Popen(
                [sys.executable, os.path.join(BENCH, "idle_conns.py"), str(srv.port), str(n), "120"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            line = ""
            end = time.monotonic() + 150
            while time.monotonic() < end:
                line = p.stdout.readline()
                if not line or line.startswith("OPEN"):
                    break
            opened = failed = 0
            secs = None
            if line.startswith("OPEN"):
                _, o, fl, secs = line.split()
                opened, failed, secs = int(o), int(fl), float(secs)
            time.sleep(1.5)
            rss1 = status_kib(srv.pids(), "VmRSS")
            try:
                p.stdin.close()
                p.wait(timeout=30)
            except Exception:  # noqa: BLE001
                p.kill()
                p.wait()
            per = (rss1 - rss0) / opened if opened else None
            row = {
                "server": name,
                "connections": opened,
                "failed": failed,
                "open_seconds": secs,
                "rss_before_mib": rss0 / 1024,
                "rss_after_mib": rss1 / 1024,
                "kib_per_connection": per,
            }
            self.idle.append(row)
            log(f"  {name}: {opened} open ({failed} failed), RSS {rss0/1024:.1f} -> {rss1/1024:.1f} MiB, "
                f"{per if per is None else round(per, 1)} KiB/conn")
            srv.restart()

    # ---- profile
    def profile(self, scenarios):
        if PERF == "0" or out_of_time() or (ONLY and "perf" not in ONLY) or not shutil.which("perf"):
            return
        srv = self.servers["sealgate"]
        reports = {}
        for name in ("h1-es256-same", "h1-es256-distinct"):
            sc = scenarios[name]
            if name == "h1-es256-distinct":
                srv.restart()
            data = os.path.join(WORK, "out", f"perf-{name}.data")
            perf = subprocess.Popen(
                ["perf", "record", "-F", "999", "-g", "-p", str(srv.proc.pid), "-o", data, "--", "sleep", str(DURATION)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(0.2)
            text, _, _ = run_client(
                wrk_argv(srv.port, sc["path"], DURATION, sc["headers"](), sc.get("script", "report.lua"), sc.get("script_args", ())),
                os.path.join(WORK, "out", f"perf-{name}.wrk.txt"),
            )
            try:
                _, err = perf.communicate(timeout=DURATION + 30)
            except subprocess.TimeoutExpired:
                perf.kill()
                perf.communicate()
                err = "timeout"
            if perf.returncode != 0 or not os.path.exists(data):
                self.notes.append(f"perf record failed: {err.strip()[-300:]}")
                return
            rep = subprocess.run(
                ["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso,symbol", "--percent-limit", "0.7", "-g", "none"],
                capture_output=True,
                text=True,
                timeout=180,
            )
            lines = [
                re.sub(r"\s+", " ", re.sub(r"(\s+-)+\s*$", "", l)).strip()
                for l in rep.stdout.splitlines()
                if l.strip() and not l.startswith("#")
            ]
            reports[name] = lines[:40]
        self.perf = reports

    # ---- summaries
    def summarize(self):
        groups = {}
        for r in self.runs:
            groups.setdefault((r["scenario"], r["contender"]), []).append(r)
        summary = {}
        for (s, c), rs in groups.items():
            ok = [r for r in rs if r["valid"]] or rs

            def med(k):
                vals = [r[k] for r in ok if r.get(k) is not None]
                return statistics.median(vals) if vals else None

            summary.setdefault(s, {})[c] = {
                "runs": len(rs),
                "valid_runs": sum(r["valid"] for r in rs),
                "rps": med("rps"),
                "rps_min": min(r["rps"] for r in ok),
                "rps_max": max(r["rps"] for r in ok),
                "p50_ms": med("p50_ms"),
                "p99_ms": med("p99_ms"),
                "cpu_s_per_10k": med("cpu_s_per_10k"),
                "peak_rss_mib": max(r["peak_rss_mib"] for r in ok),
                "other_cpu_s": med("other_cpu_s"),
                "token_cache_hit_ratio": med("token_cache_hit_ratio"),
                "target_rps": med("target_rps"),
            }
            per = {}
            for r in ok:
                for k, v in (r.get("per_request") or {}).items():
                    per.setdefault(k, []).append(v)
            if per:
                summary[s][c]["per_request"] = {k: statistics.median(v) for k, v in per.items()}
        for s, cs in summary.items():
            for sg in ("sealgate", "sealgate+assertion", "sealgate+redis", "sealgate-1w"):
                if sg not in cs:
                    continue
                for other in ("haproxy", "nginx", "direct"):
                    if other in cs and cs[other]["rps"]:
                        self.ratios.setdefault(s, {})[f"{sg}/{other}"] = cs[sg]["rps"] / cs[other]["rps"]
                for other in ("haproxy", "nginx", "direct"):
                    # Requests per CPU-second of the contender alone: less sensitive to
                    # how the 2 shared cores were split with the client and other work.
                    a, b = cs[sg].get("cpu_s_per_10k"), cs.get(other, {}).get("cpu_s_per_10k")
                    if a and b:
                        self.cpu_ratios.setdefault(s, {})[f"{sg}/{other}"] = b / a
            # Sealed versus plaintext through the same process; Redis versus the memory
            # store; 2 workers (the default on 2 cores) versus 1.
            for x, y in (("sealgate+ohttp", "sealgate"), ("sealgate+redis", "sealgate"), ("sealgate", "sealgate-1w"),
                         ("sealgate-full", "nginx-full")):
                if x in cs and y in cs and cs[y]["rps"]:
                    self.ratios.setdefault(s, {})[f"{x}/{y}"] = cs[x]["rps"] / cs[y]["rps"]
                    a, b = cs[x].get("cpu_s_per_10k"), cs[y].get("cpu_s_per_10k")
                    if a and b:
                        self.cpu_ratios.setdefault(s, {})[f"{x}/{y}"] = b / a
        return summary


def fmt(v, nd=2):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return str(v)


def markdown(meta, summary, ratios, scenarios, bench, trows):
    L = []
    L.append(f"# sealgate macro benchmark: {meta['started_utc']}")
    L.append("")
    L.append(
        f"Machine: {meta['cpu_model']}, {meta['nproc']} cores, {meta['mem_gib']:.0f} GiB, Linux {meta['kernel']}. "
        f"Versions: {meta['versions']['sealgate']}; {meta['versions']['haproxy']}; {meta['versions']['nginx']}; "
        f"{meta['versions']['wrk']}; {meta['versions']['h2load']}; {meta['versions']['openssl']}; {meta['versions']['rustc']}; redis {meta['versions']['redis']}."
    )
    L.append("")
    L.append(
        f"Parameters: {DURATION} s per run, {REPS} repetitions (contenders alternate, order rotated each repetition), "
        f"{WARMUP} s warm-up; wrk -t{THREADS} -c{CONNS}; h2load -c{H2_CLIENTS} -m{H2_STREAMS} -t{THREADS}; "
        f"{meta['tokens']} distinct tokens; all on 127.0.0.1 with one ECDSA P-256 certificate "
        f"(negotiated: {'; '.join(f'{k}: {v}' for k, v in sorted(bench.tls.items()))})."
    )
    L.append("")
    contended = sum(1 for r in bench.runs if r["foreign_busy_processes"] or r["other_cpu_s"] > 0.5)
    L.append(
        "**Everything shares 2 cores**: load generator, upstream and contender. Numbers compare contenders *within* "
        "this run; `other CPU` is CPU time used during a run by processes other than the contender, the upstream and "
        "the client (on this machine: another engineer's concurrent compiles); non-zero means contention. "
        f"Runs with compilers running or more than 0.5 s of other CPU: {contended} of {len(bench.runs)}. "
        f"Load average at start: {meta['loadavg_start']}."
    )
    L.append("")
    L.append(
        "Columns: req/s is the median of the repetitions (min-max in brackets); p50/p99 are client latencies (median "
        "over repetitions); CPU s/10k = contender CPU (user+sys of all its processes from /proc) per 10,000 requests; "
        "peak RSS = VmHWM (reset before each run) summed over the contender's processes. "
        "`direct` is the upstream nginx itself over TLS (the ceiling)."
    )
    for name, sc in scenarios.items():
        if name not in summary:
            continue
        L.append("")
        L.append(f"## {name}: {sc['title']}")
        L.append("")
        extra = any(v.get("token_cache_hit_ratio") is not None for v in summary[name].values())
        hdr = "| contender | req/s | p50 ms | p99 ms | CPU s/10k req | peak RSS MiB | other CPU s | valid runs |"
        sep = "|---|---:|---:|---:|---:|---:|---:|---:|"
        if extra:
            hdr += " token-cache hits |"
            sep += "---:|"
        L.append(hdr)
        L.append(sep)
        for c in sc["contenders"]:
            v = summary[name].get(c)
            if not v:
                reason = next((s["reason"] for s in bench.skipped if s["scenario"] == name and s["contender"] == c), "not run")
                L.append(f"| {c} | n/a ({reason}) | | | | | | |" + (" |" if extra else ""))
                continue
            row = (
                f"| {c} | {v['rps']:,.0f} ({v['rps_min']:,.0f}-{v['rps_max']:,.0f}) | {fmt(v['p50_ms'])} | {fmt(v['p99_ms'])} | "
                f"{fmt(v['cpu_s_per_10k'])} | {fmt(v['peak_rss_mib'], 1)} | {fmt(v['other_cpu_s'], 1)} | {v['valid_runs']}/{v['runs']} |"
            )
            if extra:
                h = v.get("token_cache_hit_ratio")
                row += f" {'' if h is None else f'{h:.0%}'} |"
            L.append(row)
        if name in ratios:
            L.append("")
            L.append("Ratios (req/s): " + ", ".join(f"{k} = {v:.2f}" for k, v in ratios[name].items()))
        if name in bench.cpu_ratios:
            L.append("")
            L.append(
                "Ratios (requests per CPU-second of the contender's own processes): "
                + ", ".join(f"{k} = {v:.2f}" for k, v in bench.cpu_ratios[name].items())
            )
        counted = [(c, summary[name][c]["per_request"]) for c in sc["contenders"] if summary[name].get(c, {}).get("per_request")]
        if counted:
            L.append("")
            L.append(
                "Counted per request from the servers' own counters (median of the runs): "
                + "; ".join(f"{c}: " + ", ".join(f"{k} {v:.2f}" for k, v in d.items() if round(v, 2)) for c, d in counted)
            )
        runs = [r for r in bench.runs if r["scenario"] == name]
        busy = sum(1 for r in runs if r["foreign_busy_processes"])
        L.append("")
        L.append(
            f"Runs that started while other compiles were running (after waiting up to {QUIET_WAIT:.0f} s for quiet): "
            f"{busy}/{len(runs)}; median other-process CPU per run {statistics.median(r['other_cpu_s'] for r in runs):.1f} s "
            f"of {2 * DURATION} core-seconds."
        )
        if sc.get("note"):
            L.append("")
            L.append(sc["note"])
    if bench.idle:
        L.append("")
        L.append(f"## Idle TLS connections ({IDLE_CONNS} requested; handshake done, ALPN http/1.1, no request)")
        L.append("")
        L.append("| server | connections held | failed | RSS before MiB | RSS with connections MiB | KiB per connection |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for i in bench.idle:
            L.append(
                f"| {i['server']} | {i['connections']} | {i['failed']} | {i['rss_before_mib']:.1f} | {i['rss_after_mib']:.1f} | {fmt(i['kib_per_connection'], 1)} |"
            )
    L.extend(harness_scaling.markdown_conns(bench))
    L.append("")
    L.append("## Targets from the issue")
    L.append("")
    L.append("| goal | measured | result | unit / detail |")
    L.append("|---|---:|---|---|")
    for goal, value, status, detail in trows:
        L.append(f"| {goal} | {fmt(value) if value is not None else 'n/a'} | {status} | {detail} |")
    if bench.perf:
        L.append("")
        L.append("## Profile (perf record -F 999 on sealgate, flat: self time by symbol, top entries)")
        for name, lines in bench.perf.items():
            L.append("")
            L.append(f"{name}:")
            L.append("")
            L.append("```")
            L.extend(l.rstrip() for l in lines[:25])
            L.append("```")
    L.append("")
    L.append("## Caveats")
    L.append("")
    L.append(
        "- Fixed-rate latency uses h2load `--rps` (per-client pacing; h2load latency is measured from when a request "
        "was sent, so it does not correct for coordinated omission like wrk2, which Debian does not package)."
    )
    if bench.notes or bench.skipped:
        L.append("")
        L.append("## Notes")
        L.append("")
        for n in bench.notes:
            L.append(f"- {n}")
        for s in bench.skipped:
            L.append(f"- {s['scenario']} / {s['contender']}: {s['reason']}")
    L.append("")
    return "\n".join(L)


def version(argv, pattern=None):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        text = (r.stdout + r.stderr).strip()
    except Exception:  # noqa: BLE001
        return "unknown"
    line = text.splitlines()[0] if text else "unknown"
    if pattern:
        m = re.search(pattern, text)
        if m:
            return m.group(0)
    return line


def machine(tokens):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 1024 / 1024
    return {
        "started_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "mem_gib": mem,
        "kernel": os.uname().release,
        "loadavg_start": open("/proc/loadavg").read().strip(),
        "tokens": tokens,
        "versions": {
            "sealgate": version([BIN, "--version"]),
            "haproxy": version(["haproxy", "-v"], r"HAProxy version \S+"),
            "nginx": version(["nginx", "-v"]),
            "wrk": version(["wrk", "-v"], r"wrk \S+"),
            "h2load": version(["h2load", "--version"]),
            "openssl": version(["openssl", "version"]),
            "rustc": version(["rustc", "-V"]),
            "redis": version(["redis-server", "--version"], r"v=\S+") if shutil.which("redis-server") else "none",
            "python": sys.version.split()[0],
        },
    }


def scenarios_def(tokens_file, ntokens, envelopes):
    es = read_token("es256.jwt")
    bad = read_token("es256-badsig.jwt")
    rs = read_token("rs256.jwt")
    ed = read_token("eddsa.jwt")
    first = first_line(tokens_file)
    all5 = ["direct", "nginx", "haproxy", "sealgate", "sealgate+assertion"]
    four = ["direct", "nginx", "haproxy", "sealgate"]
    auth = ["haproxy", "sealgate"]
    defs = {
        "h1-es256-same": dict(
            title="HTTP/1.1 keep-alive (wrk), one valid ES256 token repeated",
            client="wrk", path="/es256/bench", expect=200, contenders=all5,
            headers=lambda: [f"Authorization: Bearer {es}"],
        ),
        "h2-es256-same": dict(
            title="HTTP/2 (h2load), one valid ES256 token repeated",
            client="h2load", path="/es256/bench", expect=200, contenders=all5,
            headers=lambda: [f"authorization: Bearer {es}"],
        ),
        "h1-es256-distinct": dict(
            title=f"HTTP/1.1 (wrk + Lua), {ntokens} distinct valid ES256 tokens rotated",
            client="wrk", path="/es256/bench", expect=200, contenders=four,
            headers=lambda: [], probe_headers=lambda: [f"Authorization: Bearer {first}"],
            script="tokens.lua", script_args=(tokens_file, str(THREADS)), restart_sealgate=True,
            note="sealgate is restarted before each run so its verified-token cache starts empty; the hit column "
            "shows how much the cache still served (tokens repeat only once the file wraps around). direct and "
            "nginx ignore the token but pay the same client-side Lua cost.",
        ),
        "h1-es256-badsig": dict(
            title="HTTP/1.1 (wrk), ES256 token with a bad signature (401 path)",
            client="wrk", path="/es256/bench", expect=401, contenders=auth,
            headers=lambda: [f"Authorization: Bearer {bad}"], script="status.lua",
            note="The client counts statuses here (wrk `response()` hook, the same cost for both): a run is "
            "valid only when 99% of the answers are exactly 401.",
        ),
        "h1-rs256-same": dict(
            title="HTTP/1.1 (wrk), one valid RS256 (RSA-2048) token repeated",
            client="wrk", path="/rs256/bench", expect=200, contenders=auth,
            headers=lambda: [f"Authorization: Bearer {rs}"],
            note="sealgate serves a repeated token from its verified-token cache; HAProxy verifies every request. "
            "Per-algorithm verification cost: see the criterion `jwt_cold/*` benchmarks.",
        ),
        "h1-eddsa-same": dict(
            title="HTTP/1.1 (wrk), one valid EdDSA (Ed25519) token repeated",
            client="wrk", path="/eddsa/bench", expect=200, contenders=auth,
            headers=lambda: [f"Authorization: Bearer {ed}"],
        ),
        "h1-es256-newconn": dict(
            title="HTTP/1.1 (wrk, `Connection: close`): a new TLS connection per request",
            client="wrk", path="/es256/bench", expect=200, contenders=four,
            headers=lambda: [f"Authorization: Bearer {es}", "Connection: close"],
            after=harness_tls.after_newconn,
            note="wrk reconnects after every answer. Whether it resumed its TLS sessions (a PSK from the server's "
            "session ticket: no certificate signature) was counted after the runs by `harness_tls.py`, a relay "
            "reading the hellos of a 1 s wrk run per contender: see the new-connections row of the targets.",
        ),
        "h1-ohttp": dict(
            title="HTTP/1.1 (wrk): the same request (GET, ES256 token) in plaintext versus sealed in Oblivious HTTP "
            "(X25519, AES-128-GCM; 1,000 distinct envelopes rotated)",
            client="wrk", path="/es256/bench", expect=200, contenders=["sealgate", "sealgate+ohttp"],
            headers=lambda: [f"Authorization: Bearer {es}"],
            per_contender={"sealgate+ohttp": dict(
                path="/.well-known/ohttp-gateway", headers=lambda: [], script="ohttp.lua",
                script_args=(envelopes,),
            )},
            note="sealgate+ohttp is the same sealgate process answering POSTs of sealed requests: it opens each "
            "envelope (HPKE), runs the inner request through the same route and token cache, and seals the answer. "
            "The outer status is always 200; a run counts as valid only when the gateway's "
            "sealgate_sealed_requests_total{status_class=\"2xx\"} grew by the number of requests.",
        ),
        "h1-fixed-rate": dict(
            title=f"HTTP/1.1 at a fixed rate ({int(FIXED_RATE_FRACTION*100)}% of sealgate's max in h1-es256-same; h2load --h1 --rps)",
            client="h2load-h1", path="/es256/bench", expect=200, contenders=four,
            headers=lambda: [f"authorization: Bearer {es}"],
        ),
    }
    # The full-handshake variant runs (and is reported) right after h1-es256-newconn.
    ordered = {}
    for name, sc in defs.items():
        ordered[name] = sc
        if name == "h1-es256-newconn":
            ordered.update(harness_fullhs.scenarios(es))
    defs = ordered
    defs.update(harness_redis.scenarios(es))
    defs.update(harness_scaling.scenarios(es))
    for name, sc in defs.items():
        sc["name"] = name
    return defs


def main():
    # Every server inherits this: the keep-alive step needs more than 50,000 fds in
    # sealgate. Raising the hard limit needs CAP_SYS_RESOURCE; else the soft goes to the hard.
    for want in (harness_scaling.NOFILE_WANTED, resource.getrlimit(resource.RLIMIT_NOFILE)[1]):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            break
        except (ValueError, OSError):
            pass
    tokens_file = os.path.join(WORK, "tokens", "es256-many.txt")
    with open(tokens_file) as f:
        ntokens = sum(1 for _ in f)
    meta = machine(ntokens)
    scenarios = scenarios_def(tokens_file, ntokens, None)
    bench = Bench()

    def on_signal(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_signal)
    interrupted = False
    try:
        bench.setup()
        scenarios["h1-ohttp"]["per_contender"]["sealgate+ohttp"]["script_args"] = (
            emit_envelopes(read_token("es256.jwt"), 1000),
        )
        for name, sc in scenarios.items():
            if name == "h1-fixed-rate" and (not ONLY or name in ONLY):
                base = [r for r in bench.runs if r["scenario"] == "h1-es256-same" and r["contender"] == "sealgate" and r["valid"]]
                if not base:
                    bench.notes.append("h1-fixed-rate: skipped, no valid sealgate h1-es256-same runs to derive the rate from")
                    continue
                target = statistics.median(r["rps"] for r in base) * FIXED_RATE_FRACTION
                sc["rps_per_client"] = target / CONNS
                sc["title"] += f": {target:,.0f} req/s total"
            bench.scenario(sc)
        bench.idle_footprint()
        harness_scaling.conns_step(bench)
        bench.profile(scenarios)
    except KeyboardInterrupt:
        interrupted = True
        bench.notes.append("interrupted: partial results")
    finally:
        bench.stop_all()
    summary = bench.summarize()
    trows = harness_targets.targets(summary, bench, ntokens)
    meta["finished_seconds"] = round(time.monotonic() - STARTED, 1)
    meta["loadavg_end"] = open("/proc/loadavg").read().strip()
    meta["params"] = {
        "duration_s": DURATION, "reps": REPS, "warmup_s": WARMUP, "connections": CONNS, "threads": THREADS,
        "h2_clients": H2_CLIENTS, "h2_streams": H2_STREAMS, "idle_conns": IDLE_CONNS, "iss": ISS, "aud": AUD,
        "conns_scale": harness_scaling.CONNS_SCALE, "port_base": PORT_BASE,
    }
    os.makedirs(RESULTS, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    md = markdown(meta, summary, bench.ratios, scenarios, bench, trows)
    doc = {
        "meta": meta,
        "tls": bench.tls,
        "summary": summary,
        "ratios": bench.ratios,
        "cpu_ratios": bench.cpu_ratios,
        "targets": [{"goal": g, "value": v, "result": s, "detail": d} for g, v, s, d in trows],
        "idle": bench.idle,
        "conns": bench.conns,
        "tls_resumption": bench.resumption,
        "unavailable": bench.unavailable,
        "profile": bench.perf,
        "skipped": bench.skipped,
        "notes": bench.notes,
        "runs": bench.runs,
    }
    mdp = os.path.join(RESULTS, f"macro-{stamp}.md")
    jsp = os.path.join(RESULTS, f"macro-{stamp}.json")
    with open(mdp, "w") as f:
        f.write(md)
    with open(jsp, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    log(f"wrote {os.path.relpath(mdp, ROOT)} and {os.path.relpath(jsp, ROOT)} in {meta['finished_seconds']} s")
    print(md)
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
