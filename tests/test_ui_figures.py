"""Tests for ui.figures: tiling feature maps into one picture."""

from __future__ import annotations

import numpy as np

from ui.figures import grid_shape, map_grid, montage


def test_montage_tiles_maps_with_gaps_each_on_its_own_scale():
    maps = np.stack([np.full((28, 28), v, np.float32) for v in range(16)])
    maps[:, 0, 0] = -1.0  # every map spans -1..v
    grid = montage(maps, grid_shape(16))
    assert grid.shape == (4 * 28 + 3 * 2, 4 * 28 + 3 * 2)  # 2-px gaps between 28-px maps
    assert np.isnan(grid[28:30]).all() and np.isnan(grid[:, 28:30]).all()
    assert np.nanmin(grid) == 0.0 and np.nanmax(grid) == 1.0
    assert grid_shape(32) == 8
    np.testing.assert_array_equal(montage(maps[:2], 2, each=False)[:28, :28], maps[0])


def test_map_grid_is_one_picture_of_the_grid():
    fig = map_grid(np.random.default_rng(0).random((32, 3, 3)), 8, "RdBu_r", symmetric=True)
    assert tuple(fig.get_size_inches()) == (8 * 0.9, 4 * 0.9) and len(fig.axes) == 1


def test_confusion_matrix_counts_are_large_enough_to_read_from_a_few_metres():
    import io

    from PIL import Image

    from ui import pictures

    counts = tuple(tuple(1135 if i == j else 3 for j in range(10)) for i in range(10))
    png = pictures.confusion_figure_png.__wrapped__(counts, "run")  # past st.cache_data
    assert Image.open(io.BytesIO(png)).size[0] > 600
    # a count is at least 2.5 % of the picture's width tall (7 pt on 5.2 in was 1.9 %)
    assert pictures.CELL_FONT / (pictures.CONFUSION_SIZE[0] * 72) >= 0.025
