"""How close to the hardware: the seed CNN's FLOPs, achieved GFLOP/s, the CPU's peak, and
where an epoch's time goes.

1. FLOPs from the layer shapes: forward multiply-adds (MACs) of every Conv2D and Dense layer;
   training costs ≈ 3 forward passes (forward, gradient w.r.t. inputs, gradient w.r.t.
   weights), 2 FLOPs a MAC. An epoch is the training images (forward + backward) plus the
   validation images (forward only).
2. The CPU's peak: cores × GHz × FP32 FLOPs a cycle (from lscpu's flags; the assumption is
   printed), beside what TensorFlow reaches on one large matrix product here and now (a
   ceiling that includes the machine's current load).
3. Achieved GFLOP/s: `--epochs` epochs of `model.fit` on full MNIST (the first, which traces,
   is dropped), train + validation timed apart.
4. A profile of one training epoch (`tf.profiler`, read back from its XPlane file): time in
   forward, backward, optimizer, loss/metrics ops and per layer; the rest of the wall time
   is outside TensorFlow's ops (Python, dispatch, callbacks, waiting for a core).

    MNISTKIT_DATA_DIR=../shared/datasets/mnist python benchmarks/flops.py
    python benchmarks/flops.py --batch-size 32 --steps-per-execution 1   # the seed settings
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


# --- 1. FLOPs -----------------------------------------------------------------------------


def layer_macs(model) -> list[tuple[str, int]]:
    """Forward multiply-adds per image of every Conv2D and Dense layer, from their shapes."""
    rows = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            _, h, w, c_out = layer.output.shape
            kh, kw, c_in, _ = layer.kernel.shape
            rows.append((layer.name, h * w * c_out * kh * kw * c_in))
        elif kind == "Dense":
            c_in, c_out = layer.kernel.shape
            rows.append((layer.name, c_in * c_out))
    return rows


# --- 2. peak ------------------------------------------------------------------------------


def cpu_info() -> dict:
    """Model name, vendor, family, flags and clock from /proc/cpuinfo (lscpu reads the same)."""
    info: dict = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key and key not in info:
            info[key] = value
    return info


def peak_assumption(info: dict) -> tuple[int, str]:
    """FP32 FLOPs a cycle a core, and why."""
    flags = set(info.get("flags", "").split())
    vendor, family = info.get("vendor_id", ""), int(info.get("cpu family", "0") or 0)
    if "avx512f" in flags:
        if vendor == "AuthenticAMD" and family < 26:
            return 32, "AVX-512 on Zen 4: 256-bit FMA pipes (512-bit ops double-pumped) × 2"
        return 64, "AVX-512: two 512-bit FMA pipes (16 FP32 lanes × 2 FLOPs × 2 pipes)"
    if "avx2" in flags and "fma" in flags:
        return 32, "AVX2: two 256-bit FMA pipes (8 lanes × 2 FLOPs × 2 pipes)"
    return 8, "SSE: one 128-bit add + one multiply a cycle"


def matmul_ceiling(tf, n: int = 2048, repeats: int = 8) -> float:
    """GFLOP/s of one large FP32 matrix product (all cores), best of `repeats`."""
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    tf.matmul(a, b).numpy()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        tf.matmul(a, b).numpy()
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / min(times) / 1e9


# --- 4. profile ---------------------------------------------------------------------------


def profile_epoch(tf, model, x, y, batch_size: int) -> tuple[float, float, object, Path]:
    """One `fit` epoch under `tf.profiler`; (wall s, process CPU s, XSpace, log dir)."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    logdir = Path(tempfile.mkdtemp(prefix="mnistkit-profile-"))
    tf.profiler.experimental.start(str(logdir))
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    tf.profiler.experimental.stop()
    path = glob.glob(str(logdir / "**" / "*.xplane.pb"), recursive=True)[0]
    space = xplane_pb2.XSpace()
    space.ParseFromString(Path(path).read_bytes())
    return wall, cpu, space, logdir


LOSS = "loss, metrics, loop"
OP_RE = re.compile(r"^(?:.*StatefulPartitionedCall/)?(.*):(\w+)$")


def op_events(space, threads: str = "tf_Compute") -> list[tuple[str, str, float, float]]:
    """(name, op type, start s, duration s) of every TensorFlow op on the `threads` lines."""
    events = []
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        meta = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith(threads):
                continue
            for ev in line.events:
                full = meta.get(ev.metadata_id, "")
                m = OP_RE.match(full)
                if not m or "::" in full:  # executor bookkeeping wraps the ops
                    continue
                start = line.timestamp_ns * 1e-9 + ev.offset_ps * 1e-12
                events.append((m.group(1), m.group(2), start, ev.duration_ps * 1e-12))
    return events


