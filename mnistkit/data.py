"""Load MNIST (IDX files, a Keras ``mnist.npz`` or the Keras download) and split it."""

from __future__ import annotations

import gzip
import math
import os
import struct
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnistkit.atomic import atomic_replace
from mnistkit.errors import MnistkitError

DATA_ENV = "MNISTKIT_DATA_DIR"
NPZ_NAME = "mnist.npz"
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
IDX_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
# Magic number -> number of dimensions; both are uint8 (type code 0x08).
IDX_MAGIC = {0x00000801: 1, 0x00000803: 3}

Split = tuple[np.ndarray, np.ndarray]
Mnist = tuple[Split, Split]

_cache: dict[str, Mnist] = {}
_cache_lock = threading.Lock()


class DataError(MnistkitError):
    """MNIST data is missing, unreadable or malformed; the message says where."""


def read_idx(path: str | Path) -> np.ndarray:
    """Read a uint8 IDX file (labels 1-D, images 3-D); ``.gz`` files are gunzipped."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            dims = _idx_dims(f, path)
            expected = math.prod(dims)
            payload = f.read()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(f"could not read IDX file {path} ({exc})") from exc
    if len(payload) != expected:
        raise DataError(
            f"IDX file {path} declares shape {dims} ({expected} bytes) "
            f"but holds {len(payload)} bytes of data"
        )
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims)


def _idx_dims(f, path: Path) -> tuple[int, ...]:
    """Read an IDX header (magic number, dimension sizes) from an open file."""
    header = f.read(4)
    if len(header) < 4:
        raise DataError(f"IDX file {path} is too short to hold a header")
    magic = struct.unpack(">I", header)[0]
    if magic not in IDX_MAGIC:
        raise DataError(
            f"IDX file {path} has magic number {magic:#010x}, "
            "expected 0x00000801 (labels) or 0x00000803 (images)"
        )
    ndim = IDX_MAGIC[magic]
    raw_dims = f.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataError(f"IDX file {path} ends inside its {ndim} dimension sizes")
    return struct.unpack(f">{ndim}I", raw_dims)


def check_folder(folder: Path) -> None:
    """Check cheaply (headers and sizes only, no decompression of the data) that `folder`
    holds MNIST as `load_mnist` reads it; `DataError` says what is wrong."""
    found = [_find_idx(folder, name) for name in IDX_NAMES]
    if not all(found):
        if (folder / NPZ_NAME).is_file():
            try:
                with zipfile.ZipFile(folder / NPZ_NAME) as archive:
                    names = {n.removesuffix(".npy") for n in archive.namelist()}
            except (OSError, zipfile.BadZipFile) as exc:
                npz = folder / NPZ_NAME
                raise DataError(f"could not read {npz} as a Keras mnist.npz ({exc})") from exc
            missing = [k for k in NPZ_KEYS if k not in names]
            if missing:
                raise DataError(f"{folder / NPZ_NAME} lacks the array(s) {', '.join(missing)}")
            return
        _load_folder(folder)  # raises the "missing …" sentence
    shapes = []
    for path in found:
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rb") as f:
                dims = _idx_dims(f, path)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"could not read IDX file {path} ({exc})") from exc
        if path.suffix != ".gz" and path.stat().st_size != 4 + 4 * len(dims) + math.prod(dims):
            raise DataError(f"IDX file {path} declares shape {dims} but its size differs")
        shapes.append(dims)
    (train_x, train_y, test_x, test_y) = shapes
    if train_x[1:] != IMAGE_SHAPE or test_x[1:] != IMAGE_SHAPE or len(train_y) != 1:
        raise DataError(f"the IDX files in {folder} do not hold 28×28 images and their labels")
    if train_x[0] != train_y[0] or test_x[0] != test_y[0]:
        raise DataError(f"the IDX files in {folder} hold different numbers of images and labels")


def resolve_data_dir(data_dir: str | Path | None = None) -> Path | None:
    """Return the data folder: ``data_dir``, else ``$MNISTKIT_DATA_DIR``, else None."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_ENV) or None
    if chosen is None:
        return None
    path = Path(chosen).expanduser()
    if not path.is_dir():
        source = "data_dir" if data_dir is not None else f"${DATA_ENV}"
        raise DataError(f"MNIST data folder {path} (from {source}) does not exist")
    return path.resolve()


