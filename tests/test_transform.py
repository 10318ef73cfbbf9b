"""Tests for mnistkit.transform: shift, scale and rotate a 28×28 digit."""

from __future__ import annotations

import numpy as np
import pytest

from mnistkit.transform import sweep, transform_digit


def dot(row: int, col: int) -> np.ndarray:
    """A single lit pixel on a black 28×28 field."""
    x = np.zeros((28, 28), np.float32)
    x[row, col] = 1.0
    return x


def bar() -> np.ndarray:
    """A small centred plus-shaped digit, well inside the frame, as (28, 28, 1)."""
    x = np.zeros((28, 28), np.float32)
    x[8:21, 13:16] = 1.0
    x[13:16, 8:21] = 1.0
    return x[..., None]


def lit(x: np.ndarray, level: float = 0.5) -> list[list[int]]:
    return np.argwhere(x.reshape(28, 28) > level).tolist()


def centre_of_mass(x: np.ndarray) -> tuple[float, float]:
    a = x.reshape(28, 28)
    rows, cols = np.indices(a.shape)
    return float((a * rows).sum() / a.sum()), float((a * cols).sum() / a.sum())


@pytest.mark.parametrize("shape", [(28, 28), (28, 28, 1)])
def test_identity_keeps_the_image_and_gives_28x28x1(shape):
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    out = transform_digit(x)
    assert out.shape == (28, 28, 1) and out.dtype == np.float32
    np.testing.assert_array_equal(out[..., 0], x.reshape(28, 28))


@pytest.mark.parametrize("dx, dy", [(3, 0), (0, -4), (-5, 2), (7, 7)])
def test_whole_pixel_shift_is_an_exact_move(dx, dy):
    x = bar()
    expected = np.roll(x, (dy, dx), axis=(0, 1))  # the plus stays inside the frame
    np.testing.assert_allclose(transform_digit(x, dx=dx, dy=dy), expected, atol=1e-6)


def test_shifting_out_of_the_frame_leaves_black():
    assert transform_digit(bar(), dx=28).max() == 0.0


@pytest.mark.parametrize(
    "angle, expected",
    [(90, [[9, 14]]), (-90, [[19, 14]]), (180, [[14, 9]]), (360, [[14, 19]])],
)
def test_rotation_turns_anticlockwise_about_pixel_14_14(angle, expected):
    # A dot 5 px right of the centre: anticlockwise 90° puts it 5 px above (row 9).
    assert lit(transform_digit(dot(14, 19), angle=angle)) == expected


def test_scale_grows_about_the_centre():
    assert lit(transform_digit(dot(14, 19), scale=2.0), 0.9) == [[14, 24]]
    assert lit(transform_digit(dot(14, 9), scale=2.0), 0.9) == [[14, 4]]


def test_shrinking_is_anti_aliased_and_keeps_the_ink():
    x = bar()
    small = transform_digit(x, scale=0.5)
    # Area scales by 0.25; box-averaged supersampling keeps that (nothing vanishes).
    assert small.sum() == pytest.approx(0.25 * x.sum(), rel=0.05)
    assert centre_of_mass(small) == pytest.approx(centre_of_mass(x), abs=0.3)


def test_output_stays_in_unit_range():
    x = np.random.default_rng(1).random((28, 28), dtype=np.float32)
    out = transform_digit(x, dx=1.5, dy=-2.25, scale=1.3, angle=17)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_bad_scale_raises():
    with pytest.raises(ValueError, match="scale"):
        transform_digit(bar(), scale=0)


def test_sweep_stacks_one_image_per_value():
    batch = sweep(bar(), "dx", [-2, 0, 2])
    assert batch.shape == (3, 28, 28, 1)
    np.testing.assert_allclose(batch[1], bar())
    np.testing.assert_allclose(batch[2], transform_digit(bar(), dx=2))
    with pytest.raises(ValueError, match="kind"):
        sweep(bar(), "zoom", [1.0])
