"""A synthetic adult chest in Hounsfield units, evaluated slice by slice.

Pure numpy, no DICOM: the CT writer samples it on axial slices, the
radiograph writer projects it. Coordinates are millimetres in the patient
system (LPS: +x patient left, +y posterior, +z head). The origin sits in the
mid-thorax near the carina; lung apices reach about z=+110 and the posterior
costophrenic recesses about z=-160.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reading.studies.demo.shapes import (
    SliceGrid,
    edge,
    ellipse,
    ellipse_radius,
    ellipsoid,
    paint,
    polyline,
    sphere,
    tubes,
)

AIR, FAT, WATER, SOFT, BLOOD, MUSCLE, LIVER = -1000.0, -95.0, 0.0, 35.0, 42.0, 50.0, 58.0
MARROW, CORTEX = 240.0, 850.0


@dataclass(frozen=True)
class Nodule:
    """A pulmonary nodule: centre (mm, LPS), radius (mm) and attenuation (HU)."""

    label: str
    centre: tuple[float, float, float]
    radius: float
    hu: float = 30.0


# Nodules of the current examination; the prior has them smaller or absent.
CURRENT_NODULES = (
    Nodule("right upper lobe, solid", (-72.0, -22.0, 55.0), 7.0),
    Nodule("left lower lobe, solid", (78.0, 40.0, -62.0), 4.5),
    Nodule("right lower lobe, solid", (-88.0, 30.0, -35.0), 3.0),
    Nodule("left upper lobe, ground glass", (62.0, -30.0, 30.0), 6.0, -560.0),
)
PRIOR_NODULES = (
    Nodule("right upper lobe, solid", (-72.0, -22.0, 55.0), 5.0),
    Nodule("left lower lobe, solid", (78.0, 40.0, -62.0), 4.5),
    Nodule("left upper lobe, ground glass", (62.0, -30.0, 30.0), 5.5, -580.0),
)

# Points where the tissue is known, for checks and for anyone exploring the data.
LANDMARKS = {
    "right_lung": (-70.0, 10.0, 20.0),
    "left_lung": (90.0, 10.0, 0.0),
    "heart": (25.0, -20.0, -55.0),
    "descending_aorta": (21.0, 44.0, -20.0),
    "vertebral_body": (0.0, 48.0, 0.0),
    "outside_body": (0.0, -150.0, 0.0),
    "liver": (-60.0, 0.0, -150.0),
}


def _smoothstep(t):
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def body_outline(z: float) -> tuple[float, float, float]:
    """Half width, half depth and AP centre of the trunk at height z (narrows to the neck)."""
    t = float(_smoothstep((z - 135.0) / 40.0))
    return 160.0 - 98.0 * t, 108.0 - 50.0 * t, 5.0 + 8.0 * t


# Lung ellipses (centre x, centre y, half width, half depth), apex and diaphragm dome.
LUNGS = {
    "right": dict(cx=-72.0, cy=8.0, ax=56.0, ay=72.0, apex=110.0, dome=-95.0),
    "left": dict(cx=74.0, cy=10.0, ax=54.0, ay=70.0, apex=108.0, dome=-110.0),
}


def _vessel_tree(rng: np.random.Generator, lung: dict, hilum, branches: int, depth: int):
    """Pulmonary vessels: a few trunks from the hilum, each bifurcating ``depth`` times."""
    segments, radii = [], []
    lo = np.array([lung["cx"] - lung["ax"], lung["cy"] - lung["ay"], lung["dome"] - 20])
    hi = np.array([lung["cx"] + lung["ax"], lung["cy"] + lung["ay"], lung["apex"] - 10])
    stack = []
    for _ in range(branches):
        target = rng.uniform(lo, hi)
        direction = target - np.asarray(hilum)
        stack.append((np.asarray(hilum, float), direction / np.linalg.norm(direction), 0))
    while stack:
        start, direction, level = stack.pop()
        length = 36.0 * 0.84**level * rng.uniform(0.8, 1.2)
        end = start + direction * length
        segments.append((start, end))
        radii.append(4.5 * 0.74**level)
        if level + 1 >= depth:
            continue
        for sign in (-1.0, 1.0):
            perp = np.cross(direction, rng.normal(size=3))
            perp /= np.linalg.norm(perp) or 1.0
            child = direction + sign * rng.uniform(0.3, 0.6) * perp
            stack.append((end, child / np.linalg.norm(child), level + 1))
    return np.asarray(segments, np.float32), np.asarray(radii, np.float32)


def _mediastinal_tubes():
    """Great vessels, airways and oesophagus as (segments, radii, HU, lumen) groups."""
    groups = []

    def add(points, radius, hu, lumen=None):
        segs, radii = polyline(points, radius)
        groups.append((segs, radii, hu, lumen))

    # Aorta: ascending, arch, descending (PS: non-contrast blood ~40-45 HU).
    add([(-8, -22, -40), (-10, -25, 20), (-5, -18, 40), (8, 0, 50), (18, 25, 45), (22, 42, 25)],
        15.0, BLOOD)  # fmt: skip
    add([(22, 42, 25), (21, 44, -60), (12, 42, -170)], 12.5, BLOOD)
    add([(10, -40, -25), (12, -25, 5)], 14.0, BLOOD)  # pulmonary trunk
    add([(12, -25, 5), (40, 0, 8), (55, 10, 0)], 10.0, BLOOD)  # left pulmonary artery
    add([(8, -22, 3), (-25, -12, 2), (-50, -5, -5)], 10.0, BLOOD)  # right pulmonary artery
    add([(-35, -20, 80), (-32, -15, -15)], 10.0, BLOOD)  # superior vena cava
    add([(50, -40, 88), (-30, -22, 78)], 7.0, BLOOD)  # left brachiocephalic vein
    add([(-5, -15, 45), (-20, -20, 160)], 6.0, BLOOD)  # brachiocephalic artery
    add([(10, 0, 50), (14, -5, 160)], 5.0, BLOOD)  # left common carotid
    add([(18, 15, 48), (30, 10, 160)], 5.5, BLOOD)  # left subclavian
    add([(6, 25, 180), (10, 32, 0), (15, 35, -110), (30, 10, -150)], 8.0, MUSCLE)  # oesophagus
    # Airways: a soft-tissue wall with air inside.
    add([(0, -5, 190), (2, 5, 5)], 11.0, SOFT, 9.0)  # trachea
    add([(2, 5, 5), (-35, 10, -15)], 8.5, SOFT, 6.5)  # right main bronchus
    add([(2, 5, 5), (40, 15, -25)], 7.5, SOFT, 5.5)  # left main bronchus
    return groups


def _clavicles():
    segs, radii = [], []
    for side in (-1, 1):
        s, r = polyline(
            [(18 * side, -88, 84), (70 * side, -78, 93), (125 * side, -55, 99),
             (150 * side, -25, 101)], 8.0)  # fmt: skip
        segs.append(s)
        radii.append(r)
    return np.concatenate(segs), np.concatenate(radii)


class ChestPhantom:
    """The anatomy, fixed by ``seed``; call :meth:`hu` for any axial grid."""

    def __init__(self, seed: int = 1, vessel_depth: int = 7):
        rng = np.random.default_rng(seed)
        right = _vessel_tree(rng, LUNGS["right"], (-42.0, 0.0, -5.0), 12, vessel_depth)
        left = _vessel_tree(rng, LUNGS["left"], (45.0, 8.0, -5.0), 11, vessel_depth)
        self.vessels = (np.concatenate([right[0], left[0]]), np.concatenate([right[1], left[1]]))
        self.mediastinum = _mediastinal_tubes()
        self._cache: dict[tuple, object] = {}
        self.clavicles = _clavicles()
        self.arms = {s: polyline([(175 * s, 5, 95), (195 * s, 10, -200)], 42.0) for s in (-1, 1)}

    # -- pieces ------------------------------------------------------------------------

    @staticmethod
    def _diaphragm(g: SliceGrid, lung: dict) -> tuple[np.ndarray, np.ndarray]:
        """Lung cross-section radius and the diaphragm height below it (dome-shaped,
        deepest posteriorly: the costophrenic recesses)."""
        rho = ellipse_radius(g, lung["cx"], lung["cy"], lung["ax"], lung["ay"])
        posterior = np.clip((g.y - lung["cy"]) / lung["ay"], 0.0, 1.0)
        dia = lung["dome"] - 40.0 * np.minimum(rho, 1.2) ** 2 - 30.0 * posterior
        return rho, dia

    def _lung(self, g: SliceGrid, lung: dict) -> tuple[np.ndarray, np.ndarray]:
        rho, dia = self._memo(
            ("lung", self._grid_key(g), lung["cx"]), lambda: self._diaphragm(g, lung)
        )
        shrink = float(np.sqrt(np.clip((lung["apex"] - g.z) / 45.0, 0.0, 1.0)))
        if shrink <= 0:
            return np.zeros(g.shape, np.float32), dia
        rho_apex = ellipse_radius(
            g, lung["cx"], lung["cy"] + 12 * (1 - shrink), lung["ax"] * shrink, lung["ay"] * shrink
        )
        inside = edge((np.maximum(rho, rho_apex) - 1.0) * lung["ax"] * shrink, g.pixel)
        return inside * edge(dia - g.z, g.pixel), dia

    @staticmethod
    def _spine_shapes(g: SliceGrid) -> dict[str, np.ndarray]:
        """Cross-sections of a thoracic vertebra and its muscles (the same at every level)."""
        yc, canal_y = 48.0, 78.0
        arch = ellipse(g, 0, canal_y, 15, 14)
        for x0, x1 in ((-15, -9), (9, 15)):  # pedicles
            arch = np.maximum(arch, edge(np.maximum(np.maximum(x0 - g.x, g.x - x1),
                                                    np.maximum(yc + 10 - g.y, g.y - canal_y)),
                                         g.pixel))  # fmt: skip
        spinous, _ = polyline([(0, canal_y + 12, g.z), (0, canal_y + 26, g.z - 6)], 4.0)
        trans = np.concatenate(
            [polyline([(s * 12, canal_y - 2, g.z), (s * 40, canal_y + 6, g.z)], 4.5)[0]
             for s in (-1, 1)])  # fmt: skip
        segs = np.concatenate([spinous, trans])
        return {
            "muscle": np.maximum(ellipse(g, -33, yc + 48, 26, 20), ellipse(g, 33, yc + 48, 26, 20)),
            "body": ellipse(g, 0, yc, 20, 16),
            "marrow": ellipse(g, 0, yc, 17.5, 13.5),
            "arch": arch,
            "processes": tubes(g, segs, np.full(len(segs), 4.5, np.float32)),
            "canal": ellipse(g, 0, canal_y, 10, 9.5),
            "cord": ellipse(g, 0, canal_y, 5.5, 5),
        }

    def _spine(self, img: np.ndarray, g: SliceGrid) -> None:
        shapes = self._memo(("spine", self._grid_key(g)), lambda: self._spine_shapes(g))
        paint(img, shapes["muscle"], MUSCLE)  # paraspinal muscles
        if (g.z + 200.0) % 27.0 < 5.0:  # an intervertebral disc every 27 mm
            paint(img, shapes["body"], 85.0)
        else:
            paint(img, shapes["body"], CORTEX * 0.9)
            paint(img, shapes["marrow"], MARROW)
        paint(img, shapes["arch"], 700.0)
        paint(img, shapes["processes"], 650.0)
        paint(img, shapes["canal"], 12.0)  # CSF
        paint(img, shapes["cord"], 35.0)

    def _memo(self, key: tuple, make):
        """Per-grid arrays that do not change from slice to slice (the trunk outline is
        the same all down the chest), computed once per series instead of per slice."""
        if key not in self._cache:
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = make()
        return self._cache[key]

    @staticmethod
    def _grid_key(g: SliceGrid) -> tuple:
        return (float(g.x[0, 0]), float(g.y[0, 0]), g.shape, g.pixel)

    @staticmethod
    def _rib_frame(g: SliceGrid, a: float, b: float, cy: float):
        """Angle round the rib cage (0 posterior, pi anterior) and radial offset (mm)."""
        ar, br = a - 26.0, b - 26.0
        u, v = g.x / ar, (g.y - cy) / br
        rho = np.sqrt(u * u + v * v)
        phi = np.arctan2(np.abs(u), v)
        radial = (rho - 1.0) * np.sqrt((ar * np.sin(phi)) ** 2 + (br * np.cos(phi)) ** 2)
        return phi, radial, np.abs(radial) < 9.0

    def _ribs(self, img: np.ndarray, g: SliceGrid, a: float, b: float, cy: float) -> None:
        phi, radial, band = self._memo(
            ("ribs", self._grid_key(g), a, b, cy), lambda: self._rib_frame(g, a, b, cy)
        )
        if not band.any():
            return
        ph, rad = phi[band], radial[band]
        best = np.full(ph.shape, np.inf, np.float32)
        cart = np.full(ph.shape, np.inf, np.float32)
        phi0 = 0.45
        # Ribs thin out and carry less bone towards the front (anterior ribs look faint).
        front = np.clip((ph - 1.7) / 0.85, 0.0, 1.0)
        half = 4.5 - 1.5 * front
        for k in range(12):
            end, cartilage_end = (
                (2.55, 2.95) if k < 7 else (2.3, 2.6) if k < 10 else (1.6 - 0.3 * (k - 10), 0)
            )
            zk = (
                112.0
                - 21.5 * k
                - (50.0 if k == 0 else 85.0) * np.clip((ph - phi0) / (2.55 - phi0), 0, None) ** 1.4
            )
            d = np.sqrt((rad / half) ** 2 + ((g.z - zk) / 5.0) ** 2)
            bony = (ph >= phi0) & (ph <= end)
            best = np.where(bony, np.minimum(best, d), best)
            if cartilage_end:
                cart = np.where((ph > end) & (ph <= cartilage_end), np.minimum(cart, d), cart)
        cov_c = np.zeros(g.shape, np.float32)
        cov_c[band] = edge((cart - 1.0) * 4.5, g.pixel)
        paint(img, cov_c, 130.0)
        cov = np.zeros(g.shape, np.float32)
        cov[band] = edge((best - 1.0) * 4.5, g.pixel)
        value = np.zeros(g.shape, np.float32)
        value[band] = np.where(best < 0.6, MARROW, CORTEX * (1.0 - 0.45 * front))
        paint(img, cov, value)
        # Scapulae: thin plates behind the upper ribs.
        if -40.0 < g.z < 118.0:
            top = float(np.clip((g.z + 40.0) / 90.0, 0, 1))
            lo, hi = 0.55 + 0.25 * (1 - top), 0.75 + 0.65 * top
            plate = (phi >= lo) & (phi <= hi)
            paint(img, edge(np.abs(radial - 14.0) - 2.5, g.pixel) * plate, 600.0)

    # -- the whole slice -----------------------------------------------------------------

    def hu(self, g: SliceGrid, nodules=(), *, table: bool = False, arms: bool = False):
        """Noise-free attenuation (HU) of the slice ``g``.

        ``table`` adds the scanner couch under the patient; ``arms`` puts the
        arms down beside the trunk (a radiograph) instead of raised (a CT).
        """
        z = g.z
        img = np.full(g.shape, AIR, np.float32)
        if table:
            couch = self._memo(
                ("couch", self._grid_key(g)),
                lambda: edge(np.abs(g.y - (121.0 + 0.0008 * g.x**2)) - 5.0, g.pixel),
            )
            paint(img, couch, 180.0)
        a, b, cy = body_outline(z)
        if arms:
            for s in (-1, 1):
                paint(img, ellipsoid(g, (150 * s, 0, 100), (45, 60, 50)), MUSCLE)  # shoulder
                paint(img, tubes(g, *self.arms[s]), MUSCLE)
        body, muscle, interior = self._memo(
            ("trunk", self._grid_key(g), a, b, cy),
            lambda: [edge(self._outline_distance(g, a, b, cy, d), g.pixel) for d in (0, 14, 28)],
        )
        paint(img, body, FAT)
        paint(img, muscle, MUSCLE)
        paint(img, interior, SOFT)
        if arms:
            for s in (-1, 1):
                paint(img, sphere(g, (168 * s, 5, 92), 24.0), CORTEX * 0.7)  # humeral head
                paint(img, tubes(g, *polyline([(170 * s, 5, 85), (185 * s, 10, -90)], 11.0)),
                      CORTEX * 0.8)  # fmt: skip
                paint(img, sphere(g, (168 * s, 5, 92), 21.0), MARROW)

        # Below the diaphragm: liver on the right, stomach and spleen on the left.
        lung_cov = {}
        dias = {}
        for side, lung in LUNGS.items():
            lung_cov[side], dias[side] = self._lung(g, lung)
        diaphragm = np.where(g.x < 0, dias["right"], dias["left"])
        abdomen = interior * edge(z - diaphragm, g.pixel)
        if abdomen.any():
            paint(img, abdomen * edge(g.x - 35.0, g.pixel), LIVER)
            paint(img, abdomen * ellipsoid(g, (85, 45, -150), (32, 45, 45)), 50.0)  # spleen
            stomach = abdomen * ellipsoid(g, (55, -30, -150), (42, 38, 42))
            paint(img, stomach, 15.0)
            paint(img, stomach * edge(g.y - (-45.0), g.pixel), AIR)  # gas rises anteriorly

        # Lungs with the posterior (dependent) parenchyma a little denser.
        for side, lung in LUNGS.items():
            depth = np.clip((g.y - (lung["cy"] - lung["ay"])) / (2 * lung["ay"]), 0.0, 1.0)
            paint(img, lung_cov[side], -870.0 + 80.0 * depth)
        lungs = np.maximum(lung_cov["right"], lung_cov["left"])
        paint(img, lungs * tubes(g, *self.vessels), BLOOD)

        # Mediastinum: fat, pericardium and heart, great vessels, airways.
        if -30.0 < z < 100.0:
            paint(img, ellipse(g, 0, -45, 30, 32) * edge(abs(z - 35.0) - 65.0, g.pixel), FAT)
        # Heart: ventricles, and the right atrium forming the right heart border.
        for centre, axes in (((28, -22, -66), (60, 48, 46)), ((-16, -8, -52), (30, 34, 36))):
            paint(img, ellipsoid(g, centre, tuple(a + 4 for a in axes)), FAT)  # pericardial fat
        for centre, axes in (((28, -22, -66), (60, 48, 46)), ((-16, -8, -52), (30, 34, 36))):
            paint(img, ellipsoid(g, centre, axes), BLOOD)
        for segs, radii, hu, lumen in self.mediastinum:
            paint(img, tubes(g, segs, radii), hu)
            if lumen is not None:
                paint(img, tubes(g, segs, np.full_like(radii, lumen)), AIR)

        self._spine(img, g)
        self._ribs(img, g, a, b, cy)
        if -95.0 < z < 92.0:
            sy = cy - b + 24.0
            wide = z > 55.0
            zcov = edge(max(-95.0 - z, z - 92.0), g.pixel)
            paint(img, ellipse(g, 0, sy, 26 if wide else 16, 8 if wide else 6.5) * zcov, 700.0)
            paint(img, ellipse(g, 0, sy, 23 if wide else 13, 5.5 if wide else 4) * zcov, MARROW)
        paint(img, tubes(g, *self.clavicles), 800.0)

        for nodule in nodules:
            paint(img, sphere(g, nodule.centre, nodule.radius), nodule.hu)
        return img

    @staticmethod
    def _outline_distance(g: SliceGrid, a: float, b: float, cy: float, inset: float):
        """Approximate signed distance (mm) to the trunk outline moved ``inset`` mm inwards."""
        aa, bb = a - inset, b - inset
        p = 2.4
        rho = (np.abs(g.x / aa) ** p + np.abs((g.y - cy) / bb) ** p) ** (1 / p)
        return (rho - 1.0) * min(aa, bb)
