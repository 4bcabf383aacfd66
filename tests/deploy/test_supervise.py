"""``scripts/supervise.py`` (``make run``): a crashing child is logged and restarted, the
others keep running, and stopping the supervisor stops every child."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from scripts.supervise import parse_procfile

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_crash_is_restarted_and_logged_while_the_others_keep_running(tmp_path):
    steady_pid = tmp_path / "steady.pid"
    crashes = tmp_path / "crashes"
    steady = (
        f"{sys.executable} -c \"import os,time; open('{steady_pid}','w').write(str(os.getpid()));"
        " print('steady up', flush=True); time.sleep(600)\""
    )
    crasher = (
        f"{sys.executable} -c \"import sys; open('{crashes}','a').write('x');"
        " print('crashing', flush=True); sys.exit(3)\""
    )
    log = open(tmp_path / "supervisor.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "scripts/supervise.py", f"steady={steady}", f"crasher={crasher}"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        assert _wait_for(lambda: steady_pid.exists() and steady_pid.read_text())
        first_pid = int(steady_pid.read_text())
        # Started, crashed, restarted after 0.5 s, crashed again, restarted after 1 s.
        assert _wait_for(lambda: crashes.exists() and len(crashes.read_text()) >= 3)
        assert proc.poll() is None and _alive(first_pid)
        assert int(steady_pid.read_text()) == first_pid  # never restarted
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()
    text = (tmp_path / "supervisor.log").read_text()
    assert "crasher | EXITED with code 3" in text
    assert "restarting in 0.5 s (restart 1)" in text and "restarting in 1.0 s (restart 2)" in text
    assert "steady | steady up" in text and "crasher | crashing" in text
    assert not _alive(first_pid), "stopping the supervisor stops its children"
    assert "steady | stopped (signal SIGTERM)" in text


def test_a_child_killed_by_a_signal_is_named_and_restarted(tmp_path):
    pids = tmp_path / "pids"
    sleeper = (
        f"{sys.executable} -c \"import os,time; open('{pids}','a').write(f'{{os.getpid()}}\\n');"
        ' time.sleep(600)"'
    )
    log = open(tmp_path / "supervisor.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "scripts/supervise.py", f"web={sleeper}"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        assert _wait_for(lambda: pids.exists() and pids.read_text().strip())
        first = int(pids.read_text().split()[0])
        os.kill(first, signal.SIGKILL)  # as the out-of-memory killer would
        assert _wait_for(lambda: len(pids.read_text().split()) == 2)
        second = int(pids.read_text().split()[1])
        assert _alive(second)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        log.close()
    assert "web | EXITED with signal SIGKILL" in (tmp_path / "supervisor.log").read_text()
    assert not _alive(second)


def test_procfile_lines():
    text = (ROOT / "deploy" / "Procfile").read_text()
    entries = dict(parse_procfile(text))
    assert set(entries) == {"web1", "web2", "huey", "dictation", "dicom"}
    assert parse_procfile("# c\n\nweb: daphne x\n") == [("web", "daphne x")]
