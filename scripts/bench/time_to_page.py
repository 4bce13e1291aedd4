"""authprobe time-to-page benchmark (see scripts/benchmark-time-to-page).

How long after a credential is revoked does someone get paged? Everything runs on 127.0.0.1, on ports chosen
at run time:

- a real glewlwyd (scripts/idp/glewlwyd/start) with one client;
- two real Alertmanagers (Debian prometheus-alertmanager), each with one route to a receiver without
  integrations ("null"): the first receives authprobe's built-in alerts, the second Prometheus' alerts, so
  neither route ever sees the other's alerts;
- `authprobe run` probing the client (interval and token_interval both --interval, 10 s by default), with
  `alerting.alertmanager` pointing at the first Alertmanager;
- Prometheus with config/prometheus.yml as shipped (its 15 s scrape and evaluation intervals and both rule
  files, byte for byte), only the target's port changed and an `alerting` section added that points at the
  second Alertmanager.

Once authprobe reports the client healthy and Prometheus has scraped it and evaluated the rules, each run
revokes the client (scripts/idp/glewlwyd/revoke-client), notes the instant its admin API call returned, and
polls both Alertmanagers' GET /api/v2/alerts every 100 ms until an active CredentialRejected (built-in route)
and AuthprobeCredentialRejected (Prometheus route) with the client's environment and client labels is there.
Then it re-enables the client and times both alerts' disappearance (Alertmanager leaves resolved alerts out of
/api/v2/alerts). The stored results (SQLite) give the rejected and successful token attempts in between. A
random wait of up to one interval before each revocation and each re-enabling spreads them over the probe cycle.

Alertmanager shows an alert as active as soon as it receives it, whatever group_wait says: group_wait only
holds back the first notification of a new group to the receiver. Both Alertmanagers keep Alertmanager's
defaults (group_wait 30s, group_interval 5m, repeat_interval 4h), as a stock installation would, so the
figures are the time until the alert is in Alertmanager, and a receiver would be notified group_wait later
on either route.

Figures are printed, never asserted. Every process started here is stopped however the benchmark ends.
Standard library only.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from common import STOP_LIMIT, duration_text, parse_duration, start, stop, tail

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GLEWLWYD = os.path.join(ROOT, "scripts", "idp", "glewlwyd")
PROMETHEUS_YML = os.path.join(ROOT, "config", "prometheus.yml")
RULES_DIR = os.path.join(ROOT, "config", "alerts")
ALERTMANAGER = "prometheus-alertmanager"
PROMETHEUS = "prometheus"

ENVIRONMENT, CLIENT = "glewlwyd", "monitor"
SECRET_VARIABLE = "AUTHPROBE_TTP_SECRET"
POLL = 0.1
# Start-up bounds: processes answering, then the first healthy run and Prometheus' first rule evaluation on it.
READY_LIMIT = 60.0
# authprobe writes results in batches at most a second after their run.
STORE_SETTLE = 2.0

# Alertmanager's own defaults, written out: they do not change when /api/v2/alerts shows an alert (see above).
ALERTMANAGER_YML = """\
# time-to-page benchmark: every alert goes to a receiver without integrations.
route:
  receiver: "null"
  group_by: [alertname, environment, client]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: "null"
