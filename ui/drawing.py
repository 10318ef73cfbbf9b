"""Streamlit helpers for the Draw and Inside pages: canvas, upload, charts, image strips and grids.

Pages call these so they stay short. Figures are `matplotlib.figure.Figure` objects, never
pyplot's global figure manager: each script thread draws its own figure, nothing leaks.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import streamlit as st
from matplotlib import colormaps
from matplotlib.figure import Figure
from PIL import Image

from mnistkit.imaging import MAX_BYTES, ImageError, load_image
from mnistkit.transform import sweep, transform_digit
from ui.resources import ModelChoice, default_choices, mnist, predictor

CANVAS_SIZE = 280  # px, 10x MNIST's 28
STROKE_WIDTH = 20  # px: a thick marker, about 2 px after scaling to 28x28
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]
STEP_CAPTIONS = {
    "drawing": "1 · your drawing",
    "cropped": "2 · cropped to the ink",
    "scaled": "3 · longer side 20 px",
    "centred": "4 · centred 28×28 input",
}
NO_MODEL = (
    "No model yet. Open the **Train** page and train one (the *quick lesson demo* preset takes "
    "about 20 seconds for the CNN), or run `python -m mnistkit train --arch cnn` in a terminal."
)
HIGHLIGHT, MUTED, AXIS = "#ff4b4b", "#a3a8b4", "#808495"


# --- input: canvas and upload ------------------------------------------------------------


def canvas_key() -> str:
    """The canvas widget's current key; Clear moves to a new one (a fresh, empty canvas)."""
    st.session_state.setdefault("canvas_generation", 0)
    return f"canvas-{st.session_state.canvas_generation}"


def clear_canvas() -> None:
    """Button callback: forget the drawing by giving the canvas a new key."""
    st.session_state.canvas_generation = st.session_state.get("canvas_generation", 0) + 1


def read_canvas(key: str) -> np.ndarray | None:
    """Show the 280×280 black canvas with a white pen; its RGBA pixels, or None before drawing."""
    # Imported here: the component registers itself with a running Streamlit on import.
    from streamlit_drawable_canvas import st_canvas

    result = st_canvas(
        stroke_width=STROKE_WIDTH,
        stroke_color="#FFFFFF",
        background_color="#000000",
        height=CANVAS_SIZE,
        width=CANVAS_SIZE,
        drawing_mode="freedraw",
        update_streamlit=True,
        return_image_data=True,
        key=key,
    )
    return result.image_data


def upload_widget(key: str = "draw_upload"):
    """A file uploader for one picture, capped at the library's byte limit."""
    return st.file_uploader(
        "Upload a picture of one digit",
        type=UPLOAD_TYPES,
        key=key,
        max_upload_size=MAX_BYTES // 2**20,
        help="A photo or scan of a digit: light ink on dark or dark ink on paper both work.",
    )


def read_upload(uploaded) -> tuple[np.ndarray | None, str | None]:
    """(grey image, None) for a readable picture, (None, the reason) otherwise, (None, None)
    when nothing is uploaded."""
    if uploaded is None:
        return None, None
    try:
        return load_image(uploaded.getvalue()), None
    except ImageError as exc:
        return None, f"Cannot use “{plain(uploaded.name)}”: {exc}"


def plain(text: str) -> str:
    """`text` with Markdown's special characters escaped, so st.* shows it literally."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:])", r"\\\1", str(text))


# --- models ---------------------------------------------------------------------------------


def default_models(choices: Iterable[ModelChoice]) -> list[str]:
    """The labels of the first dense and the first CNN offered (`default_choices`)."""
    return [choice.label for choice in default_choices(choices)]


@st.cache_data(show_spinner="Classifying the 10 000 test images…", max_entries=8)
def predicted_test_labels(path: str, mtime: float) -> np.ndarray:
    """The model's predicted digit for every MNIST test image, computed once per model file."""
    from mnistkit.data import to_model_input

    _, (x_test, _) = mnist()
    return predictor(path).proba(to_model_input(x_test)).argmax(axis=1).astype(np.int8)


# --- charts and images ----------------------------------------------------------------------


def probability_chart(probs: np.ndarray, height: int = 170, width: str = "stretch") -> None:
    """Ten bars, one per digit, on a fixed 0–100 % axis; the predicted digit highlighted and
    every bar of at least 5 % labelled with its probability.

    An SVG picture (`bars_svg`), not a Vega-Lite chart: this chart is redrawn for every model
    on every stroke of every student, and a Vega-Lite chart costs the browser ~50 ms of
    main-thread time to build (`benchmarks/browser_roundtrip.py`); `st.image` sends the SVG
    inline as a data URL (no file to fetch), and the browser draws it at once. `width`:
    "stretch" fills the column, "content" keeps the picture's own size (wide columns).
    """
    st.image(bars_svg(probs, height), width=width)


BARS_MARGIN = {"top": 16, "left": 52, "right": 4, "bottom": 20}  # px: labels, axis


def bars_svg(probs: np.ndarray, height: int = 170, width: int = 270) -> str:
    """The SVG of `probability_chart`: y axis 0–100 % in steps of 20, ten bars, the digits."""
    probs = np.clip(np.asarray(probs, dtype=float).reshape(10), 0.0, 1.0)
    m = BARS_MARGIN
    plot_h = height - m["top"] - m["bottom"]
    band = (width - m["left"] - m["right"]) / 10
    winner = int(probs.argmax())
    bars = [
        _bar_svg(d, p, m["left"] + d * band, band, m["top"] + plot_h, plot_h, d == winner)
        for d, p in enumerate(probs)
    ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" '
        f'fill="{AXIS}">{_axis_svg(width, plot_h)}{"".join(bars)}</svg>'
    )


