"""Load benchmark: N students on the Draw page at once, a few of them training (issue 5).

Each simulated student is one browser session speaking Streamlit's own websocket protocol
(`/_stcore/stream`, protobuf `BackMsg`/`ForwardMsg`, as the browser does; no browser runs):
it opens /draw, then in every round "draws" a few digits — it sends the canvas widget's new
value (a PNG data URL of an MNIST test digit, white on black, as the canvas sends it) — and
times how long until every model's "Prediction" metric arrives. The first `--trainers`
students also open /train in a second tab, start a short training and poll its live panel
the way the browser does (fragment reruns). The server's memory is sampled from
/proc/<pid>/status (VmRSS, VmHWM) and read again at the end of every round.

Goal (issue 5): 30 sessions, p95 draw → prediction < 1 s, zero errors, memory that stops
growing. The client runs on the same machine (loopback only): its CPU use is printed too.

Usage, from the repository root (it starts the app on a free port with a temporary runs
folder, seeds it with two tiny models if there are no bundled ones, and stops it at the end):

    MNISTKIT_DATA_DIR=../shared/datasets/mnist python benchmarks/load.py
    python benchmarks/load.py --sessions 10 --rounds 3 --draws 3 --think 1.5
    python benchmarks/load.py --url http://127.0.0.1:8501 --pid 4242   # an app already running
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devtools import appserver, hostile  # noqa: E402
from devtools.appserver import App  # noqa: E402
from devtools.wsclient import Tab, put_upload  # noqa: E402

GOAL_P95 = 1.0  # seconds, draw → prediction
CANVAS_KEY = "canvas-0"  # ui.digit_input.canvas_key() before any Clear
BOMB_RUN = "20261201-100000-bomb"  # the handed-in run with a zip-bomb model (--hostile)
DONE_WORDS = ("Training completed", "Training stopped", "Training failed", "Training interrupted")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=30, help="students drawing at once")
    ap.add_argument("--trainers", type=int, default=2, help="of them, how many also train")
    ap.add_argument("--rounds", type=int, default=4, help="rounds (memory is read after each)")
    ap.add_argument("--draws", type=int, default=3, help="digits per student per round")
    ap.add_argument("--think", type=float, default=1.5, help="mean seconds between two draws")
    ap.add_argument("--stagger", type=float, default=0.1, help="seconds between two arrivals")
    ap.add_argument("--reconnect", action="store_true", help="reload every tab each round")
    ap.add_argument("--train-epochs", type=int, default=2)
    ap.add_argument("--train-subset", type=int, default=2_000)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds one page run may take")
    ap.add_argument("--max-seconds", type=float, default=900.0, help="stop after this long")
    ap.add_argument("--url", help="attach to a running app instead of starting one")
    ap.add_argument("--pid", type=int, help="with --url: the server's pid, for its memory")
    ap.add_argument("--runs-dir", type=Path, help="runs folder for a started app (default: tmp)")
    ap.add_argument("--no-media", action="store_true", help="do not fetch the images shown")
    ap.add_argument(
        "--hostile",
        type=int,
        default=0,
        help="extra tabs that attack each round: the largest allowed upload, clear_cache, "
        "and a zip-bomb model picked on /draw (their own times are not counted)",
    )
    ap.add_argument("--bomb-gib", type=float, default=1.0, help="what the bomb model unpacks to")
    ap.add_argument("--json", action="store_true", help="print a JSON summary last")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)


# --- the app under test -------------------------------------------------------------------


def has_models(runs_dir: Path) -> bool:
    """Bundled models, or a run in `runs_dir` that kept one."""
    from mnistkit.catalog import BUNDLED_DIR

    return any(BUNDLED_DIR.glob("*.keras")) or any(runs_dir.glob("*/model.keras"))


def seed_models(runs_dir: Path, env: dict[str, str]) -> None:
    """Train a tiny dense net and a tiny CNN (2 000 images, 2 epochs) so /draw can predict."""
    for arch in ("dense", "cnn"):
        command = [sys.executable, "-m", "mnistkit", "train", "--arch", arch, "--subset", "2000"]
        command += ["--epochs", "2", "--patience", "0", "--runs-dir", str(runs_dir)]
        command += ["--name", f"load-{arch}"]
        print(f"seeding {runs_dir} with a tiny {arch} model…", flush=True)
        subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True, timeout=600)


def start_app(runs_dir: Path, log_path: Path, bomb_gib: float = 0.0) -> App:
    """`streamlit run streamlit_app.py` on a free loopback port, serving; seeds models first.
    With `bomb_gib`, a handed-in run "bomb" whose model.keras unpacks to that many GiB."""
    env = {"MNISTKIT_RUNS_DIR": str(runs_dir)}
    if not has_models(runs_dir):
        seed_models(runs_dir, dict(os.environ, **env, PYTHONPATH=str(REPO)))
    if bomb_gib > 0 and not (runs_dir / BOMB_RUN).exists():
        template = next(iter(sorted((REPO / "models").glob("*.keras"))), None)
        template = template or next(iter(sorted(runs_dir.glob("*/model.keras"))))
        scratch = runs_dir.parent / "bomb.keras"
        hostile.zip_bomb_model(template, scratch, int(bomb_gib * 2**30))
        hostile.hand_in_run(runs_dir, BOMB_RUN, arch="cnn", model=scratch)
    return appserver.start(env=env, log_path=log_path)


class MemorySampler(threading.Thread):
    """Samples a process's VmRSS every `every` seconds; `read()` gives (VmRSS, VmHWM) in MiB."""

    def __init__(self, pid: int | None, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak = pid, every, 0.0
        self._stop = threading.Event()

    def read(self) -> tuple[float, float] | None:
        if self.pid is None:
            return None
        try:
            text = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        kib = {k: int(v) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.M)}
        return kib.get("VmRSS", 0) / 1024, kib.get("VmHWM", 0) / 1024

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds the process has used."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, TypeError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def run(self) -> None:
        while not self._stop.wait(self.every):
            now = self.read()
            if now:
                self.peak = max(self.peak, now[0])

    def stop(self) -> None:
        self._stop.set()


