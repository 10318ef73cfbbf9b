"""The probability bars: one SVG picture of ten bars per model, and a prediction above it."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui.messages import plain

HIGHLIGHT, MUTED, AXIS = "#ff4b4b", "#a3a8b4", "#808495"


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
        label=f"Prediction — {plain(label)}",
        value=str(digit),
        delta=f"{probs[digit]:.0%} sure",
        delta_color="off",
        delta_arrow="off",
    )
    probability_chart(probs)
