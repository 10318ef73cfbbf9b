"""Turn a drawing or an uploaded image into a 28x28 MNIST-style input (numpy + Pillow only).

MNIST's recipe: crop the digit to its ink, scale the longer side to 20 px keeping the aspect
ratio (anti-aliased), paste it into a 28x28 black field and shift it so the intensity-weighted
centre of mass sits at (14, 14) in pixel-index coordinates. Ink is white on black, peaking at 1.0.
One step MNIST did not need: strokes thinner than MNIST's pen (a fine brush, a large digit, a
pen scan) are thickened to MNIST's median stroke width, 2.5 px at 28x28, before the last
scaling; thicker strokes are left alone. That makes a 10 px and a 30 px brush read alike.

Transparency rule (files and arrays alike): transparent pixels are background. The background is
black (so the grey value is luminance x alpha, as for a canvas with white strokes) unless the
visible pixels are mostly dark (alpha-weighted mean luminance < 0.5), i.e. dark ink on a
transparent sheet, which is composited onto white instead.
"""

from __future__ import annotations

import io
import os
import re
import struct
import warnings
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

MAX_PIXELS = 40_000_000
MAX_BYTES = 20 * 1024 * 1024
MAX_SIDE = 2048  # a decoded upload is shrunk to this longer side: one digit needs no more
SIZE = 28  # output side, px
BOX = 20  # the digit's longer side after scaling, px
MIN_INK_PIXELS = 5  # fewer ink pixels than this is a speck, not a digit
DOT_FRACTION = 0.02  # ink smaller than this share of the shorter image side is a dot
BLOB_FRACTION = 0.12  # a compact, filled blob up to this share is a single brush dab
STROKE = 2.5  # MNIST's median stroke width, px at 28x28 (2A/P of its digits, 10th-90th %: 1.8-3.5)
WORK = 4  # strokes are measured and thickened with the digit at WORK x BOX px (80 px)
MAX_GROW = 4  # thicken by at most this many px per side at the working size (+2 px at 28x28)
EMPTY_MESSAGE = "Draw a digit"
DOT_MESSAGE = "That looks like a single dot — draw a whole digit"
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601-2, as Pillow's convert("L")
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error)


class ImageError(Exception):
    """The upload is not a usable image: unreadable, corrupt, or too large."""


@dataclass(frozen=True, eq=False)
class Preprocessed:
    """A model input (28, 28, 1) or None when empty, plus the named intermediate images."""

    input: np.ndarray | None
    steps: dict[str, np.ndarray] = field(default_factory=dict)
    empty: bool = False
    inverted: bool = False
    message: str = ""


def _read_bytes(source: str | Path | bytes | BinaryIO) -> bytes:
    """Read at most MAX_BYTES + 1 bytes from a path, a bytes object or a binary file."""
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
        elif isinstance(source, (str, os.PathLike)):
            if os.path.getsize(source) > MAX_BYTES:
                raise ImageError(f"File is larger than {MAX_BYTES // 2**20} MiB.")
            data = Path(source).read_bytes()
        else:
            data = source.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ImageError(f"Cannot read the file: {exc}") from exc
    if len(data) > MAX_BYTES:
        raise ImageError(f"File is larger than {MAX_BYTES // 2**20} MiB.")
    return data


def _too_large(width: int, height: int) -> ImageError:
    """The error for an image whose header claims more than MAX_PIXELS pixels."""
    return ImageError(
        f"Image is too large: {width}×{height} = {width * height:,} pixels (limit {MAX_PIXELS:,})."
    )


