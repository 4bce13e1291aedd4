"""authprobe scale benchmark (see scripts/benchmark-scale).

Everything runs on 127.0.0.1. One nginx plays any number of identity providers: every path prefix is an issuer
(/<name>/.well-known/openid-configuration, /<name>/jwks, POST /<name>/token), so N environments cost nginx no
configuration. For each size N, authprobe (`authprobe run`) probes N environments with one client each on the
configured interval. After one interval of warm-up (the first runs are spread over the first interval by the
scheduler's jitter), the benchmark measures over a whole number of intervals:

- runs performed (distinct discovery results in SQLite whose run started in the window) against runs due
  (N x window / interval), and the share of step results that were not a success;
- schedule lag, from authprobe_scheduler_lag_seconds (the histogram's increase over the window, quantiles as
  Prometheus' histogram_quantile computes them), when the binary exports it; and, independently, the delay of
  each stored run start behind its slot on the scheduler's jitter grid (offset + k x interval);
- CPU (utime + stime of /proc/<pid>/stat) per run and as a share of one core, for authprobe and for nginx;
- authprobe's RSS (VmRSS) at the end of the window;
- /metrics scrape time (request sent to last byte) and size, series per target;
- database growth per stored step result (main file + WAL, and pages in use).

Figures are printed, never asserted. Every process started here is stopped however the benchmark ends.
Standard library only.
"""
import argparse
import base64
import http.client
import math
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

from common import STOP_LIMIT, duration_text, parse_duration, start, stop, tail

CLK_TCK = os.sysconf("SC_CLK_TCK")
LAG_METRIC = "authprobe_scheduler_lag_seconds"
RUNS_METRIC = "authprobe_scheduler_runs_total"
SKIPPED_METRIC = "authprobe_scheduler_runs_skipped_total"
SECRET_VARIABLE = "AUTHPROBE_BENCH_SECRET"
# Scrapes during one window are bounded whatever the window's length.
MAX_SCRAPES = 240
# How long authprobe may take to answer /metrics after it is started (N targets are built and restored first).
STARTUP_LIMIT = 180.0
# authprobe writes results in batches at most a second after their run: wait this long before counting rows.
STORE_SETTLE = 2.5

# The targets, for 10,000 pairs at a 60 s interval.
TARGET_N, TARGET_INTERVAL = 10_000, 60.0
TARGETS = [
    "every due run performed",
    "schedule lag p99 < 100 ms",
    "authprobe CPU < 30 % of one core",
    "authprobe RSS < 150 MB",
    "/metrics scrape p99 < 1 s",
]


class BenchmarkError(Exception):
    """The benchmark itself could not run (as opposed to authprobe missing a target, which is only printed)."""


def log(message):
    print(f"benchmark-scale: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Processes


def children(pid):
    """Pids whose parent is `pid` (nginx's worker under its master)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


def cpu_seconds(*pids):
    """utime + stime of the processes (all their threads), in seconds; a process that is gone counts 0."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def time_wait_sockets(server_port):
    """TCP sockets in TIME_WAIT (state 06) towards and from the provider: (authprobe's side, nginx's side).
    Every probe request opens a new connection; the side that closes first keeps the TIME_WAIT, and on the
    client's side each one holds an ephemeral port towards that provider address for a minute."""
    client = server = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] != "06":
                        continue
                    if int(fields[2].rsplit(":", 1)[1], 16) == server_port:
                        client += 1
                    elif int(fields[1].rsplit(":", 1)[1], 16) == server_port:
                        server += 1
        except (OSError, StopIteration, IndexError, ValueError):
            pass
    return client, server


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit(wanted=65536):
    """Each run holds a socket; nginx and authprobe inherit this limit (scripts/benchmark-scale raises it too)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------------------------------------------------------
# The provider: one nginx, any path prefix an issuer


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwks(work):
    """A JWKS with one RSA public key, generated with openssl for this run (authprobe checks that the JWKS has
    keys with a kty; opaque access tokens are not verified against it)."""
    key = os.path.join(work, "jwks-key.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key],
                   check=True, capture_output=True)
    modulus = subprocess.run(["openssl", "rsa", "-in", key, "-noout", "-modulus"], check=True,
                             capture_output=True, text=True).stdout.strip().split("=", 1)[1]
    text = subprocess.run(["openssl", "rsa", "-in", key, "-noout", "-text"], check=True, capture_output=True,
                          text=True).stdout
    exponent = int(re.search(r"publicExponent: (\d+)", text).group(1))
    e = exponent.to_bytes((exponent.bit_length() + 7) // 8, "big")
    jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "bench-1", "n": b64url(bytes.fromhex(modulus)),
           "e": b64url(e)}
    return '{"keys":[{' + ",".join(f'"{k}":"{v}"' for k, v in jwk.items()) + "}]}"


def nginx_temp_paths(nginx, prefix):
    """Temp path directives for the modules this nginx has (a directive of a module built out is an error), so
    that nothing is written outside the benchmark's directory."""
    built = subprocess.run([nginx, "-V"], capture_output=True, text=True).stderr
    lines = [f"client_body_temp_path {prefix}/client_body;"]
    for module in ("proxy", "fastcgi", "uwsgi", "scgi"):
        if f"--without-http_{module}_module" not in built:
            lines.append(f"{module}_temp_path {prefix}/{module};")
    return "\n    ".join(lines)


