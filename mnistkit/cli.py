"""Command line: `python -m mnistkit {train,evaluate,predict,runs,pretrain,download}`.

Exit status: 0 on success, 2 on a usage error (argparse), 1 on any other error with one
line on stderr. With `--json` the last line of stdout is one JSON object (for `predict`:
one object per image, one per line).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from mnistkit.atomic import strict_json
from mnistkit.catalog import BUNDLED_DIR
from mnistkit.config import (
    ACTIVATION_NAMES,
    ARCHS,
    LR_SCHEDULES,
    OPTIMIZER_NAMES,
    PRESETS,
    TrainConfig,
)
from mnistkit.errors import MnistkitError
from mnistkit.quiet import import_tensorflow_quietly

CLI_PRESET = "seed"  # `train` starts from the seed course's settings unless --preset says
TRAIN_FLAGS = (  # `train` flags that override the preset: argparse dests = TrainConfig fields
    "epochs",
    "batch_size",
    "dropout",
    "optimizer",
    "learning_rate",
    "activation",
    "seed",
    "subset",
    "patience",
    "augment",
    "lr_schedule",
    "steps_per_execution",
)


class CliError(MnistkitError):
    """An error to report in one line with exit status 1."""


# What `predict` prints for an image with no digit (`Preprocessed.reason`).
EMPTY_REASONS = {
    "empty": "Draw a digit",
    "dot": "That looks like a single dot — draw a whole digit",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mnistkit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a dense network or a CNN and save the run")
    t.add_argument("--arch", choices=ARCHS, required=True)
    t.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        default=CLI_PRESET,
        help="the settings to start from for --arch; the flags below override them "
        f"(default: {CLI_PRESET})",
    )
    # Each flag defaults to None: "the preset's value" (see _preset_default for the help text).
    t.add_argument("--epochs", type=int, help=_preset_default("epochs"))
    t.add_argument("--batch-size", type=int, help=_preset_default("batch_size"))
    t.add_argument("--dropout", type=float, help=_preset_default("dropout"))
    t.add_argument("--optimizer", choices=OPTIMIZER_NAMES, help=_preset_default("optimizer"))
    t.add_argument("--learning-rate", type=float, help=_preset_default("learning_rate"))
    t.add_argument("--activation", choices=ACTIVATION_NAMES, help=_preset_default("activation"))
    t.add_argument("--seed", type=int, help=_preset_default("seed"))
    t.add_argument("--subset", type=int, help="train on a stratified subset of N images")
    t.add_argument(
        "--patience", type=int, help="early stopping; 0 disables it. " + _preset_default("patience")
    )
    t.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        help="random shift/rotation/zoom. " + _preset_default("augment"),
    )
    t.add_argument("--lr-schedule", choices=LR_SCHEDULES, help=_preset_default("lr_schedule"))
    t.add_argument("--steps-per-execution", type=int, help=_preset_default("steps_per_execution"))
    _common(t, data=True, runs=True, json_flag=True)
    t.add_argument("--name", help="run name (sanitised)")

    e = sub.add_parser("evaluate", help="test accuracy and confusion matrix of a model or run")
    e.add_argument("model", metavar="MODEL_OR_RUN")
    _common(e, data=True, json_flag=True)

    p = sub.add_parser("predict", help="predict the digit in PNG/JPEG images")
    p.add_argument("--model", required=True, metavar="MODEL_OR_RUN")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    _common(p, json_flag=True)

    r = sub.add_parser("runs", help="list the runs")
    _common(r, runs=True, json_flag=True)

    b = sub.add_parser("pretrain", help="train and export the bundled models (models/*.keras)")
    b.add_argument("--arch", choices=(*ARCHS, "both"), default="both")
    b.add_argument("--out", default=BUNDLED_DIR, help="folder for {arch}.keras and {arch}.json")
    b.add_argument("--no-augment", action="store_true", help="the recipe without augmentation")
    b.add_argument("--epochs", type=int, help="override the recipe (for quick checks)")
    b.add_argument("--subset", type=int, help="override the recipe (for quick checks)")
    b.add_argument("--seed", type=int, help="override the recipe's seed (for seed studies)")
    b.add_argument(
        "--drawings",
        metavar="FILE",
        help="also train on these UNIPEN pen drawings, e.g. pendigits-orig.tra.gz "
        "(rendered like canvas drawings; default: MNIST only)",
    )
    b.add_argument(
        "--drawing-writers",
        metavar="IDS",
        help="only these writers' drawings, e.g. 1-20 (default: all 30)",
    )
    b.add_argument("--renders", type=int, help="renderings per drawing (default 3)")
    _common(b, data=True, runs=True, json_flag=True)

    d = sub.add_parser("download", help="fetch MNIST once and keep it for offline use")
    d.add_argument("--dir", default=None, help="where to store mnist.npz (default ./data)")
    return parser


def _preset_default(field: str) -> str:
    """Help text with the default preset's value: 'default: from --preset (seed: 32)'."""
    values = {arch: getattr(PRESETS[CLI_PRESET].make(arch), field) for arch in ARCHS}
    if len(set(values.values())) == 1:
        shown = str(next(iter(values.values())))
    else:
        shown = ", ".join(f"{v} for {arch}" for arch, v in values.items())
    return f"default: from --preset ({CLI_PRESET}: {shown})"


