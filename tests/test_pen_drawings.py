"""The UNIPEN reader and the canvas renderer (mnistkit.pen_drawings), on tiny inline data."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from mnistkit.pen_drawings import (
    CANVAS,
    PenDigit,
    PenFormatError,
    RenderSettings,
    parse_unipen,
    read_unipen,
    render,
    render_many,
)
from mnistkit.preprocess import preprocess_digit, stroke_width

UNIPEN = """\
.INCLUDE        dene.doc
.LEXICON "0" "1" "2" "3" "4" "5" "6" "7" "8" "9"

.SEGMENT DIGIT    0 ? "7"
.COMMENT 7 12  224
.PEN_DOWN
 100  400
 300  400
 200  100
.PEN_UP
.SEGMENT DIGIT    1 ? "1"
.COMMENT 1 3  5
.PEN_DOWN
 250  420
 250  80
.PEN_UP
.PEN_DOWN
 250  500
.PEN_UP
.SEGMENT DIGIT    2 ? "4"
.COMMENT 4 3  6
"""


def test_parse_unipen_reads_labels_writers_and_strokes() -> None:
    digits = parse_unipen(UNIPEN.splitlines())
    assert [(d.label, d.writer, d.sample) for d in digits] == [(7, 12, 224), (1, 3, 5)]
    seven, one = digits
    assert len(seven.strokes) == 1 and seven.strokes[0].tolist() == [
        [100, 400],
        [300, 400],
        [200, 100],
    ]
    assert [len(s) for s in one.strokes] == [2, 1]  # a one-point stroke (a dot) is kept


def test_read_unipen_opens_gzip(tmp_path: Path) -> None:
    path = tmp_path / "tiny.tra.gz"
    with gzip.open(path, "wt", encoding="latin-1") as f:
        f.write(UNIPEN)
    assert [d.label for d in read_unipen(path)] == [7, 1]


@pytest.mark.parametrize(
    "text",
    [
        '.SEGMENT DIGIT 0 ? "x"\n',
        '.SEGMENT DIGIT 0 ? "3"\n.COMMENT 5 1 1\n',
        '.SEGMENT DIGIT 0 ? "3"\n 10 20\n',
        '.SEGMENT DIGIT 0 ? "3"\n.PEN_DOWN\n 10 20 30\n',
    ],
)
def test_parse_unipen_rejects_malformed_text(text: str) -> None:
    with pytest.raises(PenFormatError):
        parse_unipen(text.splitlines())


def _seven() -> PenDigit:
    return parse_unipen(UNIPEN.splitlines())[0]


def test_render_is_a_white_on_black_canvas_with_grey_edges() -> None:
    image = render(_seven(), np.random.default_rng(0))
    assert image.shape == (CANVAS, CANVAS) and image.dtype == np.uint8
    assert image.max() == 255 and image[0].max() == 0 and image[:, 0].max() == 0  # a margin
    grey = ((image > 0) & (image < 255)).mean()
    assert 0 < grey < 0.05  # anti-aliased edges, not a grey smear
    assert preprocess_digit(image).input is not None  # the app's pipeline reads it


def test_render_is_deterministic_by_seed() -> None:
    digits = parse_unipen(UNIPEN.splitlines())
    first, again = render_many(digits, seed=4, repeats=2), render_many(digits, seed=4, repeats=2)
    np.testing.assert_array_equal(first, again)
    assert first.shape == (4, CANVAS, CANVAS)
    assert not np.array_equal(first[0], first[1])  # each repeat is a new random draw
    assert not np.array_equal(first, render_many(digits, seed=5, repeats=2))
    alone = render_many(digits[1:], seed=4, repeats=2)  # independent of the other digits
    np.testing.assert_array_equal(alone, first[2:])


@pytest.mark.parametrize("brush", [8, 32])
def test_render_brush_width_is_the_settings_width(brush: int) -> None:
    settings = RenderSettings(brush=(brush, brush), slant=0.0)
    image = render(_seven(), np.random.default_rng(1), settings)
    assert stroke_width(image > 127) == pytest.approx(brush, rel=0.2)


def test_render_brush_widths_vary_over_the_range() -> None:
    settings = RenderSettings(brush=(8, 32))
    widths = [
        stroke_width(render(_seven(), np.random.default_rng(seed), settings) > 127)
        for seed in range(12)
    ]
    assert 6 < min(widths) < 16 and 24 < max(widths) < 38


def test_render_settings_validate() -> None:
    with pytest.raises(ValueError):
        RenderSettings(brush=(10, 5))
    with pytest.raises(ValueError):
        RenderSettings(height=(0.0, 0.5))
    assert RenderSettings().to_dict()["brush"] == (8, 32)