NGINX_CONF = """\
# One nginx, any path prefix an issuer: /<name>/.well-known/openid-configuration, /<name>/jwks, POST /<name>/token.
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile {files};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;

events {{
    worker_connections {connections};
}}

http {{
    default_type application/json;
    # Thousands of requests a second must cost the measured machine as little as possible.
    access_log off;
    server_tokens off;
    {temp_paths}

    server {{
        listen 127.0.0.1:{port} backlog=4096;

        # The issuer is http://127.0.0.1:{port}/<name>, no trailing slash (authprobe compares it with the configured
        # issuer character for character), with every field the conformance rules look for.
        location ~ "^/(?<issuer>[A-Za-z0-9._-]+)/\\.well-known/openid-configuration$" {{
            return 200 '{{
  "issuer": "http://127.0.0.1:{port}/${{issuer}}",
  "jwks_uri": "http://127.0.0.1:{port}/${{issuer}}/jwks",
  "token_endpoint": "http://127.0.0.1:{port}/${{issuer}}/token",
  "response_types_supported": ["token"],
  "subject_types_supported": ["public"],
  "id_token_signing_alg_values_supported": ["RS256"],
  "grant_types_supported": ["client_credentials"],
  "token_endpoint_auth_methods_supported": ["client_secret_basic"]
}}';
        }}

        location ~ "^/[A-Za-z0-9._-]+/jwks$" {{
            return 200 '{jwks}';
        }}

        # An opaque token (nginx's random request id): authprobe does not inspect tokens that are not JWTs.
        location ~ "^/[A-Za-z0-9._-]+/token$" {{
            add_header Cache-Control no-store always;
            if ($request_method != POST) {{
                return 405;
            }}
            return 200 '{{"access_token":"$request_id","token_type":"Bearer","expires_in":3600}}';
        }}

        location / {{
            return 404;
        }}
    }}
}}
"""


class Provider:
    """The nginx process; `pids()` is the master and its worker, for CPU accounting."""

    def __init__(self, work, fd_limit):
        self.nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.access(self.nginx, os.X_OK):
            raise BenchmarkError("nginx is not installed (scripts/benchmark-scale installs nginx-light)")
        self.prefix = os.path.join(work, "nginx")
        os.makedirs(self.prefix)
        self.port = free_port()
        self.error_log = os.path.join(self.prefix, "error.log")
        conf = os.path.join(self.prefix, "nginx.conf")
        with open(conf, "w") as f:
            # One descriptor per connection (nginx answers itself, no upstream), within the open-file limit.
            f.write(NGINX_CONF.format(prefix=self.prefix, port=self.port, jwks=make_jwks(work),
                                      temp_paths=nginx_temp_paths(self.nginx, self.prefix), files=fd_limit,
                                      connections=max(512, min(16384, fd_limit - 64))))
        argv = [self.nginx, "-p", self.prefix, "-c", conf, "-e", self.error_log]
        check = subprocess.run(argv + ["-t"], capture_output=True, text=True)
        if check.returncode != 0:
            raise BenchmarkError(f"nginx rejects its configuration:\n{check.stderr}")
        self.process = start(argv, os.path.join(self.prefix, "stdout.log"))
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise BenchmarkError(f"nginx did not start:\n{tail(self.error_log)}") from None
                time.sleep(0.1)
        log(f"nginx {self.process.pid} serves issuers at http://127.0.0.1:{self.port}/<name>")

    def issuer(self, name):
        return f"http://127.0.0.1:{self.port}/{name}"

    def pids(self):
        return [self.process.pid] + children(self.process.pid)

    def get(self, path):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def stop(self):
        # SIGQUIT: graceful shutdown; the master stops its worker before it exits.
        stop(self.process, signal.SIGQUIT, limit=10)


