"""Drawings as training data (mnistkit.drawings) and pretrain's --drawings arguments."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from mnistkit.drawings import (
    PENDIGITS_WRITERS,
    DrawingsSpec,
    format_writers,
    parse_writers,
    rendered_inputs,
    split_writers,
    with_drawings,
)
from tests.helpers import requires_data, run_cli
from tests.test_pen_drawings import UNIPEN


@pytest.mark.parametrize(
    ("text", "ids"),
    [("1-3", (1, 2, 3)), ("5", (5,)), ("1,3,5-7", (1, 3, 5, 6, 7)), (" 2-3, 1 ", (1, 2, 3))],
)
def test_parse_and_format_writers_round_trip(text: str, ids: tuple[int, ...]) -> None:
    assert parse_writers(text) == ids
    assert parse_writers(format_writers(ids)) == ids


@pytest.mark.parametrize("text", ["", "a", "3-1", "0-4", "1-", "-2"])
def test_parse_writers_rejects_junk(text: str) -> None:
    with pytest.raises(ValueError):
        parse_writers(text)


@pytest.mark.parametrize("held_out", [range(21, 31), range(1, 11), (1, 7, 30)])
def test_split_writers_puts_every_writer_on_one_side(held_out) -> None:
    train, test = split_writers(PENDIGITS_WRITERS, held_out)
    assert not set(train) & set(test)
    assert set(train) | set(test) == set(PENDIGITS_WRITERS)
    with pytest.raises(ValueError):
        split_writers(range(1, 11), [11])


def _tiny_source(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.tra"
    path.write_text(UNIPEN, encoding="latin-1")
    return path


def test_with_drawings_adds_only_the_chosen_writers(tmp_path: Path) -> None:
    from mnistkit.training import PreparedData

    source = _tiny_source(tmp_path)
    spec = DrawingsSpec(str(source), writers=(3,), repeats=2)
    x, y, writer = rendered_inputs(spec, tmp_path / "cache")
    assert x.shape == (4, 28, 28) and x.dtype == np.uint8 and y.tolist() == [7, 7, 1, 1]
    assert writer.tolist() == [12, 12, 3, 3] and x.max() == 255
    assert list((tmp_path / "cache").glob("*.npz")), "rendered inputs are cached"
    np.testing.assert_array_equal(rendered_inputs(spec, tmp_path / "cache")[0], x)

    zeros = np.zeros((5, 28, 28, 1), np.float32)
    mnist = PreparedData(zeros, np.full(5, 9), zeros[:2], np.zeros(2), zeros[:1], np.zeros(1))
    mixed = with_drawings(mnist, spec, seed=0, cache_dir=tmp_path / "cache")
    assert len(mixed.x_train) == 7 and sorted(mixed.y_train.tolist()) == [1, 1, 9, 9, 9, 9, 9]
    assert mixed.x_val is mnist.x_val and mixed.x_test is mnist.x_test  # MNIST's, unchanged
    with pytest.raises(ValueError, match="writers \\[4\\]"):
        with_drawings(mnist, DrawingsSpec(str(source), writers=(3, 4)), 0, tmp_path / "cache")


def test_spec_describes_itself_for_the_model_json(tmp_path: Path) -> None:
    spec = DrawingsSpec("/somewhere/pendigits-orig.tra.gz", writers=range(1, 21))
    info = spec.describe()
    assert info["source"] == "pendigits-orig.tra.gz" and info["writers"] == "1-20"
    assert info["repeats"] == 3 and info["render"]["brush"] == (8, 32)
    with pytest.raises(ValueError):
        DrawingsSpec("x", writers=())


def _pretrain_args(*argv: str) -> argparse.Namespace:
    from mnistkit.cli import build_parser

    return build_parser().parse_args(["pretrain", *argv])


def test_pretrain_drawings_arguments(tmp_path: Path) -> None:
    from mnistkit.cli import CliError, _drawings_spec, _pretrain_command

    assert _drawings_spec(_pretrain_args()) is None  # MNIST only, as before
    source = _tiny_source(tmp_path)
    args = _pretrain_args("--drawings", str(source), "--drawing-writers", "1-20", "--renders", "2")
    spec = _drawings_spec(args)
    assert spec.writers == tuple(range(1, 21)) and spec.repeats == 2
    assert _pretrain_command("cnn", args) == (
        "python -m mnistkit pretrain --arch cnn --drawings tiny.tra --drawing-writers 1-20 "
        "--renders 2"
    )
    assert _drawings_spec(_pretrain_args("--drawings", str(source))).writers == PENDIGITS_WRITERS
    with pytest.raises(ValueError, match="need --drawings"):
        _drawings_spec(_pretrain_args("--drawing-writers", "1-20"))
    with pytest.raises(CliError, match="no such file"):
        _drawings_spec(_pretrain_args("--drawings", str(tmp_path / "missing.gz")))
    with pytest.raises(ValueError):
        _drawings_spec(_pretrain_args("--drawings", str(source), "--drawing-writers", "x"))


def test_pretrain_refuses_bad_drawing_arguments_before_training(tmp_path: Path) -> None:
    proc = run_cli("pretrain", "--drawings", str(tmp_path / "missing.gz"), "--out", tmp_path)
    assert proc.returncode == 1 and "no such file" in proc.stderr
    proc = run_cli("pretrain", "--renders", "0", "--drawings", str(_tiny_source(tmp_path)))
    assert proc.returncode == 1 and "repeats must be at least 1" in proc.stderr
    assert not list(tmp_path.glob("*.keras"))


def test_recipe_with_drawings_trains_the_cnn_longer() -> None:
    from mnistkit.bundle import recipe

    assert recipe("cnn", drawings=True) == recipe("cnn").replace(epochs=16)
    assert recipe("dense", drawings=True) == recipe("dense")
    assert recipe("cnn").epochs == 12  # MNIST only: as before


@pytest.mark.slow
@requires_data
def test_pretrain_with_drawings_names_them_in_the_json(tmp_path: Path) -> None:
    import json

    source = _tiny_source(tmp_path)
    proc = run_cli(
        "pretrain", "--arch", "dense", "--subset", "300", "--epochs", "1", "--out", tmp_path,
        "--drawings", source, "--drawing-writers", "3,12", "--renders", "2", "--json",
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    info = json.loads((tmp_path / "dense.json").read_text())
    data = info["training_data"]
    assert data["drawings"]["writers"] == "3,12" and data["drawings"]["source"] == "tiny.tra"
    assert data["drawing_inputs"] == 4 and data["mnist_train"] == 270
    assert info["command"].endswith("--drawings tiny.tra --drawing-writers 3,12 --renders 2")
    assert list((tmp_path / "cache" / "mnistkit").glob("drawings-tiny-*.npz"))  # not in ~/.cache