"""


class BenchmarkError(Exception):
    """The benchmark itself could not run (as opposed to an alert not seen in time, which is only printed)."""


def log(message):
    print(f"benchmark-time-to-page: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Processes


def free_ports(count):
    """`count` distinct free loopback ports (held open together while they are chosen, so no two are equal)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def http_get(url, timeout=5.0):
    """(status, body) of a GET, or (None, error text) when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (OSError, ValueError) as error:
        return None, str(error).encode()


def wait_for(what, check, limit, process=None, log_path=None):
    """Calls `check` every 0.2 s until it returns a true value, which is returned; BenchmarkError after `limit`
    seconds or when `process` exits."""
    deadline = time.monotonic() + limit
    while True:
        value = check()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise BenchmarkError(f"{what}: the process exited ({process.returncode}):\n{tail(log_path)}")
        if time.monotonic() > deadline:
            detail = f":\n{tail(log_path)}" if log_path else ""
            raise BenchmarkError(f"{what}: not within {limit:.0f} s{detail}")
        time.sleep(0.2)


# ---------------------------------------------------------------------------------------------------------------
# Durations


def clock(wall):
    return time.strftime("%H:%M:%S", time.localtime(wall)) + f".{int(wall % 1 * 1000):03d}"


# ---------------------------------------------------------------------------------------------------------------
# The parts


class Glewlwyd:
    """The real provider, through scripts/idp/glewlwyd (start, revoke-client, stop)."""

    def __init__(self, work):
        self.dir = os.path.join(work, "glewlwyd")
        self.started = False
        self.exports = {}

    def start(self, port):
        self.started = True  # from here on, stop() runs the stop script (start may fail half-way)
        result = subprocess.run([os.path.join(GLEWLWYD, "start"), self.dir, str(port)], stdin=subprocess.DEVNULL,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise BenchmarkError(f"scripts/idp/glewlwyd/start failed:\n{result.stderr[-3000:]}")
        for line in result.stdout.splitlines():
            match = re.fullmatch(r"export (\w+)='(.*)'", line)
            if match:
                self.exports[match.group(1)] = match.group(2)
        for key in ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_SCOPE"):
            if not self.exports.get(key):
                raise BenchmarkError(f"scripts/idp/glewlwyd/start printed no {key}")
        log(f"glewlwyd at {self.exports['OIDC_ISSUER']}, client {self.exports['OIDC_CLIENT_ID']}")

    def revoke(self, action):
        """Runs `revoke-client --<action>`; returns (monotonic, wall) of the moment the script reported the admin
        API call done (the client is disabled or enabled by then), and the script's start on the monotonic clock.
        """
        began = time.monotonic()
        process = subprocess.Popen([os.path.join(GLEWLWYD, "revoke-client"), f"--{action}", self.dir],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True)
        done, lines = None, []
        for line in process.stderr:
            if done is None and f": {action} done" in line:
                done = (time.monotonic(), time.time())
            lines.append(line)
        process.wait()
        if process.returncode != 0 or done is None:
            raise BenchmarkError(f"revoke-client --{action} failed:\n{''.join(lines)[-2000:]}")
        return done, began

    def stop(self, purge):
        if self.started:
            subprocess.run([os.path.join(GLEWLWYD, "stop")] + (["--purge"] if purge else []) + [self.dir],
                           stdin=subprocess.DEVNULL, capture_output=True)
            self.started = False


class Alertmanager:
    def __init__(self, work, name, port):
        self.name, self.port = name, port
        self.url = f"http://127.0.0.1:{port}"
        directory = os.path.join(work, name)
        os.makedirs(directory)
        config = os.path.join(directory, "alertmanager.yml")
        with open(config, "w") as f:
            f.write(ALERTMANAGER_YML)
        self.log = os.path.join(directory, "alertmanager.log")
        binary = shutil.which(ALERTMANAGER)
        if binary is None:
            raise BenchmarkError(f"{ALERTMANAGER} is not installed (scripts/benchmark-time-to-page installs it)")
        # --cluster.listen-address= turns the HA gossip off: it would listen on 0.0.0.0:9094, and two instances
        # on one port would fail.
        self.process = start([binary, f"--config.file={config}", f"--storage.path={directory}/data",
                              f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="], self.log)

    def wait_ready(self):
        wait_for(f"Alertmanager {self.name} ready", lambda: http_get(f"{self.url}/-/ready")[0] == 200, READY_LIMIT,
                 self.process, self.log)

    def alerts(self):
        """Every alert /api/v2/alerts lists (resolved alerts are left out by Alertmanager), or None."""
        status, body = http_get(f"{self.url}/api/v2/alerts", timeout=2.0)
        if status != 200:
            return None
        try:
            return json.loads(body)
        except ValueError:
            return None

    def stop(self):
        stop(self.process)


class Authprobe:
    def __init__(self, binary, work, issuer, client_id, scope, interval, port, alertmanager, env):
        self.url = f"http://127.0.0.1:{port}"
        self.config = os.path.join(work, "authprobe.yaml")
        self.database = os.path.join(work, "authprobe.sqlite")
        self.log = os.path.join(work, "authprobe.log")
        timeout = min(10.0, interval)  # authprobe requires timeout <= interval
        with open(self.config, "w") as f:
            f.write(f"""\