# ---------------------------------------------------------------------------------------------------------------
# authprobe configuration


def parse_sizes(text):
    try:
        sizes = [int(part) for part in re.split(r"[,\s]+", text.strip()) if part]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes such as 10,100,1000, not {text!r}") from None
    if not sizes or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError("sizes must be whole numbers >= 1")
    return sizes


def environment_names(n):
    width = max(5, len(str(n)))
    return [f"env-{i:0{width}d}" for i in range(1, n + 1)]


def write_config(path, provider, names, interval, database, listen_port):
    """N environments with one client each. The secret is a ${VAR} reference, never a literal: authprobe
    refuses literal secrets, and the value comes from the benchmark's environment."""
    timeout = min(10.0, interval)  # authprobe requires timeout <= interval
    with open(path, "w") as f:
        f.write(f"# authprobe scale benchmark: {len(names)} environments x 1 client, generated by scale.py.\n")
        f.write(f"listen: 127.0.0.1:{listen_port}\ndatabase: {database}\n")
        f.write(f"defaults:\n  interval: {duration_text(interval)}\n  timeout: {duration_text(timeout)}\n")
        f.write("environments:\n")
        for name in names:
            f.write(f"  - name: {name}\n    issuer: {provider.issuer(name)}\n    clients:\n"
                    f"      - name: bench\n        client_id: bench\n"
                    f"        client_secret: ${{{SECRET_VARIABLE}}}\n")


# ---------------------------------------------------------------------------------------------------------------
# Prometheus text format


def scrape(port):
    """GET /metrics; returns (seconds from sending the request to the last byte, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.connect()
        began = time.perf_counter()
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - began
        if response.status != 200:
            raise BenchmarkError(f"/metrics answered {response.status}")
        return elapsed, body
    finally:
        connection.close()


def samples(body):
    """(name, labels text, value) for every sample line of an exposition."""
    for line in body.decode(errors="replace").splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, labels = head.partition("{")
        try:
            yield name, labels, float(value)
        except ValueError:
            continue


def metric_sum(body, name):
    """The sum of a metric's samples over all label sets; None when the metric is absent."""
    values = [value for sample, _, value in samples(body) if sample == name]
    return sum(values) if values else None


def histogram(body, name):
    """{upper bound: cumulative count} of a histogram, summed over its label sets; None when absent."""
    buckets = {}
    for sample, labels, value in samples(body):
        if sample == name + "_bucket":
            le = re.search(r'le="([^"]*)"', labels).group(1)
            bound = math.inf if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0.0) + value
    return buckets or None


