"""Cached pictures of data and results: labelled test images, a confusion matrix, the
flatten strip.

Drawn with matplotlib on a bare `Figure` (never pyplot's global figure list), rendered once
to PNG, closed, and cached with `st.cache_data`: a rerun (every widget change) shows the
cached image instead of redrawing ~1 s of matplotlib.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import streamlit as st


def _png(fig, dpi: int = 150) -> bytes:
    """Render a figure to PNG bytes and close it (nothing is left in pyplot's figure list)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _figure(width: float, height: float):
    # a bare Figure (not pyplot.figure): no global state, safe from many sessions' threads
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


@st.cache_data(show_spinner=False, max_entries=256)
def labelled_grid_png(
    images: np.ndarray, titles: tuple[str, ...], cols: int, wrong: tuple[bool, ...], cell: float
) -> bytes:
    """PNG of a grid of 28×28 images with a title above each (red when `wrong[i]`)."""
    rows = int(np.ceil(len(images) / cols))
    fig = _figure(cols * cell, rows * (cell + 0.3))
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1, wspace=0.08, hspace=0.35)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    top = float(images.max()) or 1.0
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= len(images):
            continue
        ax.imshow(images[i].reshape(28, 28), cmap="gray", vmin=0, vmax=top)
        if i < len(titles):
            color = "#d62728" if i < len(wrong) and wrong[i] else "black"
            ax.set_title(titles[i], fontsize=10, color=color)
    return _png(fig)


def labelled_images(
    images: np.ndarray,
    titles: Sequence[str] = (),
    cols: int = 5,
    wrong: Sequence[bool] = (),
    cell: float = 1.4,
    width: int | None = None,
) -> None:
    """A grid of 28×28 images with a title above each (red when `wrong[i]`)."""
    images = np.asarray(images)
    if len(images) == 0:
        st.caption("No images to show.")
        return
    png = labelled_grid_png(images, tuple(titles), cols, tuple(bool(w) for w in wrong), cell)
    st.image(png, width=width or int(cols * cell * 80))


CONFUSION_SIZE = (5.2, 4.8)  # inches; shown stretched to its column's width
CELL_FONT = 11  # pt, bold: "1135" fills a cell (was 7 pt: unreadable from a few metres)


@st.cache_data(show_spinner=False, max_entries=64)
def confusion_figure_png(cm: tuple[tuple[int, ...], ...], title: str) -> bytes:
    """PNG of a confusion-matrix heatmap with the count in every non-zero cell."""
    counts = np.asarray(cm, dtype=np.int64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {counts.shape}")
    fig = _figure(*CONFUSION_SIZE)
    ax = fig.subplots()
    # a log scale keeps the few mistakes visible next to ~1000 correct answers per digit
    shown = np.log1p(counts)
    ax.imshow(shown, cmap="Blues")
    limit = shown.max() * 0.6 if shown.max() > 0 else 1
    for (i, j), count in np.ndenumerate(counts):
        if count:
            color = "white" if shown[i, j] > limit else "black"
            ax.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                fontsize=CELL_FONT,
                color=color,
                fontweight="bold",
            )
    ax.set_xticks(range(len(counts)))
    ax.set_yticks(range(len(counts)))
    ax.tick_params(labelsize=CELL_FONT + 2)
    ax.set_xlabel("predicted digit", fontsize=CELL_FONT + 1)
    ax.set_ylabel("true digit", fontsize=CELL_FONT + 1)
    if title:
        ax.set_title(title, fontsize=CELL_FONT + 2)
    return _png(fig)


def confusion_matrix(cm: Sequence[Sequence[int]], title: str = "") -> None:
    """A 10×10 confusion-matrix heatmap with counts (rows: true digit, columns: predicted).

    Raises ValueError for a matrix that is not square.
    """
    try:
        rows = tuple(tuple(int(v) for v in row) for row in cm)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not a matrix of counts ({exc})") from None
    st.image(confusion_figure_png(rows, title), width="stretch")


@st.cache_data(show_spinner=False, max_entries=8)
def flat_png(image: np.ndarray) -> bytes:
    """PNG of one 28×28 image beside the same pixels flattened into a 784-long strip."""
    fig = _figure(10, 1.4)
    left, right = fig.subplots(1, 2, width_ratios=[1, 8])
    left.imshow(image, cmap="gray")
    left.set_title("(28, 28)", fontsize=9)
    left.set_axis_off()
    right.imshow(image.reshape(1, -1), cmap="gray", aspect="auto")
    right.set_title("Flatten → (784,)", fontsize=9)
    right.set_yticks([])
    right.set_xticks([0, 28, 56, 196, 392, 783])
    return _png(fig)


def flat_strip(image: np.ndarray) -> None:
    """One 28×28 image beside its pixels flattened into a 784-long strip."""
    st.image(flat_png(np.asarray(image)), width="stretch")