def _common(p: argparse.ArgumentParser, data=False, runs=False, json_flag=False) -> None:
    if data:
        p.add_argument(
            "--data-dir",
            help="folder with the MNIST IDX files or mnist.npz "
            "(default: $MNISTKIT_DATA_DIR, else Keras' download)",
        )
    if runs:
        p.add_argument("--runs-dir", help="default: $MNISTKIT_RUNS_DIR, else ./runs")
    if json_flag:
        p.add_argument("--json", action="store_true", help="machine-readable output")


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The preset's config for --arch, with every flag that was given laid over it."""
    given = {f: getattr(args, f) for f in TRAIN_FLAGS if getattr(args, f) is not None}
    return PRESETS[args.preset].make(args.arch).replace(**given)


def cmd_train(args: argparse.Namespace) -> int:
    from mnistkit.progress import Progress
    from mnistkit.runs import RunStore, resolve_runs_dir

    try:
        config = train_config(args)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    from mnistkit.data import load_mnist

    load_mnist(args.data_dir)  # fail fast with the data error, before TensorFlow loads
    import_tensorflow_quietly()
    from mnistkit.jobs import run_training  # here, or on Ray with MNISTKIT_RAY_ADDRESS

    store = RunStore(resolve_runs_dir(args.runs_dir))
    progress = Progress()
    # Progress goes to stdout too: with --json only the *last* line must be the JSON object,
    # and stderr stays free for the one-line error of a failed run.
    printer = _ProgressPrinter(progress, sys.stdout)
    printer.start()
    try:
        result = run_training(
            config, store, name=args.name, data_dir=args.data_dir, progress=progress
        )
    except KeyboardInterrupt:
        progress.request_stop()
        raise
    finally:
        printer.stop()
    m = result.metrics or {}
    summary = {
        "run_dir": str(result.run_dir),
        "status": result.status,
        "test_accuracy": m.get("test_accuracy"),
        "test_loss": m.get("test_loss"),
        "epochs_run": m.get("epochs_run"),
        "train_seconds": m.get("train_seconds"),
        "params": m.get("params"),
    }
    if args.json:
        print(strict_json(summary))
    else:
        print(f"{result.status}: {result.message}\nrun saved in {result.run_dir}")
    return 0


