"""A Daphne subprocess on the test database, for what only the real server shows."""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from reading.devserver import start_daphne, stop


def server_env(**extra) -> dict:
    from django.db import connection

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "reading.test_settings"}
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        env["SQLITE_PATH"] = str(db["NAME"])
        env.pop("DATABASE_URL", None)
    else:
        env["DATABASE_URL"] = (
            f"postgresql://{db.get('USER') or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        )
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture
def daphne_server(transactional_db, tmp_path):
    """Start Daphne (``start(**env)``) on the test database; yields (process, port)."""
    procs = []

    def start(**extra):
        proc, port = start_daphne(server_env(**extra), log_path=tmp_path / "daphne.log", timeout=30)
        procs.append(proc)
        return proc, port

    yield start
    for proc in procs:
        stop(proc)


@contextmanager
def peak_rss(pid: int):
    """Sample the process' resident memory every 20 ms; ``result["peak"]`` growth in bytes."""
    process = psutil.Process(pid)
    base = process.memory_info().rss
    result = {"peak": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                result["peak"] = max(result["peak"], process.memory_info().rss - base)
            except psutil.Error:
                return
            done.wait(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        done.set()
        thread.join()


def wait_for_text(path: Path, text: str, seconds: float = 10) -> bool:
    """Whether ``text`` appears in the file ``path`` (written by a server) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return True
        time.sleep(0.05)
    return False
