"""authprobe timing benchmark (see scripts/benchmark).

Everything runs on 127.0.0.1. A single-threaded HTTP server in its own process answers /d<ms>/... after
waiting exactly <ms> milliseconds;
authprobe, curl and blackbox_exporter each time the same discovery URLs, and their reported durations are
compared with the injected delay. CPU time comes from /proc/<pid>/stat of the long-running processes
(authprobe, blackbox_exporter) and from the exit accounting of the curl processes.
"""
import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

DELAYS_MS = [0, 50, 200]
# authprobe probes each delay's environment once a second, one discovery request every 1/3 s; curl and
# blackbox_exporter are paced the same way, so that every tool's requests find the machine equally idle
# (a request fired right after other work finds warm caches and awake cores, and looks faster).
PACE_SECONDS = 1.0 / len(DELAYS_MS)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def response_for(path, port):
    """The delay and the canned HTTP response for a request path such as /d50/.well-known/openid-configuration."""
    parts = path.split("/")
    try:
        delay_ms = int(parts[1][1:])
    except (IndexError, ValueError):
        return 0, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    base = f"http://127.0.0.1:{port}/d{delay_ms}"
    if path.endswith("/jwks"):
        body = json.dumps({"keys": [{"kty": "oct", "kid": "bench", "k": "AAAA"}]})
    else:
        body = json.dumps({"issuer": base, "token_endpoint": base + "/token", "jwks_uri": base + "/jwks"})
    data = body.encode()
    head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            "Connection: close\r\n\r\n").encode()
    return delay_ms, head + data


class DelayServer:
    """The delay server, in a process of its own (see serve()): no thread of this driver, and no GIL it
    holds, can delay an answer. Its log gives the server's own time per discovery request."""

    def __init__(self, work):
        self.log = os.path.join(work, "served.log")
        self.process = subprocess.Popen([sys.executable, __file__, "--serve", self.log], stdout=subprocess.PIPE,
                                        text=True)
        self.port = int(self.process.stdout.readline())
        self.read_until = 0

    def shutdown(self):
        self.process.terminate()
        self.process.wait(timeout=10)

    def overshoot_ms(self):
        """The median of the server's own time beyond the injected delay since the last call."""
        with open(self.log) as f:
            f.seek(self.read_until)
            lines = f.readlines()
            self.read_until = f.tell()
        extra = [float(total) * 1000 - int(delay) for delay, total in (line.split() for line in lines)]
        return statistics.median(extra) if extra else float("nan")


