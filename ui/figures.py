"""Pictures of one digit and of what a network does with it: enlarged pixels, the
preprocessing steps, grids of feature maps or kernels, activation strips, saliency.

Figures are `matplotlib.figure.Figure` objects, never pyplot's global figure manager: each
script thread draws its own figure, nothing leaks.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping

import numpy as np
import streamlit as st
from matplotlib import colormaps
from matplotlib.figure import Figure
from PIL import Image

STEP_CAPTIONS = {
    "drawing": "1 · your drawing",
    "cropped": "2 · cropped to the ink",
    "scaled": "3 · longer side 20 px",
    "centred": "4 · centred 28×28 input",
}


def enlarge(image: np.ndarray, size: int = 112) -> np.ndarray:
    """A [0, 1] grey image as uint8, blown up with square pixels so the longer side is `size`."""
    a = np.clip(np.asarray(image, dtype=np.float32).squeeze(), 0.0, 1.0)
    a = np.atleast_2d(a)
    factor = size / max(a.shape)
    shape = (max(1, round(a.shape[1] * factor)), max(1, round(a.shape[0] * factor)))
    img = Image.fromarray(np.rint(a * 255).astype(np.uint8))
    return np.asarray(img.resize(shape, Image.Resampling.NEAREST))


def png_data_url(image: np.ndarray) -> str:
    """A uint8 picture as a PNG `data:` URL (`st.image` sends it inline: nothing to fetch)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def square_tile(image: np.ndarray, size: int = 112, pad: int = 255) -> np.ndarray:
    """`enlarge(image)` centred on a square grey tile (white margins show the image's shape)."""
    big = enlarge(image, size)
    tile = np.full((size, size), pad, np.uint8)
    top, left = (size - big.shape[0]) // 2, (size - big.shape[1]) // 2
    tile[top : top + big.shape[0], left : left + big.shape[1]] = big
    return tile


def step_strip(steps: Mapping[str, np.ndarray], size: int = 112) -> None:
    """The preprocessing steps side by side, each captioned with its size.

    One `st.image` of four inline PNG data URLs, rather than four images in four columns
    sent as media files: one element for the browser to lay out and no files to fetch, on
    every stroke.
    """
    shown = [(name, steps[name]) for name in STEP_CAPTIONS if name in steps]
    tiles = [png_data_url(square_tile(image, size)) for _, image in shown]
    captions = []
    for name, image in shown:
        height, width = np.asarray(image).squeeze().shape[:2]
        captions.append(f"{STEP_CAPTIONS[name]} ({height}×{width})")
    st.image(tiles, caption=captions, width=size)


def montage(images: np.ndarray, cols: int, each: bool = True) -> np.ndarray:
    """Tile (N, H, W) images into one 2-D array, NaN in the gaps; `each` scales every tile
    to its own 0..1 range (as one `imshow` per map would), else values are kept."""
    images = np.asarray(images, dtype=np.float32)
    count, height, width = images.shape
    rows, gap = -(-count // cols), max(1, height // 10)
    out = np.full((rows * (height + gap) - gap, cols * (width + gap) - gap), np.nan, np.float32)
    for i, tile in enumerate(images):
        if each:
            low, span = float(tile.min()), float(np.ptp(tile))
            tile = (tile - low) / span if span > 0 else np.zeros_like(tile)
        row, col = divmod(i, cols)
        y, x = row * (height + gap), col * (width + gap)
        out[y : y + height, x : x + width] = tile
    return out


def map_grid(
    images: np.ndarray, cols: int, cmap: str = "viridis", symmetric: bool = False, cell: float = 0.9
) -> Figure:
    """A grid of small images (N, H, W) drawn as one picture. Feature maps: each on its own
    colour scale; `symmetric`: one scale centred on 0 (kernels: red adds, blue subtracts)."""
    images = np.asarray(images, dtype=np.float32)
    rows = -(-len(images) // cols)
    grid = montage(images, cols, each=not symmetric)
    limit = float(np.abs(images).max()) or 1.0
    low, high = (-limit, limit) if symmetric else (0.0, 1.0)
    fig = Figure(figsize=(cols * cell, rows * cell))
    ax = fig.add_axes((0, 0, 1, 1))
    colours = colormaps[cmap].with_extremes(bad="white")
    ax.imshow(grid, cmap=colours, vmin=low, vmax=high, interpolation="nearest")
    ax.set_axis_off()
    return fig


def grid_shape(count: int) -> int:
    """Columns for a grid of `count` maps: 16 → 4×4, 32 → 4×8."""
    return 4 if count <= 16 else 8


def activation_strip(values: np.ndarray, width: int = 32) -> Figure:
    """A hidden layer's activations as a heat strip, `width` units per row."""
    values = np.asarray(values, dtype=np.float32).ravel()
    rows = -(-len(values) // width)
    padded = np.full(rows * width, np.nan, np.float32)
    padded[: len(values)] = values
    fig = Figure(figsize=(8, 0.3 * rows + 0.5))
    ax = fig.subplots()
    shown = ax.imshow(padded.reshape(rows, width), cmap="magma", aspect="auto")
    ax.set_xticks([])
    ax.set_yticks(
        range(rows), [f"{r * width}–{min((r + 1) * width, len(values)) - 1}" for r in range(rows)]
    )
    ax.tick_params(labelsize=7)
    fig.colorbar(shown, ax=ax, pad=0.01, fraction=0.04)
    return fig


def saliency_figure(image: np.ndarray, heat: np.ndarray) -> Figure:
    """The saliency map alone and laid over the input."""
    image = np.asarray(image, dtype=np.float32).reshape(28, 28)
    heat = np.asarray(heat, dtype=np.float32).reshape(28, 28)
    fig = Figure(figsize=(4.2, 2.2))
    left, right = fig.subplots(1, 2)
    left.imshow(heat, cmap="hot", vmin=0, vmax=1)
    left.set_title("saliency", fontsize=8)
    right.imshow(image, cmap="gray", vmin=0, vmax=1)
    right.imshow(heat, cmap="hot", alpha=0.6, vmin=0, vmax=1)
    right.set_title("saliency over the input", fontsize=8)
    for ax in (left, right):
        ax.set_axis_off()
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.88, wspace=0.05)
    return fig
