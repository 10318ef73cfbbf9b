"""Accuracy on canvas-style drawings: naive 28x28 resize vs mnistkit's MNIST-style preprocessing.

The drawings are UCI pendigits pen trajectories (30 writers MNIST never saw) rendered as 280x280
canvas images by ../shared/tools/render_pendigits.py (brush 18-22 px), or with `--render mnistkit`
by mnistkit.pen_drawings (brush 8-32 px, slant). They are rendered once and cached outside the
repository (default ~/.cache/mnistkit, or $XDG_CACHE_HOME/mnistkit).

Only writers a model did not train on count. Each bundled model's JSON names the pendigits
writers it trained on (`training_data.drawings.writers`); the measured writers (`--writers`,
default: those no scored model trained on, or 11-30 for MNIST-only models, whose recipe was
chosen on writers 1-10) must not overlap them: the benchmark refuses unless `--allow-overlap`,
and then marks the figure as not held out.

Usage, from the repository root:

    # the writer study: models trained on writers 1-20 only, measured on 21-30
    python -m mnistkit pretrain --drawings PENDIGITS --drawing-writers 1-20 --seed 2 --out DIR
    python benchmarks/drawn_digits_accuracy.py --bundle DIR --writers 21-30
    # models/ now trains on all 30 writers: nothing is held out, so this refuses
    python benchmarks/drawn_digits_accuracy.py --bundle models
    python benchmarks/drawn_digits_accuracy.py --bundle DIR --record  # store in DIR/*.json
    python -m benchmarks.drawn_digits_accuracy --model cnn=runs/ID/model.keras --model dense=PATH
    python benchmarks/drawn_digits_accuracy.py --cap 500 --limit 200   # no model: timings only
    python benchmarks/drawn_digits_accuracy.py --bundle DIR --brush 10  # a fine brush
    python benchmarks/drawn_digits_accuracy.py --bundle DIR --writers 21-30 --render mnistkit

Empty results of preprocess_digit (nothing or a dot) count as wrong answers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
try:
    from mnistkit.drawings import PENDIGITS_WRITERS, format_writers, parse_writers
    from mnistkit.preprocess import naive_resize, preprocess_digit
except ModuleNotFoundError:  # run as a plain script: make the checkout importable
    sys.path.insert(0, str(REPO))
    from mnistkit.drawings import PENDIGITS_WRITERS, format_writers, parse_writers
    from mnistkit.preprocess import naive_resize, preprocess_digit

SHARED = REPO.parent / "shared"
DEFAULT_SRC = SHARED / "datasets" / "pendigits" / "pendigits-orig.tra.gz"
DEFAULT_RENDERER = SHARED / "tools" / "render_pendigits.py"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mnistkit"
ALL_DRAWINGS = 7494  # the whole .tra file
TUNING_WRITERS = range(1, 11)  # seen while choosing the recipe; all other writers are held out
ARCH_ORDER = ("dense", "cnn")


@dataclass
class Drawings:
    """Rendered drawings with labels and writer ids."""

    images: np.ndarray  # (N, 280, 280) uint8
    labels: np.ndarray  # (N,)
    writers: np.ndarray  # (N,), 0 when the cache has no writer ids
    path: Path


@dataclass
class Scored:
    """One model's accuracies: {method: {"held_out": acc, "tuning": acc, "all": acc}}."""

    name: str
    arch: str | None
    augment: bool | None
    mnist_test: float | None
    accuracy: dict[str, dict[str, float]]
    info_dir: Path | None = None
    mistakes: list[tuple[int, int, int]] = field(default_factory=list)  # (count, true, read)
    trained_writers: tuple[int, ...] = ()


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
    ap.add_argument(
        "--bundle",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="a folder of {dense,cnn}.keras with their JSON, as `pretrain` writes (repeatable)",
    )
    ap.add_argument(
        "--record",
        action="store_true",
        help="write each --bundle model's measurement into its JSON",
    )
    ap.add_argument("--pendigits", type=Path, default=DEFAULT_SRC, help="UNIPEN .tra(.gz) file")
    ap.add_argument("--renderer", type=Path, default=DEFAULT_RENDERER)
    ap.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--cap", type=int, default=ALL_DRAWINGS, help="drawings to render")
    ap.add_argument("--seed", type=int, default=0, help="renderer seed")
    ap.add_argument(
        "--brush",
        type=int,
        default=0,
        metavar="PX",
        help="draw every digit with this brush width instead of the renderer's 18-22 px "
        "(a copy of the renderer with that one line changed; same digits, sizes and places)",
    )
    ap.add_argument(
        "--writers",
        metavar="IDS",
        help="measure on these writers, e.g. 21-30 (default: those no scored model trained on)",
    )
    ap.add_argument(
        "--allow-overlap",
        action="store_true",
        help="measure even on writers a model trained on (the figure is then not held out)",
    )
    ap.add_argument(
        "--render",
        choices=("shared", "mnistkit"),
        default="shared",
        help="the shared renderer (brush 18-22 px) or mnistkit.pen_drawings (8-32 px, slant)",
    )
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