def serve(log_path):
    """A single-threaded blocking server: it accepts a connection, reads the request, waits the delay exactly
    (sleeping, then spinning for the last 2 ms), answers and closes. The tools probe one request at a time,
    so no request waits for another, and with no event loop or thread start in the way the server adds the
    same small time to every tool's request. Each discovery request logs the delay and the server's own
    time from having read the request to starting to send the answer."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    print(port, flush=True)
    log = open(log_path, "a", buffering=1)
    while True:
        connection, _ = listener.accept()
        try:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                head += chunk
            received = time.perf_counter()
            path = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
            delay_ms, response = response_for(path, port)
            if delay_ms:
                until = received + delay_ms / 1000
                if delay_ms > 2:
                    time.sleep(delay_ms / 1000 - 0.002)
                while time.perf_counter() < until:
                    pass
            # Stamped before sending: on loopback, send() may hand the CPU to the client before it returns.
            answered = time.perf_counter()
            connection.sendall(response)
            if path.endswith("/openid-configuration"):
                log.write(f"{delay_ms} {answered - received:.9f}\n")
        except (OSError, IndexError):
            pass
        finally:
            connection.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_port(port, limit=30):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


def summary(errors_ms):
    if not errors_ms:
        raise SystemExit("no successful measurement: is the delay server reachable?")
    ordered = sorted(errors_ms)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return statistics.median(ordered), p99


def run_authprobe(binary, server_port, seconds, work):
    config = os.path.join(work, "bench.yaml")
    metrics_port = free_port()
    with open(config, "w") as f:
        f.write(f"listen: 127.0.0.1:{metrics_port}\ndatabase: {work}/bench.sqlite\n")
        # One run at a time, like the sequential curl and blackbox_exporter loops, so that no tool's
        # requests wait for another's on the single-threaded delay server.
        f.write("concurrency: 1\ndefaults: {interval: 1s, timeout: 1s}\nenvironments:\n")
        for delay in DELAYS_MS:
            f.write(f"  - name: d{delay}\n    issuer: http://127.0.0.1:{server_port}/d{delay}\n")
    process = subprocess.Popen([binary, "run", "--config", config, "--log-level", "warning"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(metrics_port)
        time.sleep(2)  # start-up and first runs are not measured
        db = sqlite3.connect(f"{work}/bench.sqlite")
        first_id = db.execute("SELECT COALESCE(MAX(id), 0) FROM step_result").fetchone()[0]
        cpu_start = cpu_seconds(process.pid)
        time.sleep(seconds)
        cpu = cpu_seconds(process.pid) - cpu_start
        last_id = db.execute("SELECT COALESCE(MAX(id), 0) FROM step_result").fetchone()[0]
    finally:
        process.terminate()
        process.wait(timeout=30)
    rows = db.execute(
        "SELECT environment, duration_seconds FROM step_result WHERE id > ? AND id <= ? AND step = 'discovery' "
        "AND outcome = 'success'", (first_id, last_id)).fetchall()
    requests = last_id - first_id
    errors = [duration * 1000 - int(env[1:]) for env, duration in rows]
    return errors, cpu / max(requests, 1), requests


def run_curl(server_port, count):
    errors, cpu = [], 0.0
    for i in range(count):
        time.sleep(PACE_SECONDS)
        delay = DELAYS_MS[i % len(DELAYS_MS)]
        url = f"http://127.0.0.1:{server_port}/d{delay}/.well-known/openid-configuration"
        before = os.times()
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}", url],
                             capture_output=True, text=True, check=True).stdout
        after = os.times()
        cpu += (after.children_user - before.children_user) + (after.children_system - before.children_system)
        errors.append(float(out) * 1000 - delay)
    return errors, cpu / count, count


def run_blackbox(server_port, count, work):
    port = free_port()
    config = os.path.join(work, "blackbox.yml")
    with open(config, "w") as f:
        f.write("modules:\n  http_get:\n    prober: http\n    timeout: 5s\n"
                "    http:\n      preferred_ip_protocol: ip4\n      method: GET\n")
    process = subprocess.Popen(["prometheus-blackbox-exporter", f"--config.file={config}",
                                f"--web.listen-address=127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    errors = []
    try:
        wait_port(port)
        cpu_start = cpu_seconds(process.pid)
        for i in range(count):
            time.sleep(PACE_SECONDS)
            delay = DELAYS_MS[i % len(DELAYS_MS)]
            target = f"http://127.0.0.1:{server_port}/d{delay}/.well-known/openid-configuration"
            url = f"http://127.0.0.1:{port}/probe?module=http_get&target={urllib.parse.quote(target, safe='')}"
            body = urllib.request.urlopen(url, timeout=10).read().decode()
            phases = [float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
                      if line.startswith("probe_http_duration_seconds{")]
            errors.append(sum(phases) * 1000 - delay)
        cpu = cpu_seconds(process.pid) - cpu_start
    finally:
        process.terminate()
        process.wait(timeout=30)
    return errors, cpu / count, count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--authprobe", required=True)
    parser.add_argument("--seconds", type=int, default=40)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        server = DelayServer(work)
        port = server.port
        try:
            print(f"probing delays {DELAYS_MS} ms on 127.0.0.1:{port} for about {args.seconds} s per tool",
                  file=sys.stderr)
            authprobe = run_authprobe(args.authprobe, port, args.seconds, work)
            overshoot = {"authprobe": server.overshoot_ms()}
            count = len(authprobe[0])
            if count == 0:
                raise SystemExit("authprobe recorded no successful discovery: is the delay server reachable?")
            curl = run_curl(port, count)
            overshoot["curl"] = server.overshoot_ms()
            blackbox = run_blackbox(port, count, work)
            overshoot["blackbox_exporter"] = server.overshoot_ms()
        finally:
            server.shutdown()

    results = {"authprobe": authprobe, "curl": curl, "blackbox_exporter": blackbox}
    print(f"{'tool':<18} {'requests':>8} {'median err ms':>14} {'p99 err ms':>11} {'cpu ms/request':>15} "
          f"{'server ms':>10}")
    medians = {}
    for name, (errors, cpu, requests) in results.items():
        median, p99 = summary(errors)
        medians[name] = median
        print(f"{name:<18} {len(errors):>8} {median:>14.3f} {p99:>11.3f} {cpu * 1000:>15.3f} "
              f"{overshoot[name]:>10.3f}")
    ap_err, curl_err, bb_err = medians["authprobe"], medians["curl"], medians["blackbox_exporter"]
    ap_cpu, bb_cpu = authprobe[1], blackbox[1]
    print()
    print("err: reported duration - injected delay; server ms: the delay server's own time beyond the delay")
    print("(request read to answer sent), a part of every tool's error that is not the tool's.")
    print(f"authprobe - curl median error: {ap_err - curl_err:+.3f} ms (target: within 0.2 ms)")
    print(f"authprobe / blackbox_exporter median error: {ap_err / bb_err if bb_err else float('inf'):.2f} (target: <= 0.8)")
    print(f"authprobe / blackbox_exporter CPU per request: {ap_cpu / bb_cpu if bb_cpu else float('inf'):.2f} (target: <= 0.5)")


if __name__ == "__main__":
    import urllib.parse  # noqa: E402  (used in run_blackbox)
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(sys.argv[2])
    else:
        main()
