"""The hidden-space map: the last hidden layer's activations for a sample of images, in 2-D.

Each image is a point: where the network's last hidden layer puts it. Projected with PCA
(the two directions along which the points spread most), scaled so the cloud's RMS radius
is 1, and turned (rotated or mirrored, never stretched) to line up with the previous
epoch's map by orthogonal Procrustes, so a replay or the live panel moves smoothly instead
of flipping. It needs only the epochs so far, so the live panel and a replay show the same
map. PCA is linear: a new drawing is placed on the map by the same formula
(`Projection.apply`), which t-SNE or UMAP cannot do without refitting (benchmarks/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Projection:
    """hidden (N, H) → map (N, 2): `(hidden - mean) @ axes` (axes hold the scale and turn)."""

    mean: np.ndarray  # (H,)
    axes: np.ndarray  # (H, 2)

    def apply(self, hidden: np.ndarray) -> np.ndarray:
        h = np.asarray(hidden, dtype=np.float64).reshape(-1, len(self.mean))
        return ((h - self.mean) @ self.axes).astype(np.float32)


def fit(hidden: np.ndarray, previous: np.ndarray | None = None) -> Projection:
    """PCA to 2-D at unit RMS radius, turned to match `previous` (the last map's points)."""
    h = np.asarray(hidden, dtype=np.float64)
    h = h.reshape(len(h), -1)
    mean = h.mean(axis=0) if len(h) else np.zeros(h.shape[1])
    centred = h - mean
    # The top two eigenvectors of the H×H scatter matrix: the axes an SVD of the N×H points
    # gives. einsum, not `@`: threaded OpenBLAS waits for busy cores (a 2 000 × 80 SVD took
    # 1.6 s and `centred.T @ centred` 34 ms on 2 loaded cores; einsum 8 ms, every time).
    _, vectors = np.linalg.eigh(np.einsum("ni,nj->ij", centred, centred))
    axes = np.zeros((h.shape[1], 2))
    top = vectors[:, ::-1][:, :2]
    axes[:, : top.shape[1]] = top
    xy = centred @ axes
    radius = float(np.sqrt(np.mean(np.sum(xy**2, axis=1)))) if len(xy) else 0.0
    if radius > 1e-12:
        axes, xy = axes / radius, xy / radius
    if previous is not None and len(previous) == len(xy):
        u, _, wt = np.linalg.svd(xy.T @ np.asarray(previous, dtype=np.float64))
        axes = axes @ (u @ wt)  # the rotation/mirror that best maps xy onto previous
    else:  # the first map: a sign rule, so the same activations always give the same picture
        skew = np.sum(xy**3, axis=0)
        axes = axes * np.where(skew < 0, -1.0, 1.0)
    return Projection(mean.astype(np.float32), axes.astype(np.float32))


def explained(hidden: np.ndarray, projection: Projection) -> float:
    """Share of the points' variance around their mean that the map's two axes show."""
    h = np.asarray(hidden, dtype=np.float64).reshape(len(hidden), -1)
    centred = h - h.mean(axis=0)
    total = float(np.sum(centred**2))
    if total <= 0:
        return 0.0
    basis, _ = np.linalg.qr(np.asarray(projection.axes, dtype=np.float64))
    return float(np.sum((centred @ basis) ** 2) / total)


def nearest(sample: np.ndarray, point: np.ndarray, k: int = 8) -> np.ndarray:
    """Indices of the `k` sample rows closest to `point` in the full hidden space, nearest first."""
    sample = np.asarray(sample, dtype=np.float32).reshape(len(sample), -1)
    distance = np.sum((sample - np.asarray(point, dtype=np.float32).reshape(1, -1)) ** 2, axis=1)
    k = min(k, len(sample))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(distance, k - 1)[:k]
    return part[np.argsort(distance[part], kind="stable")]


def knn_agreement(points: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Share of points whose `k` nearest other points mostly carry their label (how well a
    picture keeps the digits apart; used by the benchmark to compare projections)."""
    p = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    labels = np.asarray(labels)
    d = np.sum(p**2, 1)[:, None] + np.sum(p**2, 1)[None, :] - 2 * p @ p.T
    np.fill_diagonal(d, np.inf)
    neighbours = np.argpartition(d, k, axis=1)[:, :k]
    votes = labels[neighbours]
    majority = np.array([np.bincount(v, minlength=10).argmax() for v in votes])
    return float(np.mean(majority == labels))