def _info_beside(path: Path) -> dict:
    """The JSON beside a model file (`cnn.keras` -> `cnn.json`), or {} when there is none."""
    try:
        return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def bundle_models(folders: list[Path]) -> list[tuple[str, Path, dict]]:
    """(name, model path, its JSON) for every {dense,cnn}.keras in the bundle folders."""
    found = []
    for folder in folders:
        folder = folder.expanduser()
        for arch in ARCH_ORDER:
            path = folder / f"{arch}.keras"
            if not path.is_file():
                print(f"note: no {path}")
                continue
            try:
                info = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                info = {}
            augment = info.get("augment")
            tag = "" if augment is None else ("+aug" if augment else "-aug")
            where = f" {folder.name}" if len(folders) > 1 else ""  # tell bundles apart
            found.append((f"{arch}{tag}{where}", path, info))
    return found


def cache_file(args: argparse.Namespace) -> Path:
    """Where the rendered drawings for these options are cached (keyed by the renderer's code)."""
    key = renderer_key(args)
    stem = args.pendigits.name.split(".")[0]
    brush = f"-brush{args.brush}" if args.brush else ""
    own = "-mnistkit" if args.render == "mnistkit" else ""
    return args.cache_dir / f"{stem}-cap{args.cap}-seed{args.seed}{brush}{own}-{key}.npz"


RENDERERS = {"shared": "render_pendigits.py", "mnistkit": "mnistkit.pen_drawings"}
BRUSH_LINE = "brush = int(rng.integers(18, 23))"


def renderer_for(args: argparse.Namespace) -> Path:
    """The renderer to run: the shared one, or a copy whose brush width is fixed at --brush.

    The copy still draws the random width (and throws it away), so every other random choice,
    size and position, stays the same as in the shared renderer's drawings.
    """
    if not args.brush:
        return args.renderer
    source = args.renderer.read_text(encoding="utf-8")
    if source.count(BRUSH_LINE) != 1:
        raise SystemExit(f"--brush: cannot find {BRUSH_LINE!r} in {args.renderer}")
    copy = args.cache_dir / f"render_pendigits-brush{args.brush}.py"
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(source.replace(BRUSH_LINE, f"{BRUSH_LINE} * 0 + {args.brush}"), "utf-8")
    return copy


def renderer_key(args: argparse.Namespace) -> str:
    """A short hash of the renderer's source: a changed renderer means new drawings."""
    if args.render == "mnistkit":
        from mnistkit import pen_drawings

        return hashlib.sha256(Path(pen_drawings.__file__).read_bytes()).hexdigest()[:10]
    return hashlib.sha256(args.renderer.read_bytes()).hexdigest()[:10]


def render_own(args: argparse.Namespace, out: Path) -> None:
    """Render every digit once with mnistkit.pen_drawings (its default, varied settings)."""
    from mnistkit.pen_drawings import read_unipen, render_many

    digits = read_unipen(args.pendigits)[: args.cap]
    print(f"rendering {len(digits)} drawings with mnistkit.pen_drawings, seed {args.seed}")
    images = render_many(digits, args.seed)
    labels = np.array([d.label for d in digits], np.uint8)
    writers = np.array([d.writer for d in digits], np.uint8)
    np.savez_compressed(out, images=images, labels=labels, writer=writers)