# time-to-page benchmark, generated by scripts/bench/time_to_page.py
listen: 127.0.0.1:{port}
database: {self.database}
alerting:
  alertmanager:
    - url: {alertmanager.url}
environments:
  - name: {ENVIRONMENT}
    issuer: {issuer}
    interval: {duration_text(interval)}
    token_interval: {duration_text(interval)}
    timeout: {duration_text(timeout)}
    clients:
      - name: {CLIENT}
        client_id: {client_id}
        client_secret: ${{{SECRET_VARIABLE}}}
        scope: {scope}
""")
        check = subprocess.run([binary, "check-config", "--config", self.config], capture_output=True, text=True,
                               env=env)
        if check.returncode != 0:
            raise BenchmarkError(f"authprobe refuses the configuration:\n{check.stdout}{check.stderr}")
        self.process = start([binary, "run", "--config", self.config], self.log, env=env)

    def up(self):
        """authprobe_up of the client on /metrics: 1.0, 0.0, or None."""
        status, body = http_get(f"{self.url}/metrics")
        if status != 200:
            return None
        pattern = re.compile(r'^authprobe_up\{(?=[^}]*environment="%s")(?=[^}]*client="%s")[^}]*\} (\S+)$'
                             % (ENVIRONMENT, CLIENT), re.M)
        match = pattern.search(body.decode(errors="replace"))
        return float(match.group(1)) if match else None

    def token_attempts(self, since_wall):
        """(finished, outcome) of the client's token attempts that finished after `since_wall`, oldest first.
        A run's steps share its start time; the token step ends when the steps before it and itself are done."""
        try:
            db = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)
        except sqlite3.Error:
            return []
        try:
            rows = db.execute("SELECT id, time, step, outcome, duration_seconds FROM step_result "
                              "WHERE environment = ? AND client = ? AND time >= ? ORDER BY id",
                              (ENVIRONMENT, CLIENT, since_wall - 60)).fetchall()
        except sqlite3.Error:
            return []
        finally:
            db.close()
        attempts, elapsed = [], {}
        for _, started, step, outcome, duration in rows:
            elapsed[started] = elapsed.get(started, 0.0) + duration
            if step == "token" and started + elapsed[started] > since_wall:
                attempts.append((started + elapsed[started], outcome))
        return attempts

    def stop(self):
        stop(self.process)