def histogram_quantile(q, buckets):
    """Prometheus' histogram_quantile on cumulative buckets: linear interpolation inside the bucket the rank
    falls into (from 0 for the first bucket); the +Inf bucket answers the highest finite bound."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    previous_bound, previous_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return previous_bound
            if count == previous_count:
                return bound
            return previous_bound + (bound - previous_bound) * (rank - previous_count) / (count - previous_count)
        previous_bound, previous_count = bound, count
    return previous_bound


def histogram_max(buckets):
    """The upper bound of the highest bucket that gained observations (text, since it is a bound)."""
    bounds = sorted(buckets)
    previous = 0.0
    highest = None
    for bound in bounds:
        if buckets[bound] > previous:
            highest = bound
        previous = buckets[bound]
    if highest is None:
        return "n/a"
    if math.isinf(highest):
        finite = [b for b in bounds if not math.isinf(b)]
        return f"> {ms(finite[-1])}" if finite else "n/a"
    return f"≤ {ms(highest)}"


# ---------------------------------------------------------------------------------------------------------------
# The schedule grid, as authprobe's scheduler computes it


def jitter_offset(environment, client, interval):
    """Scheduler.offset: FNV-1a of "environment\\0client", a stable fraction of the interval (whole ms)."""
    h = 0xCBF29CE484222325
    for byte in f"{environment}\0{client}".encode():
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return int(interval * 1000 * ((h % 10_000) / 10_000)) / 1000


def grid_timing(db, interval, window_start, window_end):
    """From the stored run starts (`time` of the discovery rows, taken when a run got its concurrency permit):

    - how late each run in the window started behind its slot on the scheduler's grid, where a target's first
      run is due at start + offset and the next ones an interval apart. Runs are never early, so a run belongs to
      the latest slot at or before it (a run more than an interval late is one whose missed slots the scheduler
      skipped: it counts from the slot it ran in). Each target's loop anchors its grid when it starts, which
      at startup happens over a few milliseconds (more with thousands of targets); the estimate assumes one
      anchor, the earliest (first run - offset) over all targets, so it also counts that spread: an upper
      bound of the lag, for binaries without authprobe_scheduler_lag_seconds. A little slack absorbs the
      anchor's error;
    - the spacing of consecutive runs of the same target, the later one in the window: the interval when the
      schedule is kept; shorter when a late run is followed by one on time."""
    rows = db.execute("SELECT DISTINCT environment, client, time FROM step_result WHERE step = 'discovery' "
                      "AND time < ? ORDER BY time", (window_end,)).fetchall()
    if not rows:
        return [], []
    offsets = {}
    first = {}
    for env, client, t in rows:
        if (env, client) not in first:
            first[(env, client)] = t
            offsets[(env, client)] = jitter_offset(env, client, interval)
    start = min(t - offsets[key] for key, t in first.items())
    slack = min(0.5, interval / 100)
    delays, spacings, previous = [], [], {}
    for env, client, t in rows:
        key = (env, client)
        if t >= window_start:
            since = t - start - offsets[key]
            delays.append(since - math.floor((since + slack) / interval) * interval)
            if key in previous:
                spacings.append(t - previous[key])
        previous[key] = t
    return delays, spacings


# ---------------------------------------------------------------------------------------------------------------
# Formatting


def ms(seconds):
    if seconds is None:
        return "n/a"
    value = seconds * 1000
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms" if value >= 1 else f"{value:.2f} ms"


def mb(value):
    return f"{value / 1e6:.1f} MB"


def percentile(values, q):
    """Nearest-rank percentile of raw observations."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def row(label, text):
    print(f"  {label:<38} {text}")


# ---------------------------------------------------------------------------------------------------------------
# One size


def verify(binary, provider, work, env):
    """One `authprobe probe` of a 1-pair configuration: the provider must pass every step before anything is
    measured, or every figure below would describe failures."""
    config = os.path.join(work, "verify.yaml")
    write_config(config, provider, ["env-00001"], 60.0, os.path.join(work, "verify.sqlite"), free_port())
    result = subprocess.run([binary, "probe", "--config", config], capture_output=True, text=True, env=env,
                            timeout=120)
    if result.returncode != 0:
        raise BenchmarkError("authprobe probe of the benchmark provider did not succeed:\n"
                             f"{result.stdout}{result.stderr}\nnginx error log:\n{tail(provider.error_log)}")
    log("authprobe probe of one issuer: every step succeeded")
    print(result.stdout.rstrip(), file=sys.stderr, flush=True)


def log_problems(path):
    """Warning, error and critical lines of authprobe's log (swift-log: `<time> <level> <label> : …`), and the
    number of failed runs it logged."""
    levels = {}
    examples = []
    failed_runs = 0
    with open(path, errors="replace") as f:
        for line in f:
            match = re.match(r"\S+ (warning|error|critical) ", line)
            if match:
                levels[match.group(1)] = levels.get(match.group(1), 0) + 1
                if len(examples) < 3:
                    examples.append(line.strip()[:300])
            elif "probe run failed" in line:
                failed_runs += 1
    return levels, examples, failed_runs


