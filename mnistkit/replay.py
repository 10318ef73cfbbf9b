"""Replay a run epoch by epoch from its snapshots: every view from a run folder and an epoch.

Maps, confusion matrices, accuracy, conv 1's kernels and weight histograms need only numpy
(the Train page's live panel draws them without TensorFlow). Feature maps, saliency and the
prediction for one image need the network at that epoch: `EpochNetwork` rebuilds it once
per run from `config.json` and swaps the epoch's weights in under a lock (≈ 2 ms), instead
of one model per epoch (each ≈ 0.2 s to build plus its first trace; benchmarks/snapshots.py).
A run made before snapshots has no epochs: every function returns None or [] for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnistkit import snapshots

CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class MapFrame:
    """The hidden-space map at one epoch: a point, a true digit and a prediction per image."""

    epoch: int
    xy: np.ndarray  # (N, 2)
    labels: np.ndarray  # (N,)
    pred: np.ndarray  # (N,)
    indices: np.ndarray  # (N,) into MNIST's test set

    @property
    def wrong(self) -> np.ndarray:
        return self.pred != self.labels

    @property
    def accuracy(self) -> float:
        return float(np.mean(~self.wrong)) if len(self.labels) else 0.0

    def confusion(self) -> np.ndarray:
        """10×10 counts, rows the true digit, columns the prediction."""
        return np.bincount(self.labels * 10 + self.pred, minlength=100).reshape(10, 10)


@dataclass(frozen=True)
class Histograms:
    """One layer's kernel-weight histograms on shared bins: `counts[i]` is `epochs[i]`'s."""

    layer: str
    edges: np.ndarray  # (bins + 1,)
    epochs: list[int]
    counts: np.ndarray  # (len(epochs), bins)


def epochs(run_dir: str | os.PathLike[str]) -> list[int]:
    """Epochs a replay can show (0 = untrained); [] for a run without snapshots."""
    return snapshots.epochs(run_dir)


def map_at(run_dir: str | os.PathLike[str], epoch: int) -> MapFrame | None:
    """The hidden-space map of `epoch`, or None when the run has none for it."""
    sample = snapshots.read_sample(run_dir)
    snap = snapshots.read_epoch(run_dir, epoch)
    if sample is None or snap is None or len(snap.xy) != len(sample.labels):
        return None
    return MapFrame(epoch, snap.xy, sample.labels, np.clip(snap.pred, 0, 9), sample.indices)


def kernels_at(
    run_dir: str | os.PathLike[str], epoch: int, layer: str = "conv1"
) -> np.ndarray | None:
    """Conv 1's 3×3 kernels at `epoch` as (filters, 3, 3), or None (no conv layer, no weights)."""
    snap = snapshots.read_epoch(run_dir, epoch)
    kernel = (snap.weights.get(layer) or [None])[0] if snap is not None else None
    if kernel is None or kernel.ndim != 4:
        return None
    return kernel[:, :, 0, :].transpose(2, 0, 1)


def weight_histograms(run_dir: str | os.PathLike[str], bins: int = 41) -> list[Histograms]:
    """Per layer, its kernel's histogram at every epoch with weights, on bins shared by all
    epochs (symmetric around 0, out to the largest weight any epoch had)."""
    kernels: dict[str, list[tuple[int, np.ndarray]]] = {}
    for e in epochs(run_dir):
        snap = snapshots.read_epoch(run_dir, e)
        for layer, values in (snap.weights if snap is not None else {}).items():
            if values:
                kernels.setdefault(layer, []).append((e, values[0].ravel()))
    out = []
    for layer, items in kernels.items():
        limit = max(float(np.abs(w).max()) for _, w in items) or 1.0
        edges = np.linspace(-limit, limit, bins + 1)
        counts = np.stack([np.histogram(w, edges)[0] for _, w in items])
        out.append(Histograms(layer, edges, [e for e, _ in items], counts))
    return out


def config_of(run_dir: str | os.PathLike[str]):
    """The run's `TrainConfig`, or None when config.json is missing or not valid."""
    from mnistkit.config import TrainConfig

    try:
        return TrainConfig.from_dict(json.loads((Path(run_dir) / CONFIG_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


class EpochNetwork:
    """One run's network, rebuilt once, that can be set to any epoch with kept weights.

    `with net.at(epoch) as model:` holds the lock while you read the model; it is shared by
    every session looking at the run, so nothing else changes its weights meanwhile.
    """

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        from mnistkit.models import build_network

        config = config_of(run_dir)
        if config is None:
            raise ValueError(f"{Path(run_dir).name} has no readable config.json")
        self.run_dir = Path(run_dir)
        self.model = build_network(config)
        self.epoch: int | None = None
        self._lock = threading.Lock()
        self._weights: dict[int, dict[str, list[np.ndarray]]] = {}

    def _load(self, epoch: int) -> dict[str, list[np.ndarray]] | None:
        if epoch not in self._weights:
            snap = snapshots.read_epoch(self.run_dir, epoch)
            if snap is None or not snap.weights:
                return None
            self._weights[epoch] = snap.weights
        return self._weights[epoch]

    @contextlib.contextmanager
    def at(self, epoch: int) -> Iterator[object | None]:
        """The model with `epoch`'s weights (None if that epoch kept none or they do not fit)."""
        with self._lock:
            if self.epoch != epoch:
                weights = self._load(epoch)
                try:
                    if weights is None:
                        raise ValueError("no weights")
                    for layer, values in weights.items():
                        self.model.get_layer(layer).set_weights(values)
                except ValueError:  # also a layer name or shape this network does not have
                    self.epoch = None
                    yield None
                    return
                self.epoch = epoch
            yield self.model


@dataclass(frozen=True)
class ImageView:
    """What the network at one epoch makes of one image."""

    probs: np.ndarray  # (10,)
    feature_maps: dict[str, np.ndarray]  # conv layer → (H, W, channels)
    saliency: np.ndarray  # (28, 28) in [0, 1]


def image_view(net: EpochNetwork, epoch: int, x: np.ndarray) -> ImageView | None:
    """Prediction, feature maps and saliency of `x` (28, 28, 1) at `epoch`, or None."""
    from mnistkit import activations

    with net.at(epoch) as model:
        if model is None:
            return None
        maps = activations.feature_maps(model, x) if activations.conv_layers(model) else {}
        heat = activations.saliency(model, x)
        probs = activations.batch_outputs(model, np.asarray(x)[None], [model.layers[-1].name])[0]
    return ImageView(probs[0], maps, heat)


def hidden_at(net: EpochNetwork, epoch: int, x: np.ndarray) -> np.ndarray | None:
    """The last hidden layer's activations (N, H) for images `x` at `epoch`, or None."""
    from mnistkit import activations

    with net.at(epoch) as model:
        name = activations.hidden_layer(model) if model is not None else None
        if name is None:
            return None
        return activations.batch_outputs(model, x, [name])[0]
