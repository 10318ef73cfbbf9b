"""Pictures for replays and the live panel, drawn straight into pixels with numpy and PIL.

A slider move redraws several of them, so none goes through matplotlib (a figure costs
50–250 ms to render; these take 1–10 ms: benchmarks/snapshots.py). Each returns PNG bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw, ImageFont

from ui.figures import montage

TAB10 = (np.asarray(colormaps["tab10"].colors) * 255).astype(np.uint8)  # digit d's colour
MAP_RANGE = 2.4  # map units shown each side of 0 (the cloud's RMS radius is 1); beyond: the edge


def png(image: Image.Image | np.ndarray) -> bytes:
    """PNG bytes of a PIL image or uint8 array (fast compression: these are redrawn often)."""
    img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # a Pillow built without FreeType
        return ImageFont.load_default()


def coloured(values: np.ndarray, cmap: str, low: float, high: float) -> np.ndarray:
    """A 2-D array as RGB uint8 through a colour map; NaN (gaps between tiles) is white."""
    v = np.asarray(values, dtype=np.float32)
    scaled = np.clip((v - low) / ((high - low) or 1.0), 0.0, 1.0)
    rgb = (colormaps[cmap](np.nan_to_num(scaled))[..., :3] * 255).astype(np.uint8)
    rgb[np.isnan(v)] = 255
    return rgb


def tiles_png(
    images: np.ndarray, cols: int, cmap: str = "viridis", symmetric: bool = False, px: int = 4
) -> bytes:
    """Tiles (N, H, W) as one picture, each pixel `px`×`px`. Feature maps: each tile on its
    own scale; `symmetric` (kernels): one scale centred on 0, red adds and blue subtracts."""
    images = np.asarray(images, dtype=np.float32)
    grid = montage(images, cols, each=not symmetric)
    limit = float(np.abs(images).max()) or 1.0
    low, high = (-limit, limit) if symmetric else (0.0, 1.0)
    rgb = coloured(grid, cmap, low, high)
    return png(rgb.repeat(px, axis=0).repeat(px, axis=1))


def saliency_png(image: np.ndarray, heat: np.ndarray, px: int = 6) -> bytes:
    """The saliency map laid over the grey input (bright = the pixels that matter most)."""
    grey = np.clip(np.asarray(image, np.float32).reshape(28, 28), 0, 1)[..., None] * 255
    hot = coloured(np.asarray(heat, np.float32).reshape(28, 28), "hot", 0.0, 1.0).astype(np.float32)
    mixed = (0.4 * grey + 0.6 * hot).astype(np.uint8)
    return png(mixed.repeat(px, axis=0).repeat(px, axis=1))


def _to_pixels(xy: np.ndarray, size: int, pad: int) -> np.ndarray:
    span = size - 2 * pad
    p = (np.clip(np.asarray(xy, np.float32), -MAP_RANGE, MAP_RANGE) + MAP_RANGE) / (2 * MAP_RANGE)
    return np.stack([pad + p[:, 0] * span, pad + (1 - p[:, 1]) * span], axis=1)


def map_image(
    xy: np.ndarray, labels: np.ndarray, wrong: np.ndarray, size: int = 420
) -> Image.Image:
    """The hidden-space map: one dot per image in its digit's colour, a black ring round a
    wrong answer, each digit's number at the middle of its dots."""
    img = Image.new("RGB", (size, size), "white")
    pen = ImageDraw.Draw(img)
    pen.rectangle((0, 0, size - 1, size - 1), outline=(200, 200, 200))
    points, labels = _to_pixels(xy, size, 14), np.asarray(labels)
    wrong = np.asarray(wrong, dtype=bool)
    for (x, y), d in zip(points[~wrong], labels[~wrong], strict=True):
        pen.ellipse((x - 2.2, y - 2.2, x + 2.2, y + 2.2), fill=tuple(TAB10[d]))
    for (x, y), d in zip(points[wrong], labels[wrong], strict=True):  # on top: easy to see
        pen.ellipse((x - 3.6, y - 3.6, x + 3.6, y + 3.6), fill=tuple(TAB10[d]), outline="black")
    font = _font(22)
    for d in range(10):
        mine = points[labels == d]
        if len(mine):
            x, y = np.median(mine, axis=0)
            pen.text(
                (x, y),
                str(d),
                fill=tuple(TAB10[d]),
                font=font,
                anchor="mm",
                stroke_width=3,
                stroke_fill="white",
            )
    return img