def _axis_svg(width: int, plot_h: float) -> str:
    """The y axis of `bars_svg`: its title and a labelled grid line every 20 %."""
    m = BARS_MARGIN
    parts = [
        f'<text transform="translate(11 {m["top"] + plot_h / 2:.1f}) rotate(-90)" '
        'text-anchor="middle" dominant-baseline="middle">probability</text>'
    ]
    for tick in range(0, 101, 20):
        y = m["top"] + plot_h * (1 - tick / 100)
        parts.append(
            f'<line x1="{m["left"]}" x2="{width - m["right"]}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{AXIS}" stroke-opacity="{0.6 if tick == 0 else 0.25}"/>'
            f'<text x="{m["left"] - 5}" y="{y:.1f}" text-anchor="end" '
            f'dominant-baseline="middle">{tick}%</text>'
        )
    return "".join(parts)


def _bar_svg(
    digit: int, p: float, x: float, band: float, base: float, plot_h: float, top: bool
) -> str:
    """One digit's bar in its `band` from `x`, the digit below, its probability above if ≥ 5 %."""
    h, middle = plot_h * p, x + band / 2
    svg = (
        f'<rect class="bar" data-digit="{digit}" x="{x + 0.15 * band:.1f}" y="{base - h:.1f}" '
        f'width="{0.7 * band:.1f}" height="{h:.1f}" fill="{HIGHLIGHT if top else MUTED}"/>'
        f'<text x="{middle:.1f}" y="{base + BARS_MARGIN["bottom"] - 5}" '
        f'text-anchor="middle">{digit}</text>'
    )
    if p >= 0.05:
        svg += (
            f'<text x="{middle:.1f}" y="{base - h - 4:.1f}" text-anchor="middle" '
            f'font-size="10">{p:.0%}</text>'
        )
    return svg


def show_prediction(label: str, probs: np.ndarray) -> None:
    """The predicted digit as a big metric with its confidence, then the probability chart."""
    probs = np.asarray(probs).reshape(10)
    digit = int(probs.argmax())
    st.metric(
        label=f"Prediction — {label}",
        value=str(digit),
        delta=f"{probs[digit]:.0%} sure",
        delta_color="off",
        delta_arrow="off",
    )
    probability_chart(probs)


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


def image_grid(
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


# --- the "move my digit" lesson -------------------------------------------------------------


def transform_controls(prefix: str = "move") -> dict[str, float]:
    """Four sliders: shift right, shift down, scale, rotate."""
    a, b, c, d = st.columns(4)
    return {
        "dx": a.slider("Shift right (px)", -10, 10, 0, key=f"{prefix}_dx"),
        "dy": b.slider("Shift down (px)", -10, 10, 0, key=f"{prefix}_dy"),
        "scale": c.slider("Scale", 0.4, 1.6, 1.0, 0.05, key=f"{prefix}_scale"),
        "angle": d.slider("Rotate (°, anticlockwise)", -90, 90, 0, 5, key=f"{prefix}_angle"),
    }


def lesson_models(picked: list[ModelChoice], offered: list[ModelChoice]) -> list[ModelChoice]:
    """One dense and one CNN for the side-by-side lesson: from the picked models if possible."""
    chosen: dict[str, ModelChoice] = {}
    for choice in [*picked, *offered]:
        if choice.arch in ("dense", "cnn") and choice.arch not in chosen:
            chosen[choice.arch] = choice
    return [chosen[a] for a in ("dense", "cnn") if a in chosen] or picked[:2]


def transform_lesson(x: np.ndarray, models: list[ModelChoice]) -> None:
    """Move the digit with sliders; show the moved input and each model's reading side by side,
    then how sure each model stays as the digit slides sideways."""
    st.write(
        "MNIST digits are always centred and about 20 px tall. Move yours and see which model "
        "still reads it: a dense network learnt *which pixels* light up for each digit, a CNN "
        "slides the same small filters everywhere, and pooling forgives small shifts."
    )
    moves = transform_controls()
    moved = transform_digit(x, **moves)
    columns = st.columns([1, *([2] * len(models))])
    columns[0].image(enlarge(moved, 140), caption="what the models get")
    curves: dict[str, np.ndarray] = {}
    shifts = np.arange(-10, 11)
    for column, choice in zip(columns[1:], models, strict=True):
        with column:
            try:
                model = predictor(choice.path)
            except Exception as exc:  # ModelError and friends: say it, keep the page
                st.error(f"{choice.label}: {exc}")
                continue
            before, after = model.proba(np.stack([transform_digit(x), moved]))
            digit, was = int(after.argmax()), int(before.argmax())
            st.metric(
                label=f"Moved — {choice.label}",
                value=str(digit),
                delta=f"{after[digit]:.0%} sure (unmoved: {was}, {before[was]:.0%})",
                delta_color="off",
                delta_arrow="off",
            )
            probability_chart(after, height=130, width="content")
            curves[choice.arch or choice.label] = model.proba(sweep(x, "dx", shifts))[:, was]
    if curves:
        st.caption("Probability of the digit each model reads unmoved, as it slides sideways")
        frame = pd.DataFrame(curves, index=pd.Index(shifts, name="shift"))
        st.line_chart(frame, x_label="shift right (px)", y_label="probability", height=220)
