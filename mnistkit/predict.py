"""Load a model file safely and answer many small prediction requests fast.

`model.predict` costs ≈ 52 ms for one image (it builds a dataset and an iterator every call);
a `tf.function` with a fixed `input_signature` answers in under a millisecond. `Predictor`
wraps that, warms it up once, and serialises calls with a lock so a model shared between
browser sessions is safe to use from many threads.
"""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnistkit.errors import MnistkitError
from mnistkit.runs import MODEL_FILE

if TYPE_CHECKING:
    import keras

BATCH = 1024


class ModelError(MnistkitError):
    """A model file that cannot be used; the message says why in one sentence."""


def resolve_model_path(path_or_run: str | Path) -> Path:
    """A `.keras` file, or a run folder holding `model.keras`."""
    path = Path(path_or_run)
    if path.is_dir():
        path = path / MODEL_FILE
        if not path.exists():
            raise ModelError(f"the run folder {path.parent} has no {MODEL_FILE} yet")
    if not path.exists():
        raise ModelError(f"no model file at {path}")
    if path.suffix != ".keras":
        raise ModelError(f"{path.name} is not a Keras 3 '.keras' model file")
    return path


def load_model(path_or_run: str | Path) -> keras.Model:
    """Load with `safe_mode=True` (no arbitrary code); check it maps 28×28 images to 10 classes."""
    import keras

    path = resolve_model_path(path_or_run)
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path.name} is not a valid .keras file (not a zip archive)")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad files
        text = str(exc)
        if "Lambda" in text or "safe_mode" in text:
            raise ModelError(
                f"{path.name} contains a Lambda layer (arbitrary Python code); "
                "mnistkit refuses to load it for safety"
            ) from exc
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        raise ModelError(f"{path.name} could not be loaded as a Keras model: {first[:200]}") from (
            exc
        )
    check_model_shape(model, path.name)
    return model


def check_model_shape(model: keras.Model, label: str = "the model") -> None:
    """Refuse models that do not take one 28×28(×1) image and give 10 probabilities."""
    try:
        in_shape = tuple(model.inputs[0].shape[1:])
        out_shape = tuple(model.outputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError) as exc:
        raise ModelError(f"{label} has no single defined input and output") from exc
    if len(model.inputs) != 1 or in_shape not in ((28, 28, 1), (28, 28)):
        raise ModelError(f"{label} expects input {in_shape}, but MNIST images are (28, 28, 1)")
    if len(model.outputs) != 1 or out_shape != (10,):
        raise ModelError(f"{label} outputs {out_shape}, but mnistkit needs 10 class probabilities")


class Predictor:
    """Fast, thread-safe probabilities from one model."""

    def __init__(self, model: keras.Model) -> None:
        import tensorflow as tf

        self.model = model
        self._shape = tuple(model.inputs[0].shape[1:])
        self._lock = threading.Lock()
        self._fn = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec((None, *self._shape), tf.float32)],
        )
        self.proba(np.zeros((1, 28, 28, 1), np.float32))  # trace once, off the live path

    def proba(self, x: np.ndarray) -> np.ndarray:
        """(28, 28[, 1]) or (N, 28, 28[, 1]) floats in [0, 1] → (N, 10) probabilities."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 2 or (x.ndim == 3 and x.shape == (28, 28, 1)):  # one image, not 28 of them
            x = x[None]
        x = x.reshape((len(x), *self._shape))
        with self._lock:
            parts = [self._fn(x[i : i + BATCH]).numpy() for i in range(0, max(len(x), 1), BATCH)]
        return np.concatenate(parts) if parts else np.zeros((0, 10), np.float32)


def load_predictor(path_or_run: str | Path) -> Predictor:
    return Predictor(load_model(path_or_run))
