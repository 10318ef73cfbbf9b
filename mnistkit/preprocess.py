"""Turn a drawing or an uploaded image into a 28x28 MNIST-style input (numpy + Pillow only).

MNIST's recipe: crop the digit to its ink, scale the longer side to 20 px keeping the aspect
ratio (anti-aliased), paste it into a 28x28 black field and shift it so the intensity-weighted
centre of mass sits at (14, 14) in pixel-index coordinates. Ink is white on black, peaking at 1.0.
One step MNIST did not need: strokes thinner than MNIST's pen (a fine brush, a large digit, a
pen scan) are thickened to MNIST's median stroke width, 2.5 px at 28x28, before the last
scaling, and strokes much thicker than it (a small digit drawn with the canvas's fixed 20 px
pen) are thinned towards it. That makes a 10 px and a 30 px brush read alike. A digit so
small for its pen that its lines have run together (a 3 drawn 60 px tall with a 20 px pen
is a blob that every model reads as 8) cannot be rescued: its reason is "small".

Images are decoded and made grey by `mnistkit.imaging` (its transparency rule applies).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from PIL import Image

from mnistkit.imaging import to_gray

SIZE = 28  # output side, px
BOX = 20  # the digit's longer side after scaling, px
MIN_INK_PIXELS = 5  # fewer ink pixels than this is a speck, not a digit
DOT_FRACTION = 0.02  # ink smaller than this share of the shorter image side is a dot
BLOB_FRACTION = 0.12  # a compact, filled blob up to this share is a single brush dab
STROKE = 2.5  # MNIST's median stroke width, px at 28x28 (2A/P of its digits, 10th-90th %: 1.8-3.5)
WORK = 4  # strokes are measured and thickened with the digit at WORK x BOX px (80 px)
MAX_GROW = 4  # thicken by at most this many px per side at the working size (+2 px at 28x28)
THICK = 4.0  # strokes wider than this at 28x28 are thinned towards STROKE (MNIST's 90th %: 3.5)
MAX_THIN = 6  # thin by at most this many px per side at the working size (-3 px at 28x28)
# Stroke width / the digit's longer side above which the lines of a digit have run together.
# Measured on canvas drawings with the 20 px pen: digits 80-230 px tall 0.09-0.19, a 5 drawn
# 70 px tall 0.25 and a 1 drawn 60 px tall 0.28 (both read right once thinned), a 3 drawn
# 64 px tall 0.37 (a blob every model read as 8).
SMALL_RATIO = 0.33


@dataclass(frozen=True, eq=False)
class Preprocessed:
    """A model input (28, 28, 1) or None when empty, plus the named intermediate images.

    `reason` says why there is no input: "empty" (no ink), "dot" (only a speck or a
    single dab) or "small" (drawn too small for the pen: its lines ran together); the UI
    turns it into words.
    """

    input: np.ndarray | None
    steps: dict[str, np.ndarray] = field(default_factory=dict)
    empty: bool = False
    inverted: bool = False
    reason: Literal["empty", "dot", "small"] | None = None


def _border_median(gray: np.ndarray) -> float:
    """Median of the outermost rows and columns: the paper's grey level."""
    edges = (gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1])
    return float(np.median(np.concatenate(edges)))


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), inclusive, of the True pixels of a non-empty mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def _is_dot(mask: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """True for a speck or a single round brush dab: too small to be a digit."""
    height, width = box[1] - box[0] + 1, box[3] - box[2] + 1
    longer, shorter = max(height, width), min(height, width)
    side = min(mask.shape)
    count = int(mask.sum())
    if count < MIN_INK_PIXELS or longer < DOT_FRACTION * side:
        return True
    compact = longer <= 1.5 * shorter and count >= 0.6 * height * width
    return compact and longer <= BLOB_FRACTION * side


def _resize_longer(image: np.ndarray, side: int) -> np.ndarray:
    """Resize so the longer side is `side` px, keeping the aspect ratio (Lanczos, anti-aliased)."""
    height, width = image.shape
    factor = side / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    resized = Image.fromarray(image.astype(np.float32, copy=False)).resize(
        size, Image.Resampling.LANCZOS
    )
    return np.clip(np.asarray(resized), 0.0, 1.0)


def _scale_to_box(crop: np.ndarray) -> np.ndarray:
    """Scale so the longer side is BOX px, thickening thin strokes on the way.

    The work happens at WORK x BOX px; the result is that image padded evenly to a multiple of
    WORK and shrunk by exactly WORK, so the shorter side keeps its length to a quarter pixel
    (as grey edge pixels) instead of jumping by whole pixels with rounding.
    """
    work = _thin(_thicken(_resize_longer(crop, WORK * BOX)))
    if max(work.shape) != WORK * BOX:
        work = _resize_longer(work, WORK * BOX)
    pad_y, pad_x = -work.shape[0] % WORK, -work.shape[1] % WORK
    work = np.pad(work, ((pad_y // 2, pad_y - pad_y // 2), (pad_x // 2, pad_x - pad_x // 2)))
    size = (work.shape[1] // WORK, work.shape[0] // WORK)
    small = Image.fromarray(work).resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(small), 0.0, 1.0)


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary drawing, in pixels: 2 x area / boundary length.

    A stroke of width w and length L has area ≈ wL and about 2L boundary pixels.
    """
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    boundary = int(mask.sum() - inner.sum())
    return 2.0 * float(mask.sum()) / boundary if boundary else 0.0


def _dilate(gray: np.ndarray, radius: int) -> np.ndarray:
    """Grey dilation by a disc of `radius` px; the image grows by `radius` on every side."""
    padded = np.pad(gray, 2 * radius)
    height, width = gray.shape[0] + 2 * radius, gray.shape[1] + 2 * radius
    out = np.zeros((height, width), gray.dtype)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy * dy + dx * dx <= radius * radius + radius:  # a disc, not a square
                y, x = radius + dy, radius + dx
                np.maximum(out, padded[y : y + height, x : x + width], out=out)
    return out


def _thicken(work: np.ndarray) -> np.ndarray:
    """Grow strokes thinner than STROKE (at 28x28) of a digit drawn WORK x BOX px tall or wide.

    The growth is fractional (a blend of the two nearest whole-pixel dilations), so a drawing
    does not jump between looks when its measured width crosses a rounding boundary.
    """
    measured = stroke_width(work > 0.5) / WORK  # px at 28x28
    grow = min(float(MAX_GROW), (STROKE - measured) * WORK / 2)  # px per side, working size
    if grow <= 0.0:
        return work
    whole, part = int(grow), grow - int(grow)
    grown = _dilate(work, whole)
    if part == 0.0:
        return grown
    return (1.0 - part) * np.pad(grown, 1) + part * _dilate(work, whole + 1)


def _erode(gray: np.ndarray, radius: int) -> np.ndarray:
    """Grey erosion by a disc of `radius` px, same size (outside the image counts as empty)."""
    if radius <= 0:
        return gray
    padded = np.pad(gray, radius)
    out = gray.copy()
    height, width = gray.shape
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy * dy + dx * dx <= radius * radius + radius:
                y, x = radius + dy, radius + dx
                np.minimum(out, padded[y : y + height, x : x + width], out=out)
    return out


def _thin(work: np.ndarray) -> np.ndarray:
    """Thin strokes wider than THICK (at 28x28) towards STROKE, fractionally (as `_thicken`)."""
    measured = stroke_width(np.pad(work > 0.5, 1)) / WORK  # padded: the ink touches the edges
    if measured <= THICK:
        return work
    shrink = min(float(MAX_THIN), (measured - STROKE) * WORK / 2)
    whole, part = int(shrink), shrink - int(shrink)
    thinner = _erode(work, whole)
    if part == 0.0:
        return thinner
    return (1.0 - part) * thinner + part * _erode(work, whole + 1)


def too_small_for_the_pen(mask: np.ndarray) -> bool:
    """True when the stroke is so wide for the digit's size that its lines have run together."""
    top, bottom, left, right = _bbox(mask)
    longer = max(bottom - top + 1, right - left + 1)
    crop = np.pad(mask[top : bottom + 1, left : right + 1], 1)  # ink at the edge is boundary
    return stroke_width(crop) > SMALL_RATIO * longer


def _centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Shift by whole pixels so the centre of mass is at (14, 14), keeping all ink in frame."""
    total = float(digit.sum())
    top, bottom, left, right = _bbox(digit > 0)
    index = np.arange(SIZE, dtype=np.float32)
    com_y = float(digit.sum(axis=1) @ index) / total
    com_x = float(digit.sum(axis=0) @ index) / total
    dy = int(np.clip(np.floor(SIZE / 2 - com_y + 0.5), -top, SIZE - 1 - bottom))
    dx = int(np.clip(np.floor(SIZE / 2 - com_x + 0.5), -left, SIZE - 1 - right))
    return np.roll(digit, (dy, dx), axis=(0, 1))  # only empty rows/columns wrap


def preprocess_digit(
    image: np.ndarray, *, invert: bool | None = None, threshold: float = 0.1
) -> Preprocessed:
    """Apply MNIST's crop / scale-to-20 / centre-of-mass recipe to one drawing.

    Strokes thinner than MNIST's are thickened on the way (see the module docstring).
    invert=None inverts when the border is mostly light (dark ink on paper). Contrast is then
    stretched so the background level (border median) is 0 and the brightest ink 1; pixels at
    or below `threshold` count as background. Nothing inked, or only a dot, gives
    `empty=True` and `input=None`.
    """
    gray = to_gray(image)
    inverted = _border_median(gray) > 0.5 if invert is None else invert
    if inverted:
        gray = 1.0 - gray
    low, high = _border_median(gray), float(gray.max())
    if low < 0.5 and high - low > threshold and (low > 0.0 or high < 1.0):
        gray = np.clip((gray - low) / (high - low), 0.0, 1.0)  # stretch paper..ink to 0..1
    steps = {"drawing": gray}
    mask = gray > threshold
    if not mask.any():
        return Preprocessed(None, steps, True, inverted, "empty")
    box = _bbox(mask)
    top, bottom, left, right = box
    crop = np.where(mask, gray, 0.0)[top : bottom + 1, left : right + 1].astype(np.float32)
    scaled = _scale_to_box(crop)
    peak = float(scaled.max())
    if _is_dot(mask, box) or peak <= 0.0:
        return Preprocessed(None, steps, True, inverted, "dot")
    if too_small_for_the_pen(mask):
        steps.update(cropped=crop)
        return Preprocessed(None, steps, True, inverted, "small")
    scaled = scaled / peak
    canvas = np.zeros((SIZE, SIZE), np.float32)
    y0, x0 = (SIZE - scaled.shape[0]) // 2, (SIZE - scaled.shape[1]) // 2
    canvas[y0 : y0 + scaled.shape[0], x0 : x0 + scaled.shape[1]] = scaled
    centred = _centre_by_mass(canvas)
    steps.update(cropped=crop, scaled=scaled, centred=centred)
    return Preprocessed(centred[..., None], steps, False, inverted)


def naive_resize(image: np.ndarray) -> np.ndarray:
    """Baseline: squash the whole canvas to 28x28 grey (no crop, centring or inversion)."""
    gray = Image.fromarray(to_gray(image))
    small = gray.resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(small, dtype=np.float32), 0.0, 1.0)[..., None]
