"""DICOMweb throughput: STOW-RS ingest of a demo-sized CT, WADO-RS frame retrieval.

    python bench/dicomweb.py                       # 220-slice 512x512 CT built here
    python bench/dicomweb.py --path DIR            # any folder of DICOM files
    python bench/dicomweb.py --slices 200 --rounds 3

Starts Daphne on a free port against a temporary DATA_DIR (the embedded
default: SQLite + files), creates a clinical user with an API token, stores the
CT by STOW-RS, then retrieves every frame by WADO-RS
(``/frames/1``, ``multipart/related; type="application/octet-stream"; transfer-syntax=*``)
with 1 and 8 concurrent clients. The baseline is a plain static file server
(Python's ThreadingHTTPServer, HTTP/1.1 keep-alive) serving the same frame bytes
from disk, on the same machine in the same run, fetched by the same client code.
Prints instances/s and MB/s for both and their ratio (aim: >= 0.5x).

Floors measured by the same client code in the same rounds: a trivial raw ASGI
application on Daphne serving the same frame files (what no ASGI code on Daphne
can beat), Django's ``/healthz`` and an empty authenticated QIDO-RS search.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orthanc_compare  # noqa: E402
from benchct import (  # noqa: E402
    build_ct,
    django_env,
    prepare,
    read_folder,
    wait_for,
    wait_for_echo,
)

from reading.devserver import free_port, start_daphne, stop  # noqa: E402

EMPTY_SEARCH = "/dicomweb/studies?PatientID=NO-SUCH-PATIENT"
FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
STATIC_SERVER = """
import functools, sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

class Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops concurrent connects (1 s SYN retries)

class Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the WADO-RS clients get from Daphne
    def log_message(self, *args):
        pass

handler = functools.partial(Handler, directory=sys.argv[2])
Server(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""
# The Daphne floor: no framework, no auth, the file read and sent (ROOT from the environment).
RAW_ASGI_APP = """
import os

ROOT = os.environ["BENCH_STATIC_ROOT"]


async def application(scope, receive, send):
    if scope["type"] != "http":
        return
    with open(ROOT + scope["path"], "rb") as fh:
        body = fh.read()
    headers = [(b"content-type", b"application/octet-stream"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
"""


def stow(port: int, token: str, files: list[bytes], batch: int) -> float:
    boundary = "benchboundary0123456789"
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    for offset in range(0, len(files), batch):
        parts = []
        for raw in files[offset : offset + batch]:
            parts += [f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode(), raw]
            parts.append(b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        body = b"".join(parts)
        conn.request(
            "POST",
            "/dicomweb/studies",
            body=body,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                "Accept": "application/dicom+json",
            },
        )
        response = conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"STOW-RS answered {response.status}: {payload[:500]!r}")
    return time.perf_counter() - start


