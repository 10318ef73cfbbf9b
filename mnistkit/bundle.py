"""Bundled pretrained models: train them with one fixed recipe, export slim copies.

`python -m mnistkit pretrain --drawings FILE` is the one command that makes
`models/{dense,cnn}.keras` (MNIST plus the pen drawings in FILE; without it, MNIST only): it
trains `recipe(arch)` with `mnistkit.training.train` (into a temporary runs folder), rebuilds
the same layers without the augmentation layers (they have no weights and are identity at
inference), copies the weights, and saves the result uncompiled — no optimizer state, only
built-in layers, so the file loads anywhere with `safe_mode=True`. Beside each model a JSON
says how it was trained and how well it does.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mnistkit
from mnistkit.atomic import atomic_replace, atomic_write_json
from mnistkit.catalog import BUNDLED_DIR
from mnistkit.config import ARCHS, TrainConfig

if TYPE_CHECKING:
    import keras

    from mnistkit.drawings import DrawingsSpec
    from mnistkit.progress import Progress

AUGMENT_PREFIX = "aug_"  # models.augmentation_layers() names its layers aug_*
INFO_KEYS = (
    "arch",
    "file",
    "params",
    "augment",
    "config",
    "command",
    "versions",
    "created",
    "test_accuracy",
    "test_loss",
    "epochs_run",
    "best_epoch",
    "train_seconds",
    "drawn_digits",
    "training_data",
)


def recipe(arch: str, augment: bool = True, drawings: bool = False) -> TrainConfig:
    """The training settings of the bundled models; models/README.md has the measurements.

    Batch 128 with a cosine-decayed learning rate over a fixed 12 epochs (no early stopping:
    the schedule needs its whole length); the epoch with the lowest validation loss is kept.
    The CNN is the seed course's, wider (32/64 filters, 128 units: 0.42 M parameters, 1.7 MB).
    With pen drawings in the training set (`drawings=True`) the CNN trains 16 epochs: on
    writers it never saw it reads about as many drawings as with 12 (98.91 vs 98.93 %) and
    keeps a little more of MNIST (99.34 vs 99.28 %; 3 seeds each, writers 1-20 trained,
    21-30 measured).
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, not {arch!r}")
    common = {
        "arch": arch,
        "epochs": 12,
        "batch_size": 128,
        "seed": 1,
        "val_split": 0.1,
        "patience": 0,
        "augment": augment,
        "lr_schedule": "cosine",
        "steps_per_execution": 16,
    }
    if arch == "dense":
        return TrainConfig(**common, dropout=0.2, learning_rate=0.002)
    if drawings:
        common["epochs"] = 16
    return TrainConfig(
        **common, dropout=0.4, learning_rate=0.003, conv_filters=(32, 64), cnn_dense_units=128
    )


def bundled_paths(arch: str, folder: str | os.PathLike[str] = BUNDLED_DIR) -> tuple[Path, Path]:
    """(`{arch}.keras`, `{arch}.json`) in a bundle folder."""
    folder = Path(folder)
    return folder / f"{arch}.keras", folder / f"{arch}.json"


