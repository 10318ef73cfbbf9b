"""Tests for mnistkit.data on tiny synthetic IDX/npz files, plus one real-data check."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from mnistkit import data
from mnistkit.data import (
    DATA_ENV,
    DataError,
    load_mnist,
    read_idx,
    resolve_data_dir,
    stratified_subset,
    to_model_input,
    train_val_split,
)
from tests.helpers import DATA_DIR, requires_data

MAGIC = {1: 0x00000801, 3: 0x00000803}
REAL_DIR = DATA_DIR  # the one data switch (tests.helpers), read before the fixture clears it


def idx_bytes(arr: np.ndarray, magic: int | None = None) -> bytes:
    """Encode a uint8 array as IDX (big-endian header, then the raw bytes)."""
    magic = MAGIC[arr.ndim] if magic is None else magic
    header = struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write_idx(path: Path, arr: np.ndarray, **kwargs) -> Path:
    """Write ``arr`` as IDX to ``path``, gzipped when the name ends in ``.gz``."""
    raw = idx_bytes(arr, **kwargs)
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def tiny(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images (n, 28, 28) and labels cycling through 0..9."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    return x, (np.arange(n) % 10).astype(np.uint8)


def write_set(folder: Path, gz: bool = True, n_train: int = 30, n_test: int = 10):
    """Write the four MNIST IDX files into ``folder``; return the arrays written."""
    ext = ".gz" if gz else ""
    (xtr, ytr), (xte, yte) = tiny(n_train, 1), tiny(n_test, 2)
    for name, arr in zip(data.IDX_NAMES, (xtr, ytr, xte, yte), strict=True):
        write_idx(folder / f"{name}{ext}", arr)
    return (xtr, ytr), (xte, yte)


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):
    """Each test starts with an empty cache and no data-dir env var."""
    monkeypatch.delenv(DATA_ENV, raising=False)
    data.clear_cache()
    yield
    data.clear_cache()


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("shape", [(7,), (3, 28, 28), (2, 5, 4)])
def test_read_idx_round_trip(tmp_path, suffix, shape):
    arr = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    out = read_idx(write_idx(tmp_path / f"f{suffix}", arr))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("magic", [0x00000802, 0x00000D03, 0x12345678])
def test_read_idx_wrong_magic(tmp_path, magic):
    path = tmp_path / "bad"
    path.write_bytes(struct.pack(">II", magic, 3) + b"\x00\x01\x02")
    with pytest.raises(DataError, match="magic number"):
        read_idx(path)


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("keep", [2, 10, -5], ids=["in-magic", "in-dims", "in-payload"])
def test_read_idx_truncated(tmp_path, suffix, keep):
    raw = idx_bytes(np.zeros((2, 28, 28), np.uint8))[:keep]
    path = tmp_path / f"t{suffix}"
    path.write_bytes(gzip.compress(raw) if suffix else raw)
    with pytest.raises(DataError, match=path.name):
        read_idx(path)


def test_read_idx_extra_bytes(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(idx_bytes(np.zeros(4, np.uint8)) + b"\x07")
    with pytest.raises(DataError, match="holds 5 bytes"):
        read_idx(path)


def test_read_idx_truncated_gzip(tmp_path):
    blob = gzip.compress(idx_bytes(tiny(20)[0]))
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="cut.gz"):
        read_idx(path)


def test_read_idx_not_gzip(tmp_path):
    path = tmp_path / "plain.gz"
    path.write_bytes(idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(DataError, match="plain.gz"):
        read_idx(path)


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_idx(tmp_path, gz):
    (xtr, ytr), (xte, yte) = write_set(tmp_path, gz=gz)
    (a, b), (c, d) = load_mnist(tmp_path)
    for got, want in ((a, xtr), (b, ytr), (c, xte), (d, yte)):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.uint8
        assert not got.flags.writeable


def test_load_mnist_is_cached(tmp_path):
    write_set(tmp_path)
    first = load_mnist(tmp_path)
    assert load_mnist(str(tmp_path)) is first
    (tmp_path / "sub").mkdir()
    assert load_mnist(tmp_path / "sub" / "..") is first


def test_load_mnist_npz(tmp_path):
    (xtr, ytr), (xte, yte) = tiny(20, 3), tiny(10, 4)
    np.savez_compressed(
        tmp_path / "mnist.npz",
        x_train=xtr,
        y_train=ytr.astype(np.int64),
        x_test=xte,
        y_test=yte,
    )
    (a, b), (c, d) = load_mnist(tmp_path)
    np.testing.assert_array_equal(a, xtr)
    np.testing.assert_array_equal(d, yte)
    assert b.dtype == np.uint8


def test_load_mnist_npz_missing_key(tmp_path):
    x, y = tiny(5)
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y, x_test=x)
    with pytest.raises(DataError, match="y_test"):
        load_mnist(tmp_path)


def test_load_mnist_npz_corrupt(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="mnist.npz"):
        load_mnist(tmp_path)


def test_label_out_of_range(tmp_path):
    write_set(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.full(10, 10, np.uint8))
    with pytest.raises(DataError, match=r"0\.\.9"):
        load_mnist(tmp_path)


def test_count_mismatch(tmp_path):
    write_set(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(29, np.uint8))
    with pytest.raises(DataError, match="30 images and 29 labels"):
        load_mnist(tmp_path)


def test_wrong_image_size(tmp_path):
    write_set(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((10, 27, 28), np.uint8))
    with pytest.raises(DataError, match=r"\(N, 28, 28\)"):
        load_mnist(tmp_path)


def test_missing_files_names_them(tmp_path):
    write_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path)
    msg = str(info.value)
    assert str(tmp_path) in msg and "mnist.npz" in msg
    assert "t10k-labels-idx1-ubyte[.gz]" in msg
    assert "train-images" not in msg


def test_missing_dir_mentions_path(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DataError, match=str(missing)):
        load_mnist(missing)


def test_resolve_data_dir(tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    assert resolve_data_dir(None) is None
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert resolve_data_dir(None) == tmp_path.resolve()
    assert resolve_data_dir(other) == other.resolve()  # explicit wins over env
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "gone"))
    with pytest.raises(DataError, match=DATA_ENV):
        resolve_data_dir(None)


def test_load_mnist_uses_env(tmp_path, monkeypatch):
    (xtr, _), _ = write_set(tmp_path, gz=False)
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    np.testing.assert_array_equal(load_mnist()[0][0], xtr)


def fake_keras(monkeypatch, load_data) -> None:
    """Install a stand-in ``keras.datasets.mnist``: no Keras import, no download."""
    mnist = types.ModuleType("keras.datasets.mnist")
    mnist.load_data = load_data
    datasets = types.ModuleType("keras.datasets")
    datasets.mnist = mnist
    keras = types.ModuleType("keras")
    keras.datasets = datasets
    for name, mod in (
        ("keras", keras),
        ("keras.datasets", datasets),
        ("keras.datasets.mnist", mnist),
    ):
        monkeypatch.setitem(sys.modules, name, mod)


def test_keras_fallback(monkeypatch):
    fake_keras(monkeypatch, lambda: (tiny(12, 5), tiny(6, 6)))
    (a, _), (_, d) = load_mnist()
    np.testing.assert_array_equal(a, tiny(12, 5)[0])
    np.testing.assert_array_equal(d, tiny(6, 6)[1])


def test_keras_network_error_wrapped(monkeypatch):
    def offline():
        raise Exception("URL fetch failure: no network")

    fake_keras(monkeypatch, offline)
    with pytest.raises(DataError, match="python -m mnistkit download") as info:
        load_mnist()
    assert DATA_ENV in str(info.value) and "no network" in str(info.value)
    with pytest.raises(DataError, match="no network"):
        data.download("/nonexistent-never-created")


def test_download_writes_npz(tmp_path, monkeypatch):
    fake_keras(monkeypatch, lambda: (tiny(12, 5), tiny(6, 6)))
    path = data.download(tmp_path / "new")
    assert path == tmp_path / "new" / "mnist.npz"
    assert os.listdir(path.parent) == ["mnist.npz"]  # temp file gone
    (a, _), (_, d) = load_mnist(path.parent)
    np.testing.assert_array_equal(a, tiny(12, 5)[0])
    np.testing.assert_array_equal(d, tiny(6, 6)[1])


def test_to_model_input():
    x = np.array([np.zeros((28, 28)), np.full((28, 28), 255)], dtype=np.uint8)
    out = to_model_input(x)
    assert out.dtype == np.float32 and out.shape == (2, 28, 28, 1)
    assert out.min() == 0.0 and out.max() == 1.0
    assert to_model_input(x[..., None]).shape == (2, 28, 28, 1)
    with pytest.raises(ValueError):
        to_model_input(x.astype(np.float32))


def test_train_val_split():
    x, y = tiny(100)
    x_tr, y_tr, x_val, y_val = train_val_split(x, y, val_fraction=0.2, seed=1)
    assert (len(x_tr), len(x_val)) == (80, 20) and (len(y_tr), len(y_val)) == (80, 20)
    rows = {r.tobytes() for r in x_tr} | {r.tobytes() for r in x_val}
    assert len(rows) == 100  # disjoint and complete
    again = train_val_split(x, y, val_fraction=0.2, seed=1)
    np.testing.assert_array_equal(again[2], x_val)
    assert not np.array_equal(train_val_split(x, y, 0.2, seed=2)[2], x_val)


@pytest.mark.parametrize("n", [1, 7, 33, 50, 99])
def test_stratified_subset_size_and_balance(n):
    rng = np.random.default_rng(0)
    y = rng.choice(10, size=200, p=np.linspace(1, 3, 10) / np.linspace(1, 3, 10).sum())
    x = np.arange(200)
    xs, ys = stratified_subset(x, y, n, seed=3)
    assert len(xs) == len(ys) == n
    np.testing.assert_array_equal(y[xs], ys)  # pairs stay aligned
    expected = n * np.bincount(y, minlength=10) / len(y)
    assert np.all(np.abs(np.bincount(ys, minlength=10) - expected) < 1)


def test_stratified_subset_unchanged():
    x, y = tiny(20)
    assert stratified_subset(x, y, None)[0] is x
    assert stratified_subset(x, y, 20)[1] is y
    np.testing.assert_array_equal(
        stratified_subset(x, y, 5, seed=1)[0], stratified_subset(x, y, 5, seed=1)[0]
    )


def test_import_does_not_load_keras():
    code = "import sys, mnistkit.data; assert 'keras' not in sys.modules"
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


@requires_data
def test_real_mnist():
    (xtr, ytr), (xte, yte) = load_mnist(REAL_DIR)
    assert xtr.shape == (60000, 28, 28) and ytr.shape == (60000,)
    assert xte.shape == (10000, 28, 28) and yte.shape == (10000,)
    assert set(np.unique(ytr)) == set(range(10)) == set(np.unique(yte))


# --- describe_source ------------------------------------------------------------------


def test_describe_source_a_folder(tmp_path, monkeypatch):
    write_set(tmp_path)
    source = data.describe_source(tmp_path)
    assert (source.kind, source.path) == ("folder", tmp_path.resolve())
    assert str(tmp_path.resolve()) in source.message and "data_dir" in source.message
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    source = data.describe_source()
    assert source.kind == "folder" and DATA_ENV in source.message


def test_describe_source_a_missing_folder_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "nowhere"))
    source = data.describe_source()
    assert (source.kind, source.path) == ("error", None)
    assert "does not exist" in source.message and DATA_ENV in source.message


def test_describe_source_keras_cache_or_download(tmp_path, monkeypatch):
    monkeypatch.setenv(data.KERAS_HOME_ENV, str(tmp_path / "keras"))
    npz = tmp_path / "keras" / "datasets" / "mnist.npz"
    assert data.keras_cache_path() == npz
    source = data.describe_source()
    assert (source.kind, source.path) == ("download", npz)
    assert "downloads it through Keras" in source.message
    npz.parent.mkdir(parents=True)
    npz.write_bytes(b"")
    source = data.describe_source()
    assert (source.kind, source.path) == ("keras-cache", npz)
    assert str(npz) in source.message


@pytest.mark.parametrize("gz", [True, False])
def test_describe_source_checks_the_folder_before_saying_it_is_fine(tmp_path, gz):
    """Home said a green "MNIST is read from …" for an empty or corrupt folder."""
    empty = tmp_path / "empty"
    empty.mkdir()
    source = data.describe_source(empty)
    assert source.kind == "error" and "missing train-images-idx3-ubyte" in source.message
    broken = tmp_path / "broken"
    broken.mkdir()
    write_set(broken, gz=gz)
    victim = next(broken.glob("train-images*"))
    victim.write_bytes(victim.read_bytes()[:3] if gz else b"\0\0\x08\x01" + bytes(12))
    assert data.describe_source(broken).kind == "error"
    npz = tmp_path / "npz"
    npz.mkdir()
    (npz / "mnist.npz").write_bytes(b"PK\x03\x04 not really")
    assert data.describe_source(npz).kind == "error"