class Prometheus:
    """config/prometheus.yml as shipped, with the rule files it names copied beside it unchanged: only the
    scrape target's port differs, and an `alerting` section points at the Alertmanager of this route."""

    def __init__(self, work, port, target_port, alertmanager):
        self.url = f"http://127.0.0.1:{port}"
        directory = os.path.join(work, "prometheus")
        os.makedirs(os.path.join(directory, "alerts"))
        with open(PROMETHEUS_YML) as f:
            text = f.read()
        self.scrape_interval = self._global(text, "scrape_interval")
        self.evaluation_interval = self._global(text, "evaluation_interval")
        sample_target = 'targets: ["127.0.0.1:9470"]'
        if text.count(sample_target) != 1:
            raise BenchmarkError(f"config/prometheus.yml: expected one line {sample_target!r}")
        if re.search(r"^alerting:", text, re.M):
            raise BenchmarkError("config/prometheus.yml already has an alerting section")
        text = text.replace(sample_target, f'targets: ["127.0.0.1:{target_port}"]')
        text += ("\n# Added by the time-to-page benchmark: the Alertmanager of the Prometheus route.\n"
                 "alerting:\n  alertmanagers:\n    - static_configs:\n"
                 f'        - targets: ["127.0.0.1:{alertmanager.port}"]\n')
        self.config = os.path.join(directory, "prometheus.yml")
        with open(self.config, "w") as f:
            f.write(text)
        for name in os.listdir(RULES_DIR):
            if name.endswith(".yml"):
                shutil.copyfile(os.path.join(RULES_DIR, name), os.path.join(directory, "alerts", name))
        promtool = shutil.which("promtool")
        if promtool:
            check = subprocess.run([promtool, "check", "config", self.config], capture_output=True, text=True)
            if check.returncode != 0:
                raise BenchmarkError(f"promtool check config:\n{check.stdout}{check.stderr}")
        self.log = os.path.join(directory, "prometheus.log")
        binary = shutil.which(PROMETHEUS)
        if binary is None:
            raise BenchmarkError(f"{PROMETHEUS} is not installed (scripts/benchmark-time-to-page installs it)")
        self.process = start([binary, f"--config.file={self.config}", f"--storage.tsdb.path={directory}/data",
                              f"--web.listen-address=127.0.0.1:{port}"], self.log)

    @staticmethod
    def _global(text, key):
        match = re.search(r"^\s+%s:\s*(\S+)" % key, text, re.M)
        if not match:
            raise BenchmarkError(f"config/prometheus.yml has no {key}")
        return match.group(1)

    def api(self, path, **query):
        status, body = http_get(f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(query)}")
        if status != 200:
            return None
        try:
            return json.loads(body).get("data")
        except ValueError:
            return None

    def query(self, expression):
        data = self.api("query", query=expression)
        return data.get("result", []) if data else []

    def first_rejection_sample(self, since_wall):
        """The first scraped value of the client's credential-scoped token result series that appeared after
        `since_wall` (a credential's first rejection makes them), else None."""
        selector = (f'authprobe_step_results_total{{job="authprobe",environment="{ENVIRONMENT}",client="{CLIENT}",'
                    f'step="token",scope="credential"}}[1h]')
        firsts = [float(series["values"][0][1]) for series in self.query(selector)
                  if series.get("values") and float(series["values"][0][0]) > since_wall]
        return min(firsts) if firsts else None

    def stop(self):
        stop(self.process)


# ---------------------------------------------------------------------------------------------------------------
# Measuring


class Route:
    def __init__(self, name, alertname, alertmanager, limit):
        self.name, self.alertname, self.alertmanager, self.limit = name, alertname, alertmanager, limit

    def active(self, alerts):
        """Whether `alerts` (one /api/v2/alerts answer) hold this route's alert for the client, active."""
        for alert in alerts:
            labels = alert.get("labels", {})
            if (labels.get("alertname") == self.alertname and labels.get("environment") == ENVIRONMENT
                    and labels.get("client") == CLIENT and alert.get("status", {}).get("state") == "active"):
                return True
        return False


def watch(routes, since, wanted, others):
    """Polls every route's Alertmanager every POLL seconds until its alert is active (`wanted` True) or gone
    (False), or until the route's limit. Returns {route name: seconds after `since` (monotonic), or None}; the
    time is when the answer that showed it arrived. Names of other alerts seen go into `others`."""
    seen = {}
    pending = list(routes)
    while pending:
        began = time.monotonic()
        for route in list(pending):
            alerts = route.alertmanager.alerts()
            now = time.monotonic()
            if alerts is not None:
                for alert in alerts:
                    name = alert.get("labels", {}).get("alertname")
                    if name and name != route.alertname:
                        others.setdefault(route.name, set()).add(name)
                if route.active(alerts) == wanted:
                    seen[route.name] = now - since
                    pending.remove(route)
                    continue
            if now - since > route.limit:
                seen[route.name] = None
                pending.remove(route)
        time.sleep(max(0.0, POLL - (time.monotonic() - began)))
    return seen


def wait_quiet(authprobe, prometheus, routes, limit):
    """Before a revocation: authprobe and Prometheus see the client healthy, and no route's alert is active."""
    def quiet():
        if authprobe.up() != 1.0:
            return False
        if not prometheus.query(f'authprobe_up{{job="authprobe",environment="{ENVIRONMENT}",client="{CLIENT}"}} == 1'):
            return False
        for route in routes:
            alerts = route.alertmanager.alerts()
            if alerts is None or route.active(alerts):
                return False
        return True
    wait_for("client healthy and no alert active before the revocation", quiet, limit)


