"""Memory: resident set size (VmRSS) of the app's server process, idle, per extra session, and
while one training runs.

Starts `streamlit run streamlit_app.py` on a free loopback port and reads
/proc/<pid>/status after each step, with browser contexts (separate sessions, Debian's
chromium through Playwright) opened and kept open:

1. the server idle, before any browser connects;
2. one session on Home (after it, the app preloads TensorFlow and the Draw page's two
   models in the background: read once RSS is steady), then `--sessions` more on Home
   (→ MiB per extra idle session);
3. one session on Draw that draws a digit (the models are loaded already), then
   `--sessions` more on Draw, each drawing once (→ MiB per extra Draw session);
4. one session on Train presses Start (the page's default: the quick preset, all of
   MNIST): RSS sampled every 0.25 s until the run completes (peak and VmHWM), then after.

With `--repeat N`, instead: N trainings one after another in one process (1 epoch on 20 000
images each, through `TrainingJob`), RSS and live Python objects after each — once as the
library trains now and once with `build_state_eagerly` switched off (the growth it stops),
each in a fresh subprocess.

Needs MNISTKIT_DATA_DIR for the training step (and, without `--runs-dir`, once, to make two
small models for the Draw page).

    MNISTKIT_DATA_DIR=../shared/datasets/mnist python benchmarks/memory.py
    python benchmarks/memory.py --sessions 10 --no-train
    python benchmarks/memory.py --repeat 6
    python benchmarks/memory.py --repeat 6 --malloc-arena-max 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_roundtrip import (  # noqa: E402
    DIGITS,
    app_with_runs,
    ensure_models,
    launch_browser,
    load,
    stroke,
)

SETTLE_S = 1.5  # after a step, before reading RSS


def status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of `pid` in MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def rss(pid: int) -> float:
    time.sleep(SETTLE_S)
    return status(pid)["VmRSS"]


def settled_rss(pid: int, quiet_mib: float = 2.0, timeout: float = 60) -> float:
    """VmRSS once it changes by less than `quiet_mib` over one second (a background load,
    e.g. the app preloading TensorFlow and the Draw page's models, has finished)."""
    last, deadline = rss(pid), time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = status(pid)["VmRSS"]
        if abs(now - last) < quiet_mib:
            return now
        last = now
    return last


def open_home(browser, url: str):
    page = browser.new_context().new_page()
    page.goto(url, timeout=60_000)
    page.get_by_role("heading", name="mnistkit").first.wait_for(timeout=60_000)
    return page


def open_draw_and_draw(browser, url: str):
    page = browser.new_context().new_page()
    page.goto(f"{url}/draw", timeout=60_000)
    page.get_by_text("Draw a digit").last.wait_for(timeout=60_000)
    canvas = page.locator("canvas.upper-canvas")
    stroke(page, canvas.bounding_box(), DIGITS["7"])
    page.get_by_test_id("stMetric").filter(has_text="Prediction").first.wait_for(timeout=60_000)
    return page


def train_once(browser, url: str, pid: int, timeout_s: float = 600) -> dict[str, float]:
    """Start the Train page's default run; RSS peak while it trains, and after."""
    page = browser.new_context().new_page()
    page.goto(f"{url}/train", timeout=60_000)
    page.get_by_role("button", name="Start").wait_for(timeout=60_000)
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(status(pid)["VmRSS"])
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    t0 = time.perf_counter()
    sampler.start()
    page.get_by_role("button", name="Start").click()
    page.get_by_text("Training completed").wait_for(timeout=timeout_s * 1000)
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    return {"peak": max(samples), "hwm": status(pid)["VmHWM"], "after": rss(pid), "s": seconds}


REPEAT_CHILD = """
import gc, os, sys, tempfile
sys.path.insert(0, {repo!r})
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from pathlib import Path
import mnistkit.training as training
from mnistkit.config import TrainConfig
from mnistkit.data import load_mnist
from mnistkit.jobs import JobQueue, TrainingJob
from mnistkit.runs import RunStore
from tensorflow.python.eager.polymorphic_function import atomic_function

if {off!r}:
    training.build_state_eagerly = lambda *args: None
def rss(key="VmRSS"):
    line = [x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(key)]
    return int(line[0].split()[1]) / 1024
load_mnist()
store = RunStore(tempfile.mkdtemp())
config = TrainConfig(epochs=1, batch_size=128, steps_per_execution=16, subset=20_000)
for i in range({n}):
    job = TrainingJob(config, store, queue=JobQueue(1)).start()
    job.join()
    gc.collect()
    print(f"{{i + 1}} {{rss():.0f}} {{len(gc.get_objects())}} "
          f"{{len(atomic_function.RUNTIME_FUNCTION_REFS)}} {{rss('VmHWM'):.0f}}", flush=True)
"""


def repeat_trainings(n: int, arena_max: int | None = None) -> None:
    """RSS and objects after each of `n` trainings, with and without the eager state build;
    with `arena_max`, instead with and without `MALLOC_ARENA_MAX=arena_max` (glibc)."""
    repo = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("MALLOC_ARENA_MAX", None)
    variants = [(False, "now (state built eagerly)", {}), (True, "without build_state_eagerly", {})]
    if arena_max is not None:
        arena = {"MALLOC_ARENA_MAX": str(arena_max)}
        variants = [
            (False, "glibc default arenas", {}),
            (False, f"MALLOC_ARENA_MAX={arena_max}", arena),
        ]
    for off, label, extra in variants:
        code = REPEAT_CHILD.format(repo=repo, off=off, n=n)
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**env, **extra},
            check=True,
        ).stdout.split("\n")
        rows = [list(map(float, line.split())) for line in out if line.strip()]
        print(f"{label}:  load {load()}")
        for i, mib, objs, refs, hwm in rows:
            print(
                f"  after training {i:.0f}: RSS {mib:6.0f} MiB (peak {hwm:5.0f})  {objs:8,.0f} "
                f"Python objects  {refs:4.0f} functions kept by TensorFlow"
            )
        (_, m1, o1, _, _), (_, mn, on, _, _) = rows[0], rows[-1]
        print(
            f"  growth per training after the first: {(mn - m1) / (n - 1):+.1f} MiB, "
            f"{(on - o1) / (n - 1):+,.0f} objects"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=5, help="extra sessions per page")
    ap.add_argument("--runs-dir", type=Path, help="runs folder with models (default: made once)")
    ap.add_argument("--no-train", action="store_true", help="skip the training step")
    ap.add_argument("--repeat", type=int, help="instead: this many trainings in one process")
    ap.add_argument(
        "--malloc-arena-max",
        type=int,
        metavar="N",
        help="with --repeat: compare glibc's default malloc arenas with MALLOC_ARENA_MAX=N",
    )
    args = ap.parse_args(argv)
    if args.repeat:
        repeat_trainings(max(2, args.repeat), args.malloc_arena_max)
        return 0
    from playwright.sync_api import sync_playwright

    runs_dir = ensure_models(args.runs_dir)
    k = args.sessions
    with app_with_runs(runs_dir) as app, sync_playwright() as pw:
        url, pid = app.url, app.pid
        browser = launch_browser(pw)
        idle = rss(pid)
        print(f"server idle, no session:                  {idle:7.0f} MiB   load {load()}")
        pages = [open_home(browser, url)]
        home1 = settled_rss(pid)
        preload = "" if os.environ.get("MNISTKIT_PRELOAD") == "0" else " (+ preloaded models)"
        print(f"+ 1 session on Home{preload:22s}:  {home1:7.0f} MiB")
        pages += [open_home(browser, url) for _ in range(k)]
        home_k = rss(pid)
        print(
            f"+ {k} more on Home:                         {home_k:7.0f} MiB   "
            f"→ {(home_k - home1) / k:.1f} MiB per extra Home session"
        )
        pages.append(open_draw_and_draw(browser, url))
        draw1 = rss(pid)
        print(
            f"+ 1 on Draw, drawn:                        {draw1:7.0f} MiB   "
            f"(+{draw1 - home_k:.0f} MiB)"
        )
        pages += [open_draw_and_draw(browser, url) for _ in range(k)]
        draw_k = rss(pid)
        print(
            f"+ {k} more on Draw, each drawn:             {draw_k:7.0f} MiB   "
            f"→ {(draw_k - draw1) / k:.1f} MiB per extra Draw session"
        )
        if not args.no_train:
            t = train_once(browser, url, pid)
            print(
                f"one training (Train page default, {t['s']:.0f} s): peak {t['peak']:.0f} MiB "
                f"(+{t['peak'] - draw_k:.0f}), VmHWM {t['hwm']:.0f} MiB, after {t['after']:.0f} MiB"
            )
        browser.close()
        print(f"load {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