def load_mnist(data_dir: str | Path | None = None) -> Mnist:
    """Return cached read-only uint8 ``((x_train, y_train), (x_test, y_test))``."""
    folder = resolve_data_dir(data_dir)
    key = str(folder) if folder is not None else "<keras>"
    with _cache_lock:
        if key not in _cache:
            data = _load_folder(folder) if folder is not None else _load_from_keras()
            _cache[key] = _validate(data, key)
        return _cache[key]


def clear_cache() -> None:
    """Forget every dataset that ``load_mnist`` has cached."""
    with _cache_lock:
        _cache.clear()


def to_model_input(x_uint8: np.ndarray) -> np.ndarray:
    """Scale uint8 images (N, 28, 28[, 1]) to float32 (N, 28, 28, 1) in [0, 1]."""
    x = np.asarray(x_uint8)
    if x.dtype != np.uint8:
        raise ValueError(f"Expected uint8 images, got dtype {x.dtype}.")
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4 or x.shape[1:] != (*IMAGE_SHAPE, 1):
        raise ValueError(f"Expected images of shape (N, 28, 28) or (N, 28, 28, 1), got {x.shape}.")
    return x.astype(np.float32) / np.float32(255.0)


def train_val_split(
    x: np.ndarray, y: np.ndarray, val_fraction: float = 0.2, seed: int = 42
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle with ``seed``; return ``(x_tr, y_tr, x_val, y_val)``."""
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} items but y has {len(y)}.")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}.")
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = min(int(round(len(x) * val_fraction)), max(len(x) - 1, 0))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


def stratified_subset(
    x: np.ndarray, y: np.ndarray, n: int | None, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """Pick exactly ``n`` items keeping class shares; ``None`` or ``n >= len``: all."""
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} items but y has {len(y)}.")
    if n is None or n >= len(y):
        return x, y
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}.")
    classes, counts = np.unique(y, return_counts=True)
    quotas = _apportion(n, counts)
    rng = np.random.default_rng(seed)
    picks = [
        rng.choice(np.flatnonzero(y == c), size=q, replace=False)
        for c, q in zip(classes, quotas, strict=True)
    ]
    idx = np.sort(np.concatenate(picks))
    return x[idx], y[idx]


def download(target_dir: str | Path) -> Path:
    """Fetch MNIST via Keras, write ``target_dir/mnist.npz`` atomically, return it."""
    target = Path(target_dir).expanduser()
    (x_train, y_train), (x_test, y_test) = _validate(_load_from_keras(), "the Keras download")
    dest = target / NPZ_NAME

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: given a name, numpy would add ".npz"
            np.savez_compressed(f, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)

    try:
        target.mkdir(parents=True, exist_ok=True)
        atomic_replace(dest, write, suffix=".npz")
    except OSError as exc:
        raise DataError(f"could not write {dest} ({exc})") from exc
    return dest


def _apportion(n: int, counts: np.ndarray) -> np.ndarray:
    """Split ``n`` in proportion to ``counts`` (largest remainder; sums to ``n``)."""
    exact = n * counts / counts.sum()
    quotas = np.floor(exact).astype(np.int64)
    short = n - int(quotas.sum())
    # Stable sort: ties go to the lower class index, so the result is deterministic.
    quotas[np.argsort(-(exact - quotas), kind="stable")[:short]] += 1
    return quotas


def _find_idx(folder: Path, name: str) -> Path | None:
    """Return ``folder/name`` or else ``folder/name.gz`` if either exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _load_folder(folder: Path) -> Mnist:
    """Load the four IDX files from ``folder``, else its ``mnist.npz``."""
    found = [_find_idx(folder, name) for name in IDX_NAMES]
    if all(found):
        x_train, y_train, x_test, y_test = (read_idx(p) for p in found)
        return (x_train, y_train), (x_test, y_test)
    npz = folder / NPZ_NAME
    if npz.is_file():
        return _load_npz(npz)
    missing = ", ".join(f"{n}[.gz]" for n, p in zip(IDX_NAMES, found, strict=True) if p is None)
    raise DataError(f"no MNIST data in {folder}: missing {missing} and no {NPZ_NAME} either")


def _load_npz(path: Path) -> Mnist:
    """Load a Keras-format ``mnist.npz``."""
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in NPZ_KEYS if k not in f.files]
            if missing:
                raise DataError(f"{path} lacks the array(s) {', '.join(missing)}")
            x_train, y_train, x_test, y_test = (f[k] for k in NPZ_KEYS)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"could not read {path} as a Keras mnist.npz ({exc})") from exc
    return (x_train, y_train), (x_test, y_test)