class _ProgressPrinter:
    """Prints one line per epoch (and a live batch counter on a terminal) from a Progress."""

    def __init__(self, progress, stream) -> None:
        import threading

        self.progress, self.stream = progress, stream
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._shown = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()
        self._print_epochs()

    def _loop(self) -> None:
        while not self._done.wait(0.5):
            self._print_epochs()
            s = self.progress.snapshot()
            if self.stream.isatty() and s.status == "running":
                self.stream.write(
                    f"\r  epoch {s.epoch + 1}/{s.epochs} batch {s.step}/{s.steps_per_epoch}   "
                )
                self.stream.flush()

    def _print_epochs(self) -> None:
        h = self.progress.snapshot().history
        for i in range(self._shown, len(h.get("loss", []))):
            parts = [f"epoch {i + 1}"] + [
                f"{k} {h[k][i]:.4f}"
                for k in ("loss", "accuracy", "val_loss", "val_accuracy")
                if k in h and i < len(h[k])
            ]
            if "epoch_seconds" in h and i < len(h["epoch_seconds"]):
                parts.append(f"{h['epoch_seconds'][i]:.1f}s")
            self.stream.write(("\r" if self.stream.isatty() else "") + "  ".join(parts) + "\n")
            self.stream.flush()
            self._shown = i + 1


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mnistkit.data import load_mnist, to_model_input
    from mnistkit.predict import load_model, resolve_model_path

    resolve_model_path(args.model)  # a missing file fails before the data and TensorFlow load
    (_, _), (x_test, y_test) = load_mnist(args.data_dir)
    import_tensorflow_quietly()
    from mnistkit.training import evaluate

    metrics = evaluate(load_model(args.model), to_model_input(x_test), y_test)
    metrics.pop("predictions")
    if args.json:
        print(strict_json(metrics))
    else:
        print(f"test accuracy {metrics['test_accuracy']:.4f}  test loss {metrics['test_loss']:.4f}")
        print("confusion matrix (rows: true digit, columns: predicted):")
        for i, row in enumerate(metrics["confusion_matrix"]):
            print(f"  {i}: " + " ".join(f"{v:5d}" for v in row))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from mnistkit.imaging import ImageError, load_image
    from mnistkit.preprocess import preprocess_digit

    results: list[dict] = []
    inputs: list[np.ndarray] = []
    slots: list[int] = []
    for path in args.images:
        entry = {"file": path, "digit": None, "probabilities": None, "error": None}
        try:
            prep = preprocess_digit(load_image(path))
        except (ImageError, OSError) as exc:
            entry["error"] = str(exc)
        else:
            if prep.input is None:
                entry["error"] = EMPTY_REASONS[prep.reason or "empty"]
            else:
                inputs.append(prep.input)
                slots.append(len(results))
        results.append(entry)
    from mnistkit.predict import resolve_model_path

    resolve_model_path(args.model)
    import_tensorflow_quietly()
    if inputs:
        from mnistkit.predict import load_predictor

        probs = load_predictor(args.model).proba(np.stack(inputs))
        for i, p in zip(slots, probs, strict=True):
            results[i]["digit"] = int(np.argmax(p))
            results[i]["probabilities"] = [round(float(v), 6) for v in p]
    else:
        from mnistkit.predict import load_model

        load_model(args.model)  # still report a bad model file
    for r in results:
        if args.json:
            print(strict_json(r))
        elif r["error"]:
            print(f"{r['file']}: {r['error']}")
        else:
            print(f"{r['file']}: {r['digit']} ({max(r['probabilities']):.1%})")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from mnistkit.runs import RunStore, resolve_runs_dir

    store = RunStore(resolve_runs_dir(args.runs_dir))
    store.mark_interrupted()  # runs a killed process left "running" are shown as interrupted
    infos = store.list()
    if args.json:
        print(strict_json([_run_row(i) for i in infos]))
        return 0
    if not infos:
        print("no runs yet: train one with `python -m mnistkit train --arch cnn`")
    for i in infos:
        acc = f"{i.test_accuracy:.2%}" if i.test_accuracy is not None else "-"
        note = f"  ({i.error})" if i.error else ""
        print(f"{i.run_id:40s} {i.arch or '?':6s} {i.status:11s} {acc:>7s}{note}")
    return 0