# --- what the students draw ---------------------------------------------------------------


def drawings(n: int, seed: int) -> list[str]:
    """`n` canvas values as PNG data URLs: MNIST test digits scaled to 280 px, else strokes."""
    rng = np.random.default_rng(seed)
    try:
        from mnistkit.data import DATA_ENV, load_mnist

        _, (x_test, _) = load_mnist(os.environ[DATA_ENV])  # never a download
        pictures = [Image.fromarray(x_test[i]) for i in rng.choice(len(x_test), n, replace=False)]
        pictures = [p.resize((280, 280), Image.Resampling.BILINEAR) for p in pictures]
    except Exception:  # no MNIST here: random strokes are as much work for the server
        pictures = []
        for _ in range(n):
            img = Image.new("L", (280, 280), 0)
            points = [tuple(int(v) for v in rng.integers(40, 240, 2)) for _ in range(4)]
            ImageDraw.Draw(img).line(points, fill=255, width=20, joint="curve")
            pictures.append(img)
    urls = []
    for gray in pictures:
        rgba = Image.merge("RGBA", (gray, gray, gray, Image.new("L", gray.size, 255)))
        buf = io.BytesIO()
        rgba.save(buf, "PNG")
        urls.append("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode())
    return urls


def canvas_value(data_url: str) -> str:
    """The canvas component's state as its frontend sends it (fabric JSON + PNG)."""
    raw = {"version": "5.3.0", "objects": [{"type": "path"}], "background": "#000000"}
    return json.dumps({"drawing": {"raw": raw, "data": data_url}})


# --- the students -------------------------------------------------------------------------


@dataclass
class Results:
    """Everything measured, over all sessions."""

    page_loads: list[float] = field(default_factory=list)
    first: list[float] = field(default_factory=list)  # draw → first model's prediction
    latency: list[float] = field(default_factory=list)  # draw → every model's prediction
    rerun: list[float] = field(default_factory=list)  # draw → page run finished
    errors: list[str] = field(default_factory=list)
    trainings: list[dict] = field(default_factory=list)
    rss_rounds: list[float] = field(default_factory=list)
    cold_prediction: float | None = None
    attacks: list[str] = field(default_factory=list)  # what the --hostile tabs got


class Student:
    """One student on /draw; draws `draws` digits a round with random pauses."""

    def __init__(self, n: int, args: argparse.Namespace, url: str, urls: list[str]) -> None:
        self.n, self.args, self.url, self.urls = n, args, url, urls
        self.tab = Tab(url, "draw", args.timeout, not args.no_media)
        self.rng = random.Random(args.seed * 1000 + n)
        self.canvas_id: str | None = None

    async def arrive(self, results: Results, delay: float = 0.0) -> None:
        await asyncio.sleep(delay)
        try:
            run = await self.tab.open()
        except Exception as exc:  # a refused or timed-out page load is an error too
            results.errors.append(f"student {self.n} page load: {exc!r}")
            return
        results.page_loads.append(run.seconds)
        results.errors += run.errors
        self.canvas_id = run.widgets.get(CANVAS_KEY)
        if self.canvas_id is None:
            results.errors.append(f"student {self.n}: no canvas on /draw")

    async def round(self, results: Results) -> None:
        if self.args.reconnect and self.tab.ws is not None:
            await self.tab.close()
            await self.arrive(results)
        for _ in range(self.args.draws):
            if self.canvas_id is None or self.tab.ws is None:
                return
            await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.args.think)
            await self.draw(results)

    async def draw(self, results: Results) -> float | None:
        value = WidgetState(id=self.canvas_id, json_value=canvas_value(self.rng.choice(self.urls)))
        try:
            run = await self.tab.rerun(value)
        except Exception as exc:  # timeout or closed socket: this tab is done for
            results.errors.append(f"student {self.n} draw: {exc!r}")
            await self.tab.close()
            return None
        results.errors += run.errors
        if not run.predictions:
            results.errors.append(f"student {self.n}: no prediction ({'; '.join(run.alerts)})")
            return None
        results.first.append(run.predictions[0])
        results.latency.append(run.predictions[-1])
        results.rerun.append(run.seconds)
        return run.predictions[-1]