def load_drawings(args: argparse.Namespace) -> Drawings:
    """The rendered drawings, rendering them on first use."""
    path = cache_file(args)
    if not path.exists() and args.render == "mnistkit":
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.npz")
        render_own(args, tmp)
        os.replace(tmp, path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.npz")
        cmd = [
            sys.executable,
            str(renderer_for(args)),
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
        writers = data["writer"].astype(np.int64) if "writer" in data else np.zeros_like(labels)
    if args.limit:
        images, labels, writers = images[: args.limit], labels[: args.limit], writers[: args.limit]
    return Drawings(images, labels, writers, path)


def prepare(images: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """For each method: (inputs (N, 28, 28, 1), empty mask, mean seconds per image)."""
    out = {}
    for name, fn in (("naive", naive_resize), ("pipeline", preprocess_digit)):
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


def trained_writers(info: dict) -> tuple[int, ...]:
    """The pendigits writers a bundled model trained on, from its JSON (none for MNIST only)."""
    drawings = (info.get("training_data") or {}).get("drawings") or {}
    return parse_writers(drawings["writers"]) if drawings.get("writers") else ()


def measured_writers(spec: str | None, trained: list[tuple[int, ...]]) -> tuple[int, ...]:
    """The writers to measure on: --writers, else those no model trained on (else 11-30)."""
    if spec:
        return parse_writers(spec)
    used = set().union(*trained) if trained else set()
    if not used:
        return tuple(w for w in PENDIGITS_WRITERS if w not in TUNING_WRITERS)
    rest = tuple(w for w in PENDIGITS_WRITERS if w not in used)
    if not rest:
        raise SystemExit(
            "every pendigits writer trained one of these models: none is held out. "
            "Measure a model trained on fewer writers, or give --writers and --allow-overlap."
        )
    return rest


def check_overlap(
    names: list[str], trained: list[tuple[int, ...]], measured: tuple[int, ...], allow: bool
) -> None:
    """Refuse (or, with allow, warn) when a model trained on a writer that is measured."""
    for name, writers in zip(names, trained, strict=True):
        overlap = sorted(set(writers) & set(measured))
        if not overlap:
            continue
        said = f"{name} trained on measured writers {format_writers(overlap)}"
        if not allow:
            raise SystemExit(f"{said}: its figure would not be held out (see --allow-overlap)")
        print(f"WARNING: {said}: its figure is NOT a held-out measurement")


def score(
    model,
    inputs: dict,
    drawings: Drawings,
    batch_size: int,
    measured: tuple[int, ...] = tuple(w for w in PENDIGITS_WRITERS if w not in TUNING_WRITERS),
    trained: tuple[int, ...] = (),
) -> tuple[dict[str, dict[str, float]], list[tuple[int, int, int]]]:
    """Accuracy per method on the measured writers, on tuning writers 1-10 (those neither
    measured nor trained on) and on all drawings, and the pipeline's most common mistakes on
    the measured writers as (count, true digit, read as)."""
    held_out = np.isin(drawings.writers, list(measured))
    tuning = np.isin(drawings.writers, list(TUNING_WRITERS)) & ~held_out
    tuning &= ~np.isin(drawings.writers, list(trained))
    groups = {"held_out": held_out, "tuning": tuning, "all": np.ones_like(tuning)}
    out, mistakes = {}, []
    for method, (x, empty, _) in inputs.items():
        read = np.where(empty, -1, predict(model, x, batch_size))
        right = read == drawings.labels
        out[method] = {
            g: float(right[m].mean()) if m.any() else float("nan") for g, m in groups.items()
        }
        if method == "pipeline":
            wrong = ~right & held_out
            pairs, counts = np.unique(
                np.stack([drawings.labels[wrong], read[wrong]], axis=1), axis=0, return_counts=True
            )
            order = np.argsort(-counts, kind="stable")[:5]
            mistakes = [(int(counts[i]), int(pairs[i][0]), int(pairs[i][1])) for i in order]
    return out, mistakes


def print_table(rows: list[Scored], measured: tuple[int, ...]) -> None:
    """The comparison table: MNIST test accuracy, then pendigits naive vs pipeline."""
    print()
    print(
        f"{'model':<24} {'augment':>7} {'MNIST test':>10} {'naive':>8} {'pipeline':>9} "
        f"{'pipeline (tuning writers)':>26}"
    )
    for r in rows:
        aug = "-" if r.augment is None else ("yes" if r.augment else "no")
        mnist = "-" if r.mnist_test is None else f"{r.mnist_test:.2%}"
        tuning = r.accuracy["pipeline"]["tuning"]
        print(
            f"{r.name:<24} {aug:>7} {mnist:>10} {r.accuracy['naive']['held_out']:>8.2%} "
            f"{r.accuracy['pipeline']['held_out']:>9.2%} "
            f"{'-' if tuning != tuning else f'{tuning:.2%}':>26}"
        )
    print(f"naive / pipeline: drawings by writers {format_writers(measured)}; tuning writers: 1-10")
    for r in rows:
        if r.trained_writers:
            print(f"  {r.name} trained on pendigits writers {format_writers(r.trained_writers)}")
    print("\nmost common pipeline mistakes, measured writers (true -> read as: count):")
    for r in rows:
        said = ", ".join(f"{t}->{'empty' if p < 0 else p}: {n}" for n, t, p in r.mistakes)
        print(f"{r.name:<24} {said}")


def measurement(row: Scored, drawings: Drawings, args: argparse.Namespace) -> dict:
    """What --record stores in a bundled model's JSON."""
    measured = parse_writers(args.writers_measured)
    held_out = int(np.isin(drawings.writers, list(measured)).sum())
    trained = format_writers(row.trained_writers) if row.trained_writers else "none (MNIST only)"
    return {
        "pipeline_accuracy": row.accuracy["pipeline"]["held_out"],
        "naive_accuracy": row.accuracy["naive"]["held_out"],
        "pipeline_accuracy_tuning_writers": row.accuracy["pipeline"]["tuning"],
        "drawings": held_out,
        "writers": f"{format_writers(measured)} of pendigits-orig.tra; trained on: {trained}",
        "renderer": f"{RENDERERS[args.render]} seed {args.seed} sha256:{renderer_key(args)}",
        "measured": dt.date.today().isoformat(),
    }


def main(argv: list[str] | None = None) -> int:
    """Render or load the drawings, preprocess them both ways and score every model."""
    args = parse_args(argv)
    if args.record and args.brush:
        raise SystemExit("--record stores the renderer's own drawings: leave out --brush")
    if args.brush and args.render == "mnistkit":
        raise SystemExit("--brush changes the shared renderer; mnistkit's varies the brush")
    models = [(name, path, _info_beside(path)) for name, path in parse_models(args.model).items()]
    models += bundle_models(args.bundle)
    trained = [trained_writers(info) for _, _, info in models]
    measured = measured_writers(args.writers, trained)
    check_overlap([name for name, _, _ in models], trained, measured, args.allow_overlap)
    if args.record and any(set(t) & set(measured) for t in trained):
        raise SystemExit("--record stores held-out figures only: measured writers overlap")
    args.writers_measured = format_writers(measured)
    drawings = load_drawings(args)
    print(f"{len(drawings.images)} drawings from {args.pendigits.name} (cache: {drawings.path})")
    inputs = prepare(drawings.images)
    for name, (_, empty, seconds) in inputs.items():
        print(f"{name:>10}: {seconds * 1e3:.3f} ms/image, {int(empty.sum())} empty")
    if not models:
        print("no --model or --bundle given: timings only")
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    rows = []
    for (name, model_path, info), writers in zip(models, trained, strict=True):
        model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
        accuracy, mistakes = score(model, inputs, drawings, args.batch_size, measured, writers)
        rows.append(
            Scored(
                name,
                info.get("arch"),
                info.get("augment"),
                info.get("test_accuracy"),
                accuracy,
                model_path.parent if info else None,
                mistakes,
                writers,
            )
        )
    rows.sort(key=lambda r: (ARCH_ORDER.index(r.arch) if r.arch in ARCH_ORDER else 9, r.name))
    print_table(rows, measured)
    if args.record:
        from mnistkit.bundle import record_drawn_digits

        for row in rows:
            if row.info_dir is not None and row.arch:
                record_drawn_digits(row.arch, measurement(row, drawings, args), row.info_dir)
                print(f"recorded in {row.info_dir / (row.arch + '.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
