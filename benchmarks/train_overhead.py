"""Training overhead: the app's training path against a bare `model.fit`, as a per-epoch ratio.

The app path is a `TrainingJob` (worker thread, job queue, stop and recorder callbacks
with per-batch progress, atomic best-checkpoint saving, history written every epoch, the
epoch snapshots for replays) while this thread polls `snapshot()` every 0.7 s and produces
the live panel's pictures (conv 1's kernels, the hidden-space map) for each new epoch, as
the Train page's fragment does. The bare
path is `model.fit` of the same compiled model (`build_model`), data and batch size, with
only an epoch timer. The job skips data preparation (it is handed the same prepared
arrays), so both sides time training alone.

An epoch is timed from one `on_epoch_begin` to the next (the last one to `on_train_end`) by
the same `EpochTimer` on both paths (the job hands it to `train(callbacks=...)`, which runs
it after the run's own), so the app's epoch-end work (checkpoint, history file) is inside
it; wall and process CPU seconds are both printed. The first epoch of every run is dropped
(tracing). Both paths run in this process, alternating, `--rounds` times; the ratio of
medians is printed. Then each piece of the app's path is timed alone, as a share of an
epoch (those figures do not swing with the machine's load the way a whole epoch does).
Goal (issue 6): ratio ≤ 1.05.

    MNISTKIT_DATA_DIR=../shared/datasets/mnist python benchmarks/train_overhead.py
    python benchmarks/train_overhead.py --batch-size 128 --steps-per-execution 16 --lr 0.01
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GOAL = 1.05
POLL_S = 0.7  # app_pages/train.py POLL_SECONDS


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def page_redraw(snap) -> None:
    """What the Train page's fragment does with a snapshot, less the websocket: the curve
    frame and the Arrow bytes `st.vega_lite_chart` sends, for both charts."""
    from streamlit.dataframe_util import convert_anything_to_arrow_bytes

    from ui import charts

    frame = charts.curve_frame(snap.batches, snap.history)
    for metric in charts.METRICS:
        convert_anything_to_arrow_bytes(frame[frame["metric"] == metric].drop(columns="metric"))


def live_panel(run_dir: str | None, drawn: dict) -> None:
    """What the live panel computes on a poll: the snapshot list, and for a new epoch its
    kernels and map as PNG (the page caches those per epoch, so later polls only list)."""
    from mnistkit import replay
    from ui import replay_pictures as pics

    found = replay.epochs(run_dir) if run_dir else []
    if found and found[-1] not in drawn:
        epoch = found[-1]
        frame = replay.map_at(run_dir, epoch)
        kernels = replay.kernels_at(run_dir, epoch)
        drawn[epoch] = (
            pics.map_png(frame.xy, frame.labels, frame.wrong) if frame is not None else b"",
            pics.tiles_png(kernels, 4, "RdBu_r", True, px=14) if kernels is not None else b"",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="cnn", choices=("dense", "cnn"))
    parser.add_argument("--subset", type=int, default=None, help="default: all 60 000 images")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import keras

    import mnistkit.training as training
    from mnistkit.callbacks import BestCheckpoint, RecorderCallback, StopOnRequest
    from mnistkit.config import seed_defaults
    from mnistkit.jobs import JobQueue, TrainingJob
    from mnistkit.models import build_model
    from mnistkit.progress import Progress
    from mnistkit.runs import RunStore
    from mnistkit.training import snapshot_writer

    config = seed_defaults(args.arch).replace(  # the seed model and dropout for --arch
        epochs=args.epochs,
        batch_size=args.batch_size,
        subset=args.subset,
        patience=0,
        steps_per_execution=args.steps_per_execution,
        learning_rate=args.lr,
    )
    data = training.prepare_data(config)
    steps = -(-len(data.x_train) // config.batch_size)

    class Clock:
        """Epoch boundaries (wall, CPU) from on_epoch_begin to the next, or to on_train_end."""

        def __init__(self) -> None:
            self.marks: list[tuple[float, float]] = []

        def mark(self) -> None:
            self.marks.append((time.perf_counter(), time.process_time()))

        def epochs(self) -> list[tuple[float, float]]:
            m = self.marks
            return [(b[0] - a[0], b[1] - a[1]) for a, b in zip(m, m[1:], strict=False)][1:]

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self, clock: Clock) -> None:
            super().__init__()
            self.clock = clock

        def on_epoch_begin(self, epoch, logs=None):
            self.clock.mark()

        def on_train_end(self, logs=None):
            self.clock.mark()

    training.prepare_data = lambda config, data_dir=None: data

    def bare() -> list[tuple[float, float]]:
        keras.utils.set_random_seed(config.seed)
        model = build_model(config, steps_per_epoch=steps)
        clock = Clock()
        model.fit(
            data.x_train,
            data.y_train,
            validation_data=(data.x_val, data.y_val),
            epochs=config.epochs,
            batch_size=config.batch_size,
            verbose=0,
            callbacks=[EpochTimer(clock)],
        )
        return clock.epochs()

    def app(store: RunStore) -> list[tuple[float, float]]:
        clock = Clock()  # the same timer, after the run's own callbacks
        job = TrainingJob(
            config, store, name="overhead", queue=JobQueue(1), callbacks=[EpochTimer(clock)]
        )
        job.start()
        drawn: dict = {}
        while job.alive:
            live_panel(job.snapshot().run_dir, drawn)  # what the page's fragment does
            time.sleep(POLL_S)
        snap = job.snapshot()
        if snap.status != "completed":
            raise SystemExit(f"app run ended {snap.status}: {snap.message}")
        return clock.epochs()

    print(
        f"{args.arch}, {len(data.x_train)} training images, batch {config.batch_size}, "
        f"steps_per_execution {config.steps_per_execution}, {steps} steps/epoch, "
        f"{config.epochs} epochs × {args.rounds} rounds (first epoch of each run dropped)"
    )
    bare_t: list[tuple[float, float]] = []
    app_t: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(tmp)
        for r in range(args.rounds):
            la = load()
            b, a = bare(), app(store)
            bare_t += b
            app_t += a
            print(
                f"round {r + 1}: bare {statistics.median(x[0] for x in b):.2f} s "
                f"({statistics.median(x[1] for x in b):.2f} cpu-s), "
                f"app {statistics.median(x[0] for x in a):.2f} s "
                f"({statistics.median(x[1] for x in a):.2f} cpu-s) per epoch   load {la}→{load()}",
                flush=True,
            )
    wall_b, wall_a = (statistics.median(x[0] for x in t) for t in (bare_t, app_t))
    cpu_b, cpu_a = (statistics.median(x[1] for x in t) for t in (bare_t, app_t))
    print(
        f"median per epoch: bare {wall_b:.2f} s, app {wall_a:.2f} s → wall ratio "
        f"{wall_a / wall_b:.3f}; CPU {cpu_b:.2f} vs {cpu_a:.2f} cpu-s → CPU ratio "
        f"{cpu_a / cpu_b:.3f} (goal ≤ {GOAL})"
    )

    # --- the pieces, timed alone ---------------------------------------------------------
    import tensorflow as tf

    keras.utils.set_random_seed(config.seed)
    model = build_model(config, steps_per_epoch=steps)
    model.fit(data.x_train[:256], data.y_train[:256], batch_size=config.batch_size, verbose=0)
    calls_per_epoch = -(-steps // config.steps_per_execution)

    def per_call(fn, n: int) -> float:
        fn()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n

    progress = Progress()
    progress.begin(config.epochs, steps)
    recorder, stopper = RecorderCallback(progress), StopOnRequest(progress.stop_event)
    recorder.set_model(model)
    stopper.set_model(model)
    recorder.on_epoch_begin(0)
    step = [0]
    tensors = {"loss": tf.constant(0.3), "accuracy": tf.constant(0.9)}

    def batch_end() -> None:
        step[0] = step[0] % steps + 1
        logs = keras.src.utils.python_utils.pythonify_logs(tensors)  # what CallbackList does
        recorder.on_train_batch_end(step[0] - 1, logs)
        stopper.on_train_batch_end(step[0] - 1, logs)

    t_batch = per_call(batch_end, 3000)
    for _ in range(max(0, 1500 * 3 - len(progress._batches))):
        batch_end()  # a snapshot at its size limit
    t_snap = per_call(progress.snapshot, 200)
    t_draw = per_call(lambda: page_redraw(progress.snapshot()), 20)
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(tmp)
        run_dir = store.create("pieces", config.to_dict())
        ckpt = BestCheckpoint(store.model_path(run_dir))
        ckpt.set_model(model)
        value = [1.0]

        def save() -> None:
            value[0] *= 0.9
            ckpt.on_epoch_end(0, {"val_loss": value[0]})

        t_save = per_call(save, 10)
        for e in range(config.epochs):
            progress.add_epoch(
                e, {"loss": 0.1, "accuracy": 0.9, "val_loss": 0.1, "val_accuracy": 1}
            )
        t_hist = per_call(lambda: store.write_history(run_dir, progress.snapshot().history), 20)
        writer = snapshot_writer(model, run_dir, data, config.epochs)
        writer.set_model(model)
        writer.on_train_begin()
        t_snapshot = per_call(lambda: writer._write(1), 5)

        def new_epoch_panel() -> None:
            live_panel(str(run_dir), {})

        t_panel = per_call(new_epoch_panel, 5)
        t_list = per_call(lambda: live_panel(str(run_dir), {1: None}), 200)
    epoch = wall_b
    rows = [
        ("recorder + stopper on_train_batch_end (+ logs)", t_batch, calls_per_epoch),
        ("Progress.snapshot() at 1500 points (page poll)", t_snap, epoch / POLL_S),
        ("page redraw: curve frames → Arrow (fragment)", t_draw, epoch / POLL_S),
        ("BestCheckpoint: get_weights + atomic model.save", t_save, 1),
        ("history.json written (snapshot + atomic write)", t_hist, 1),
        ("SnapshotWriter: 2 000-image map + weights npz", t_snapshot, 1),
        ("live panel, new epoch: read + map/kernel PNGs", t_panel, 1),
        ("live panel, other polls: list snapshots/", t_list, epoch / POLL_S),
    ]
    print(f"\npieces of the app path, timed alone (share of a {epoch:.2f} s bare epoch):")
    total = 0.0
    for label, seconds, per_epoch in rows:
        share = seconds * per_epoch / epoch
        total += share
        print(f"  {label:50s} {seconds * 1e3:8.3f} ms × {per_epoch:6.0f}/epoch = {share:6.2%}")
    print(f"  {'sum':50s} {'':26s} {total:6.2%}   load {load()}")


if __name__ == "__main__":
    main()
