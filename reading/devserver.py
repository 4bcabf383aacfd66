"""Daphne as a subprocess on a free port: used by the browser tests and the benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Debian's Chromium, headless, with nothing that reaches outside the machine.
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def dcmtk(tool: str) -> str | None:
    """DCMTK's ``tool`` (``storescu``, ``findscu``...) on PATH, passing over every virtual
    environment's ``bin`` (this one's, or another checkout's left activated): pynetdicom
    installs scripts of the same names with other arguments, which shadow DCMTK's."""
    venv_bin = (Path(sys.prefix) / "bin").resolve()
    for folder in os.get_exec_path():
        path = Path(folder) / tool
        if not (path.is_file() and os.access(path, os.X_OK)):
            continue
        folder_path = path.parent.resolve()
        if folder_path != venv_bin and not (folder_path.parent / "pyvenv.cfg").exists():
            return str(path)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daphne(
    env: dict,
    *,
    port: int | None = None,
    app: str = "reading.asgi:application",
    cwd: Path = ROOT,
    log_path: Path | None = None,
    python_args: tuple[str, ...] = (),
    timeout: float = 60,
) -> tuple[subprocess.Popen, int]:
    """Start ``daphne`` serving ``app`` and return once its port accepts connections."""
    port = port or free_port()
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 - lives with the server
    proc = subprocess.Popen(
        [
            *(sys.executable, *python_args, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)),
            # The server-level WebSocket cap of the deploy files (reading/sockets.py).
            *("--websocket-max-message-size", env.get("WEBSOCKET_MAX_BINARY_BYTES", "1048576")),
            *("--websocket-max-frame-size", env.get("WEBSOCKET_MAX_BINARY_BYTES", "1048576")),
            app,
        ],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Daphne exited with {proc.returncode}; log: {log_path}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"Daphne did not start within {timeout:.0f} s; log: {log_path}")


def stop(proc: subprocess.Popen, sig: int | None = None) -> None:
    """Stop the server (``sig`` first if given, e.g. SIGINT so a profiler writes its file)."""
    if sig is None:
        proc.terminate()
    else:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
