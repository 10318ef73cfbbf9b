"""What "see it learn" costs: snapshots while training, bytes per run, a slider move, the map.

1. Trains the seed CNN (seed settings: batch 32, all 60 000 images, `--epochs` epochs)
   through `train()`, and prints each snapshot's write time against the epoch's time.
2. Bytes: writes the 21 snapshots a 20-epoch seed run keeps (the sizes do not depend on
   training: float16 weights do not compress) and sums them.
3. float16: the trained model's test-set predictions with its weights rounded to float16.
4. The projection: per epoch, how much of the hidden layer's spread the 2-D PCA map shows,
   how well it keeps the digits apart (5-nearest-neighbour agreement: 2-D vs all units),
   how far points move between epochs with and without the Procrustes turn, fit time.
5. A slider move on the server: what the replay fragment computes for a new epoch (weights
   swapped into the run's network, feature maps, saliency, prediction, five PNGs), against
   rebuilding a model per epoch; and the pictures' cost against matplotlib's.

    MNISTKIT_DATA_DIR=../shared/datasets/mnist python benchmarks/snapshots.py --epochs 2
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

import numpy as np  # noqa: E402


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def timed(fn, n: int = 5) -> float:
    """Median seconds of `n` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--subset", type=int, default=None, help="default: all 60 000 images")
    args = parser.parse_args()

    import mnistkit.training as training
    from mnistkit import activations, hidden_map, replay, snapshots
    from mnistkit.config import seed_defaults
    from mnistkit.runs import RunStore

    config = seed_defaults("cnn").replace(epochs=args.epochs, patience=0, subset=args.subset)
    writers = []
    make_writer = training.snapshot_writer

    def keep(*a, **k):
        writers.append(make_writer(*a, **k))
        return writers[-1]

    training.snapshot_writer = keep
    tmp = Path(tempfile.mkdtemp(prefix="mnistkit-bench-snapshots-"))
    store = RunStore(tmp)
    data = training.prepare_data(config)
    print(f"1. seed CNN, {len(data.x_train)} training images, batch 32, {args.epochs} epochs; "
          f"load {load()}")  # fmt: skip
    result = training.train(config, store, name="bench", data=data)
    run_dir, writer = result.run_dir, writers[-1]
    epoch_s = RunStore(tmp).load(run_dir.name).history["epoch_seconds"]
    print(f"   epoch seconds {[round(s, 2) for s in epoch_s]}; load {load()}")
    print(f"   snapshot ms (epoch 0 first) {[round(s * 1e3, 1) for s in writer.seconds]}")
    per_epoch = statistics.median(writer.seconds[1:])
    share = per_epoch / statistics.median(epoch_s)
    print(f"   → {per_epoch * 1e3:.1f} ms per epoch = {share:.2%} of an epoch (goal ≤ 2 %)")
    print(f"   bytes per snapshot {writer.bytes}")

    # 2. bytes of a 20-epoch run
    model = writer.model
    tmp20 = Path(tempfile.mkdtemp(prefix="mnistkit-bench-20-"))
    every = snapshots.weights_every(int(model.count_params()), 20)
    w20 = training.SnapshotWriter(tmp20, writer.x_sample, writer.sample, every=every)
    w20.set_model(model)
    w20.on_train_begin()
    for e in range(20):
        w20.on_epoch_end(e)
    total = snapshots.run_bytes(tmp20)
    print(f"\n2. a 20-epoch seed CNN run keeps {total / 1e6:.2f} MB in snapshots/ "
          f"(weights on every {every}. epoch; {int(model.count_params()):,} parameters; "
          f"goal ≤ 10 MB)")  # fmt: skip

    # 3. float16 weights against float32
    from mnistkit.training import predict_proba

    exact = predict_proba(model, data.x_test).argmax(1)
    weights = model.get_weights()
    model.set_weights([w.astype(np.float16).astype(np.float32) for w in weights])
    rounded = predict_proba(model, data.x_test).argmax(1)
    model.set_weights(weights)
    agree = float(np.mean(exact == rounded))
    print(f"\n3. float16 weights: test predictions agree with float32 on {agree:.3%} "
          f"({int(np.sum(exact != rounded))} of {len(exact)} differ)")  # fmt: skip

    # 4. the projection
    print("\n4. projection (2 000 test images, the last hidden layer):")
    print("   epoch  PCA var shown  5-NN 2-D  5-NN all units  move aligned  move raw")
    net = replay.EpochNetwork(run_dir)
    x_sample, labels = writer.x_sample, writer.sample.labels
    prev_aligned = prev_raw = None
    for e in replay.epochs(run_dir):
        hidden = replay.hidden_at(net, e, x_sample)
        aligned = replay.map_at(run_dir, e).xy
        proj = hidden_map.fit(hidden)
        raw = proj.apply(hidden)
        moved = (
            "" if prev_aligned is None else
            f"{np.mean(np.linalg.norm(aligned - prev_aligned, axis=1)):12.2f}  "
            f"{np.mean(np.linalg.norm(raw - prev_raw, axis=1)):8.2f}"
        )  # fmt: skip
        print(f"   {e:5d}  {hidden_map.explained(hidden, proj):13.1%}  "
              f"{hidden_map.knn_agreement(aligned, labels):8.1%}  "
              f"{hidden_map.knn_agreement(hidden, labels):14.1%}  {moved}")  # fmt: skip
        prev_aligned, prev_raw = aligned, raw
    fit_s = timed(lambda: hidden_map.fit(hidden, prev_aligned), 20)
    print(f"   PCA + Procrustes fit: {fit_s * 1e3:.2f} ms")

    # 5. a slider move
    from mnistkit.models import build_network
    from ui import replay_pictures as pics

    x = x_sample[7]
    last = replay.epochs(run_dir)[-1]

    def move(epoch: int) -> None:
        view = replay.image_view(net, epoch, x)
        frame = replay.map_at(run_dir, epoch)
        pics.map_png(frame.xy, frame.labels, frame.wrong)
        pics.confusion_cells_png(frame.confusion())
        pics.tiles_png(replay.kernels_at(run_dir, epoch), 4, "RdBu_r", True, px=14)
        pics.saliency_png(x, view.saliency)
        for maps in view.feature_maps.values():
            pics.tiles_png(maps.transpose(2, 0, 1), 16, px=3)

    flip = [0]

    def alternate() -> None:
        flip[0] ^= 1
        move(last if flip[0] else 0)

    def alternate_view() -> None:
        flip[0] ^= 1
        replay.image_view(net, last if flip[0] else 0, x)

    t_move = timed(alternate, 10)
    t_view = timed(alternate_view, 10)

    def rebuild() -> None:
        fresh = build_network(config)
        snap = snapshots.read_epoch(run_dir, 0)
        for layer, values in snap.weights.items():
            fresh.get_layer(layer).set_weights(values)
        activations.feature_maps(fresh, x)  # its first trace

    t_rebuild = timed(rebuild, 3)
    frame = replay.map_at(run_dir, last)
    t_map = timed(lambda: pics.map_png(frame.xy, frame.labels, frame.wrong), 10)
    t_cm = timed(lambda: pics.confusion_cells_png(frame.confusion()), 10)

    def with_matplotlib() -> None:
        from ui import figures, pictures

        fig = figures.map_grid(replay.kernels_at(run_dir, last), 4, "RdBu_r", True)
        pictures._png(fig)
        pictures.confusion_figure_png.clear()  # st.cache_data: time the drawing, not the cache
        pictures.confusion_figure_png(tuple(map(tuple, frame.confusion().tolist())), "")

    t_mpl = timed(with_matplotlib, 3)
    print(f"\n5. slider move, server side (epochs 0 ↔ {last}, medians; load {load()}):")
    print(f"   whole fragment's work, uncached: {t_move * 1e3:.1f} ms "
          f"(network at the epoch + feature maps + saliency: {t_view * 1e3:.1f} ms)")  # fmt: skip
    print(f"   a model rebuilt per epoch instead: {t_rebuild * 1e3:.0f} ms before any picture")
    print(f"   pictures: map {t_map * 1e3:.1f} ms, confusion {t_cm * 1e3:.1f} ms; "
          f"matplotlib kernels + confusion {t_mpl * 1e3:.0f} ms")  # fmt: skip
    print(f"\nrun folder kept: {run_dir}")


if __name__ == "__main__":
    main()