def measure(n, args, provider, work, env):
    interval = args.interval
    window = interval * args.measure_intervals
    directory = os.path.join(work, f"n{n}")
    os.makedirs(directory)
    database = os.path.join(directory, "authprobe.sqlite")
    config = os.path.join(directory, "authprobe.yaml")
    port = free_port()
    names = environment_names(n)
    write_config(config, provider, names, interval, database, port)
    check = subprocess.run([args.authprobe, "check-config", "--config", config], capture_output=True, text=True,
                           env=env, timeout=300)
    if check.returncode != 0:
        raise BenchmarkError(f"authprobe check-config refused the N={n} configuration:\n"
                             f"{(check.stdout + check.stderr)[:4000]}")
    # nginx answers for every issuer name, including the last one.
    status, _ = provider.get(f"/{names[-1]}/.well-known/openid-configuration")
    if status != 200:
        raise BenchmarkError(f"nginx answered {status} for the discovery of {names[-1]}")

    print(f"\n== N = {n} targets: interval {duration_text(interval)}, warm-up {duration_text(interval)}, "
          f"window {duration_text(window)} ==", flush=True)
    log_path = os.path.join(directory, "authprobe.log")
    launched = time.monotonic()
    process = start([args.authprobe, "run", "--config", config], log_path, env=env)
    result = {"n": n}
    try:
        # Ready when /metrics answers; the scheduler starts with the server.
        while True:
            if process.poll() is not None:
                raise BenchmarkError(f"authprobe exited ({process.returncode}) before serving /metrics:\n"
                                     f"{tail(log_path)}")
            try:
                scrape(port)
                break
            except (OSError, http.client.HTTPException, BenchmarkError):
                if time.monotonic() - launched > STARTUP_LIMIT:
                    raise BenchmarkError(f"authprobe did not serve /metrics within {STARTUP_LIMIT:.0f} s") from None
                time.sleep(0.1)
        ready = time.monotonic()
        row("startup (start → /metrics answers)", f"{ready - launched:.2f} s")

        # Warm-up: every target's first run is due somewhere in the first interval.
        while time.monotonic() < ready + interval:
            if process.poll() is not None:
                raise BenchmarkError(f"authprobe exited ({process.returncode}) during warm-up:\n{tail(log_path)}")
            time.sleep(min(1.0, max(0.0, ready + interval - time.monotonic())))

        nginx_pids = provider.pids()
        db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
        files = [database, database + "-wal"]

        def db_state():
            """Bytes of the main file + WAL, bytes of the pages SQLite uses (WAL content included: the file
            sizes lag behind checkpoints, the WAL is reused, not shrunk), and the last row id."""
            size = sum(os.path.getsize(p) for p in files if os.path.exists(p))
            pages = db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
            return size, pages, db.execute("SELECT COALESCE(MAX(id), 0) FROM step_result").fetchone()[0]

        # Window start.
        wall_start, mono_start = time.time(), time.monotonic()
        cpu_start, nginx_start = cpu_seconds(process.pid), cpu_seconds(*nginx_pids)
        bytes_start, pages_start, id_start = db_state()
        scrape_times, scrape_cpu, scrape_failures = [], [], []

        def timed_scrape():
            """A scrape in the window: its time and authprobe's CPU around it are recorded; a failed or timed-out
            scrape is a result too (counted), not the end of the benchmark."""
            before = cpu_seconds(process.pid)
            try:
                elapsed, body = scrape(port)
            except (OSError, http.client.HTTPException, BenchmarkError) as error:
                scrape_failures.append(f"{type(error).__name__}: {error}")
                return None
            scrape_cpu.append(cpu_seconds(process.pid) - before)
            scrape_times.append(elapsed)
            return body

        first_body = timed_scrape()
        last_good = first_body

        # Scrapes through the window, one every --scrape-every, bounded in number; a scrape slower than that
        # delays the next, and none starts after the window's end.
        count = min(MAX_SCRAPES, max(1, int(window // args.scrape_every)))
        step = window / count
        for i in range(1, count):
            wake = mono_start + i * step
            if time.monotonic() >= mono_start + window:
                break
            while time.monotonic() < wake:
                if process.poll() is not None:
                    raise BenchmarkError(f"authprobe exited ({process.returncode}) while measured:\n"
                                         f"{tail(log_path)}")
                time.sleep(min(1.0, max(0.0, wake - time.monotonic())))
            last_good = timed_scrape() or last_good
        while time.monotonic() < mono_start + window:
            time.sleep(min(1.0, max(0.0, mono_start + window - time.monotonic())))

        # Window end: the final scrape is timed too, and closes the lag histogram's window.
        wall_end, mono_end = time.time(), time.monotonic()
        cpu_end, nginx_end = cpu_seconds(process.pid), cpu_seconds(*nginx_pids)
        rss = rss_bytes(process.pid)
        fds = open_fds(process.pid)
        time_wait = time_wait_sockets(provider.port)
        last_body = timed_scrape()
        last_good = last_body or last_good
        window_scrapes_cpu = sum(scrape_cpu[:-1]) if last_body is not None else sum(scrape_cpu)
        measured = mono_end - mono_start

        time.sleep(STORE_SETTLE)
        bytes_end, pages_end, id_end = db_state()
        performed, targets_run = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT environment) FROM (SELECT DISTINCT environment, client, time "
            "FROM step_result WHERE step = 'discovery' AND time >= ? AND time < ?)",
            (wall_start, wall_end)).fetchone()
        step_rows, failed_rows = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(outcome != 'success'), 0) FROM step_result WHERE time >= ? AND time < ?",
            (wall_start, wall_end)).fetchone()
        failures = db.execute(
            "SELECT step, outcome, COUNT(*) FROM step_result WHERE time >= ? AND time < ? AND outcome != 'success' "
            "GROUP BY step, outcome ORDER BY COUNT(*) DESC LIMIT 5", (wall_start, wall_end)).fetchall()
        delays, spacings = grid_timing(db, interval, wall_start, wall_end)
        db.close()
    finally:
        stopped, how = stop(process)

    due = n * measured / interval
    result.update(performed=performed, due=due, targets_run=targets_run)
    row("runs performed / due", f"{performed} / {due:.0f} ({100 * performed / due:.1f} %); "
                                f"targets with no run in the window: {n - targets_run}")
    if performed > due * 1.01:
        row("", "more than due: runs late before the window ran in it (see the spacing below)")
    share = failed_rows / step_rows if step_rows else 0.0
    result["failed"] = share
    row("non-success step results", f"{failed_rows} of {step_rows} ({100 * share:.2f} %)")
    for step_name, outcome, number in failures:
        row("", f"{step_name} {outcome}: {number}")

    lag_start, lag_end = histogram(first_body, LAG_METRIC), histogram(last_body, LAG_METRIC)
    if first_body is None or last_body is None:
        row("schedule lag median / p99 / max", "n/a (the scrape at the window's start or end failed)")
        result["lag_p99"] = None
    elif lag_end is None:
        row("schedule lag median / p99 / max", f"n/a (no {LAG_METRIC})")
        result["lag_p99"] = None
    else:
        increase = {bound: lag_end[bound] - (lag_start or {}).get(bound, 0.0) for bound in lag_end}
        median, p99 = histogram_quantile(0.5, increase), histogram_quantile(0.99, increase)
        result["lag_p99"] = p99
        observed = increase[max(increase)]
        row("schedule lag median / p99 / max", f"{ms(median)} / {ms(p99)} / {histogram_max(increase)} "
                                               f"({observed:.0f} observations)")
    for label, metric in (("scheduler runs (metric increase)", RUNS_METRIC),
                          ("scheduler runs skipped (increase)", SKIPPED_METRIC)):
        first = metric_sum(first_body, metric) if first_body is not None else None
        last = metric_sum(last_body, metric) if last_body is not None else None
        row(label, f"n/a (no {metric})" if last is None else f"{last - (first or 0):.0f}")
    result["slot_p99"] = percentile(delays, 0.99) if delays else None
    if delays:
        row("run start behind its grid slot (db)", f"median {ms(statistics.median(delays))} / "
                                                   f"p99 {ms(percentile(delays, 0.99))} / max {ms(max(delays))}")
    if spacings:
        row("runs of one target apart (db)", f"min {min(spacings):.2f} s / median {statistics.median(spacings):.2f} s"
                                             f" / max {max(spacings):.2f} s (interval {duration_text(interval)})")

    cpu = cpu_end - cpu_start
    # The window's scrapes (all but the closing one) are part of that CPU; measured around each scrape, with
    # whatever probing ran meanwhile, in clock ticks: an upper bound, and coarse for small figures.
    scraping = window_scrapes_cpu
    result.update(cpu_per_run=cpu / performed if performed else None, cpu_share=cpu / measured)
    row("authprobe CPU", f"{ms(result['cpu_per_run'])} per run, {100 * cpu / measured:.1f} % of one core "
                         f"({cpu:.2f} s in {measured:.0f} s)")
    if scrape_cpu:
        without = 100 * (cpu - scraping) / measured
        row("  of which around scrapes", f"{scraping:.2f} s, {ms(statistics.median(scrape_cpu))} per scrape "
                                         f"(median); without them {without:.1f} % of one core")
    row("nginx CPU", f"{100 * (nginx_end - nginx_start) / measured:.1f} % of one core")
    result.update(rss=rss)
    row("authprobe RSS at the end", f"{mb(rss)}, {rss / n / 1024:.1f} KB per target")
    row("authprobe open fds", f"{fds}")
    row("TIME_WAIT connections at the end", f"{time_wait[0]} closed first by authprobe, {time_wait[1]} by nginx")

    if not scrape_times:
        raise BenchmarkError(f"no /metrics scrape succeeded in the window: {scrape_failures[:3]}")
    result["scrape_p99"] = percentile(scrape_times, 0.99)
    row("/metrics scrape median / p99 / max", f"{ms(statistics.median(scrape_times))} / "
                                              f"{ms(result['scrape_p99'])} / {ms(max(scrape_times))} "
                                              f"({len(scrape_times)} scrapes, {len(last_good)} bytes)")
    if scrape_failures:
        row("", f"{len(scrape_failures)} scrapes failed, e.g. {scrape_failures[0]}")
    lines = list(samples(last_good))
    with_client = sum(1 for _, labels, _ in lines if 'client="' in labels)
    environment_only = sum(1 for _, labels, _ in lines if 'environment="' in labels and 'client="' not in labels)
    result["series"] = len(lines) / n
    other = len(lines) - with_client - environment_only
    row("series per target", f"{len(lines) / n:.1f} ({len(lines)} samples; with client {with_client / n:.1f}, "
                             f"environment only {environment_only / n:.1f}, other {other})")

    added = id_end - id_start
    result["db_bytes"] = (bytes_end - bytes_start) / added if added else None
    row("database bytes per step result", "n/a (no rows)" if not added else
        f"{(bytes_end - bytes_start) / added:.0f} in files (+{mb(bytes_end - bytes_start)} db + WAL for {added} "
        f"rows), {(pages_end - pages_start) / added:.0f} in pages; {mb(bytes_end)} with WAL at the end")

    levels, examples, failed_runs = log_problems(log_path)
    row("authprobe log", ", ".join(f"{count} {level}" for level, count in sorted(levels.items()))
        or "no warning or error lines")
    for line in examples:
        row("", line)
    if failed_runs:
        row("", f"{failed_runs} 'probe run failed' lines")
    row("stopped", f"in {stopped:.2f} s ({how})")
    return result


