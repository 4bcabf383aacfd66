"""A synthetic adult head as a T2-weighted MR signal, evaluated slice by slice.

Pure numpy, no DICOM. Millimetres in the patient system (LPS); the origin is
near the centre of the cerebrum, the vertex about z=+75 and the skull base
about z=-50. Signal is in arbitrary units the way a T2 fast spin echo shows
tissue: CSF and vitreous bright, grey matter brighter than white matter,
fat fairly bright, cortical bone and air dark.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from reading.studies.demo.shapes import (
    SliceGrid,
    edge,
    ellipse_radius,
    ellipsoid,
    paint,
    smooth_field,
    sphere,
)

T2 = {
    "air": 0.0,
    "bone": 60.0,
    "fat": 1250.0,
    "muscle": 420.0,
    "skin": 700.0,
    "csf": 1900.0,
    "grey": 1050.0,
    "white": 600.0,
    "deep_grey": 850.0,
    "vitreous": 2000.0,
}

# Cerebrum half-axes (x, y, z) and centre; the brain surface is this ellipsoid.
CEREBRUM = ((0.0, 8.0, 5.0), (66.0, 84.0, 68.0))
LANDMARKS = {
    "lateral_ventricle": (11.0, 2.0, 16.0),
    "white_matter": (25.0, 0.0, 28.0),
    "outside_head": (0.0, -108.0, 28.0),
}


class BrainPhantom:
    """The anatomy, fixed by ``seed``; call :meth:`signal` for any axial grid."""

    def __init__(self, seed: int = 2):
        rng = np.random.default_rng(seed)
        self.gyri = smooth_field(rng, waves=16, wavelength=30.0)
        self.folia = smooth_field(rng, waves=12, wavelength=7.0)

    def _brain_depth(self, g: SliceGrid) -> np.ndarray:
        """Approximate depth (mm) below the cerebral surface; negative outside."""
        (cx, cy, cz), (ax, ay, az) = CEREBRUM
        dz = (g.z - cz) / az
        rho = np.sqrt(((g.x - cx) / ax) ** 2 + ((g.y - cy) / ay) ** 2 + dz * dz)
        # The temporal and frontal lobes stop at the skull base.
        return (1.0 - rho) * 68.0

    def signal(self, g: SliceGrid) -> np.ndarray:
        z = g.z
        img = np.zeros(g.shape, np.float32)
        (cx, cy, cz), (ax, ay, az) = CEREBRUM
        head_c, head_ax = (cx, cy, cz - 6.0), (ax + 13.0, ay + 14.0, az + 16.0)
        # Scalp (skin over fat), skull (diploe between two tables), a CSF rim.
        paint(img, ellipsoid(g, head_c, head_ax), T2["skin"])
        paint(img, ellipsoid(g, head_c, (head_ax[0] - 2, head_ax[1] - 2, head_ax[2] - 2)),
              T2["fat"])  # fmt: skip
        skull = (head_ax[0] - 6, head_ax[1] - 6, head_ax[2] - 6)
        paint(img, ellipsoid(g, head_c, skull), T2["bone"])
        paint(img, ellipsoid(g, head_c, (skull[0] - 2, skull[1] - 2, skull[2] - 2)), 700.0)
        paint(img, ellipsoid(g, head_c, (skull[0] - 4.5, skull[1] - 4.5, skull[2] - 4.5)),
              T2["bone"])  # fmt: skip
        inner = (skull[0] - 6.5, skull[1] - 6.5, skull[2] - 6.5)
        paint(img, ellipsoid(g, head_c, inner), T2["csf"])
        if z < -30.0:  # skull base in front of the posterior fossa
            paint(img, ellipsoid(g, head_c, inner) * edge(g.y - 18.0, g.pixel), T2["muscle"])
        # Face, temporal muscles beside the skull, eyes and orbital fat in front.
        paint(img, ellipsoid(g, (0, -64, -44), (60, 40, 32)), T2["skin"])
        paint(img, ellipsoid(g, (0, -64, -44), (57, 37, 29)), T2["fat"])
        for s in (-1, 1):
            paint(img, ellipsoid(g, (s * (head_ax[0] - 4), -10, -15), (6, 30, 32)), T2["muscle"])
            paint(img, ellipsoid(g, (s * 31, -70, -34), (18, 20, 15)), T2["fat"])
            paint(img, sphere(g, (s * 31, -76, -34), 12.0), T2["vitreous"])
            paint(img, sphere(g, (s * 31, -87, -34), 4.0), 500.0)  # lens
        if z < -38:  # sinuses and nasal cavity: air
            paint(img, ellipsoid(g, (0, -70, -52), (16, 22, 16)), T2["air"])

        depth = self._brain_depth(g)
        brain = edge(-depth, g.pixel)
        # Cerebrum: grey cortex over white matter, sulci as CSF along winding surfaces.
        f = self.gyri(replace(g, x=np.abs(g.x)))  # mirrored: both hemispheres fold alike
        # |f| grows about 0.2 per mm away from its zero set: cortex ~2.5 mm each side of a sulcus.
        grey = (depth < 3.5) | ((np.abs(f) < 0.5) & (depth < 26.0))
        sulcus = (np.abs(f) < 0.07) & (depth < 22.0)
        tissue = np.where(grey, T2["grey"], T2["white"]).astype(np.float32)
        tissue[sulcus] = T2["csf"]
        fissure = (np.abs(g.x - cx) < 1.4) & ((z > 22.0) | (np.abs(g.y - 2.0) > 45.0))
        tissue[fissure] = T2["csf"]
        lobe_floor = edge(-35.0 - z + 0.004 * (g.y - 20) ** 2 * (g.y > 20), g.pixel)
        paint(img, brain * lobe_floor, tissue)
        for s in (-1, 1):  # temporal lobes reach down into the middle cranial fossa
            temporal = ellipsoid(g, (s * 40, -8, -30), (20, 32, 16)) * edge(z + 33.0, g.pixel)
            paint(img, temporal, tissue)

        # Posterior fossa: cerebellum with folia, brainstem, fourth ventricle.
        cereb = ellipsoid(g, (0, 48, -32), (52, 32, 22))
        if cereb.any():
            folia = self.folia(g) > -0.35
            core = ellipsoid(g, (0, 44, -30), (30, 14, 10)) > 0.5
            paint(img, cereb, np.where(folia & ~core, T2["grey"], T2["white"] + 40.0))
        paint(img, ellipsoid(g, (0, 14, -35), (13, 13, 35)), T2["white"] + 40.0)  # pons/midbrain
        paint(img, ellipsoid(g, (0, 30, -33), (5, 4, 7)), T2["csf"])  # fourth ventricle

        # Deep grey nuclei and the ventricles.
        for s in (-1, 1):
            paint(img, ellipsoid(g, (s * 14, 12, 4), (10, 15, 11)), T2["deep_grey"])  # thalamus
            paint(img, ellipsoid(g, (s * 25, -8, 2), (6, 15, 11)), T2["deep_grey"])  # putamen
            paint(img, ellipsoid(g, (s * 13, -16, 12), (6, 9, 10)), T2["deep_grey"])  # caudate
        for s in (-1, 1):
            paint(img, ellipsoid(g, (s * 10, -14, 14), (6, 13, 10)), T2["csf"])  # frontal horn
            paint(img, ellipsoid(g, (s * 11, 6, 18), (5.5, 24, 8)), T2["csf"])  # body
            paint(img, ellipsoid(g, (s * 17, 34, 10), (5, 14, 7)), T2["csf"])  # atrium/occipital
            paint(img, ellipsoid(g, (s * 32, -2, -18), (3.5, 14, 5)), T2["csf"])  # temporal horn
        paint(img, ellipsoid(g, (0, 6, -2), (2.5, 13, 9)), T2["csf"])  # third ventricle
        # Gentle coil sensitivity falling off towards the centre.
        r = ellipse_radius(g, 0, 0, 160, 190)
        return img * (0.88 + 0.12 * np.clip(r, 0, 1)).astype(np.float32)
