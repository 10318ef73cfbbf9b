"""Server-side latency of draw → probabilities for a dense and a CNN model (the Draw page's path).

For ~200 synthetic 280×280 canvas drawings (white round-brush strokes on black, as the canvas
sends them) it times what the app does on every pen-up: decode the canvas PNG, preprocess
(`preprocess_digit`), then `Predictor.proba` for both models. `model.predict` is timed on a few
drawings for contrast. Goal (issue 3): p50 ≤ 5 ms for both models together.

Usage, from the repository root:

    python benchmarks/draw_latency.py                      # bundled models, else the latest runs
    python benchmarks/draw_latency.py --dense PATH --cnn PATH --n 200
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
try:
    from mnistkit.catalog import BUNDLED_DIR
    from mnistkit.preprocess import preprocess_digit
except ModuleNotFoundError:  # run as a plain script: make the checkout importable
    sys.path.insert(0, str(REPO))
    from mnistkit.catalog import BUNDLED_DIR
    from mnistkit.preprocess import preprocess_digit

SIDE = 280  # canvas px
GOAL_MS = 5.0
CONTRAST_N = 20  # model.predict is ~50 ms a call: a few are enough


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dense", type=Path, help="dense .keras model or run folder")
    ap.add_argument("--cnn", type=Path, help="CNN .keras model or run folder")
    ap.add_argument("--runs-dir", type=Path, help="where to look for runs (default as the app)")
    ap.add_argument("--n", type=int, default=200, help="number of drawings")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)


def find_model(arch: str, runs_dir: Path | None) -> Path | None:
    """The bundled models/<arch>.keras, else the newest finished run of that kind."""
    bundled = BUNDLED_DIR / f"{arch}.keras"
    if bundled.exists():
        return bundled
    from mnistkit.runs import RunStore, resolve_runs_dir

    info = RunStore(resolve_runs_dir(runs_dir)).latest(arch)
    return info.model_path if info else None


def synthetic_drawings(n: int, seed: int = 0) -> list[bytes]:
    """`n` canvas PNGs: 2–4 random strokes, brush 18–22 px, random size and place."""
    rng = np.random.default_rng(seed)
    drawings = []
    for _ in range(n):
        img = Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 255))
        pen = ImageDraw.Draw(img)
        size = rng.uniform(80, 220)
        x0, y0 = rng.uniform(20, SIDE - 20 - size, 2) if size < SIDE - 40 else (20.0, 20.0)
        width = int(rng.integers(18, 23))
        for _ in range(int(rng.integers(2, 5))):
            points = [(x0 + rng.uniform(0, size), y0 + rng.uniform(0, size)) for _ in range(4)]
            pen.line(points, fill=(255, 255, 255, 255), width=width, joint="curve")
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        drawings.append(buf.getvalue())
    return drawings


def percentiles(ms: list[float]) -> str:
    a = np.asarray(ms)
    return f"p50 {np.percentile(a, 50):7.2f} ms   p95 {np.percentile(a, 95):7.2f} ms"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    paths = {
        "dense": args.dense or find_model("dense", args.runs_dir),
        "cnn": args.cnn or find_model("cnn", args.runs_dir),
    }
    missing = [arch for arch, path in paths.items() if path is None]
    if missing:
        print(
            f"no {' or '.join(missing)} model: pass --dense/--cnn, or train one "
            "(python -m mnistkit train --arch cnn)",
            file=sys.stderr,
        )
        return 1

    from mnistkit.predict import load_predictor
    from mnistkit.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    predictors = {arch: load_predictor(path) for arch, path in paths.items()}
    pngs = synthetic_drawings(args.n, args.seed)
    for png in pngs[:10]:  # warm up: first calls allocate
        x = preprocess_digit(np.asarray(Image.open(io.BytesIO(png)))).input
        for p in predictors.values():
            p.proba(x)

    times: dict[str, list[float]] = {k: [] for k in ("decode", "preprocess", *paths, "total")}
    empty = 0
    for png in pngs:
        t0 = time.perf_counter()
        image = np.asarray(Image.open(io.BytesIO(png)))  # what CanvasResult.image_data does
        t1 = time.perf_counter()
        result = preprocess_digit(image)
        t2 = time.perf_counter()
        if result.input is None:
            empty += 1
            continue
        marks = [t2]
        for p in predictors.values():
            p.proba(result.input)
            marks.append(time.perf_counter())
        times["decode"].append((t1 - t0) * 1e3)
        times["preprocess"].append((t2 - t1) * 1e3)
        for arch, start, end in zip(paths, marks, marks[1:], strict=False):
            times[arch].append((end - start) * 1e3)
        times["total"].append((marks[-1] - t1) * 1e3)

    contrast: dict[str, list[float]] = {arch: [] for arch in paths}
    inputs = [preprocess_digit(np.asarray(Image.open(io.BytesIO(png)))).input for png in pngs]
    inputs = [x[None] for x in inputs if x is not None][: CONTRAST_N + 2]
    for arch, p in predictors.items():
        p.model.predict(inputs[0], verbose=0)  # warm up
        for x in inputs[1:]:
            t0 = time.perf_counter()
            p.model.predict(x, verbose=0)
            contrast[arch].append((time.perf_counter() - t0) * 1e3)

    print(f"draw → probabilities, {len(times['total'])} synthetic 280×280 drawings ({empty} empty)")
    for arch, path in paths.items():
        print(f"  {arch:5s} model: {path}")
    print(f"  {'PNG decode':34s} {percentiles(times['decode'])}")
    print(f"  {'preprocess_digit':34s} {percentiles(times['preprocess'])}")
    for arch in paths:
        print(f"  {'Predictor.proba, ' + arch:34s} {percentiles(times[arch])}")
    total = f"preprocess + proba ({' + '.join(paths)})"
    print(f"  {total:34s} {percentiles(times['total'])}")
    for arch in paths:
        label = f"model.predict, {arch} (contrast)"
        print(f"  {label:34s} {percentiles(contrast[arch])}")
    p50 = float(np.percentile(times["total"], 50))
    verdict = "meets" if p50 <= GOAL_MS else "MISSES"
    print(f"p50 {p50:.2f} ms {verdict} the goal of ≤ {GOAL_MS:g} ms for two models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