class Attacker:
    """A student with a script on /draw: each round uploads the largest picture the app
    accepts, sends `clear_cache`, and picks the zip-bomb model (then reruns a few times)."""

    def __init__(self, n: int, args: argparse.Namespace, url: str, picture: bytes) -> None:
        self.n, self.args, self.url, self.picture = n, args, url, picture
        self.tab = Tab(url, "draw", args.timeout, fetch_media=False)
        self.outcomes: list[str] = []

    async def round(self, results: Results) -> None:
        try:
            await self._attack()
        except Exception as exc:  # the attacker's own page may time out: that is its loss
            self.outcomes.append(f"attacker {self.n}: {exc!r}"[:160])
            await self.tab.close()

    async def _attack(self) -> None:
        if self.tab.ws is None:
            await self.tab.open()
        run = await self.tab.rerun()
        ids = run.widgets
        self.tab.states["draw_source"] = WidgetState(
            id=ids["draw_source"], string_value="Upload a picture"
        )
        run = await self.tab.rerun()
        file_id = f"attack-{self.n}-{time.monotonic_ns()}"
        put = put_upload, self.url, self.tab.session_id, file_id, "huge.png", self.picture
        status = await asyncio.to_thread(*put)
        self.outcomes.append(f"upload {status}")
        upload = WidgetState(id=run.widgets["draw_upload"])
        info = upload.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = "huge.png", len(self.picture), file_id
        self.tab.states["draw_upload"] = upload
        for _ in range(3):  # a few reruns with the picture in place
            await self.tab.rerun()
        message = BackMsg()
        message.clear_cache = True
        await self.tab.send(message)
        bomb = [o for o in run.options.get("draw_models", []) if "bomb" in o]
        if bomb:
            models = WidgetState(id=run.widgets["draw_models"])
            models.string_array_value.data.extend(bomb)
            self.tab.states["draw_models"] = models
        for _ in range(2):
            after = await self.tab.rerun()
            self.outcomes.append("bomb: " + ("; ".join(after.alerts)[:80] or "no alert"))


