"""The demo studies: who, when, which images, and how each instance is built.

Nothing is generated until an instance's ``build()`` is called, so checking
which demo instances are already stored costs one query and no pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np

from reading.studies.demo import samples
from reading.studies.demo.brain import BrainPhantom
from reading.studies.demo.chest import CURRENT_NODULES, PRIOR_NODULES, ChestPhantom, Nodule
from reading.studies.demo.radiograph import chest_radiograph
from reading.studies.demo.shapes import SliceGrid, paint, smooth3, sphere
from reading.studies.demo.writers import (
    AxialGeometry,
    PatientInfo,
    StudyInfo,
    cr_image,
    ct_slice,
    mr_slice,
    study_time,
)

CHEST_PATIENT = PatientInfo("Harper^Eleanor^J", "RR100231", date(1958, 4, 12), "F", 1.64, 61)
BRAIN_PATIENT = PatientInfo("Lindqvist^Maja", "RR100877", date(1989, 1, 30), "F", 1.71, 66)
SAMPLE_PATIENT = PatientInfo("Sample^Pydicom", "RR100999", date(1970, 1, 1), "O", 1.75, 70)

# smooth3 shrinks white noise to 0.375 of its sigma; this restores it.
_NOISE_GAIN = 1.0 / 0.375


@dataclass(frozen=True)
class DemoScale:
    """Sizes of the generated images. The default is the full demo; tests use :meth:`small`."""

    ct_slices: int = 200
    ct_size: int = 512
    ct_spacing: float = 1.25
    ct_first_z: float = 113.75  # just above the lung apices; slices run towards the feet
    ct_fov: float = 360.0
    mr_slices: int = 26
    mr_size: int = 256
    mr_first_z: float = -38.0  # skull base; slices run towards the vertex
    mr_step: float = 4.5
    cr_rows: int = 1250
    cr_cols: int = 1024

    @classmethod
    def small(cls) -> DemoScale:
        """A few slices through the largest nodule and the ventricles: fast, for tests."""
        return cls(ct_slices=12, ct_size=128, ct_first_z=62.5, mr_slices=6, mr_size=64,
                   mr_first_z=-20.0, mr_step=12.0, cr_rows=156, cr_cols=128)  # fmt: skip

    @property
    def suffix(self) -> str:
        """Part of every UID key: empty at full size, so any other scale gets its own UIDs
        and never collides with the demo."""
        return "" if self == DemoScale() else f"@{self!r}"

    @property
    def ct_geometry(self) -> AxialGeometry:
        return AxialGeometry(rows=self.ct_size, cols=self.ct_size,
                             pixel=self.ct_fov / self.ct_size, first_z=self.ct_first_z,
                             step=-self.ct_spacing, thickness=self.ct_spacing)  # fmt: skip

    @property
    def mr_geometry(self) -> AxialGeometry:
        return AxialGeometry(rows=self.mr_size, cols=self.mr_size, pixel=230.0 / self.mr_size,
                             first_z=self.mr_first_z, step=self.mr_step, thickness=4.0)  # fmt: skip

    @property
    def cr_pixel(self) -> float:
        return 0.35 * 1024 / self.cr_cols


@dataclass(frozen=True)
class DemoInstance:
    sop_instance_uid: str
    name: str
    build: Callable[[], bytes]


@dataclass
class DemoStudy:
    label: str
    info: StudyInfo
    instances: list[DemoInstance] = field(default_factory=list)


def _grid(geometry: AxialGeometry, index: int) -> SliceGrid:
    x0, y0 = geometry.origin
    return SliceGrid.axial(x0=x0, y0=y0, cols=geometry.cols, rows=geometry.rows,
                           pixel=geometry.pixel, z=geometry.z(index))  # fmt: skip


class ChestCT:
    """CT slices of the chest phantom. The anatomy of each slice is computed once
    and shared by the current and the prior examination (same geometry); the
    nodules and the noise differ."""

    def __init__(self, geometry: AxialGeometry, slices: int, phantom: ChestPhantom):
        self.geometry = geometry
        self.slices = slices
        self.phantom = phantom
        self._anatomy: dict[int, np.ndarray] = {}

    def anatomy(self, index: int) -> np.ndarray:
        if index not in self._anatomy:
            hu = self.phantom.hu(_grid(self.geometry, index), table=True)
            self._anatomy[index] = np.rint(hu).astype(np.int16)
        return self._anatomy[index]

    def hu(self, index: int, nodules: tuple[Nodule, ...], noise_seed: int) -> np.ndarray:
        g = _grid(self.geometry, index)
        img = self.anatomy(index).astype(np.float32)
        for nodule in nodules:
            if abs(g.z - nodule.centre[2]) < nodule.radius:
                paint(img, sphere(g, nodule.centre, nodule.radius), nodule.hu)
        rng = np.random.default_rng([noise_seed, index])
        noise = smooth3(rng.standard_normal(img.shape, dtype=np.float32))
        return img + noise * (_NOISE_GAIN * 11.0)


def _ct_study(label: str, info: StudyInfo, ct: ChestCT, nodules, noise_seed: int) -> DemoStudy:
    study = DemoStudy(label, info)
    for i in range(ct.slices):
        study.instances.append(
            DemoInstance(
                info.sop_uid(2, i + 1),
                f"{info.accession} CT {i + 1:03d}",
                lambda i=i: ct_slice(info, ct.geometry, i, ct.hu(i, nodules, noise_seed)),
            )
        )
    return study


def demo_studies(scale: DemoScale | None = None) -> list[DemoStudy]:
    """Every demo study with its (not yet built) instances."""
    scale = scale or DemoScale()
    sfx = scale.suffix
    chest = ChestPhantom()
    ct = ChestCT(scale.ct_geometry, scale.ct_slices, chest)

    current = StudyInfo(f"chest-ct-current{sfx}", CHEST_PATIENT, "A26111601",
                        study_time(date(2026, 11, 16), "0942"), "CT CHEST W/O CONTRAST",
                        body_part="CHEST")  # fmt: skip
    prior = replace(current, key=f"chest-ct-prior{sfx}", accession="A25111003",
                    when=study_time(date(2025, 11, 10), "1015"))  # fmt: skip
    radiograph = StudyInfo(f"chest-cr{sfx}", CHEST_PATIENT, "A26110904",
                           study_time(date(2026, 11, 9), "1620"), "XR CHEST PA",
                           body_part="CHEST")  # fmt: skip
    brain = StudyInfo(f"brain-mr{sfx}", BRAIN_PATIENT, "A26112114",
                      study_time(date(2026, 11, 21), "1120"), "MR BRAIN W/O CONTRAST",
                      referring="Okafor^Daniel^^Dr", body_part="HEAD")  # fmt: skip
    sample_study = StudyInfo(f"pydicom-samples{sfx}", SAMPLE_PATIENT, "A26112201",
                             study_time(date(2026, 11, 22), "0800"),
                             "DICOM SAMPLE IMAGES (TRANSFER SYNTAXES)")  # fmt: skip

    studies = [
        _ct_study("Chest CT (current)", current, ct, CURRENT_NODULES, noise_seed=11),
        _ct_study("Chest CT (prior, a year earlier)", prior, ct, PRIOR_NODULES, noise_seed=12),
    ]

    cr = DemoStudy("Chest radiograph PA", radiograph)
    cr.instances.append(
        DemoInstance(
            radiograph.sop_uid(1, 1),
            f"{radiograph.accession} CR",
            lambda: cr_image(
                radiograph,
                chest_radiograph(
                    chest,
                    rows=scale.cr_rows,
                    cols=scale.cr_cols,
                    pixel=scale.cr_pixel,
                    nodules=CURRENT_NODULES,
                ),  # fmt: skip
                scale.cr_pixel,
            ),
        )
    )
    studies.append(cr)

    mr = DemoStudy("Brain MR (axial T2)", brain)
    head = BrainPhantom()
    geometry = scale.mr_geometry
    for i in range(scale.mr_slices):
        mr.instances.append(
            DemoInstance(
                brain.sop_uid(3, i + 1),
                f"{brain.accession} MR {i + 1:02d}",
                lambda i=i: mr_slice(brain, geometry, i, _mr_signal(head, geometry, i)),
            )
        )
    studies.append(mr)

    sample = DemoStudy("pydicom sample files", sample_study)
    for i, item in enumerate(samples.available_samples()):
        sample.instances.append(
            DemoInstance(
                sample_study.sop_uid(i + 1, 1),
                item.name,
                lambda i=i, item=item: samples.sample_instance(sample_study, i, item),
            )
        )
    studies.append(sample)
    return studies


def _mr_signal(head: BrainPhantom, geometry: AxialGeometry, index: int) -> np.ndarray:
    """Magnitude image: Rician noise from complex Gaussian noise on the true signal."""
    signal = head.signal(_grid(geometry, index))
    rng = np.random.default_rng([21, index])
    real = signal + rng.normal(0.0, 22.0, signal.shape).astype(np.float32)
    imag = rng.normal(0.0, 22.0, signal.shape).astype(np.float32)
    return np.sqrt(real * real + imag * imag)
