"""What the viewer's browser tests share: a phantom chest CT stored in the archive, the
viewer opened on it, and its state and pixels read back."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from pydicom.uid import generate_uid

from reading.studies.services import ingest_instance
from tests.browser.offloop import in_thread
from tests.dicom_factory import make_dataset, to_bytes

SIZE = 256
SLICES = 48


def phantom_slice(k: int, n: int, size: int = SIZE) -> np.ndarray:
    """A chest-like slice in HU: body, two lungs that shrink towards the ends, spine, a nodule."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = size / 2
    img = np.full((size, size), -1000.0, dtype=np.float32)
    img[((xx - c) / (0.44 * size)) ** 2 + ((yy - c) / (0.33 * size)) ** 2 < 1] = 40.0
    t = 1.0 - abs(2.0 * k / max(n - 1, 1) - 1.0)  # 0 at the ends, 1 in the middle
    ax, ay = (0.10 + 0.08 * t) * size, (0.14 + 0.08 * t) * size
    for cx in (c - 0.2 * size, c + 0.2 * size):
        img[((xx - cx) / ax) ** 2 + ((yy - c + 0.02 * size) / ay) ** 2 < 1] = -850.0
    img[(xx - c) ** 2 + (yy - c - 0.22 * size) ** 2 < (0.06 * size) ** 2] = 700.0
    nz = n // 2 + 4
    r = max(0.0, 0.035 * size - abs(k - nz) * 1.5)
    img[(xx - c + 0.22 * size) ** 2 + (yy - c + 0.05 * size) ** 2 < r * r] = 60.0
    return np.round(img + 1024).astype(np.int16)  # stored values; RescaleIntercept -1024


def make_study(*args, **kwargs):
    """Ingest in a worker thread: Playwright's event loop runs in this one, and the ingest's
    on-commit realtime hooks call async_to_sync."""
    return in_thread(build_study, *args, **kwargs)


def phantom_series(
    n: int,
    *,
    size: int = 64,
    study_uid: str | None = None,
    series_uid: str | None = None,
    z0: float = 0.0,
    step: float = 1.0,
    first_number: int = 1,
    **fields,
) -> list:
    """``n`` slices of the phantom chest as datasets of one series, not stored: instance
    numbers from ``first_number``, Image Position z ``z0``, ``z0 - step``...; ``fields``
    go to ``make_dataset``."""
    study_uid, series_uid = study_uid or generate_uid(), series_uid or generate_uid()
    return [
        make_dataset(
            study_uid=study_uid,
            series_uid=series_uid,
            rows=size,
            columns=size,
            instance_number=first_number + k,
            z=z0 - k * step + 0.0,  # no -0.0
            pixels=phantom_slice(k, n, size),
            **fields,
        )
        for k in range(n)
    ]


def build_study(
    n=SLICES,
    size=SIZE,
    *,
    transfer_syntax=None,
    patient_id="MRN-V1",
    study_date=None,
    desc="CT",
    step=2.5,
):
    extra = {"study_date": study_date} if study_date else {}
    datasets = phantom_series(
        n,
        size=size,
        step=step,
        patient_id=patient_id,
        patient_name="Viewer^Test",
        study_description=f"{desc} CHEST",
        series_description=f"Axial {step}mm",
        **extra,
    )
    for k, ds in enumerate(datasets):
        ds.PixelSpacing = [1.4, 1.4]
        ds.SliceThickness = step
        if transfer_syntax is not None:
            ds.compress(transfer_syntax)
        ingest(ds, f"{k}.dcm")
    return datasets[0].StudyInstanceUID, datasets[0].SeriesInstanceUID, datasets


def open_page(login_page, user, path):
    # The tests' predicates are strings Playwright evaluates; the site's CSP forbids eval.
    return login_page(user, path, bypass_csp=True)


def open_viewer(login_page, user, study_uid):
    page = open_page(login_page, user, f"/viewer/{study_uid}/")
    page.wait_for_function(
        "window.readingViewer && window.readingViewer.state().ready", timeout=30000
    )
    wait_for_image(page)
    return page


def ingest(ds, name="x.dcm"):
    result = ingest_instance(to_bytes(ds), name=name)
    assert result.ok, result.reason
    return result


def markers(page, viewport="vp-0") -> dict:
    cell = f'.vw-cell[data-viewport-id="{viewport}"]'
    return {
        side: page.locator(f'{cell} [data-orient="{side}"]').text_content()
        for side in ("top", "bottom", "left", "right")
    }


def state(page):
    return page.evaluate("window.readingViewer.state()")


def wait_for_image(page, viewport="vp-0"):
    page.wait_for_function(
        """(id) => { const v = window.readingViewer.state().viewports.find(x => x.viewportId === id);
                     return v && v.imageId; }""",
        arg=viewport,
    )
    page.wait_for_timeout(300)


def wait_loaded(page, timeout=30000):
    page.wait_for_function(
        "window.readingViewer.state().series.filter(s => s.total).every(s => s.complete)",
        timeout=timeout,
    )


def pixels(page, viewport="vp-0") -> np.ndarray:
    """The viewport as the user sees it (grey levels), from a screenshot of its canvas."""
    png = page.locator(f'.vw-cell[data-viewport-id="{viewport}"] canvas').first.screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32)


def assert_not_blank(img: np.ndarray):
    assert img.std() > 20, f"viewport looks blank (std {img.std():.1f})"
    assert (img > 100).mean() > 0.02 and (img < 30).mean() > 0.02


def viewport_box(page, viewport="vp-0"):
    return page.locator(f'.vw-cell[data-viewport-id="{viewport}"] .vw-element').bounding_box()


def vp_state(page, viewport="vp-0"):
    return next(v for v in state(page)["viewports"] if v["viewportId"] == viewport)