async def train(n: int, args: argparse.Namespace, url: str, results: Results) -> None:
    """A second tab on /train: start a short dense run, poll the live panel until it ends."""
    tab = Tab(url, "train", args.timeout, fetch_media=False)
    record: dict = {"student": n, "status": "?", "queued_s": 0.0, "polls": 0}
    started = time.perf_counter()
    try:
        run = await tab.open()
        ids = run.widgets
        tab.states["train_arch"] = WidgetState(id=ids["train_arch"], string_value="Dense network")
        tab.states["train_subset"] = WidgetState(id=ids["train_subset"])
        tab.states["train_subset"].string_array_value.data.append(f"{args.train_subset:,}")
        for key, value in (("train_epochs", args.train_epochs), ("train_patience", 0)):
            tab.states[key] = WidgetState(id=ids[key])
            tab.states[key].double_array_value.data.append(float(value))
        run = await tab.rerun(WidgetState(id=ids["train_start"], trigger_value=True))
        panel, interval = run.fragment, run.fragment_interval or 0.7
        while not any(a.startswith(DONE_WORDS) for a in run.alerts):
            results.errors += run.errors
            if any("in line" in a for a in run.alerts):
                record["queued_s"] = time.perf_counter() - started
            if panel is None:
                raise RuntimeError(f"no live panel; alerts: {run.alerts}")
            await asyncio.sleep(interval)  # the browser reruns the live panel on this timer
            run = await tab.rerun(fragment=panel)
            panel = run.fragment or panel  # a full rerun (the job ended) announces it again
            record["polls"] += 1
        results.errors += run.errors
        outcome = next(a for a in run.alerts if a.startswith(DONE_WORDS))
        record["status"] = outcome.split(":")[0]
        if not outcome.startswith("Training completed"):
            results.errors.append(f"trainer {n}: {outcome[:120]}")
    except Exception as exc:  # reported, never fatal to the benchmark
        results.errors.append(f"trainer {n}: {exc!r}")
        record["status"] = f"error: {exc!r}"[:120]
    finally:
        record["seconds"] = time.perf_counter() - started
        results.trainings.append(record)
        await tab.close()


async def benchmark(args: argparse.Namespace, url: str, sampler: MemorySampler) -> Results:
    """Warm the app up with one draw, then let every student arrive and draw, round by round."""
    results = Results()
    urls = drawings(64, args.seed)
    warm = Student(-1, args, url, urls)
    await warm.arrive(results)
    results.cold_prediction = await warm.draw(Results())
    await warm.tab.close()
    results.page_loads.clear()

    students = [Student(i, args, url, urls) for i in range(args.sessions)]
    await asyncio.gather(*(s.arrive(results, s.n * args.stagger) for s in students))
    trainers = [asyncio.create_task(train(i, args, url, results)) for i in range(args.trainers)]
    picture = hostile.huge_png(largest_allowed_side()) if args.hostile else b""
    attackers = [Attacker(i, args, url, picture) for i in range(args.hostile)]
    for number in range(1, args.rounds + 1):
        began = time.perf_counter()
        await asyncio.gather(
            *(s.round(results) for s in students), *(a.round(results) for a in attackers)
        )
        rss = sampler.read()
        if rss:
            results.rss_rounds.append(rss[0])
        shown = f", server RSS {rss[0]:.0f} MiB" if rss else ""
        print(
            f"round {number}/{args.rounds}: {time.perf_counter() - began:.1f} s{shown}", flush=True
        )
    await asyncio.gather(*trainers)
    for s in [*students, *attackers]:
        await s.tab.close()
    results.attacks = [line for a in attackers for line in a.outcomes]
    return results


def largest_allowed_side() -> int:
    """The side of the largest square picture the app's image reader accepts."""
    from mnistkit import imaging

    return int(imaging.MAX_PIXELS**0.5)


# --- report -------------------------------------------------------------------------------


def quantiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(np.ceil(0.95 * len(ordered))) - 1)]
    return {"n": len(values), "p50": statistics.median(values), "p95": p95, "max": ordered[-1]}


def growth_verdict(rss: list[float]) -> tuple[bool | None, str]:
    """Memory "stops growing" when the last round added under 3 % (or 15 MiB)."""
    if len(rss) < 3:
        return None, "too few rounds to tell"
    step = rss[-1] - rss[-2]
    stable = step < max(0.03 * rss[-2], 15.0)
    return stable, f"last round {step:+.0f} MiB ({step / rss[-2]:+.1%})"


