"""The bundled pretrained models (models/) and the `pretrain` path that makes them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mnistkit.bundle import INFO_KEYS, bundled_paths, is_augmentation, recipe
from mnistkit.catalog import BUNDLED_DIR
from mnistkit.config import TrainConfig
from tests.helpers import DATA_DIR, draw_digit_png, images, requires_data, run_cli

ARCHS = ("dense", "cnn")
MAX_BYTES = 2 * 1024 * 1024


@pytest.mark.parametrize("arch", ARCHS)
def test_bundled_files_exist_and_are_small(arch: str) -> None:
    model_path, info_path = bundled_paths(arch)
    assert model_path.is_file(), f"missing {model_path}: run `python -m mnistkit pretrain`"
    assert info_path.is_file()
    assert model_path.stat().st_size < MAX_BYTES


@pytest.mark.parametrize("arch", ARCHS)
def test_bundled_model_loads_safely_with_mnist_shapes(arch: str) -> None:
    from mnistkit.predict import load_model

    model = load_model(bundled_paths(arch)[0])  # safe_mode=True inside
    assert tuple(model.inputs[0].shape) == (None, 28, 28, 1)
    assert tuple(model.outputs[0].shape) == (None, 10)
    assert not [layer.name for layer in model.layers if is_augmentation(layer)]
    assert model.get_layer("output") is not None  # the layer names the pages read
    probs = np.asarray(model(images(3), training=False))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_bundled_json_says_how_it_was_trained(arch: str) -> None:
    info = json.loads(bundled_paths(arch)[1].read_text(encoding="utf-8"))
    assert set(INFO_KEYS) <= set(info)
    assert info["arch"] == arch and info["file"] == f"{arch}.keras"
    config = TrainConfig.from_dict(info["config"])
    drawings = (info["training_data"] or {}).get("drawings") is not None
    assert config == recipe(arch, info["augment"], drawings), "recipe changed: re-run `pretrain`"
    assert info["command"].startswith("python -m mnistkit pretrain")
    assert {"mnistkit", "keras", "tensorflow"} <= set(info["versions"])
    assert 0.97 < info["test_accuracy"] <= 1.0
    assert 1 <= info["epochs_run"] <= config.epochs and info["train_seconds"] > 0
    if arch == "cnn":
        assert info["test_accuracy"] >= 0.99


def _has_optimizer_state(path: Path) -> bool:
    """True when a .keras file stores optimizer variables (a training checkpoint)."""
    import io
    import zipfile

    import h5py

    with (
        zipfile.ZipFile(path) as archive,
        h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as h5,
    ):
        return "optimizer" in h5


@pytest.mark.parametrize("arch", ARCHS)
def test_bundled_file_is_uncompiled_without_optimizer_state(arch: str) -> None:
    assert not _has_optimizer_state(bundled_paths(arch)[0])


@requires_data
def test_bundled_cnn_reads_mnist_test_images() -> None:
    from mnistkit.data import load_mnist, to_model_input
    from mnistkit.predict import load_model
    from mnistkit.training import predict_proba

    (_, _), (x_test, y_test) = load_mnist(DATA_DIR)
    model = load_model(BUNDLED_DIR / "cnn.keras")
    pred = predict_proba(model, to_model_input(x_test[:2000])).argmax(axis=1)
    assert np.mean(pred == y_test[:2000]) >= 0.99


def test_predict_cli_accepts_the_bundled_model(tmp_path: Path) -> None:
    png = draw_digit_png(tmp_path / "one.png")
    proc = run_cli("predict", "--model", BUNDLED_DIR / "cnn.keras", "--json", png)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["error"] is None
    assert result["digit"] == 1
    assert len(result["probabilities"]) == 10


@pytest.mark.parametrize("arch", ARCHS)
def test_strip_augmentation_keeps_weights_and_predictions(arch: str) -> None:
    import keras

    from mnistkit.bundle import strip_augmentation
    from mnistkit.models import build_cnn, build_dense

    keras.utils.set_random_seed(3)
    model = (build_dense if arch == "dense" else build_cnn)(augment=True)
    assert any(is_augmentation(layer) for layer in model.layers)
    slim = strip_augmentation(model)
    assert not any(is_augmentation(layer) for layer in slim.layers)
    assert slim.count_params() == model.count_params()
    x = images(8)
    np.testing.assert_allclose(
        np.asarray(slim(x, training=False)), np.asarray(model(x, training=False)), atol=1e-6
    )


def test_export_model_is_readable_by_everyone(tmp_path: Path) -> None:
    """A bundled model is for every user of the machine: mode 0644, not mkstemp's 0600."""
    import stat

    from mnistkit.bundle import export_model
    from mnistkit.models import build_dense

    path = export_model(build_dense(augment=True), tmp_path / "models" / "dense.keras")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["dense.keras"]  # no temp file left


def test_record_drawn_digits_updates_only_that_key(tmp_path: Path) -> None:
    from mnistkit.bundle import read_info, record_drawn_digits

    (tmp_path / "cnn.json").write_text(json.dumps({"arch": "cnn", "drawn_digits": None}))
    record_drawn_digits("cnn", {"pipeline_accuracy": 0.98}, tmp_path)
    expected = {"arch": "cnn", "drawn_digits": {"pipeline_accuracy": 0.98}}
    assert read_info("cnn", tmp_path) == expected
    assert read_info("dense", tmp_path) is None


@pytest.mark.slow
@requires_data
def test_pretrain_exports_a_slim_copy_of_the_trained_model(tmp_path: Path) -> None:
    from mnistkit.bundle import pretrain
    from mnistkit.data import load_mnist, to_model_input
    from mnistkit.predict import load_model

    config = recipe("cnn").replace(subset=300, epochs=1, steps_per_execution=1)
    assert config.augment
    runs = tmp_path / "runs"
    info = pretrain("cnn", tmp_path / "out", config=config, data_dir=DATA_DIR, runs_dir=runs)

    model_path, info_path = bundled_paths("cnn", tmp_path / "out")
    assert json.loads(info_path.read_text()) == info
    assert set(INFO_KEYS) <= set(info) and info["config"]["subset"] == 300
    assert model_path.stat().st_size < MAX_BYTES
    assert not list((tmp_path / "out").glob(".*")), "a temporary file was left behind"

    slim = load_model(model_path)
    trained = load_model(next(runs.iterdir()))  # the run's checkpoint, with augmentation
    assert any(is_augmentation(layer) for layer in trained.layers)
    assert not any(is_augmentation(layer) for layer in slim.layers)
    assert not _has_optimizer_state(model_path)
    assert _has_optimizer_state(next(runs.iterdir()) / "model.keras")  # the check can fail
    (_, _), (x_test, _) = load_mnist(DATA_DIR)
    x = to_model_input(x_test[:64])
    np.testing.assert_allclose(
        np.asarray(slim(x, training=False)), np.asarray(trained(x, training=False)), atol=1e-5
    )


@pytest.mark.slow
@requires_data
def test_pretrain_command_line(tmp_path: Path) -> None:
    proc = run_cli(
        "pretrain", "--arch", "dense", "--subset", "300", "--epochs", "1",
        "--out", tmp_path, "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["arch"] == "dense" and summary["epochs_run"] == 1
    info = json.loads((tmp_path / "dense.json").read_text())
    assert info["command"] == "python -m mnistkit pretrain --arch dense --epochs 1 --subset 300"
    assert info["config"]["augment"] is True