def classify(name: str, op_type: str, model_name: str) -> tuple[str, str | None]:
    """(part, layer) of an op by its name scope.

    Grappler fuses Conv2D/MatMul + BiasAdd + ReLU into one op named after the activation
    layer (`conv1_act/Relu:_FusedConv2D`): it is counted for the conv/dense layer."""
    layer = None
    m = re.search(rf"{model_name}_\d+/(\w+?)_\d+/", name)
    if m:
        layer = m.group(1)
        if "Fused" in op_type:
            layer = layer.removesuffix("_act")
    if name.startswith("gradient_tape/"):
        return ("backward" if layer or "compile_loss" not in name else LOSS), layer
    if name.startswith(("adam/", "sgd/", "optimizer/")) or "/adam/" in name:
        return "optimizer", None
    if layer:
        return "forward", layer
    return LOSS, None


def busy_seconds(events) -> float:
    """Time at least one op was running (the union of op intervals over threads)."""
    spans = sorted((s, s + d) for _, _, s, d in events)
    total, end = 0.0, None
    begin = None
    for s, e in spans:
        if end is None or s > end:
            if end is not None:
                total += end - begin
            begin, end = s, e
        else:
            end = max(end, e)
    if end is not None:
        total += end - begin
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=128, help="default: the quick preset's")
    ap.add_argument("--steps-per-execution", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs (the first is dropped)")
    ap.add_argument("--ghz", type=float, help="clock for the peak (default: /proc/cpuinfo)")
    ap.add_argument("--flops-per-cycle", type=int, help="FP32 FLOPs a cycle a core (override)")
    ap.add_argument("--no-profile", action="store_true")
    args = ap.parse_args(argv)

    import keras
    import tensorflow as tf

    from mnistkit.config import TrainConfig
    from mnistkit.models import build_model
    from mnistkit.training import prepare_data

    config = TrainConfig(
        batch_size=args.batch_size, steps_per_execution=args.steps_per_execution, patience=0
    )
    data = prepare_data(config)
    n_train, n_val = len(data.x_train), len(data.x_val)
    model = build_model(config)

    # 1. FLOPs
    macs = layer_macs(model)
    fwd_macs = sum(m for _, m in macs)
    train_flop_img = 3 * 2 * fwd_macs
    epoch_flop = n_train * train_flop_img + n_val * 2 * fwd_macs
    print("seed CNN, forward multiply-adds per image:")
    for name, m in macs:
        print(f"  {name:8s} {m:>10,d} MACs")
    print(
        f"  total    {fwd_macs:>10,d} MACs → forward {2 * fwd_macs / 1e6:.2f} MFLOP, "
        f"training (×3) {train_flop_img / 1e6:.2f} MFLOP per image"
    )
    print(
        f"  an epoch: {n_train:,} training images × {train_flop_img / 1e6:.2f} MFLOP + "
        f"{n_val:,} validation × {2 * fwd_macs / 1e6:.2f} MFLOP = {epoch_flop / 1e12:.3f} TFLOP "
        f"(all 60 000 trained: {60_000 * train_flop_img / 1e12:.2f} TFLOP)"
    )

    # 2. peak
    info = cpu_info()
    cores = os.cpu_count() or 1
    ghz = args.ghz or float(info.get("cpu MHz", "0") or 0) / 1000
    fpc, why = peak_assumption(info)
    if args.flops_per_cycle:
        fpc, why = args.flops_per_cycle, "given on the command line"
    peak = cores * ghz * fpc
    print(f"\nCPU: {info.get('model name', '?')} (family {info.get('cpu family')}), {cores} cores")
    print(
        f"  peak FP32 = {cores} cores × {ghz:.2f} GHz × {fpc} FLOPs/cycle = {peak:.0f} GFLOP/s "
        f"(assumed: {why}; clock from /proc/cpuinfo, boost not visible in this VM)"
    )
    ceiling = matmul_ceiling(tf)
    print(
        f"  TensorFlow 2048×2048 matmul now (best of 8): {ceiling:.0f} GFLOP/s = "
        f"{ceiling / peak:.0%} of peak (load {load()}; above 100 %: the cores boost above "
        "the nominal clock)"
    )

    # 3. achieved
    class Split(keras.callbacks.Callback):
        """Per epoch: training seconds (to the last batch) and validation seconds."""

        def on_epoch_begin(self, epoch, logs=None):
            self.t0, self.c0 = time.perf_counter(), time.process_time()

        def on_test_begin(self, logs=None):
            self.t1 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            t2 = time.perf_counter()
            self.rows.append((self.t1 - self.t0, t2 - self.t1, time.process_time() - self.c0))

    split = Split()
    split.rows = []
    keras.utils.set_random_seed(config.seed)
    model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        batch_size=config.batch_size,
        epochs=args.epochs,
        verbose=0,
        callbacks=[split],
    )
    rows = split.rows[1:] or split.rows
    t_train = statistics.median(r[0] for r in rows)
    t_val = statistics.median(r[1] for r in rows)
    cpu_epoch = statistics.median(r[2] for r in rows)
    gf_train = n_train * train_flop_img / t_train / 1e9
    gf_val = n_val * 2 * fwd_macs / t_val / 1e9
    gf_epoch = epoch_flop / (t_train + t_val) / 1e9
    print(
        f"\nachieved (batch {config.batch_size}, steps_per_execution "
        f"{config.steps_per_execution}, median of {len(rows)} epochs, load {load()}):"
    )
    print(f"  training   {t_train:6.2f} s  {gf_train:6.1f} GFLOP/s")
    print(f"  validation {t_val:6.2f} s  {gf_val:6.1f} GFLOP/s")
    print(
        f"  epoch      {t_train + t_val:6.2f} s  {gf_epoch:6.1f} GFLOP/s = "
        f"{gf_epoch / peak:.1%} of peak, {gf_epoch / ceiling:.0%} of the matmul ceiling"
    )
    print(
        f"  CPU        {cpu_epoch:6.2f} cpu-s an epoch: "
        f"{cpu_epoch / (t_train + t_val) / cores:.0%} of the {cores} cores; "
        f"on an idle machine ≈ {cpu_epoch / cores:.2f} s an epoch, "
        f"{epoch_flop / (cpu_epoch / cores) / 1e9:.0f} GFLOP/s"
    )

    if args.no_profile:
        return 0

    # 4. profile of one training epoch
    wall, cpu, space, logdir = profile_epoch(
        tf, model, data.x_train, data.y_train, config.batch_size
    )
    events = op_events(space)
    parts: collections.Counter = collections.Counter()
    layers_t: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    types: collections.Counter = collections.Counter()
    for name, op_type, _, dur in events:
        part, layer = classify(name, op_type, model.name)
        parts[part] += dur
        types[op_type.replace("_MklNative", "").replace("_Mkl", "")] += dur
        if layer:
            layers_t[layer][part] += dur
    busy = busy_seconds(events)
    input_s = sum(d for *_, d in op_events(space, "tf_data"))
    op_total = sum(parts.values())
    print(
        f"\nprofile of one training epoch (tf.profiler, {wall:.2f} s wall incl. profiling, "
        f"load {load()}):"
    )
    print(
        f"  this process got {cpu:.2f} CPU-s of the {wall * cores:.2f} core-s the wall time "
        f"offers ({cpu / (wall * cores):.0%}; the rest went to other processes or idled)"
    )
    print(f"  op time summed over threads {op_total:.2f} s; some op running {busy:.2f} s")
    for part, sec in parts.most_common():
        print(f"  {part:22s} {sec:6.2f} s  {sec / op_total:6.1%} of op time")
    print(f"  {'input (tf.data threads)':22s} {input_s:6.2f} s  (beside the compute threads)")
    print(
        f"  outside TF ops         {max(wall - busy, 0):6.2f} s  {max(wall - busy, 0) / wall:6.1%} "
        "of wall (Python, dispatch, input, callbacks, waiting for a core)"
    )
    print("  per layer (forward / backward seconds, GFLOP/s of forward+backward):")
    layer_flops = dict(macs)
    for layer, counter in sorted(layers_t.items(), key=lambda kv: -sum(kv[1].values())):
        f, b = counter["forward"], counter["backward"]
        gf = ""
        if layer in layer_flops and f + b > 0:
            gf = f"{n_train * 6 * layer_flops[layer] / (f + b) / 1e9:7.1f} GFLOP/s"
        print(f"    {layer:12s} {f:6.2f} / {b:6.2f} s  {gf}")
    print("  top op types:")
    for op_type, sec in types.most_common(8):
        print(f"    {op_type:34s} {sec:6.2f} s  {sec / op_total:6.1%}")
    print(f"(trace kept in {logdir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
