"""The app against Orthanc, side by side: the same client, the same CT, the same run.

Used by ``bench/dicomweb.py`` (``--orthanc``, on when Debian's ``orthanc`` and
``orthanc-dicomweb`` are installed). Orthanc runs privately: its own
configuration and storage under the run's temporary directory, HTTP with
``RemoteAccessAllowed`` false, DICOM accepting stores only from the benchmark's
AE title on 127.0.0.1; every request of the benchmark goes over loopback.

Operations, each timed for both servers by the same code:

- STOW-RS ingest (instances/s), 20 instances per request;
- C-STORE ingest with DCMTK's ``storescu`` (instances/s; needs ``dcmtk``);
- QIDO-RS study search by Patient ID, p50 of sequential requests;
- WADO-RS whole series as multipart ``application/dicom`` (MB/s);
- ``/rendered`` JPEG of every instance, one client (images/s): the first view, then the
  best later round;
- series metadata, p50 of sequential requests;
- frames one by one (``multipart/related; type="application/octet-stream"``),
  1 and 8 clients (frames/s).

Each read is timed once both servers (and the app's DICOM listener) have been idle
for 0.2 s (``quiet``).
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import threading
import time
from pathlib import Path

from benchct import BENCH_AET

from reading.devserver import dcmtk  # DCMTK past the venv's pynetdicom scripts

ORTHANC = "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
# Requests before a p50 is timed: the app answers these on a pool of four threads, each
# with its own database connection and caches to fill (one warmed a quarter of them).
WARM_UP = 10


def available() -> bool:
    return Path(ORTHANC).exists() and Path(DICOMWEB_PLUGIN).exists()


def start_orthanc(tmp: Path, http_port: int, dicom_port: int) -> subprocess.Popen:
    """A private Orthanc: own configuration, storage and index, loopback clients only."""
    config = {
        "Name": "bench-orthanc",
        "StorageDirectory": str(tmp / "orthanc-storage"),
        "IndexDirectory": str(tmp / "orthanc-index"),
        "StorageCompression": False,
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": "ORTHANC",
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "Plugins": [DICOMWEB_PLUGIN],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
        "DicomModalities": {"bench": [BENCH_AET, "127.0.0.1", 104]},
        "DicomAlwaysAllowStore": False,
        "DicomAlwaysAllowEcho": False,
        "DicomCheckModalityHost": True,
        "SaveJobs": False,
        "HttpCompressionEnabled": False,
    }
    path = tmp / "orthanc.json"
    path.write_text(json.dumps(config))
    with open(tmp / "orthanc.log", "wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen([ORTHANC, str(path)], stdout=log, stderr=subprocess.STDOUT)


class Server:
    """A DICOMweb root on loopback and how to authenticate to it."""

    def __init__(self, name: str, port: int, root: str, headers: dict[str, str]):
        self.name, self.port, self.root, self.headers = name, port, root.rstrip("/"), headers

    def get(self, conn, path: str, accept: str | None = None) -> tuple[int, bytes]:
        headers = dict(self.headers)
        if accept:
            headers["Accept"] = accept
        conn.request("GET", self.root + path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()

    def get_size(self, conn, path: str, accept: str | None, buffer: bytearray) -> tuple[int, int]:
        """(status, body size), the body read through ``buffer`` as it arrives: a client
        that keeps a 105 MB series in one new bytes object spends more time faulting that
        memory in than receiving it, and would time itself rather than the server."""
        headers = dict(self.headers)
        if accept:
            headers["Accept"] = accept
        conn.request("GET", self.root + path, headers=headers)
        response = conn.getresponse()
        size = 0
        view = memoryview(buffer)
        while count := response.readinto(view):
            size += count
        return response.status, size

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)


def cpu_ticks(pids: list[int]) -> int:
    """User + system clock ticks the processes ``pids`` have used so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def quiet(pids: list[int], window: float = 0.2, timeout: float = 15) -> None:
    """Wait until the servers ``pids`` have done no work for ``window`` seconds (at most
    ``timeout``), before a read is timed: work a server goes on with after answering (its
    own indexing of what it was sent) would otherwise fall on whichever is timed next."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_ticks(pids)
        time.sleep(window)
        if cpu_ticks(pids) == before:
            return


def settle() -> None:
    """Write back the page cache's dirty data before an ingest is timed: both servers
    sync what they store, and whichever went second would otherwise find less left by
    the benchmark's earlier steps (the frame files it writes) to flush with its own."""
    os.sync()


def stow(server: Server, files: list[bytes], batch: int = 20) -> float:
    boundary = "benchboundary0123456789"
    conn = server.connect()
    settle()
    start = time.perf_counter()
    for offset in range(0, len(files), batch):
        parts = []
        for raw in files[offset : offset + batch]:
            parts += [f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode(), raw]
            parts.append(b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        conn.request(
            "POST",
            server.root + "/studies",
            body=b"".join(parts),
            headers={
                **server.headers,
                "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                "Accept": "application/dicom+json",
            },
        )
        response = conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"{server.name} STOW-RS: {response.status} {payload[:300]!r}")
    return time.perf_counter() - start


