"""Shared test helpers: the real-data switch, tiny models, one shared tiny training run, the CLI.

Not a conftest: test modules import what they need (`from tests.helpers import ...`).
Expensive things (a trained run) are cached per process, so several test files share them.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_ENV = "MNISTKIT_DATA_DIR"
DATA_DIR = os.environ.get(DATA_ENV) or None

# The one switch for tests that need real MNIST: `requires_data` (a mark), `needs_data()` (in
# a fixture) and the `real_data` fixture all read it; conftest marks such tests `slow`, and in
# CI (MNISTKIT_REQUIRE_DATA=1) a missing folder stops the session instead of skipping.
NO_DATA = (
    f"{DATA_ENV} is not set: these tests train on real MNIST "
    f"(e.g. {DATA_ENV}=../shared/datasets/mnist)"
)
requires_data = pytest.mark.skipif(DATA_DIR is None, reason=NO_DATA)


def needs_data() -> str:
    """The real MNIST folder, or skip the calling test (fixture) when there is none."""
    if DATA_DIR is None:
        pytest.skip(NO_DATA)
    return DATA_DIR


def images(n: int, seed: int = 0) -> np.ndarray:
    """`n` random float32 images (n, 28, 28, 1) in [0, 1]."""
    return np.random.default_rng(seed).random((n, 28, 28, 1), dtype=np.float32)


def labels(n: int, seed: int = 0) -> np.ndarray:
    """`n` random digit labels."""
    return np.random.default_rng(seed).integers(0, 10, size=n)


def tiny_model(seed: int = 0, units: int = 8):
    """A small uncompiled MNIST-shaped model (28×28×1 → 10 softmax) with seeded weights."""
    import keras

    from mnistkit.models import build_dense

    keras.utils.set_random_seed(seed)
    return build_dense(units=(units,))


def save_tiny_model(path: str | Path, seed: int = 0) -> Path:
    """Save `tiny_model(seed)` to `path` (a .keras file) and return the path."""
    path = Path(path)
    tiny_model(seed).save(path)
    return path


@functools.cache
def _shared_root(*config: object) -> Path:
    """One runs folder per training setting (`shared_run`'s keyword arguments)."""
    return _scratch_dir("mnistkit-shared-runs-") / "runs"


def _scratch_dir(prefix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, True)
    return folder


@functools.cache
def shared_run(arch: str = "dense", subset: int = 500, epochs: int = 2, batch_size: int = 32):
    """One tiny real training run, trained once per test process for each setting; runs of
    one setting share a runs folder (`conftest.trained_runs` offers its dense and CNN runs).

    Returns `(RunResult, TrainConfig, Progress)`. Tests must treat the run folder as read-only.
    """
    from mnistkit.config import TrainConfig
    from mnistkit.progress import Progress
    from mnistkit.runs import RunStore
    from mnistkit.training import train

    config = TrainConfig(
        arch=arch, subset=subset, epochs=epochs, patience=0, batch_size=batch_size
    )
    progress = Progress()
    store = RunStore(_shared_root(subset, epochs, batch_size))
    result = train(config, store, name=f"shared-{arch}", data_dir=DATA_DIR, progress=progress)
    return result, config, progress


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a `python -m mnistkit` subprocess (data dir from this process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNISTKIT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if DATA_DIR:
        env[DATA_ENV] = DATA_DIR
    env.update(extra)
    return env


def run_cli(*args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    """Run `python -m mnistkit ARGS` and capture text output."""
    return subprocess.run(
        [sys.executable, "-m", "mnistkit", *map(str, args)],
        cwd=ROOT,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def draw_digit_png(path: str | Path, size: int = 280) -> Path:
    """A white "1"-like stroke with a small flag on a black canvas, as the app's canvas draws."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), "black")
    pen = ImageDraw.Draw(img)
    w = max(size // 14, 2)
    cx = size // 2
    pen.line([(cx, size // 6), (cx, size * 5 // 6)], fill="white", width=w)
    pen.line([(cx - size // 8, size // 4), (cx, size // 6)], fill="white", width=w)
    img.save(path)
    return Path(path)


def blank_png(path: str | Path, size: int = 280) -> Path:
    """An empty black canvas."""
    from PIL import Image

    Image.new("L", (size, size), 0).save(path)
    return Path(path)


def dead_pid() -> int:
    """The id of a process that has just exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def shown(text: str) -> str:
    """What a person reads for Markdown that went through `ui.messages.plain` (escapes off)."""
    return re.sub(r"\\(.)", r"\1", text)


def wait_until(condition, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll `condition()` every 5 ms until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)
