"""Tests for ui.bars: the SVG probability bars."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ui.bars import HIGHLIGHT, bars_svg


def highlighted(svg: str) -> list[str]:
    """The digits whose bar is drawn in the highlight colour."""
    return re.findall(rf'data-digit="(\d)"[^>]*fill="{HIGHLIGHT}"', svg)


def test_bars_show_every_digit_on_a_fixed_axis_and_highlight_the_top():
    probs = np.array([0.01, 0.02, 0.0, 0.06, 0.0, 0.0, 0.01, 0.88, 0.02, 0.0])
    svg = bars_svg(probs, height=130)
    assert highlighted(svg) == ["7"]
    assert re.findall(r'data-digit="(\d)"', svg) == list("0123456789")
    heights = [float(h) for h in re.findall(r'class="bar"[^>]*height="([\d.]+)"', svg)]
    plot = heights[7] / 0.88  # bar heights are in proportion to the probability, on one axis
    assert heights == pytest.approx([plot * p for p in probs], abs=0.1)
    assert all(f">{t}%</text>" in svg for t in (0, 20, 40, 60, 80, 100))
    assert ">88%</text>" in svg and ">6%</text>" in svg and ">2%</text>" not in svg
    assert 'height="130"' in svg
