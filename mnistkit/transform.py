"""Move a 28x28 digit: shift, scale and rotate it (numpy + Pillow only).

The "move my digit" lesson: MNIST digits are centred and about 20 px tall, and a dense network
only ever saw them there. Slide, shrink or turn the same digit and watch which model still
reads it. One affine map about pixel (14, 14), bilinear, black outside the frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from PIL import Image

SIZE = 28
# The fixed point: the centre of pixel (14, 14), where preprocessing puts the centre of mass
# (Pillow's continuous coordinates: pixel i spans i..i+1).
CENTRE = SIZE / 2 + 0.5
SUPERSAMPLE = 4  # when shrinking, render at 4x and box-average (anti-aliasing)


def _affine_coefficients(
    dx: float, dy: float, scale: float, angle: float
) -> tuple[float, float, float, float, float, float]:
    """Pillow's inverse map (output → input pixel) for: scale and rotate about the centre,
    then shift by (dx, dy). Positive angles turn the digit anticlockwise, as on screen."""
    theta = math.radians(angle)
    cos, sin = math.cos(theta) / scale, math.sin(theta) / scale
    # input = C + R(-angle) / scale @ (output - C - shift), with y pointing down
    ox, oy = CENTRE + dx, CENTRE + dy
    a, b = cos, -sin
    d, e = sin, cos
    return a, b, CENTRE - a * ox - b * oy, d, e, CENTRE - d * ox - e * oy


def transform_digit(
    x: np.ndarray, dx: float = 0.0, dy: float = 0.0, scale: float = 1.0, angle: float = 0.0
) -> np.ndarray:
    """Shift by (dx, dy) px (right, down), scale about the centre, rotate by `angle` degrees
    anticlockwise; (28, 28) or (28, 28, 1) floats in, (28, 28, 1) float32 in [0, 1] out."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, not {scale}")
    image = np.asarray(x, dtype=np.float32).reshape(SIZE, SIZE)
    if dx == 0 and dy == 0 and scale == 1 and angle % 360 == 0:
        return np.clip(image, 0.0, 1.0)[..., None]
    a, b, c, d, e, f = _affine_coefficients(dx, dy, scale, angle)
    # Shrinking samples the input sparsely: render 4x larger, then average 4x4 boxes.
    k = SUPERSAMPLE if scale < 1 else 1
    moved = Image.fromarray(image).transform(
        (SIZE * k, SIZE * k),
        Image.Transform.AFFINE,
        (a / k, b / k, c, d / k, e / k, f),
        resample=Image.Resampling.BILINEAR,
    )
    if k > 1:
        moved = moved.reduce(k)
    return np.clip(np.asarray(moved, dtype=np.float32), 0.0, 1.0)[..., None]


def sweep(x: np.ndarray, kind: str, values: Iterable[float]) -> np.ndarray:
    """A batch (N, 28, 28, 1) of `x` moved by each value of one control:
    kind "dx" / "dy" (pixels), "scale" (factor) or "angle" (degrees)."""
    if kind not in ("dx", "dy", "scale", "angle"):
        raise ValueError(f"kind must be dx, dy, scale or angle, not {kind!r}")
    return np.stack([transform_digit(x, **{kind: float(v)}) for v in values])
