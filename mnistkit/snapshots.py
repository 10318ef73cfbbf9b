"""What a run keeps of every epoch, so it can be replayed: the on-disk format, no TensorFlow.

A run folder's `snapshots/` holds `sample.npz` (which MNIST test images the maps use: their
indices and labels) and one `epoch-NNN.npz` per epoch, 0 being the untrained network:

- `weights/<layer>/<i>`: each layer's weights (kernel, bias) as float16, half the bytes of
  float32; the predictions of a seed CNN rebuilt from them agree with float32 on ≥ 99.9 % of
  test images (benchmarks/snapshots.py). Left out on some epochs when a big network would
  pass `MAX_BYTES` (`weights_every`);
- `map/xy` (N, 2) float16, `map/pred` (N,) uint8: the hidden-space map and each sample
  image's predicted digit (the confusion matrix at that epoch);
- `map/mean`, `map/axes`: the `hidden_map.Projection`, to place a new image on the map.

Every file is written atomically. Reading never raises on a damaged, missing or linked file
(None), and `allow_pickle` stays off: a run folder is not trusted input.
"""

from __future__ import annotations

import io
import math
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnistkit.atomic import atomic_write_bytes
from mnistkit.hidden_map import Projection
from mnistkit.run_files import Unreadable, read_bytes

SNAPSHOT_DIR = "snapshots"
SAMPLE_FILE = "sample.npz"
PER_DIGIT = 200  # 2 000 test images: enough for a map and a confusion matrix, cheap to run
MAX_BYTES = 10_000_000  # per run; the seed CNN at 20 epochs needs ≈ 5.6 MB
MAX_FILE_BYTES = 64_000_000  # a snapshot file unpacking to more than this is not read
_EPOCH_FILE = re.compile(r"epoch-(\d{3,})\.npz")


@dataclass(frozen=True)
class Sample:
    """The fixed test images a run's maps use: indices into MNIST's test set, their labels."""

    indices: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class EpochSnapshot:
    """One epoch's record (epoch 0: before training)."""

    epoch: int
    weights: dict[str, list[np.ndarray]] = field(repr=False)  # layer → arrays; {} if not kept
    xy: np.ndarray = field(repr=False)  # (N, 2) float32
    pred: np.ndarray = field(repr=False)  # (N,) int64
    projection: Projection | None = field(repr=False, default=None)


def sample_indices(y_test: np.ndarray, per_digit: int = PER_DIGIT) -> np.ndarray:
    """The first `per_digit` test images of every digit, in test-set order (no randomness:
    every run of every seed maps the same images)."""
    y = np.asarray(y_test)
    picks = [np.flatnonzero(y == d)[:per_digit] for d in range(10)]
    return np.sort(np.concatenate(picks)).astype(np.int64)


def weights_every(params: int, epochs: int, max_bytes: int = MAX_BYTES) -> int:
    """Keep weights on every n-th epoch (n returned) so `epochs + 1` snapshots fit in max_bytes."""
    needed = 2 * params * (epochs + 1)  # float16
    return max(1, math.ceil(needed / max(max_bytes, 1)))


def folder(run_dir: str | os.PathLike[str]) -> Path:
    return Path(run_dir) / SNAPSHOT_DIR


def epoch_path(run_dir: str | os.PathLike[str], epoch: int) -> Path:
    return folder(run_dir) / f"epoch-{epoch:03d}.npz"


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def write_sample(run_dir: str | os.PathLike[str], sample: Sample) -> None:
    folder(run_dir).mkdir(exist_ok=True)
    data = _npz_bytes({"indices": sample.indices, "labels": sample.labels.astype(np.uint8)})
    atomic_write_bytes(folder(run_dir) / SAMPLE_FILE, data)


