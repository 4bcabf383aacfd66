"""A chest radiograph projected through the chest phantom (pure numpy).

The phantom is sampled on a coarse grid, the linear attenuation is summed
along the anterior-posterior axis (a parallel-beam digitally reconstructed
radiograph), then resampled to the detector and given the look of a
processed radiograph: log signal, local contrast enhancement, quantum noise.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from reading.studies.demo.chest import ChestPhantom, Nodule
from reading.studies.demo.shapes import SliceGrid, box_blur, smooth3

MU_WATER = 0.0195  # 1/mm, water at an effective energy of about 70 keV


def attenuation(hu: np.ndarray) -> np.ndarray:
    """Linear attenuation from HU; bone gets extra weight as it does at radiographic energies."""
    mu = MU_WATER * np.clip(1.0 + hu / 1000.0, 0.0, None)
    return mu * (1.0 + 0.6 * np.clip((hu - 100.0) / 900.0, 0.0, 1.0))


def chest_radiograph(phantom: ChestPhantom, *, rows: int, cols: int, pixel: float,
                     nodules: tuple[Nodule, ...] = (), seed: int = 3) -> np.ndarray:  # fmt: skip
    """A PA chest radiograph as 12-bit values (bright = more attenuation).

    Column index runs towards the patient's left and row index towards the
    feet, so the image displays the patient facing the viewer.
    """
    width, height = cols * pixel, rows * pixel
    step = max(2.2, pixel)
    nx, nz = int(np.ceil(width / step)), int(np.ceil(height / step))
    top_z = 205.0
    y_lo, y_hi = -150.0, 160.0
    ny = int((y_hi - y_lo) / step)
    projection = np.empty((nz, nx), np.float32)
    for iz in range(nz):
        z = top_z - (iz + 0.5) * step
        g = SliceGrid.axial(x0=-width / 2 + step / 2, y0=y_lo, cols=nx, rows=ny, pixel=step, z=z)
        projection[iz] = attenuation(phantom.hu(g, nodules, arms=True)).sum(axis=0) * step
    detector = np.asarray(
        Image.fromarray(projection, mode="F").resize((cols, rows), Image.Resampling.BICUBIC)
    )
    # Processing as a CR reader does: compress the range, then boost local contrast.
    signal = 1.0 - np.exp(-detector / 2.4)
    local = box_blur(signal, max(2, int(12.0 / pixel)))
    enhanced = signal + 0.8 * (signal - local)
    rng = np.random.default_rng(seed)
    noise = smooth3(rng.standard_normal((rows, cols), dtype=np.float32)) * 2.67
    return np.clip(enhanced * 3800.0 + 150.0 + 12.0 * noise, 0, 4095)