# ---------------------------------------------------------------------------------------------------------------


SUMMARY_COLUMNS = [
    # header, width, cell
    ("N", 7, lambda r, _: f"{r['n']}"),
    ("runs/due", 15, lambda r, _: f"{r['performed']}/{r['due']:.0f}"),
    ("fail %", 7, lambda r, _: f"{100 * r['failed']:.2f}"),
    ("lag p99", 10, lambda r, _: ms(r["lag_p99"])),
    ("slot p99", 10, lambda r, _: ms(r["slot_p99"])),
    ("CPU/run", 10, lambda r, _: ms(r["cpu_per_run"])),
    ("CPU %", 6, lambda r, _: f"{100 * r['cpu_share']:.1f}"),
    ("RSS MB", 7, lambda r, _: f"{r['rss'] / 1e6:.1f}"),
    ("KB/tgt", 7, lambda r, _: f"{r['rss'] / r['n'] / 1024:.1f}"),
    ("+KB/tgt", 8, lambda r, p: "" if p is None or r["n"] <= p["n"] else
     f"{(r['rss'] - p['rss']) / (r['n'] - p['n']) / 1024:.1f}"),
    ("scrape p99", 11, lambda r, _: ms(r["scrape_p99"])),
    ("series/tgt", 11, lambda r, _: f"{r['series']:.1f}"),
    ("B/row", 7, lambda r, _: "n/a" if r["db_bytes"] is None else f"{r['db_bytes']:.0f}"),
]


