"""Accuracy on canvas-style drawings: naive 28x28 resize vs mnistkit's MNIST-style preprocessing.

The drawings are UCI pendigits pen trajectories (writers MNIST never saw) rendered as 280x280
canvas images by ../shared/tools/render_pendigits.py. They are rendered once and cached outside
the repository (default ~/.cache/mnistkit, or $XDG_CACHE_HOME/mnistkit).

Usage, from the repository root:

    python -m benchmarks.pendigits_accuracy --model cnn=runs/ID/model.keras --model dense=PATH
    python benchmarks/pendigits_accuracy.py --cap 500 --limit 200   # no model: timings only

Empty results of preprocess_digit (nothing or a dot) count as wrong answers.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
try:
    from mnistkit.preprocess import naive_resize, preprocess_digit
except ModuleNotFoundError:  # run as a plain script: make the checkout importable
    sys.path.insert(0, str(REPO))
    from mnistkit.preprocess import naive_resize, preprocess_digit

SHARED = REPO.parent / "shared"
DEFAULT_SRC = SHARED / "datasets" / "pendigits" / "pendigits-orig.tra.gz"
DEFAULT_RENDERER = SHARED / "tools" / "render_pendigits.py"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mnistkit"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a Keras .keras model to score (repeatable)",
    )
    ap.add_argument("--pendigits", type=Path, default=DEFAULT_SRC, help="UNIPEN .tra(.gz) file")
    ap.add_argument("--renderer", type=Path, default=DEFAULT_RENDERER)
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--cap", type=int, default=3500, help="drawings to render")
    ap.add_argument("--seed", type=int, default=0, help="renderer seed")
    ap.add_argument("--limit", type=int, default=0, help="score only the first N (0: all)")
    ap.add_argument("--batch-size", type=int, default=1024)
    return ap.parse_args(argv)


def parse_models(specs: list[str]) -> dict[str, Path]:
    """Turn ["name=path", ...] into {name: path}."""
    models = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--model expects NAME=PATH, got {spec!r}")
        models[name] = Path(path)
    return models


def cache_file(args: argparse.Namespace) -> Path:
    """Where the rendered drawings for these options are cached (keyed by the renderer's code)."""
    key = hashlib.sha256(args.renderer.read_bytes()).hexdigest()[:10]
    stem = args.pendigits.name.split(".")[0]
    return args.cache_dir / f"{stem}-cap{args.cap}-seed{args.seed}-{key}.npz"


def load_drawings(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, Path]:
    """Return (images (N, 280, 280) uint8, labels (N,)), rendering them on first use."""
    path = cache_file(args)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.npz")
        cmd = [
            sys.executable,
            str(args.renderer),
            "--src",
            str(args.pendigits),
            "--out",
            str(tmp),
            "--cap",
            str(args.cap),
            "--seed",
            str(args.seed),
        ]
        print("rendering:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        os.replace(tmp, path)
    with np.load(path) as data:
        images, labels = data["images"], data["labels"].astype(np.int64)
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    return images, labels, path


def prepare(images: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """For each method: (inputs (N, 28, 28, 1), empty mask, mean seconds per image)."""
    out = {}
    for name, fn in (("naive", naive_resize), ("preprocess", preprocess_digit)):
        start = time.perf_counter()
        results = [fn(image) for image in images]
        seconds = (time.perf_counter() - start) / max(1, len(images))
        if name == "naive":
            x, empty = np.stack(results), np.zeros(len(results), bool)
        else:
            empty = np.array([r.empty for r in results])
            blank = np.zeros((28, 28, 1), np.float32)
            x = np.stack([blank if r.empty else r.input for r in results])
        out[name] = (x, empty, seconds)
    return out


def predict(model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Predicted class per row of x, in batches, reshaped to the model's input shape."""
    shape = tuple(model.input_shape[1:])
    labels = []
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size].reshape((-1, *shape))
        labels.append(np.argmax(np.asarray(model.predict_on_batch(batch)), axis=-1))
    return np.concatenate(labels) if labels else np.zeros(0, np.int64)


def main(argv: list[str] | None = None) -> int:
    """Render or load the drawings, preprocess them both ways and score every model."""
    args = parse_args(argv)
    models = parse_models(args.model)
    images, labels, path = load_drawings(args)
    print(f"{len(images)} drawings from {args.pendigits.name} (cache: {path})")
    inputs = prepare(images)
    for name, (_, empty, seconds) in inputs.items():
        print(f"{name:>10}: {seconds * 1e3:.3f} ms/image, {int(empty.sum())} empty")
    if not models:
        print("no --model given: timings only")
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    print(f"{'model':<16} {'naive':>8} {'preprocess':>11}")
    for name, model_path in models.items():
        model = keras.saving.load_model(model_path, safe_mode=True)
        scores = []
        for x, empty, _ in inputs.values():
            guess = np.where(empty, -1, predict(model, x, args.batch_size))
            scores.append(float(np.mean(guess == labels)))
        print(f"{name:<16} {scores[0]:>8.2%} {scores[1]:>11.2%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