def seconds(value, interval):
    return f"{value:6.2f} s = {value / interval:4.2f} intervals"


def picked(attempts, since, good):
    """The first two token attempts after `since` that failed (good False) or succeeded (good True)."""
    return [(t, o) for t, o in attempts if t > since and (o == "success") == good][:2]


def attempts_text(attempts, since, interval):
    if not attempts:
        return "none stored"
    return ", ".join(f"+{t - since:.2f} s ({o})" for t, o in attempts) + (
        f"; the second {(attempts[1][0] - since) / interval:.2f} intervals after" if len(attempts) == 2 else "")


def measure(number, args, glewlwyd, authprobe, prometheus, routes):
    """One revocation and re-enabling. Returns ({route: seconds to active or None}, {route: seconds to gone or
    None})."""
    interval = args.interval
    wait_quiet(authprobe, prometheus, routes, max(r.limit for r in routes))
    # A random point of the probe cycle (and of Prometheus' scrape and evaluation cycles).
    time.sleep(random.uniform(0, interval))
    others = {}
    (revoked, revoked_wall), script_began = glewlwyd.revoke("disable")
    print(f"\nrun {number}/{args.repeat}: client disabled at {clock(revoked_wall)} "
          f"(revoke-client's admin API call answered {revoked - script_began:.2f} s after the script started)",
          flush=True)
    paged = watch(routes, revoked, True, others)
    time.sleep(STORE_SETTLE)
    rejected = picked(authprobe.token_attempts(revoked_wall), revoked_wall, good=False)
    print(f"  token attempts rejected: {attempts_text(rejected, revoked_wall, interval)}")
    confirmed = {}
    for route in routes:
        value = paged[route.name]
        if value is None:
            text = f"not seen within {route.limit:.0f} s"
        else:
            text = f"active after {seconds(value, interval)}"
            if len(rejected) == 2:
                confirmed[route.name] = value - (rejected[1][0] - revoked_wall)
                text += f" ({confirmed[route.name]:.2f} s after the second rejected attempt)"
        print(f"  {route.name:<10} {route.alertname:<28} {text}", flush=True)
    first = prometheus.first_rejection_sample(revoked_wall)
    if first is not None and first >= 2:
        print(f"  (the rejection series was new to Prometheus and its first scrape already held {first:.0f} rejections: "
              f"increase()\n  cannot use a series' first sample, so the Prometheus route waited one scrape more)")

    # Again a random point of the probe cycle: the alerts just became active at points tied to it and to
    # Prometheus' evaluation.
    time.sleep(random.uniform(0, interval))
    (enabled, enabled_wall), _ = glewlwyd.revoke("enable")
    print(f"  client enabled at {clock(enabled_wall)}", flush=True)
    resolved = watch([r for r in routes if paged[r.name] is not None], enabled, False, others)
    time.sleep(STORE_SETTLE)
    succeeded = picked(authprobe.token_attempts(enabled_wall), enabled_wall, good=True)
    print(f"  token attempts succeeding: {attempts_text(succeeded, enabled_wall, interval)}")
    for route in routes:
        value = resolved.get(route.name)
        if paged[route.name] is None:
            text = "(never active)"
        elif value is None:
            text = f"still active after {route.limit:.0f} s"
        else:
            text = f"gone after   {seconds(value, interval)}"
        print(f"  {route.name:<10} {route.alertname:<28} {text}", flush=True)
    for route in routes:
        if others.get(route.name):
            print(f"  other alerts in the {route.name} route's Alertmanager: {', '.join(sorted(others[route.name]))}")
    return {"page": paged, "confirmed": confirmed, "resolve": {name: resolved.get(name) for name in paged}}


