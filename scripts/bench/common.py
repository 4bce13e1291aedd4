"""What authprobe's benchmark scripts share: starting and stopping child processes, log tails, durations.

Imported by scale.py and time_to_page.py (run as scripts, so this directory is on sys.path). Standard library
only.
"""

import argparse
import ctypes
import os
import re
import signal
import subprocess
import time

STOP_LIMIT = 30.0


def _die_with_parent():
    """Runs in the child before exec: its own session (a Ctrl-C reaches only the benchmark, which then stops the
    children in order), and SIGTERM when the benchmark dies without cleaning up (even by SIGKILL)."""
    os.setsid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start(argv, log_path, env=None):
    with open(log_path, "ab") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=_die_with_parent)


def stop(process, signum=signal.SIGTERM, limit=STOP_LIMIT):
    """Stops a child: `signum`, up to `limit` seconds, then SIGKILL. Returns (seconds taken, how it ended)."""
    if process is None:
        return 0.0, "not started"
    if process.poll() is not None:
        return 0.0, f"had exited ({process.returncode})"
    began = time.monotonic()
    process.send_signal(signum)
    try:
        process.wait(timeout=limit)
        return time.monotonic() - began, signal.Signals(signum).name
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        return time.monotonic() - began, f"SIGKILL after {limit:.0f} s"


def tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_duration(text):
    """authprobe's duration syntax (`10s`, `500ms`, `1m30s`) or a bare number of seconds → seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        value = float(text)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise argparse.ArgumentTypeError(f"expected a duration such as 60s, 500ms or 1m30s, not {text!r}")
        value = sum(float(n) * UNITS[u] for n, u in parts)
    if value <= 0:
        raise argparse.ArgumentTypeError("a duration must be greater than zero")
    return value


def duration_text(seconds):
    """Seconds in authprobe's duration syntax."""
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"