def map_png(
    xy: np.ndarray,
    labels: np.ndarray,
    wrong: np.ndarray,
    mark: np.ndarray | None = None,
    size: int = 420,
) -> bytes:
    """`map_image` as PNG, with `mark` (one point: a drawing) as a big black star."""
    img = map_image(xy, labels, wrong, size)
    if mark is not None:
        star(img, _to_pixels(np.asarray(mark).reshape(1, 2), size, 14)[0])
    return png(img)


def star(img: Image.Image, at: Sequence[float], r: float = 13) -> None:
    """A five-pointed black star with a white edge at pixel `at`."""
    angles = np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
    corners = [
        (at[0] + q * np.cos(a), at[1] - q * np.sin(a)) for q, a in zip(radii, angles, strict=True)
    ]
    ImageDraw.Draw(img).polygon(corners, fill="black", outline="white", width=2)


def confusion_cells_png(cm: np.ndarray, cell: int = 30) -> bytes:
    """A 10×10 confusion matrix: rows the true digit, columns the answer, counts in the cells."""
    counts = np.asarray(cm, dtype=np.int64)
    shade = np.log1p(counts) / (np.log1p(counts.max()) or 1.0)
    n, margin = len(counts), 26
    img = Image.new("RGB", (margin + n * cell + 4, margin + n * cell + 4), "white")
    pen = ImageDraw.Draw(img)
    font, small = _font(13), _font(11)
    blues = colormaps["Blues"]
    for i in range(n):
        pen.text(
            (margin + i * cell + cell / 2, margin / 2), str(i), fill="black", font=font, anchor="mm"
        )
        pen.text(
            (margin / 2, margin + i * cell + cell / 2), str(i), fill="black", font=font, anchor="mm"
        )
        for j in range(n):
            colour = tuple(int(c * 255) for c in blues(0.05 + 0.9 * shade[i, j])[:3])
            box = (
                margin + j * cell,
                margin + i * cell,
                margin + (j + 1) * cell - 1,
                margin + (i + 1) * cell - 1,
            )
            if i != j and counts[i, j]:
                colour = tuple(
                    int(c * 255) for c in colormaps["Reds"](0.25 + 0.6 * shade[i, j])[:3]
                )
            pen.rectangle(box, fill=colour)
            if counts[i, j]:
                ink = "white" if shade[i, j] > 0.6 else "black"
                pen.text(
                    (box[0] + cell / 2, box[1] + cell / 2),
                    str(counts[i, j]),
                    fill=ink,
                    font=small,
                    anchor="mm",
                )
    return png(img)


def histogram_png(
    edges: np.ndarray, counts: np.ndarray, first: np.ndarray | None, title: str, size=(240, 110)
) -> bytes:
    """One layer's weight histogram as bars, with epoch 0's as a grey outline behind."""
    width, height = size
    img = Image.new("RGB", size, "white")
    pen = ImageDraw.Draw(img)
    top, bottom = 18, height - 16
    peak = max(float(np.max(counts)), float(np.max(first)) if first is not None else 0.0) or 1.0
    bar = width / len(counts)
    for i, c in enumerate(counts):
        h = (bottom - top) * c / peak
        pen.rectangle((i * bar, bottom - h, (i + 1) * bar - 1, bottom), fill=(31, 119, 180))
    if first is not None:
        line = [(0, bottom)]
        for i, c in enumerate(first):
            y = bottom - (bottom - top) * c / peak
            line += [(i * bar, y), ((i + 1) * bar, y)]
        pen.line(line + [(width, bottom)], fill=(120, 120, 120), width=1)
    pen.line((width / 2, top, width / 2, bottom), fill=(200, 200, 200))
    font = _font(11)
    pen.text((2, 2), title, fill="black", font=font)
    pen.text((2, height - 14), f"{edges[0]:+.2f}", fill="black", font=font)
    pen.text((width - 2, height - 14), f"{edges[-1]:+.2f}", fill="black", font=font, anchor="ra")
    pen.text((width / 2, height - 14), "0", fill="black", font=font, anchor="ma")
    return png(img)
