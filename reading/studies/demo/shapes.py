"""Vectorised shape primitives for the synthetic phantoms.

Everything is in millimetres in the DICOM patient coordinate system (LPS:
+x towards the patient's left, +y posterior, +z towards the head; PS3.3
C.7.6.2.1.1). A slice is a 2D grid of ``x`` (columns) and ``y`` (rows) at one
``z``; shapes return float32 coverage in 0..1 with an anti-aliased edge about
one pixel wide, so structures keep a smooth outline at any resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SliceGrid:
    """Pixel centres of one axial slice: ``x`` is (1, cols), ``y`` is (rows, 1)."""

    x: np.ndarray
    y: np.ndarray
    z: float
    pixel: float  # mm per pixel, used for the anti-aliased edge width

    @classmethod
    def axial(cls, *, x0: float, y0: float, cols: int, rows: int, pixel: float, z: float):
        x = (x0 + pixel * np.arange(cols, dtype=np.float32))[None, :]
        y = (y0 + pixel * np.arange(rows, dtype=np.float32))[:, None]
        return cls(x=x, y=y, z=float(z), pixel=float(pixel))

    @property
    def shape(self) -> tuple[int, int]:
        return (self.y.shape[0], self.x.shape[1])


def edge(signed_mm: np.ndarray, pixel: float) -> np.ndarray:
    """Coverage from a signed distance (negative inside), blurred over one pixel."""
    return np.clip(0.5 - signed_mm / pixel, 0.0, 1.0).astype(np.float32)


def ellipse_radius(g: SliceGrid, cx: float, cy: float, ax: float, ay: float) -> np.ndarray:
    """Normalised elliptical radius: < 1 inside the ellipse."""
    return np.sqrt(((g.x - cx) / ax) ** 2 + ((g.y - cy) / ay) ** 2)


def ellipse(g: SliceGrid, cx: float, cy: float, ax: float, ay: float) -> np.ndarray:
    """Filled ellipse, its edge distance approximated by the smaller semi-axis."""
    if ax <= 0 or ay <= 0:
        return np.zeros(g.shape, np.float32)
    return edge((ellipse_radius(g, cx, cy, ax, ay) - 1.0) * min(ax, ay), g.pixel)


def ellipsoid(g: SliceGrid, centre, axes) -> np.ndarray:
    """Cross-section of an axis-aligned ellipsoid at the grid's z."""
    cx, cy, cz = centre
    ax, ay, az = axes
    t = 1.0 - ((g.z - cz) / az) ** 2
    if t <= 0:
        return np.zeros(g.shape, np.float32)
    s = float(np.sqrt(t))
    return ellipse(g, cx, cy, ax * s, ay * s)


def sphere(g: SliceGrid, centre, radius: float) -> np.ndarray:
    return ellipsoid(g, centre, (radius, radius, radius))


def tubes(g: SliceGrid, segments: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Union of capsules (3D line segments with a radius) cut by the slice.

    ``segments`` is (N, 2, 3) end points in mm, ``radii`` (N,). Only segments
    that reach this slice are evaluated, each on its own bounding box, so a
    tree of hundreds of vessels costs a few milliseconds per slice.
    """
    out = np.zeros(g.shape, np.float32)
    if len(segments) == 0:
        return out
    z = g.z
    za, zb = segments[:, 0, 2], segments[:, 1, 2]
    hit = (np.minimum(za, zb) - radii <= z) & (np.maximum(za, zb) + radii >= z)
    x_first, y_first = float(g.x[0, 0]), float(g.y[0, 0])
    rows, cols = g.shape
    for (a, b), r in zip(segments[hit], radii[hit], strict=True):
        lo = np.minimum(a, b)[:2] - r - g.pixel
        hi = np.maximum(a, b)[:2] + r + g.pixel
        c0 = max(int((lo[0] - x_first) / g.pixel), 0)
        c1 = min(int((hi[0] - x_first) / g.pixel) + 2, cols)
        r0 = max(int((lo[1] - y_first) / g.pixel), 0)
        r1 = min(int((hi[1] - y_first) / g.pixel) + 2, rows)
        if c0 >= c1 or r0 >= r1:
            continue
        px = g.x[:, c0:c1] - a[0]
        py = g.y[r0:r1, :] - a[1]
        pz = z - a[2]
        d = b - a
        denom = float(d @ d) or 1e-6
        t = np.clip((px * d[0] + py * d[1] + pz * d[2]) / denom, 0.0, 1.0)
        dist = np.sqrt((px - t * d[0]) ** 2 + (py - t * d[1]) ** 2 + (pz - t * d[2]) ** 2)
        cov = edge(dist - r, g.pixel)
        np.maximum(out[r0:r1, c0:c1], cov, out=out[r0:r1, c0:c1])
    return out


def polyline(points, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Segments and radii of a tube through ``points`` (a vessel, an airway)."""
    pts = np.asarray(points, dtype=np.float32)
    segs = np.stack([pts[:-1], pts[1:]], axis=1)
    return segs, np.full(len(segs), radius, np.float32)


def paint(image: np.ndarray, coverage: np.ndarray, value) -> None:
    """Blend ``value`` (a number or a broadcastable array) into ``image`` where covered."""
    image += coverage * (value - image)


def box_blur(image: np.ndarray, radius: int) -> np.ndarray:
    """Separable box filter (edges replicated), applied twice for a soft kernel."""
    if radius < 1:
        return image
    out = image.astype(np.float32)
    for _ in range(2):
        for axis in (0, 1):
            pad = [(0, 0), (0, 0)]
            pad[axis] = (radius + 1, radius)
            c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis, dtype=np.float64)
            n = out.shape[axis]
            hi = np.take(c, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
            lo = np.take(c, np.arange(0, n), axis=axis)
            out = ((hi - lo) / (2 * radius + 1)).astype(np.float32)
    return out


def smooth3(image: np.ndarray) -> np.ndarray:
    """Separable [1, 2, 1] / 4 smoothing (edges replicated): correlates white noise
    the way a reconstruction kernel does, at a fraction of a box filter's cost."""
    out = np.pad(image, 1, mode="edge")
    out = out[:-2, :] + 2 * out[1:-1, :] + out[2:, :]
    out = out[:, :-2] + 2 * out[:, 1:-1] + out[:, 2:]
    return out * np.float32(1 / 16)


def smooth_field(rng: np.random.Generator, waves: int, wavelength: float):
    """A smooth random function f(x, y, z) in -1..1 (a sum of plane waves).

    Its zero set is a set of winding surfaces, used for sulci and texture.
    """
    directions = rng.normal(size=(waves, 3)).astype(np.float32)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    k = (2 * np.pi / wavelength) * rng.uniform(0.7, 1.3, size=(waves, 1)).astype(np.float32)
    directions *= k
    phases = rng.uniform(0, 2 * np.pi, size=waves).astype(np.float32)
    scale = np.float32(np.sqrt(2.0 / waves))

    def field(g: SliceGrid) -> np.ndarray:
        total = np.zeros(g.shape, np.float32)
        for (kx, ky, kz), phase in zip(directions, phases, strict=True):
            total += np.cos(kx * g.x + ky * g.y + (kz * g.z + phase))
        return np.clip(total * scale, -1.0, 1.0)

    return field