def frame_paths(port: int, token: str) -> list[tuple[str, str]]:
    """(frames URL path, SOP Instance UID) of every stored instance, by QIDO-RS."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/dicomweb/instances", headers={"Authorization": f"Bearer {token}"})
    items = json.loads(conn.getresponse().read())
    out = []
    for item in items:
        study, series, sop = (item[t]["Value"][0] for t in ("0020000D", "0020000E", "00080018"))
        out.append((f"/dicomweb/studies/{study}/series/{series}/instances/{sop}/frames/1", sop))
    return out


# -- the clients --------------------------------------------------------------------


def fetch_all(port: int, paths: list[str], clients: int, headers: dict) -> tuple[float, int]:
    """GET every path once, spread over ``clients`` keep-alive connections; (seconds, bytes)."""
    totals = [0] * clients
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        barrier.wait()
        for path in paths[index::clients]:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                errors.append(f"{path}: {response.status}")
                return
            totals[index] += len(body)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError("retrieval failed: " + "; ".join(errors[:3]))
    return elapsed, sum(totals)


def check_frames(port: int, token: str, paths: list[tuple[str, str]], expected: dict) -> float:
    """The WADO-RS frames are the stored pixel bytes (checked on a sample).

    Returns the seconds the first request took: the first frame of a series
    after the server started, with every cache cold.
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    first = None
    for path, sop in paths[:: max(len(paths) // 10, 1)]:
        start = time.perf_counter()
        conn.request(
            "GET", path, headers={"Authorization": f"Bearer {token}", "Accept": FRAME_ACCEPT}
        )
        response = conn.getresponse()
        body = response.read()
        first = time.perf_counter() - start if first is None else first
        header_end = body.index(b"\r\n\r\n") + 4
        assert b"Content-Type: application/octet-stream; transfer-syntax=" in body[:header_end]
        frame = body[header_end : header_end + len(expected[sop])]
        assert frame == expected[sop], f"frame of {sop} differs from the source pixel data"
    return first


def run_orthanc_comparison(args, env, token, web_port, daphne_pid, files, tmp_path):
    """The CT into a private Orthanc too; every operation timed on both (bench/orthanc_compare.py).

    Returns the Orthanc and DICOM listener processes (stopped by the caller).
    """
    import pydicom

    # A CT of its own (new UIDs, another Patient ID), new to both servers.
    files = read_folder(args.path) if args.path else build_ct(len(files), patient_id="BENCH-CMP")
    first = pydicom.dcmread(io.BytesIO(files[0]), stop_before_pixels=True)
    sops = [
        str(pydicom.dcmread(io.BytesIO(f), stop_before_pixels=True).SOPInstanceUID) for f in files
    ]
    uids = {
        "study": str(first.StudyInstanceUID),
        "series": str(first.SeriesInstanceUID),
        "patient_id": str(first.PatientID),
        "sops": sops,
    }
    http_port, dicom_port, app_dicom = free_port(), free_port(), free_port()
    orthanc = orthanc_compare.start_orthanc(tmp_path, http_port, dicom_port)
    listener = subprocess.Popen(
        [sys.executable, "manage.py", "dicom_listener", "--host", "127.0.0.1"]
        + ["--port", str(app_dicom)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for(http_port, "/system")
        if orthanc_compare.dcmtk("echoscu"):
            wait_for_echo(app_dicom, "READINGROOM")
        folder = tmp_path / "cstore"
        folder.mkdir()
        for i, raw in enumerate(
            build_ct(len(files), patient_id="BENCH-CST") if not args.path else []
        ):
            (folder / f"{i:04d}.dcm").write_bytes(raw)
        print(f"\napp / Orthanc {orthanc_compare.__name__}: same client, same CT, loopback")
        app = orthanc_compare.Server(
            "app", web_port, "/dicomweb", {"Authorization": f"Bearer {token}"}
        )
        other = orthanc_compare.Server("orthanc", http_port, "/dicom-web", {})
        rows = orthanc_compare.compare(
            app,
            other,
            files,
            uids,
            folder=folder if any(folder.iterdir()) else None,
            app_dicom=app_dicom,
            orthanc_dicom=dicom_port,
            rounds=args.rounds,
            pids=[daphne_pid, orthanc.pid, listener.pid],
        )
    except BaseException:
        for server in (orthanc, listener):  # nobody else stops them once this fails
            stop(server)
        raise
    print(json.dumps(rows))
    return orthanc, listener


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", type=Path, help="a folder of DICOM files instead of the built CT")
    parser.add_argument("--slices", type=int, default=220)
    parser.add_argument("--batch", type=int, default=20, help="instances per STOW-RS request")
    parser.add_argument("--rounds", type=int, default=3, help="retrieval rounds (best is kept)")
    parser.add_argument("--clients", default="1,8")
    parser.add_argument("--settings", default="reading.settings", help="Django settings module")
    parser.add_argument(
        "--orthanc",
        action=argparse.BooleanOptionalAction,
        default=orthanc_compare.available(),
        help="also run a private Orthanc and print app/Orthanc ratios (default: when installed)",
    )
    args = parser.parse_args()

    import pydicom

    files = read_folder(args.path) if args.path else build_ct(args.slices)
    expected = {}
    for raw in files:
        ds = pydicom.dcmread(io.BytesIO(raw))
        if "PixelData" in ds and not ds.file_meta.TransferSyntaxUID.is_encapsulated:
            n = int(ds.get("NumberOfFrames", 1) or 1)
            expected[str(ds.SOPInstanceUID)] = ds.PixelData[: len(ds.PixelData) // n]
    mb_in = sum(len(f) for f in files) / 1e6
    print(f"input: {len(files)} instances, {mb_in:.1f} MB")

    with tempfile.TemporaryDirectory(prefix="bench-dicomweb-") as tmp:
        tmp_path = Path(tmp)
        env = django_env(tmp_path / "data", args.settings)
        token = prepare(env)
        web_port, static_port, raw_port = free_port(), free_port(), free_port()
        daphne, _ = start_daphne(env, port=web_port)
        static = raw = orthanc = listener = None
        try:
            wait_for(web_port, "/healthz")
            seconds = stow(web_port, token, files, args.batch)
            print(
                f"STOW-RS ingest: {len(files) / seconds:.1f} instances/s, "
                f"{mb_in / seconds:.1f} MB/s ({seconds:.1f} s, {args.batch} per request)"
            )
            paths = frame_paths(web_port, token)
            paths = [p for p in paths if p[1] in expected]
            first = check_frames(web_port, token, paths, expected)
            print(f"first frame request (cold caches): {first * 1000:.1f} ms")

            # The baseline serves the very same frame bytes, one file per frame.
            static_root = tmp_path / "static"
            for _, sop in paths:
                (static_root / sop).mkdir(parents=True)
                (static_root / sop / "1").write_bytes(expected[sop])
            static = subprocess.Popen(
                [sys.executable, "-c", STATIC_SERVER, str(static_port), str(static_root)]
            )
            wait_for(static_port, "/")
            (tmp_path / "bench_raw_asgi.py").write_text(RAW_ASGI_APP)
            raw, _ = start_daphne(
                {**env, "BENCH_STATIC_ROOT": str(static_root), "PYTHONPATH": str(tmp_path)},
                port=raw_port,
                app="bench_raw_asgi:application",
                cwd=tmp_path,
            )
            wait_for(raw_port, f"/{paths[0][1]}/1")

            wado_headers = {"Authorization": f"Bearer {token}", "Accept": FRAME_ACCEPT}
            wado_paths = [p for p, _ in paths]
            static_paths = [f"/{sop}/1" for _, sop in paths]
            results = []
            for clients in (int(c) for c in args.clients.split(",")):
                fetch_all(web_port, wado_paths[:20], clients, wado_headers)  # warm up
                fetch_all(static_port, static_paths[:20], clients, {})
                fetch_all(raw_port, static_paths[:20], clients, {})
                wado, base, raw_floor, floor, auth_floor = [], [], [], [], []
                for _ in range(args.rounds):
                    wado.append(fetch_all(web_port, wado_paths, clients, wado_headers))
                    base.append(fetch_all(static_port, static_paths, clients, {}))
                    # The Daphne floor: a raw ASGI app sending the same files.
                    raw_floor.append(fetch_all(raw_port, static_paths, clients, {}))
                    # The framework floor: the same server answering a view that does nothing.
                    floor.append(fetch_all(web_port, ["/healthz"] * len(paths), clients, {}))
                    # ... and an authenticated search that matches nothing (token lookup,
                    # a new database connection on the request's thread, one query).
                    auth_floor.append(
                        fetch_all(web_port, [EMPTY_SEARCH] * len(paths), clients, wado_headers)
                    )
                w_s, w_b = min(wado)
                b_s, b_b = min(base)
                n = len(paths)
                row = {
                    "clients": clients,
                    "frames": n,
                    "wado_instances_per_s": n / w_s,
                    "wado_mb_per_s": w_b / 1e6 / w_s,
                    "static_instances_per_s": n / b_s,
                    "static_mb_per_s": b_b / 1e6 / b_s,
                    "wado_median_s": statistics.median(s for s, _ in wado),
                    "static_median_s": statistics.median(s for s, _ in base),
                    "raw_asgi_instances_per_s": n / min(raw_floor)[0],
                    "floor_requests_per_s": len(paths) / min(floor)[0],
                    "auth_floor_requests_per_s": len(paths) / min(auth_floor)[0],
                }
                row["ratio"] = row["wado_instances_per_s"] / row["static_instances_per_s"]
                row["raw_asgi_ratio"] = (
                    row["raw_asgi_instances_per_s"] / row["static_instances_per_s"]
                )
                results.append(row)
                print(
                    f"WADO-RS frames, {clients} client(s): "
                    f"{row['wado_instances_per_s']:.0f} instances/s {row['wado_mb_per_s']:.0f} MB/s"
                    f" | static {row['static_instances_per_s']:.0f} instances/s "
                    f"{row['static_mb_per_s']:.0f} MB/s | ratio {row['ratio']:.2f}x"
                    f" | floors: raw ASGI on Daphne {row['raw_asgi_instances_per_s']:.0f} req/s"
                    f" ({row['raw_asgi_ratio']:.2f}x),"
                    f" /healthz {row['floor_requests_per_s']:.0f} req/s,"
                    f" empty QIDO {row['auth_floor_requests_per_s']:.0f} req/s"
                )
            print(json.dumps(results))
            if args.orthanc:
                orthanc, listener = run_orthanc_comparison(
                    args, env, token, web_port, daphne.pid, files, tmp_path
                )
        finally:
            for server in (daphne, static, raw, orthanc, listener):
                if server is not None:
                    stop(server)


if __name__ == "__main__":
    main()