def _composite(luma: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Put float luminance with alpha (both [0,1]) onto the background the image implies."""
    weight = float(alpha.sum())
    dark_ink = weight > 0 and float((luma * alpha).sum()) / weight < 0.5
    out = luma * alpha
    return out + (1.0 - alpha) if dark_ink else out


def _decoded_gray(img: Image.Image) -> np.ndarray:
    """Convert a loaded Pillow image of any mode into 2-D uint8 grey."""
    mode = img.mode
    if mode.startswith("I") or mode == "F":
        a = np.asarray(img).astype(np.float32)
        a = a / 257.0 if mode.startswith("I") else (a * 255.0 if a.max() <= 1.0 else a)
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)
    if mode == "LAB":
        return np.asarray(img.getchannel("L"))
    if "A" in mode or "a" in mode or "transparency" in img.info:
        return np.rint(to_gray(np.asarray(img.convert("RGBA"))) * 255).astype(np.uint8)
    return np.asarray(img.convert("L"))


def load_image(source: str | Path | bytes | BinaryIO) -> np.ndarray:
    """Decode an image file (path, bytes or binary file) into 2-D uint8 grey; first frame only.

    Images with a side over MAX_SIDE are shrunk (aspect kept) before the grey conversion, so
    a large upload within the caps costs one decode, not gigabytes of float copies.
    """
    data = _read_bytes(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > MAX_PIXELS:  # header only, nothing decoded yet
                    raise _too_large(img.width, img.height)
                img.seek(0)
                img.load()
                if max(img.size) > MAX_SIDE:
                    img.thumbnail((MAX_SIDE, MAX_SIDE))
                return _decoded_gray(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise ImageError(f"Image is too large: {size} (limit {MAX_PIXELS:,}).") from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageError("This file is not an image Pillow can read.") from exc
    except _DECODE_ERRORS as exc:
        raise ImageError(f"The image is truncated or corrupt: {exc}") from exc


def to_gray(image: np.ndarray) -> np.ndarray:
    """Return 2-D float32 grey in [0, 1] from (H,W), (H,W,1|2|3|4) uint8 or float arrays.

    Integers are read as 0..255; floats as 0..1, or 0..255 when their maximum exceeds 1;
    booleans as 0/1. RGB becomes luminance; alpha follows the module's transparency rule.
    """
    a = np.asarray(image)
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 2, 3, 4))):
        raise ValueError(f"Expected an (H, W) or (H, W, 1-4) image, got shape {a.shape}.")
    if a.dtype.kind in "fb":
        a = a.astype(np.float32)
        if a.size and a.max() > 1.0:
            a = a / 255.0
    else:
        a = a.astype(np.float32) * np.float32(1 / 255)
    if a.ndim == 3:
        channels = a.shape[2]
        luma = a[..., :3] @ _LUMA if channels >= 3 else a[..., 0]
        a = _composite(luma, a[..., -1]) if channels in (2, 4) else luma
    return np.clip(a, 0.0, 1.0).astype(np.float32, copy=False)


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
    work = _thicken(_resize_longer(crop, WORK * BOX))
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
        return Preprocessed(None, steps, True, inverted, EMPTY_MESSAGE)
    box = _bbox(mask)
    top, bottom, left, right = box
    crop = np.where(mask, gray, 0.0)[top : bottom + 1, left : right + 1].astype(np.float32)
    scaled = _scale_to_box(crop)
    peak = float(scaled.max())
    if _is_dot(mask, box) or peak <= 0.0:
        return Preprocessed(None, steps, True, inverted, DOT_MESSAGE)
    scaled = scaled / peak
    canvas = np.zeros((SIZE, SIZE), np.float32)
    y0, x0 = (SIZE - scaled.shape[0]) // 2, (SIZE - scaled.shape[1]) // 2
    canvas[y0 : y0 + scaled.shape[0], x0 : x0 + scaled.shape[1]] = scaled
    centred = _centre_by_mass(canvas)
    steps.update(cropped=crop, scaled=scaled, centred=centred)
    return Preprocessed(centred[..., None], steps, False, inverted, "")


def naive_resize(image: np.ndarray) -> np.ndarray:
    """Baseline: squash the whole canvas to 28x28 grey (no crop, centring or inversion)."""
    gray = Image.fromarray(to_gray(image))
    small = gray.resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(small, dtype=np.float32), 0.0, 1.0)[..., None]


def preprocess_batch(
    images: Iterable[np.ndarray], *, invert: bool | None = None, threshold: float = 0.1
) -> tuple[np.ndarray, list[Preprocessed]]:
    """Preprocess many drawings: an (N, 28, 28, 1) array aligned with the inputs
    (all zeros where a drawing is empty; see each result's `.empty`) and the results."""
    results = [preprocess_digit(im, invert=invert, threshold=threshold) for im in images]
    batch = np.zeros((len(results), SIZE, SIZE, 1), np.float32)
    for i, result in enumerate(results):
        if result.input is not None:
            batch[i] = result.input
    return batch, results