def summary(results, args):
    print(f"\n== Summary: interval {duration_text(args.interval)}, window {args.measure_intervals} intervals ==")
    print("".join(f"{header:>{width}}" for header, width, _ in SUMMARY_COLUMNS))
    previous = None
    for r in results:
        print("".join(f"{cell(r, previous):>{width}}" for _, width, cell in SUMMARY_COLUMNS))
        previous = r
    print("(lag: authprobe_scheduler_lag_seconds; slot: run start behind its grid slot, from the database;\n"
          " KB/tgt: RSS / N; +KB/tgt: RSS growth per target added since the previous size;\n"
          " B/row: growth of the database file + WAL per stored step result)")

    print(f"\nTargets for {TARGET_N:,} pairs at {TARGET_INTERVAL:.0f} s: " + "; ".join(TARGETS) + ".")
    at_target = [r for r in results if r["n"] == TARGET_N]
    if not at_target or args.interval != TARGET_INTERVAL:
        print(f"(Not measured here: compare with a run of --sizes {TARGET_N} --interval {TARGET_INTERVAL:.0f}s.)")
        return
    r = at_target[0]
    # Runs whose slot falls in the window but that start after it are offset by earlier ones that start in it,
    # so "every due run" allows the window's edges 0.1 %; every target must have run.
    every_run = r["performed"] >= 0.999 * r["due"] and r["targets_run"] == r["n"]
    if r["lag_p99"] is not None or r["slot_p99"] is None:
        lag = ("schedule lag p99", r["lag_p99"])
    else:
        lag = ("lag p99 (db slot estimate)", r["slot_p99"])
    checks = [
        ("runs performed / due", f"{r['performed']} / {r['due']:.0f}", every_run),
        (lag[0], ms(lag[1]), None if lag[1] is None else lag[1] < 0.1),
        ("CPU, % of one core", f"{100 * r['cpu_share']:.1f} %", r["cpu_share"] < 0.30),
        ("RSS", mb(r["rss"]), r["rss"] < 150e6),
        ("/metrics scrape p99", ms(r["scrape_p99"]), r["scrape_p99"] < 1.0),
    ]
    for label, value, met in checks:
        verdict = "n/a" if met is None else "met" if met else "MISSED"
        print(f"  {label:<28} {value:>16}  {verdict}")