def _load_from_keras() -> Mnist:
    """Load MNIST with ``keras.datasets.mnist`` (downloads on first use)."""
    hint = f"set {DATA_ENV} to a folder with the MNIST files or run `python -m mnistkit download`"
    try:
        from keras.datasets import mnist
    except ImportError as exc:
        raise DataError(f"no MNIST folder was given and Keras is not installed; {hint}") from exc
    try:
        return mnist.load_data()
    except Exception as exc:  # network errors surface as many different types
        raise DataError(f"Keras could not download MNIST ({exc}); {hint}") from exc


def _validate(data: Mnist, source: str) -> Mnist:
    """Check shapes, dtypes, label range and counts; return read-only uint8 arrays."""
    out = []
    for part, (x, y) in zip(("train", "test"), data, strict=True):
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
            raise DataError(
                f"MNIST {part} images from {source} should be uint8 (N, 28, 28), "
                f"got {x.dtype} {x.shape}"
            )
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise DataError(
                f"MNIST {part} labels from {source} should be integers of shape (N,), "
                f"got {y.dtype} {y.shape}"
            )
        if len(x) == 0 or len(x) != len(y):
            raise DataError(
                f"MNIST {part} set from {source} has {len(x)} images and {len(y)} labels"
            )
        if y.min() < 0 or y.max() >= NUM_CLASSES:
            raise DataError(
                f"MNIST {part} labels from {source} should lie in 0..9, found {y.min()}..{y.max()}"
            )
        y = y.astype(np.uint8, copy=False)
        for arr in (x, y):
            arr.setflags(write=False)
        out.append((x, y))
    return out[0], out[1]


# --- where the data comes from ----------------------------------------------------------

KERAS_HOME_ENV = "KERAS_HOME"  # Keras keeps its download in $KERAS_HOME/datasets (~/.keras)


@dataclass(frozen=True)
class DataSource:
    """Where `load_mnist(data_dir)` would read MNIST from, and a sentence that says so."""

    kind: str  # "folder" | "keras-cache" | "download" | "error"
    path: Path | None  # the folder, Keras' mnist.npz (present or to come), or None on error
    message: str


def keras_cache_path() -> Path:
    """Where Keras keeps (or will keep) its downloaded ``mnist.npz``."""
    home = Path(os.environ.get(KERAS_HOME_ENV, "~/.keras")).expanduser()
    return home / "datasets" / NPZ_NAME


def describe_source(data_dir: str | Path | None = None) -> DataSource:
    """Say where MNIST comes from without reading it: ``data_dir`` or ``$MNISTKIT_DATA_DIR``
    (an "error" when that folder is missing, empty or its headers are wrong: `check_folder`),
    else Keras' download cache, else a download.
    Never raises."""
    try:
        folder = resolve_data_dir(data_dir)
    except DataError as exc:
        return DataSource("error", None, str(exc))
    if folder is not None:
        try:
            check_folder(folder)
        except DataError as exc:
            return DataSource("error", folder, str(exc))
        where = "data_dir" if data_dir is not None else DATA_ENV
        message = f"MNIST is read from the folder `{folder}` (`{where}`)."
        return DataSource("folder", folder, message)
    cached = keras_cache_path()
    if cached.is_file():
        message = f"MNIST comes from Keras' download cache: `{cached}`."
        return DataSource("keras-cache", cached, message)
    return DataSource(
        "download",
        cached,
        "No MNIST folder is set, so the first page that needs the data downloads it through "
        "Keras (about 11 MB; needs the internet).",
    )