def summary(results, routes, args, prometheus, builtin_delivery):
    interval = args.interval
    target = 2 * interval + 1
    print(f"\ntime to page: from disabling the client at glewlwyd until the alert is active in Alertmanager's "
          f"/api/v2/alerts;\ntime to resolve: from re-enabling it until the alert is gone from there\n"
          f"(authprobe interval and token_interval {duration_text(interval)}; Prometheus scrape_interval "
          f"{prometheus.scrape_interval}, evaluation_interval {prometheus.evaluation_interval}; {len(results)} run(s), "
          f"polled every {POLL * 1000:.0f} ms)\n")
    print(f"  {'route':<10} {'alert':<28} {'':<22} {'median':>9} {'max':>9}  {'timed out':>9}")

    def row(route, alert, what, values, unit=1.0, suffix=" s"):
        seen = [v for v in values if v is not None]
        median = f"{statistics.median(seen) / unit:.2f}{suffix}" if seen else "-"
        largest = f"{max(seen) / unit:.2f}{suffix}" if seen else "-"
        missing = len(values) - len(seen)
        print(f"  {route:<10} {alert:<28} {what:<22} {median:>9} {largest:>9}  {missing if missing else '':>9}")

    for route in routes:
        pages = [result["page"][route.name] for result in results]
        resolves = [result["resolve"][route.name] for result in results if result["page"][route.name] is not None]
        confirmed = [result["confirmed"][route.name] for result in results if route.name in result["confirmed"]]
        row(route.name, route.alertname, "page", pages)
        row("", "", "page, in intervals", pages, interval, "")
        if confirmed:
            row("", "", "page after confirming", confirmed)
        if resolves:
            row("", "", "resolve", resolves)
            row("", "", "resolve, in intervals", resolves, interval, "")
    builtin = [result["page"][routes[0].name] for result in results]
    seen = [v for v in builtin if v is not None]
    met = sum(1 for v in seen if v <= target)
    print(f"\nbuilt-in route target, at most 2 intervals + 1 s = {target:.1f} s: "
          f"{'MET' if met == len(builtin) else 'NOT MET'}: within it in {met} of {len(builtin)} run(s)"
          + (f", max {max(seen):.2f} s" if seen else "")
          + (f", {len(builtin) - len(seen)} not seen" if len(seen) < len(builtin) else ""))
    if not builtin_delivery:
        print("This authprobe has no `alerts` command: it does not deliver its built-in alerts yet.")
    print("(\"page after confirming\": from the second rejected token attempt. A receiver would be notified "
          "group_wait, 30 s by\nAlertmanager's default, after the alert is active, on either route.)")


def has_builtin_delivery(binary):
    """Whether the binary knows its built-in alerts (the `alerts` command comes with their delivery)."""
    listing = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
    return re.search(r"^\s+alerts\s", listing, re.M) is not None


