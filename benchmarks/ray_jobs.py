"""Ray engine against the thread engine: 8 jobs submitted at once, then Ray over two nodes.

For each engine: time from submitting 8 jobs to the last result, the first job's start-up
(submit → first batch trained; for Ray this includes starting the worker process and
importing TensorFlow there), and the median epoch time from the runs' history, beside a bare
`model.fit` of the same config in this process. Then a two-node Ray cluster on this machine
(`ray start --head` + `ray start --address`, loopback, 1 CPU each, token auth through
RAY_AUTH_TOKEN in the environment) gets the same 8 jobs, and the jobs per node are counted.

    MNISTKIT_DATA_DIR=../shared/datasets/mnist python benchmarks/ray_jobs.py
    python benchmarks/ray_jobs.py --arch dense --epochs 1 --skip-two-nodes

The Ray processes this script starts are ended by pid at the end (never `ray stop`, which
would end every Ray process of this user on the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["RAY_AUTH_MODE"] = "token"  # before Ray loads: every client here sends the token
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))  # never written to ~/.ray


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def bare_epoch_seconds(config) -> float:
    """Median epoch of a plain `model.fit` (the first, which traces, dropped if there are more)."""
    import keras

    from mnistkit.models import build_model
    from mnistkit.training import build_state_eagerly, prepare_data

    data = prepare_data(config, os.environ.get("MNISTKIT_DATA_DIR"))
    keras.utils.set_random_seed(config.seed)
    steps = -(-len(data.x_train) // config.batch_size)
    model = build_model(config, steps_per_epoch=steps)
    build_state_eagerly(model, data.x_train[:1], data.y_train[:1])
    times: list[float] = []
    timer = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda e, logs: times.append(time.perf_counter()),
        on_epoch_end=lambda e, logs: times.append(time.perf_counter() - times.pop()),
    )
    model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=config.epochs,
        batch_size=config.batch_size,
        callbacks=[timer],
        verbose=0,
    )
    return statistics.median(times[1:] or times)


def eight_jobs(config, n: int, label: str) -> dict:
    """Submit `n` jobs at once through `make_job`; time them from this thread."""
    from mnistkit.jobs import make_job
    from mnistkit.runs import RunStore

    store = RunStore(tempfile.mkdtemp(prefix=f"bench-{label}-"))
    start = time.perf_counter()
    jobs = [
        make_job(config, store, name=f"{label}-{i}", data_dir=os.environ.get("MNISTKIT_DATA_DIR"))
        for i in range(n)
    ]
    for job in jobs:
        job.start()
    first_batch: dict[int, float] = {}
    while any(job.alive for job in jobs):
        for i, job in enumerate(jobs):
            if i not in first_batch and (job.snapshot().step > 0 or job.snapshot().epoch > 0):
                first_batch[i] = time.perf_counter() - start
        time.sleep(0.05)
    total = time.perf_counter() - start
    snaps = [job.snapshot() for job in jobs]
    bad = [s.message for s in snaps if s.status != "completed"]
    assert not bad, bad
    histories = [json.loads(Path(s.run_dir, "history.json").read_text()) for s in snaps]
    first = [h["epoch_seconds"][0] for h in histories]  # includes tracing the step function
    later = [t for h in histories for t in h["epoch_seconds"][1:]] or first
    nodes = Counter(getattr(job, "worker", None) and job.worker["node"][:8] for job in jobs)
    return {
        "total": total,
        "first_start": min(first_batch.values()),
        "epoch1": statistics.median(first),
        "epoch": statistics.median(later),
        "nodes": dict(nodes),
        "load": load(),
    }


def ray_processes() -> set[int]:
    """Pids of this environment's Ray processes (daemons and workers)."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ours = sys.prefix in cmd and ("site-packages/ray" in cmd or " -m ray." in cmd)
        if cmd.startswith("ray::") or ours:
            found.add(int(proc.name))
    return found


def start_two_nodes(port: int) -> str:
    ray_bin = str(Path(sys.executable).with_name("ray"))
    common = ["--num-cpus", "1", "--disable-usage-stats"]
    subprocess.run(
        [ray_bin, "start", "--head", "--port", str(port), "--node-ip-address", "127.0.0.1",
         "--include-dashboard", "false", *common],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [ray_bin, "start", "--address", f"127.0.0.1:{port}", "--node-ip-address", "127.0.0.1",
         *common],
        check=True, capture_output=True,
    )  # fmt: skip
    return f"127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="cnn", choices=("dense", "cnn"))
    parser.add_argument("--subset", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--port", type=int, default=6411)
    parser.add_argument("--skip-two-nodes", action="store_true")
    args = parser.parse_args()

    from mnistkit.config import TrainConfig
    from mnistkit.jobs import RAY_ADDRESS_ENV, default_max_jobs

    config = TrainConfig(arch=args.arch, subset=args.subset, epochs=args.epochs, patience=0)
    print(f"{args.jobs} jobs: {args.arch}, subset {args.subset}, {args.epochs} epoch(s); "
          f"{os.cpu_count()} cores")  # fmt: skip
    bare = bare_epoch_seconds(config)
    print(f"bare model.fit: {bare:.2f} s/epoch  (load {load()})")
    rows = {}
    os.environ.pop(RAY_ADDRESS_ENV, None)
    rows[f"threads ({default_max_jobs()} at a time)"] = eight_jobs(config, args.jobs, "threads")

    before = ray_processes()
    try:
        import ray

        from mnistkit import ray_cluster

        os.environ[RAY_ADDRESS_ENV] = "auto"
        for cpus in (1, 2):
            os.environ[ray_cluster.JOB_CPUS_ENV] = str(cpus)
            ray.init(
                address="local",
                num_cpus=os.cpu_count(),
                include_dashboard=False,
                namespace=ray_cluster.NAMESPACE,
                runtime_env=ray_cluster.runtime_env(),
                log_to_driver=False,
            )
            rows[f"ray local, {cpus} CPU/job"] = eight_jobs(config, args.jobs, f"ray{cpus}")
            ray.shutdown()
            _reset()
        if not args.skip_two_nodes:
            os.environ[RAY_ADDRESS_ENV] = start_two_nodes(args.port)
            os.environ[ray_cluster.JOB_CPUS_ENV] = "1"
            rows["ray 2 nodes × 1 CPU"] = eight_jobs(config, args.jobs, "ray2nodes")
            ray.shutdown()
    finally:
        for sig in (15, 9):  # gcs_server and the autoscaler may outlive a SIGTERM
            time.sleep(2)
            for pid in sorted(ray_processes() - before - {os.getpid()}):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass

    print("\n| engine | last result | start-up | epoch 1 | later (× bare) | jobs/node | load |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        nodes = ", ".join(str(c) for k, c in r["nodes"].items() if k) or "—"
        print(
            f"| {name} | {r['total']:.1f} s | {r['first_start']:.1f} s | {r['epoch1']:.2f} s | "
            f"{r['epoch']:.2f} s (×{r['epoch'] / bare:.2f}) | {nodes} | {r['load']} |"
        )


def _reset() -> None:
    from mnistkit import ray_cluster, ray_jobs

    ray_jobs._board, ray_jobs._data = None, {}
    ray_cluster._checked = None


if __name__ == "__main__":
    main()