def write_epoch(
    run_dir: str | os.PathLike[str],
    epoch: int,
    weights: dict[str, list[np.ndarray]] | None,
    xy: np.ndarray,
    pred: np.ndarray,
    projection: Projection,
) -> int:
    """Write `epoch-NNN.npz` atomically; returns its size in bytes."""
    arrays: dict[str, np.ndarray] = {
        "map/xy": np.asarray(xy, dtype=np.float16),
        "map/pred": np.asarray(pred, dtype=np.uint8),
        "map/mean": np.asarray(projection.mean, dtype=np.float32),
        "map/axes": np.asarray(projection.axes, dtype=np.float32),
    }
    for layer, values in (weights or {}).items():
        for i, w in enumerate(values):
            arrays[f"weights/{layer}/{i}"] = np.asarray(w, dtype=np.float16)
    data = _npz_bytes(arrays)
    folder(run_dir).mkdir(exist_ok=True)
    atomic_write_bytes(epoch_path(run_dir, epoch), data)
    return len(data)


def read_sample(run_dir: str | os.PathLike[str]) -> Sample | None:
    """The run's sample, or None (an old run, or a damaged file)."""
    arrays = _load(folder(run_dir) / SAMPLE_FILE)
    if arrays is None or "indices" not in arrays or "labels" not in arrays:
        return None
    indices, labels = arrays["indices"], arrays["labels"]
    if indices.ndim != 1 or indices.shape != labels.shape or indices.dtype.kind not in "iu":
        return None
    if len(indices) and (indices.min() < 0 or labels.max() > 9):
        return None
    return Sample(indices.astype(np.int64), labels.astype(np.int64))


def epochs(run_dir: str | os.PathLike[str]) -> list[int]:
    """The epochs with a snapshot file, in order ([] for a run made before snapshots)."""
    if folder(run_dir).is_symlink():
        return []
    try:
        names = os.listdir(folder(run_dir))
    except OSError:
        return []
    found = (_EPOCH_FILE.fullmatch(name) for name in names)
    return sorted(int(m.group(1)) for m in found if m)


def read_epoch(run_dir: str | os.PathLike[str], epoch: int) -> EpochSnapshot | None:
    """One epoch's snapshot, or None when it is missing or damaged."""
    arrays = _load(epoch_path(run_dir, epoch))
    if arrays is None or "map/xy" not in arrays or "map/pred" not in arrays:
        return None
    xy, pred = arrays["map/xy"], arrays["map/pred"]
    if xy.ndim != 2 or xy.shape[1] != 2 or pred.shape != (len(xy),):
        return None
    projection = None
    mean, axes = arrays.get("map/mean"), arrays.get("map/axes")
    if mean is not None and axes is not None and axes.shape == (len(mean), 2):
        projection = Projection(mean.astype(np.float32), axes.astype(np.float32))
    weights: dict[str, list[tuple[int, np.ndarray]]] = {}
    for key, value in arrays.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == "weights" and parts[2].isdigit():
            weights.setdefault(parts[1], []).append((int(parts[2]), value.astype(np.float32)))
    ordered = {layer: [w for _, w in sorted(items)] for layer, items in weights.items()}
    return EpochSnapshot(epoch, ordered, xy.astype(np.float32), pred.astype(np.int64), projection)


def run_bytes(run_dir: str | os.PathLike[str]) -> int:
    """Bytes the run's snapshots take on disk."""
    try:
        return sum(p.stat().st_size for p in folder(run_dir).iterdir() if p.is_file())
    except OSError:
        return 0


def _load(path: Path) -> dict[str, np.ndarray] | None:
    if Path(path).parent.is_symlink():
        return None  # a linked snapshots/ folder may point outside the runs folder
    try:
        data = io.BytesIO(read_bytes(Path(path), MAX_FILE_BYTES))  # a plain file, no link
        with zipfile.ZipFile(data) as archive:  # refuse a zip bomb before unpacking it
            if sum(info.file_size for info in archive.infolist()) > MAX_FILE_BYTES:
                return None
        with np.load(data, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, Unreadable):
        return None