def report(args, results: Results, sampler: MemorySampler, cpu: dict, elapsed: float) -> dict:
    lat, first, rerun = map(quantiles, (results.latency, results.first, results.rerun))
    hwm = sampler.read()
    stable, why = growth_verdict(results.rss_rounds)
    summary = {
        "sessions": args.sessions,
        "hostile": args.hostile,
        "attack_outcomes": sorted(set(results.attacks))[:10],
        "trainers": args.trainers,
        "rounds": args.rounds,
        "draws_per_round": args.draws,
        "think_s": args.think,
        "reconnect": args.reconnect,
        "seconds": elapsed,
        "cold_first_prediction_s": results.cold_prediction,
        "page_load": quantiles(results.page_loads),
        "draw_to_prediction": lat,
        "draw_to_first_prediction": first,
        "draw_to_page_done": rerun,
        "errors": len(results.errors),
        "error_samples": results.errors[:10],
        "trainings": results.trainings,
        "rss_end_of_round_mib": [round(v) for v in results.rss_rounds],
        "rss_peak_sampled_mib": round(sampler.peak) if sampler.pid else None,
        "vm_hwm_mib": round(hwm[1]) if hwm else None,
        "memory_stable": stable,
        "cpu_seconds": cpu,
        "load_average": os.getloadavg(),
    }

    def s(v):
        return "–" if v is None else f"{v:.2f} s"

    print(f"\n{args.sessions} sessions ({args.trainers} also training), {args.rounds} rounds × "
          f"{args.draws} draws, think ≈ {args.think} s, {elapsed:.0f} s in all")  # fmt: skip
    print(f"cold first prediction (loads TensorFlow and the models): {s(results.cold_prediction)}")
    for name, q in (("page load", summary["page_load"]), ("draw → prediction (all models)", lat),
                    ("draw → first prediction", first), ("draw → page done", rerun)):  # fmt: skip
        print(f"{name:32s} p50 {s(q['p50'])} · p95 {s(q['p95'])} · max {s(q['max'])} · n={q['n']}")
    if args.hostile:
        print(f"{args.hostile} hostile tab(s); what they got: {sorted(set(results.attacks))[:6]}")
    print(f"errors: {len(results.errors)}")
    for line in results.errors[:10]:
        print(f"  {line}")
    for t in results.trainings:
        print(f"training (student {t['student']}): {t['status']} after {t['seconds']:.1f} s, "
              f"in line until {t['queued_s']:.1f} s, {t['polls']} live-panel polls")  # fmt: skip
    if results.rss_rounds:
        rounds = ", ".join(f"{v:.0f}" for v in results.rss_rounds)
        print(f"server RSS at the end of each round: {rounds} MiB → "
              f"{'stops growing' if stable else 'still growing' if stable is False else '?'} "
              f"({why})")  # fmt: skip
        print(f"server peak RSS: {sampler.peak:.0f} MiB sampled, VmHWM {hwm[1]:.0f} MiB")
    print(f"CPU seconds: server {cpu['server']}, this client {cpu['client']:.1f}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    ok_p95 = lat["p95"] is not None and lat["p95"] < GOAL_P95
    print(f"goals: p95 < {GOAL_P95:.0f} s {'✓' if ok_p95 else '✗'} · zero errors "
          f"{'✓' if not results.errors else '✗'} · memory stops growing "
          f"{'✓' if stable else '✗' if stable is False else '?'}")  # fmt: skip
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO))  # mnistkit, for MNIST digits
    scratch = Path(tempfile.mkdtemp(prefix="mnistkit-load-"))
    server, pid, url = None, args.pid, args.url
    try:
        if url is None:
            runs_dir = args.runs_dir or scratch / "runs"
            bomb = args.bomb_gib if args.hostile else 0.0
            server = start_app(runs_dir, scratch / "streamlit.log", bomb)
            url, pid = server.url, server.pid
            print(f"app on {url} (pid {pid}), runs in {runs_dir}, log {scratch / 'streamlit.log'}")
        sampler = MemorySampler(pid)
        sampler.start()
        cpu_before = sampler.cpu_seconds() if pid else None
        began = time.perf_counter()
        try:
            results = asyncio.run(asyncio.wait_for(benchmark(args, url, sampler), args.max_seconds))
        except TimeoutError:
            print(f"stopped after --max-seconds {args.max_seconds:.0f}: no complete result")
            return 1
        finally:
            sampler.stop()
        elapsed = time.perf_counter() - began
        server_cpu = sampler.cpu_seconds() if pid else None
        cpu = {
            "server": None if server_cpu is None else round(server_cpu - cpu_before, 1),
            "client": resource.getrusage(resource.RUSAGE_SELF).ru_utime
            + resource.getrusage(resource.RUSAGE_SELF).ru_stime,
        }
        summary = report(args, results, sampler, cpu, elapsed)
        if server is not None:
            log = (scratch / "streamlit.log").read_text(errors="replace")
            summary["server_log_tracebacks"] = log.count("Traceback")
            print(f"server log: {summary['server_log_tracebacks']} traceback(s)")
        if args.json:
            print(json.dumps(summary))
        return 0
    finally:
        if server is not None:
            appserver.stop(server)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