def _run_row(info) -> dict:
    return {
        "run_id": info.run_id,
        "path": str(info.path),
        "arch": info.arch,
        "status": info.status,
        "test_accuracy": info.test_accuracy,
        "error": info.error,
    }


def cmd_pretrain(args: argparse.Namespace) -> int:
    from mnistkit.bundle import recipe
    from mnistkit.data import load_mnist

    archs = ARCHS if args.arch == "both" else (args.arch,)
    keys = ("epochs", "subset", "seed")
    overrides = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
    try:
        drawings = _drawings_spec(args)
        configs = [
            recipe(a, not args.no_augment, drawings is not None).replace(**overrides) for a in archs
        ]
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    load_mnist(args.data_dir)  # fail fast with the data error, before TensorFlow loads
    import_tensorflow_quietly()
    from mnistkit.bundle import pretrain

    stream = sys.stderr if args.json else sys.stdout
    for config in configs:
        print(f"training the bundled {config.arch} ({config.epochs} epochs)...", file=stream)
        info = pretrain(
            config.arch,
            args.out,
            config=config,
            data_dir=args.data_dir,
            runs_dir=args.runs_dir,
            command=_pretrain_command(config.arch, args),
            drawings=drawings,
        )
        summary = {k: info[k] for k in ("arch", "test_accuracy", "epochs_run", "train_seconds")}
        summary["path"] = os.path.join(args.out, info["file"])
        if args.json:
            print(strict_json(summary))
        else:
            print(
                f"saved {summary['path']}: test accuracy {info['test_accuracy']:.2%} "
                f"after {info['epochs_run']} epochs ({info['train_seconds']:.0f} s)"
            )
    return 0


def _drawings_spec(args: argparse.Namespace):
    """The DrawingsSpec that --drawings, --drawing-writers and --renders ask for, or None."""
    if args.drawings is None:
        if args.drawing_writers is not None or args.renders is not None:
            raise ValueError("--drawing-writers and --renders need --drawings FILE")
        return None
    from mnistkit.drawings import DrawingsSpec, parse_writers

    if not os.path.isfile(args.drawings):
        raise CliError(f"--drawings: no such file: {args.drawings}")
    extra: dict = {}
    if args.drawing_writers is not None:
        extra["writers"] = parse_writers(args.drawing_writers)
    if args.renders is not None:
        extra["repeats"] = args.renders
    return DrawingsSpec(args.drawings, **extra)


def _pretrain_command(arch: str, args: argparse.Namespace) -> str:
    """The command line that reproduces one bundled model (without machine-specific paths)."""
    parts = ["python -m mnistkit pretrain", f"--arch {arch}"]
    parts += ["--no-augment"] if args.no_augment else []
    keys = ("epochs", "subset", "seed")
    parts += [f"--{k} {v}" for k in keys if (v := getattr(args, k)) is not None]
    if args.drawings is not None:
        parts.append(f"--drawings {os.path.basename(args.drawings)}")
    if args.drawing_writers is not None:
        parts.append(f"--drawing-writers {args.drawing_writers}")
    if args.renders is not None:
        parts.append(f"--renders {args.renders}")
    return " ".join(parts)


def cmd_download(args: argparse.Namespace) -> int:
    from mnistkit.data import download

    path = download(args.dir or "data")
    print(f"saved {path}; use it offline with MNISTKIT_DATA_DIR={path.parent}")
    return 0


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "runs": cmd_runs,
    "pretrain": cmd_pretrain,
    "download": cmd_download,
}


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    known = (MnistkitError, OSError)  # DataError, ImageError, ModelError, CliError
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 1
    except Exception as exc:  # one line on stderr, never a traceback
        prefix = "" if isinstance(exc, known) else f"{type(exc).__name__}: "
        print(f"error: {prefix}{_one_line(exc)}", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())[:500]


if __name__ == "__main__":
    sys.exit(main())
