"""Load a model file safely and answer many small prediction requests fast.

`model.predict` costs ≈ 52 ms for one image (it builds a dataset and an iterator every call);
a `tf.function` with a fixed `input_signature` answers in under a millisecond. `Predictor`
wraps that, warms it up once, and serialises calls with a lock so a model shared between
browser sessions is safe to use from many threads.
"""

from __future__ import annotations

import re
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
# What a model file may unpack to, and how many parameters a model the pages show may have:
# the bundled CNN is 0.42 M parameters in 1.7 MB; the limits leave room for ten times that.
MAX_UNPACKED_BYTES = 64 * 2**20
MAX_PARAMS = 5_000_000


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
    check_archive(path)
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad files
        text = str(exc)
        if "Lambda" in text or "lambda" in text:
            raise ModelError(
                f"{path.name} contains a Lambda layer (arbitrary Python code); "
                "mnistkit refuses to load it for safety"
            ) from exc
        if "safe_mode" in text:
            raise ModelError(
                f"{path.name} holds code or a layer that Keras loads only with safe mode off; "
                "mnistkit refuses to load it for safety"
            ) from exc
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        raise ModelError(f"{path.name} could not be loaded as a Keras model: {first[:200]}") from (
            exc
        )
    check_model_shape(model, path.name)
    if model.count_params() > MAX_PARAMS:
        raise ModelError(
            f"{path.name} has {model.count_params():,} parameters; mnistkit shows models of up "
            f"to {MAX_PARAMS:,}"
        )
    return model


def check_archive(path: Path) -> None:
    """Refuse a file that is not a zip archive, or whose members would unpack to more than
    `MAX_UNPACKED_BYTES` (a zip bomb costs seconds and gigabytes before Keras notices)."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ModelError(f"{path.name} is not a valid .keras file (not a zip archive)") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise ModelError(
            f"{path.name} unpacks to {unpacked / 2**20:,.0f} MB, more than the "
            f"{MAX_UNPACKED_BYTES // 2**20} MB mnistkit accepts for a model"
        )


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

    def __init__(self, model: keras.Model, label: str = "the model") -> None:
        import tensorflow as tf

        self.model = model
        self._shape = tuple(model.inputs[0].shape[1:])
        self._lock = threading.Lock()
        self._fn = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec((None, *self._shape), tf.float32)],
        )
        try:  # trace once, off the live path; a model can load and still fail when run
            self.proba(np.zeros((1, 28, 28, 1), np.float32))
        except Exception as exc:  # TensorFlow raises many types for a model it cannot run
            text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # TF's bold markers
            noise = ("Exception encountered", "in user code", "File ", "Arguments received", "•")
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            lines = [line for line in lines if not line.startswith(noise)] or [type(exc).__name__]
            why = next((line for line in lines if "'" in line), lines[0])
            raise ModelError(f"{label} loads but fails when it is run: {why[:200]}") from None

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
    """A `Predictor` for a model file or run folder; `ModelError` says why one cannot be."""
    return Predictor(load_model(path_or_run), resolve_model_path(path_or_run).name)
