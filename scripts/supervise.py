"""Run several processes, restart any that exits, and stop them all together.

    python scripts/supervise.py "web=daphne -b 127.0.0.1 -p 8000 reading.asgi:application" \
        "huey=python manage.py run_huey"
    python scripts/supervise.py --procfile deploy/Procfile

``make run`` uses it for the web server, the Huey worker and the DICOM listener:
one of them crashing (killed by the out-of-memory killer, say) is logged and
restarted after a short, growing delay, and the others keep serving. Ctrl-C or
SIGTERM stops every child (SIGTERM, then SIGKILL after ``--grace`` seconds).
Each line a child prints is prefixed with its name. No Django import: this
process stays small and outlives what it runs.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0
# A child that ran this long before exiting is restarted at once (its delay resets).
STABLE_AFTER_S = 30.0

_print_lock = threading.Lock()


def say(name: str, text: str) -> None:
    with _print_lock:
        sys.stdout.write(f"{time.strftime('%H:%M:%S')} {name:>10} | {text}\n")
        sys.stdout.flush()


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    started: float = 0.0
    delay: float = BACKOFF_START_S
    restart_at: float | None = None
    restarts: int = 0
    readers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops us in order
        )
        self.started = time.monotonic()
        self.restart_at = None
        reader = threading.Thread(target=self._pump, args=(self.proc,), daemon=True)
        reader.start()
        self.readers = [reader]
        say(self.name, f"started (pid {self.proc.pid}): {shlex.join(self.argv)}")

    def _pump(self, proc: subprocess.Popen) -> None:
        for raw in iter(proc.stdout.readline, b""):
            say(self.name, raw.decode(errors="replace").rstrip())

    def check(self, now: float) -> None:
        """Notice an exit and schedule the restart; restart when its time has come."""
        if self.proc is not None and self.restart_at is None:
            code = self.proc.poll()
            if code is None:
                return
            ran = now - self.started
            if ran >= STABLE_AFTER_S:
                self.delay = BACKOFF_START_S
            self.restart_at = now + self.delay
            say(
                self.name,
                f"EXITED with {describe(code)} after {ran:.1f} s; "
                f"restarting in {self.delay:.1f} s (restart {self.restarts + 1})",
            )
            self.delay = min(self.delay * 2, BACKOFF_MAX_S)
        if self.restart_at is not None and now >= self.restart_at:
            self.restarts += 1
            self.start()

    def stop(self, grace: float) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            say(self.name, f"did not stop within {grace:.0f} s; killing")
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for reader in self.readers:
            reader.join(timeout=1)
        say(self.name, f"stopped ({describe(self.proc.returncode)})")


def describe(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


def parse_procfile(text: str) -> list[tuple[str, str]]:
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, command = line.partition(":")
        if not sep or not name.strip() or not command.strip():
            raise ValueError(f"not `name: command`: {line!r}")
        entries.append((name.strip(), command.strip()))
    return entries


def parse_specs(specs: list[str]) -> list[tuple[str, str]]:
    entries = []
    for spec in specs:
        name, sep, command = spec.partition("=")
        if not sep or not name or not command:
            raise ValueError(f"not `name=command`: {spec!r}")
        entries.append((name, command))
    return entries


def supervise(children: list[Child], grace: float = 10.0, poll: float = 0.2) -> int:
    stopping = threading.Event()

    def on_signal(signum, frame):
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    for child in children:
        child.start()
    while not stopping.wait(poll):
        now = time.monotonic()
        for child in children:
            child.check(now)
    say("supervisor", "stopping everything")
    for child in reversed(children):
        child.stop(grace)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="*", help='"name=command" per process')
    parser.add_argument("--procfile", help="a Procfile (`name: command` lines) instead")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds before SIGKILL")
    args = parser.parse_args(argv)
    if args.procfile:
        with open(args.procfile) as f:
            entries = parse_procfile(f.read())
    else:
        entries = parse_specs(args.specs)
    if not entries:
        parser.error("nothing to run")
    children = [Child(name, shlex.split(os.path.expandvars(command))) for name, command in entries]
    return supervise(children, grace=args.grace)


if __name__ == "__main__":
    sys.exit(main())