def read_info(arch: str, folder: str | os.PathLike[str] = BUNDLED_DIR) -> dict[str, Any] | None:
    """The JSON beside a bundled model, or None when missing or unreadable."""
    try:
        return json.loads(bundled_paths(arch, folder)[1].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_augmentation(layer: keras.layers.Layer) -> bool:
    """True for a train-time-only augmentation layer (the `aug_*` layers or any Random* layer)."""
    return layer.name.startswith(AUGMENT_PREFIX) or type(layer).__name__.startswith("Random")


def strip_augmentation(model: keras.Model) -> keras.Model:
    """A fresh copy of a layer-chain model without its augmentation layers, same weights."""
    import keras

    inputs = keras.Input(tuple(model.inputs[0].shape[1:]), name=model.inputs[0].name)
    x, kept = inputs, []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if is_augmentation(layer):
            if layer.weights:
                raise ValueError(f"augmentation layer {layer.name} has weights")
            continue
        fresh = type(layer).from_config(layer.get_config())
        x = fresh(x)
        kept.append((layer, fresh))
    slim = keras.Model(inputs, x, name=model.name)
    for old, fresh in kept:
        fresh.set_weights(old.get_weights())
    return slim


def export_model(model: keras.Model, path: str | os.PathLike[str]) -> Path:
    """Save an uncompiled, augmentation-free copy of `model` atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    slim = strip_augmentation(model)
    return atomic_replace(path, slim.save, suffix=".keras")


def versions() -> dict[str, str]:
    """Versions of the software that trained a model."""
    import keras
    import numpy
    import tensorflow as tf

    return {
        "mnistkit": mnistkit.__version__,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


def default_command(arch: str, augment: bool) -> str:
    """The CLI line that reproduces a bundled model."""
    flags = "" if augment else " --no-augment"
    return f"python -m mnistkit pretrain --arch {arch}{flags}"


def pretrain(
    arch: str,
    out: str | os.PathLike[str] = BUNDLED_DIR,
    *,
    config: TrainConfig | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    command: str | None = None,
    progress: Progress | None = None,
    drawings: DrawingsSpec | None = None,
) -> dict[str, Any]:
    """Train `config` (default `recipe(arch)`), export `{out}/{arch}.keras` and its JSON.

    With `drawings`, those pen drawings (rendered, through the app's pipeline) join MNIST's
    training set; the JSON's `training_data` names them, writers included.
    The training run goes to `runs_dir` when given (kept), else to a temporary folder.
    Returns the JSON written. Raises RuntimeError if training kept no model.
    """
    from mnistkit.predict import load_model
    from mnistkit.runs import RunStore
    from mnistkit.training import evaluate, prepare_data, train

    config = config or recipe(arch, drawings=drawings is not None)
    if config.arch != arch:
        raise ValueError(f"config is for {config.arch!r}, not {arch!r}")
    data = prepare_data(config, data_dir)
    mnist_train = len(data.x_train)
    if drawings is not None:
        from mnistkit.drawings import with_drawings

        data = with_drawings(data, drawings, config.seed)
    with tempfile.TemporaryDirectory(prefix="mnistkit-pretrain-") as tmp:
        store = RunStore(runs_dir or tmp)
        result = train(config, store, name=f"bundled-{arch}", data=data, progress=progress)
        if result.metrics is None:
            raise RuntimeError(f"training kept no model: {result.message}")
        model_path, info_path = bundled_paths(arch, out)
        export_model(load_model(result.run_dir), model_path)
    slim = load_model(model_path)
    metrics = evaluate(slim, data.x_test, data.y_test)
    info = {
        "arch": arch,
        "file": model_path.name,
        "params": int(slim.count_params()),
        "augment": config.augment,
        "config": config.to_dict(),
        "command": command or default_command(arch, config.augment),
        "versions": versions(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "test_accuracy": metrics["test_accuracy"],
        "test_loss": metrics["test_loss"],
        "epochs_run": result.metrics["epochs_run"],
        "best_epoch": result.metrics["best_epoch"],
        "train_seconds": round(result.metrics["train_seconds"], 1),
        "drawn_digits": None,
        "training_data": {
            "mnist_train": mnist_train,
            "drawings": None if drawings is None else drawings.describe(),
            "drawing_inputs": len(data.x_train) - mnist_train,
        },
    }
    atomic_write_json(info_path, info)
    return info


def record_drawn_digits(
    arch: str, measurement: dict[str, Any], folder: str | os.PathLike[str] = BUNDLED_DIR
) -> None:
    """Store a drawn-digit measurement (benchmarks/drawn_digits_accuracy.py) in the JSON."""
    info = read_info(arch, folder)
    if info is None:
        raise FileNotFoundError(f"no readable {arch}.json in {folder}")
    info["drawn_digits"] = measurement
    atomic_write_json(bundled_paths(arch, folder)[1], info)