def main():
    parser = argparse.ArgumentParser(description="authprobe time-to-page benchmark "
                                                 "(see scripts/benchmark-time-to-page)")
    parser.add_argument("--authprobe", required=True, help="the authprobe binary")
    parser.add_argument("--interval", default="10s",
                        help="authprobe's interval and token_interval (default 10s)")
    parser.add_argument("--repeat", type=int, default=1, help="revocations measured (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and print its path")
    args = parser.parse_args()
    try:
        args.interval = parse_duration(args.interval)
    except argparse.ArgumentTypeError as error:
        parser.error(f"--interval: {error}")
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if not os.access(args.authprobe, os.X_OK):
        parser.error(f"not an executable: {args.authprobe}")

    # Ctrl-C, SIGTERM and SIGHUP end the benchmark through its finally block, which stops every child.
    # A second signal is ignored: the clean-up it would interrupt is bounded (STOP_LIMIT, then SIGKILL).
    def interrupted(signum, _frame):
        for ignored in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(ignored, signal.SIG_IGN)
        raise KeyboardInterrupt(signal.Signals(signum).name)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)

    interval = args.interval
    work = tempfile.mkdtemp(prefix="authprobe-ttp-")
    glewlwyd = authprobe = prometheus = None
    alertmanagers = []
    try:
        log(f"work directory {work}; authprobe {args.authprobe}")
        builtin_delivery = has_builtin_delivery(args.authprobe)
        if not builtin_delivery:
            log("this authprobe has no `alerts` command: its built-in alerts are not delivered yet, and the "
                "built-in route will see nothing")
        glewlwyd_port, builtin_port, rules_port, authprobe_port, prometheus_port = free_ports(5)
        glewlwyd = Glewlwyd(work)
        glewlwyd.start(glewlwyd_port)
        builtin_am = Alertmanager(work, "alertmanager-builtin", builtin_port)
        alertmanagers.append(builtin_am)
        rules_am = Alertmanager(work, "alertmanager-prometheus", rules_port)
        alertmanagers.append(rules_am)
        for alertmanager in alertmanagers:
            alertmanager.wait_ready()
        env = dict(os.environ)
        env[SECRET_VARIABLE] = glewlwyd.exports["OIDC_CLIENT_SECRET"]
        authprobe = Authprobe(args.authprobe, work, glewlwyd.exports["OIDC_ISSUER"],
                              glewlwyd.exports["OIDC_CLIENT_ID"], glewlwyd.exports["OIDC_SCOPE"], interval,
                              authprobe_port, builtin_am, env)
        prometheus = Prometheus(work, prometheus_port, authprobe_port, rules_am)
        log(f"Alertmanagers at {builtin_am.url} (built-in route) and {rules_am.url} (Prometheus route); "
            f"authprobe at {authprobe.url}; Prometheus at {prometheus.url}")

        wait_for("authprobe_up 1 on authprobe's /metrics", lambda: authprobe.up() == 1.0,
                 READY_LIMIT + 2 * interval, authprobe.process, authprobe.log)
        wait_for("Prometheus ready", lambda: http_get(f"{prometheus.url}/-/ready")[0] == 200, READY_LIMIT,
                 prometheus.process, prometheus.log)
        rules = prometheus.api("rules", type="alert") or {}
        names = {rule.get("name") for group in rules.get("groups", []) for rule in group.get("rules", [])}
        if "AuthprobeCredentialRejected" not in names:
            raise BenchmarkError("Prometheus has not loaded AuthprobeCredentialRejected from the shipped rules")
        wait_for("Prometheus' Alertmanager discovered",
                 lambda: (prometheus.api("alertmanagers") or {}).get("activeAlertmanagers"), READY_LIMIT,
                 prometheus.process, prometheus.log)
        # Scraped, and the rules evaluated on the scraped series (the recording rule the alert reads).
        wait_for("Prometheus scraping authprobe and evaluating the rules",
                 lambda: prometheus.query(f'environment_client:authprobe_token_locations:count'
                                          f'{{environment="{ENVIRONMENT}",client="{CLIENT}"}}'),
                 READY_LIMIT + 4 * parse_duration(prometheus.scrape_interval), prometheus.process, prometheus.log)
        log("client healthy; Prometheus scrapes authprobe and evaluates the rules")

        routes = [
            Route("built-in", "CredentialRejected", builtin_am, 10 * interval),
            Route("prometheus", "AuthprobeCredentialRejected", rules_am, 10 * interval + 300),
        ]
        print(f"time-to-page benchmark: glewlwyd {glewlwyd.exports['OIDC_ISSUER']}, authprobe interval and "
              f"token_interval {duration_text(interval)}; built-in alerts to {builtin_am.url}, Prometheus "
              f"(config/prometheus.yml: scrape {prometheus.scrape_interval}, evaluation "
              f"{prometheus.evaluation_interval}) to {rules_am.url}; given up after {routes[0].limit:.0f} s "
              f"(built-in) and {routes[1].limit:.0f} s (Prometheus)", flush=True)
        results = []
        for number in range(1, args.repeat + 1):
            results.append(measure(number, args, glewlwyd, authprobe, prometheus, routes))
        summary(results, routes, args, prometheus, builtin_delivery)
        return 0
    except BenchmarkError as error:
        log(f"cannot run: {error}")
        return 1
    except KeyboardInterrupt as interruption:
        log(f"interrupted ({interruption})")
        return 130
    finally:
        for part in (prometheus, authprobe, *alertmanagers):
            if part is not None:
                part.stop()
        if glewlwyd is not None:
            glewlwyd.stop(purge=not args.keep)
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
