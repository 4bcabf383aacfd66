"""The benchmarks' CT and scratch server: a synthetic chest CT built in code, a Django
environment on a temporary DATA_DIR (the embedded default: SQLite + files) with an
attending and an API token, and waits for a server or DICOM listener to answer.

Shared by ``bench/dicomweb.py``, ``bench/wado_series.py``, ``bench/stow_compare.py`` and
``bench/read_profile.py``.
"""

from __future__ import annotations

import http.client
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from reading.devserver import dcmtk  # DCMTK past the venv's pynetdicom scripts

ROOT = Path(__file__).resolve().parent.parent
BENCH_AET = "BENCHSCU"  # the benchmark's calling AE title (Orthanc accepts only it)


def wait_for(port: int, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status < 500:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not answer {path}")


def wait_for_echo(port: int, aec: str, timeout: float = 60.0) -> None:
    """Until the DICOM listener answers a C-ECHO (DCMTK's ``echoscu``): it is up and warm."""
    deadline = time.monotonic() + timeout
    echo = [dcmtk("echoscu") or "echoscu", "-aet", BENCH_AET]
    echo += ["-aec", aec, "127.0.0.1", str(port)]
    while time.monotonic() < deadline:
        if subprocess.run(echo, capture_output=True, timeout=30).returncode == 0:
            return
        time.sleep(0.5)
    raise RuntimeError(f"no DICOM listener answered C-ECHO on port {port}")


def build_ct(slices: int, size: int = 512, patient_id: str = "BENCH-001") -> list[bytes]:
    """A synthetic chest-like CT: body, lungs, spine, noise; int16 HU-shifted values."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cx = cy = size / 2
    body = ((xx - cx) / (size * 0.45)) ** 2 + ((yy - cy) / (size * 0.33)) ** 2 <= 1
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    files = []
    for i in range(slices):
        t = i / max(slices - 1, 1)
        lung_r = size * (0.10 + 0.08 * np.sin(np.pi * t))
        lungs = (((xx - cx * 0.62) ** 2 + (yy - cy) ** 2) <= lung_r**2) | (
            ((xx - cx * 1.38) ** 2 + (yy - cy) ** 2) <= lung_r**2
        )
        spine = ((xx - cx) ** 2 + (yy - cy * 1.45) ** 2) <= (size * 0.04) ** 2
        hu = np.full((size, size), -1000.0, dtype=np.float32)
        hu[body] = 40.0
        hu[lungs] = -850.0
        hu[spine] = 700.0
        hu += rng.normal(0, 12, hu.shape).astype(np.float32)
        pixels = np.clip(hu + 1024, 0, 4095).astype(np.int16)

        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientID, ds.PatientName = patient_id, "Bench^Chest"
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "20261120", "101500", "BENCH1"
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 1, i + 1
        ds.StudyDescription = "CT CHEST (benchmark)"
        ds.ImagePositionPatient = [-175.0, -175.0, -float(i)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [0.7, 0.7], 1.0
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows = ds.Columns = size
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 1
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.WindowCenter, ds.WindowWidth = -600, 1500
        ds.PixelData = pixels.tobytes()
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        files.append(buffer.getvalue())
    return files


def read_folder(path: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()]


def django_env(data_dir: Path, settings_module: str = "reading.settings") -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=settings_module,
        DATA_DIR=str(data_dir),
        LOG_LEVEL="WARNING",
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    for name in ("DATABASE_URL", "REDIS_URL", "STORAGE_DIR", "SQLITE_PATH", "DICOMWEB_ROOT_URL"):
        env.pop(name, None)
    return env


def prepare(env: dict) -> str:
    """Migrate the scratch database; create an attending with an API token."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    code = (
        "from reading.accounts.models import User;"
        "from reading.accounts.services import create_api_token;"
        "u = User.objects.create_user('bench', password='bench-password', role='attending');"
        "print(create_api_token(u).key)"
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]