def storescu(port: int, aec: str, folder: Path) -> float:
    settle()
    start = time.perf_counter()
    tool = dcmtk("storescu") or "storescu"
    subprocess.run(
        [tool, "-aet", BENCH_AET, "-aec", aec, "+sd", "127.0.0.1", str(port), str(folder)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return time.perf_counter() - start


def p50(server: Server, path: str, n: int, accept: str | None = None) -> float:
    conn = server.connect()
    for _ in range(WARM_UP):
        server.get(conn, path, accept)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        status, _ = server.get(conn, path, accept)
        times.append(time.perf_counter() - start)
        if status != 200:
            raise RuntimeError(f"{server.name} {path}: {status}")
    return statistics.median(times)


def fetch(server: Server, paths: list[str], clients: int, accept: str) -> tuple[float, int]:
    """Every path once over ``clients`` keep-alive connections: (seconds, bytes)."""
    totals = [0] * clients
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def worker(index: int) -> None:
        conn = server.connect()
        buffer = bytearray(1 << 20)
        barrier.wait()
        for path in paths[index::clients]:
            status, size = server.get_size(conn, path, accept, buffer)
            if status != 200:
                errors.append(f"{path}: {status}")
                return
            totals[index] += size

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{server.name}: " + "; ".join(errors[:3]))
    return time.perf_counter() - start, sum(totals)


def compare(
    app: Server,
    orthanc: Server,
    files: list[bytes],
    uids: dict,
    *,
    folder: Path | None,
    app_dicom: int | None,
    orthanc_dicom: int,
    rounds: int = 3,
    samples: int = 30,
    pids: list[int] = (),
) -> list[dict]:
    """Run every operation on both servers; rows of (operation, app, orthanc, unit, ratio).

    The ratio is always "app / Orthanc" with higher meaning the app is better
    (for latencies: Orthanc's time over the app's).
    """
    rows = []

    def row(operation: str, a: float, o: float, unit: str, higher_is_better: bool = True):
        ratio = a / o if higher_is_better else o / a
        rows.append({"operation": operation, "app": a, "orthanc": o, "unit": unit, "ratio": ratio})
        print(f"{operation:<38} app {a:10.2f} | Orthanc {o:10.2f} {unit:<14} {ratio:5.2f}x")

    n = len(files)
    row("STOW-RS ingest", n / stow(app, files), n / stow(orthanc, files), "instances/s")
    if folder is not None and app_dicom is not None and dcmtk("storescu"):
        # Another CT (its own UIDs), new to both servers.
        count = len(list(folder.iterdir()))
        row(
            "C-STORE ingest (storescu)",
            count / storescu(app_dicom, "READINGROOM", folder),
            count / storescu(orthanc_dicom, "ORTHANC", folder),
            "instances/s",
        )
    study, series, sops = uids["study"], uids["series"], uids["sops"]
    qido = f"/studies?PatientID={uids['patient_id']}"
    quiet(pids)
    row(
        "QIDO-RS study search p50",
        p50(app, qido, samples) * 1000,
        p50(orthanc, qido, samples) * 1000,
        "ms",
        higher_is_better=False,
    )
    series_path = f"/studies/{study}/series/{series}"
    dicom = 'multipart/related; type="application/dicom"'
    best = {}
    for server in (app, orthanc):
        quiet(pids)
        runs = [fetch(server, [series_path], 1, dicom) for _ in range(rounds)]
        seconds, size = min(runs)
        best[server.name] = size / 1e6 / seconds
    row("WADO-RS whole series", best["app"], best["orthanc"], "MB/s")
    rendered = [f"{series_path}/instances/{sop}/rendered" for sop in sops]
    first, again = {}, {}
    for server in (app, orthanc):
        quiet(pids)
        runs = [fetch(server, rendered, 1, "image/jpeg") for _ in range(max(rounds, 2))]
        # Round 1 is a first view: nothing rendered yet. The app keeps rendered images
        # (rendercache.py), so its later rounds are answered from memory.
        first[server.name] = len(rendered) / runs[0][0]
        again[server.name] = len(rendered) / min(runs[1:])[0]
        by_round = ", ".join(f"{len(rendered) / seconds:.1f}" for seconds, _ in runs)
        print(f"  /rendered {server.name}, images/s by round: {by_round}")
    row("/rendered JPEG first view, 1 client", first["app"], first["orthanc"], "images/s")
    row("/rendered JPEG again, 1 client", again["app"], again["orthanc"], "images/s")
    metadata = f"{series_path}/metadata"
    quiet(pids)
    row(
        "series metadata p50",
        p50(app, metadata, samples, "application/dicom+json") * 1000,
        p50(orthanc, metadata, samples, "application/dicom+json") * 1000,
        "ms",
        higher_is_better=False,
    )
    frames = [f"{series_path}/instances/{sop}/frames/1" for sop in sops]
    octet = 'multipart/related; type="application/octet-stream"'
    for clients in (1, 8):
        best = {}
        for server in (app, orthanc):
            quiet(pids)
            fetch(server, frames[:20], clients, octet)  # warm up
            seconds, _ = min(fetch(server, frames, clients, octet) for _ in range(rounds))
            best[server.name] = len(frames) / seconds
        row(f"frames one by one, {clients} client(s)", best["app"], best["orthanc"], "frames/s")
    return rows