def main():
    parser = argparse.ArgumentParser(description="authprobe scale benchmark (see scripts/benchmark-scale)")
    parser.add_argument("--authprobe", required=True, help="the authprobe binary")
    parser.add_argument("--sizes", type=parse_sizes, default=[10, 100, 1000, 10000],
                        help="numbers of environment x client targets, e.g. 10,100,1000,10000 (the default)")
    parser.add_argument("--interval", type=parse_duration, default=60.0, help="probe interval (default 60s)")
    parser.add_argument("--measure-intervals", type=int, default=2, help="intervals measured (default 2)")
    parser.add_argument("--scrape-every", type=parse_duration, default=5.0,
                        help="time between /metrics scrapes in the window (default 5s)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and print its path")
    args = parser.parse_args()
    if args.measure_intervals < 1:
        parser.error("--measure-intervals must be >= 1")
    if not os.access(args.authprobe, os.X_OK):
        parser.error(f"not an executable: {args.authprobe}")

    # Ctrl-C, SIGTERM and SIGHUP end the benchmark through its finally blocks, which stop every child.
    # A second signal is ignored: the clean-up it would interrupt is bounded (STOP_LIMIT, then SIGKILL).
    def interrupted(signum, _frame):
        for ignored in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(ignored, signal.SIG_IGN)
        raise KeyboardInterrupt(signal.Signals(signum).name)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)

    fd_limit = raise_fd_limit()
    env = dict(os.environ)
    env.setdefault(SECRET_VARIABLE, secrets.token_urlsafe(24))
    work = tempfile.mkdtemp(prefix="authprobe-scale-")
    provider = None
    results = []
    try:
        log(f"work directory {work}; open-file limit {fd_limit}; "
            f"{os.cpu_count()} CPUs; authprobe {args.authprobe}")
        provider = Provider(work, fd_limit)
        verify(args.authprobe, provider, work, env)
        for n in args.sizes:
            results.append(measure(n, args, provider, work, env))
        summary(results, args)
        return 0
    except BenchmarkError as error:
        log(f"cannot run: {error}")
        return 1
    except KeyboardInterrupt as interruption:
        log(f"interrupted ({interruption})")
        return 130
    finally:
        if provider is not None:
            provider.stop()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
