"""Start the processes of a deployment on this run's test database: Daphne web processes,
a Huey worker and the transcription worker, each an OS process with its own log."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

from reading.devserver import free_port, start_daphne, stop

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def cookie_for(user) -> str:
    """A real login session (the ``sessionid`` cookie a browser would carry)."""
    from django.test import Client

    try:
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value
    finally:
        connection.close()  # called from asgiref's thread: leave no connection behind


def closing(fn):
    """``fn`` for ``sync_to_async``: its database connection is closed afterwards, or the
    test database could not be dropped at the end of the run."""

    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    return run


def wait_for_line(log: Path, text: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not (log.exists() and text in log.read_text(errors="replace")):
        if proc.poll() is not None:
            raise RuntimeError(f"{log.name} exited with {proc.returncode}: {log.read_text()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{log.name}: no {text!r} within {timeout:.0f} s")
        time.sleep(0.2)


class Cluster:
    """``with Cluster(storage_dir, medgemma=..., medasr=..., web=2) as c:`` ``c.urls``...

    The web processes run with Huey not inline (they enqueue into Redis) and
    ``DICTATION_WORKER=external``; storage is the calling test's directory, shared
    by every process as a deployment shares its DICOM volume.
    """

    def __init__(self, storage_dir, *, medgemma=None, medasr=None, web: int = 2):
        from tests.browser.conftest import _server_env

        self.env = {
            **_server_env(),
            "DJANGO_SETTINGS_MODULE": "tests.ai.worker_settings",
            "TEST_STORAGE_DIR": str(storage_dir),
            "INFERENCE_DEVICE": "cpu",
            "OMP_NUM_THREADS": "1",
            "LOG_LEVEL": "INFO",
        }
        if medgemma:
            self.env["MEDGEMMA_MODEL"] = str(medgemma)
        if medasr:
            self.env.update(MEDASR_MODEL=str(medasr), DICTATION_WORKER="external")
        self.web_count = web
        self.web: list[subprocess.Popen] = []
        self.ports: list[int] = []
        self.workers: dict[str, subprocess.Popen] = {}
        self.tag = f"{time.monotonic_ns() % 10**8}"
        ARTIFACTS.mkdir(exist_ok=True)

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def _log(self, name: str) -> Path:
        return ARTIFACTS / f"cluster-{self.tag}-{name}.log"

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self._log(name), "wb")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers[name] = proc
        return proc

    def start_web(self, index: int, port: int | None = None) -> None:
        """Start (or restart on its old port) web process ``index``."""
        port = port or (self.ports[index] if index < len(self.ports) else free_port())
        proc, port = start_daphne(
            self.env, port=port, log_path=self._log(f"daphne-{index}-{port}"), timeout=60
        )
        if index < len(self.web):
            self.web[index], self.ports[index] = proc, port
        else:
            self.web.append(proc)
            self.ports.append(port)

    def stop_web(self, index: int) -> None:
        stop(self.web[index])

    def __enter__(self) -> Cluster:
        try:
            if "MEDGEMMA_MODEL" in self.env:
                self._spawn("huey", "run_huey")
            if self.env.get("DICTATION_WORKER") == "external":
                self._spawn("dictation", "dictation_worker")
            for index in range(self.web_count):
                self.start_web(index)
            if "dictation" in self.workers:
                wait_for_line(self._log("dictation"), "listening", self.workers["dictation"], 90)
        except BaseException:
            self.__exit__()
            raise
        return self

    def alive(self) -> bool:
        return all(p.poll() is None for p in [*self.web, *self.workers.values()])

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}"
            for path in sorted(ARTIFACTS.glob(f"cluster-{self.tag}-*.log"))
        )

    def __exit__(self, *exc) -> None:
        for proc in [*self.web, *self.workers.values()]:
            if proc.poll() is None:
                stop(proc)
