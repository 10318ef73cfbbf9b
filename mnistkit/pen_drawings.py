"""Pen trajectories as canvas drawings: read UNIPEN digit files, render them like the Draw page.

The UCI pendigits "original" files (E. Alpaydin, F. Alimoglu; CC BY 4.0) are UNIPEN text:
`.SEGMENT DIGIT n ? "d"` starts a digit labelled d, `.COMMENT d writer sample` names its writer,
`.PEN_DOWN` ... `.PEN_UP` enclose one stroke of `x y` lines; tablet y grows upward. Other
directives (`.INCLUDE`, `.LEXICON`, `.DT`, ...) are ignored.

`render` draws one digit as the 280x280 canvas would: white round brush on black, anti-aliased
by supersampling, with a random brush width, size, position and slant from a `RenderSettings`.
numpy + Pillow only (no Keras, no Streamlit).
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CANVAS = 280  # the Draw page's canvas side, px
_SEGMENT = re.compile(r'\.SEGMENT\s+DIGIT\s+\S+\s+\?\s+"(\d)"')


class PenFormatError(ValueError):
    """The text is not the UNIPEN digit format this reader understands."""


@dataclass(frozen=True, eq=False)
class PenDigit:
    """One handwritten digit: its label, writer id, writer's sample number and pen strokes."""

    label: int
    writer: int
    sample: int
    strokes: tuple[np.ndarray, ...]  # each (points, 2) float32, tablet units, y up


def parse_unipen(lines: Iterable[str]) -> list[PenDigit]:
    """Parse UNIPEN digit lines; digits without a single inked point are dropped."""
    found: list[dict] = []
    stroke: list[tuple[float, float]] | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(".SEGMENT"):
            match = _SEGMENT.match(line)
            if not match:
                raise PenFormatError(f"line {number}: bad .SEGMENT line {line!r}")
            found.append({"label": int(match.group(1)), "writer": 0, "sample": 0, "strokes": []})
            stroke = None
        elif line.startswith(".COMMENT") and found:
            fields = line.split()[1:]
            if len(fields) < 3 or int(fields[0]) != found[-1]["label"]:
                raise PenFormatError(f"line {number}: .COMMENT does not match its digit: {line!r}")
            found[-1]["writer"], found[-1]["sample"] = int(fields[1]), int(fields[2])
        elif line.startswith(".PEN_DOWN"):
            if not found:
                raise PenFormatError(f"line {number}: .PEN_DOWN before any .SEGMENT")
            stroke = []
            found[-1]["strokes"].append(stroke)
        elif line.startswith(".PEN_UP"):
            stroke = None
        elif line.startswith("."):
            continue
        else:
            parts = line.split()
            if stroke is None or len(parts) != 2:
                raise PenFormatError(f"line {number}: a point outside a stroke: {line!r}")
            stroke.append((float(parts[0]), float(parts[1])))
    digits = []
    for d in found:
        strokes = tuple(np.asarray(s, np.float32) for s in d["strokes"] if s)
        if strokes:
            digits.append(PenDigit(d["label"], d["writer"], d["sample"], strokes))
    return digits


def read_unipen(path: str | os.PathLike[str]) -> list[PenDigit]:
    """Read a UNIPEN digit file, gzipped (`.gz`) or plain."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="latin-1") as f:
        return parse_unipen(f)


@dataclass(frozen=True)
class RenderSettings:
    """The random ranges a drawing is rendered with (canvas px unless stated)."""

    brush: tuple[int, int] = (8, 32)  # brush width, px, uniform integer, both ends included
    height: tuple[float, float] = (0.40, 0.85)  # digit height as a share of the canvas
    max_width: float = 0.85  # a wide digit is shrunk to at most this share of the canvas width
    slant: float = 0.20  # horizontal shear per unit of height, uniform in [-slant, slant]
    offset: float = 40.0  # most the digit's centre moves from the canvas centre, per axis
    margin: float = 4.0  # black border the ink always leaves
    supersample: int = 3  # drawn at this many times the size, then box-averaged (anti-aliasing)

    def __post_init__(self) -> None:
        if not 1 <= self.brush[0] <= self.brush[1]:
            raise ValueError(f"brush must be 1 <= low <= high, not {self.brush}")
        if not 0.0 < self.height[0] <= self.height[1] <= 1.0:
            raise ValueError(f"height must be 0 < low <= high <= 1, not {self.height}")
        if self.supersample < 1:
            raise ValueError("supersample must be at least 1")

    def to_dict(self) -> dict:
        """A JSON-ready description (stored beside a model trained on these drawings)."""
        return asdict(self)


def render(
    digit: PenDigit, rng: np.random.Generator, settings: RenderSettings = RenderSettings()
) -> np.ndarray:
    """Draw one digit on a 280x280 canvas: (280, 280) uint8, white ink on black."""
    brush = int(rng.integers(settings.brush[0], settings.brush[1] + 1))
    height_share = float(rng.uniform(*settings.height))
    shear = float(rng.uniform(-settings.slant, settings.slant))
    strokes = []
    for s in digit.strokes:
        x, y = s[:, 0].astype(np.float64), -s[:, 1].astype(np.float64)  # canvas y grows down
        strokes.append(np.stack([x - shear * y, y], axis=1))  # slant: shift rows by height
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    width, height = np.maximum(high - low, 1.0)
    scale = min(height_share * CANVAS / height, settings.max_width * CANVAS / width)
    centre = []
    for extent in (width * scale + brush, height * scale + brush):
        slack = max(0.0, (CANVAS - extent) / 2.0 - settings.margin)
        reach = min(settings.offset, slack)
        centre.append(CANVAS / 2.0 + float(rng.uniform(-reach, reach)))
    mid = (low + high) / 2.0
    ss = settings.supersample
    image = Image.new("L", (CANVAS * ss, CANVAS * ss), 0)
    draw = ImageDraw.Draw(image)
    radius = brush * ss / 2.0
    for s in strokes:
        xy = ((s - mid) * scale + centre) * ss
        seq = [tuple(p) for p in xy.tolist()]
        if len(seq) > 1:
            draw.line(seq, fill=255, width=brush * ss, joint="curve")
        for px, py in seq:  # round caps and joins; a one-point stroke becomes a dot
            draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=255)
    if ss > 1:
        image = image.resize((CANVAS, CANVAS), Image.Resampling.BOX)
    return np.asarray(image, np.uint8).copy()


def render_many(
    digits: list[PenDigit],
    seed: int,
    repeats: int = 1,
    settings: RenderSettings = RenderSettings(),
) -> np.ndarray:
    """Each digit `repeats` times: (len(digits) * repeats, 280, 280) uint8, digit-major.

    Drawing i, repeat k uses its own generator seeded by (seed, writer, sample, k), so a digit
    looks the same whichever other digits are rendered with it.
    """
    out = np.zeros((len(digits) * repeats, CANVAS, CANVAS), np.uint8)
    for i, digit in enumerate(digits):
        for k in range(repeats):
            rng = np.random.default_rng([seed, digit.writer, digit.sample, k])
            out[i * repeats + k] = render(digit, rng, settings)
    return out
