"""Cold start: `streamlit run streamlit_app.py` → the Home page rendered in a real browser.

Each round starts a fresh server process on a free loopback port and, in an already
running chromium (Debian's, through Playwright; its own start-up is printed apart), loads
the app's root URL as soon as `/_stcore/health` answers, until the Home page's title
("mnistkit") is visible. Printed per round: server process start → health answers →
title visible, then the median of `--rounds`. With `--draw`, each round then also opens
the Draw page and times it to its prompt (the page starts loading TensorFlow and its
models in a background thread, `ui.resources.preload_models`). Goal (issue 6): ≤ 5 s.

With `--first-stroke`, instead: the first stroke after a server start. Each round starts a
fresh server, opens /draw, waits `--think` seconds (a student looking at the page before
drawing), draws one digit and times pen-up → every model's prediction on screen; rounds
alternate with the preload switched off (`MNISTKIT_PRELOAD=0`: models load at the first
stroke, as before) and on.

    python benchmarks/cold_start.py
    python benchmarks/cold_start.py --rounds 5 --draw
    python benchmarks/cold_start.py --first-stroke --think 0 2 4
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_roundtrip import (  # noqa: E402
    DIGITS,
    Target,
    app_with_runs,
    default_model_count,
    draw_and_time,
    ensure_models,
    launch_browser,
    load,
    open_page,
)

GOAL_S = 5.0


def one_round(browser, runs_dir: Path, draw: bool) -> dict[str, float]:
    """Seconds from the server's spawn to health, and to the Home title on screen."""
    t0 = time.perf_counter()
    with app_with_runs(runs_dir) as app:  # returns once /_stcore/health answers
        url = app.url
        health = time.perf_counter() - t0
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url, timeout=60_000)
        page.get_by_role("heading", name="mnistkit").first.wait_for(timeout=60_000)
        shown = time.perf_counter() - t0
        row = {"health": health, "home": shown}
        if draw:
            t1 = time.perf_counter()
            page.get_by_test_id("stSidebarNav").get_by_role("link", name="Draw & predict").click()
            page.get_by_text("Draw a digit").last.wait_for(timeout=60_000)
            row["draw"] = time.perf_counter() - t1
        page.close()
    return row


def first_stroke(browser, runs_dir: Path, preload: bool, think: float, n_models: int) -> float:
    """Milliseconds from pen-up to the predictions, for the first stroke on a fresh server."""
    switch = {"MNISTKIT_PRELOAD": "1" if preload else "0"}
    with app_with_runs(runs_dir, **switch) as app:
        target = Target("first", app)
        open_page(browser, target, "/draw", n_models)
        target.page.wait_for_timeout(think * 1000)
        total = draw_and_time(target, DIGITS["7"], n_models)["total"]
        target.page.close()
    return total


def first_strokes(browser, runs_dir: Path, thinks: list[float], rounds: int) -> None:
    """Rounds alternating preload off/on for each think time; print each and the medians."""
    n_models = default_model_count(runs_dir)
    results: dict[tuple[float, bool], list[float]] = {}
    for think in thinks:
        for i in range(rounds):
            for preload in (False, True):
                la = load()
                ms = first_stroke(browser, runs_dir, preload, think, n_models)
                results.setdefault((think, preload), []).append(ms)
                print(
                    f"think {think:g} s, preload {'on ' if preload else 'off'}, round {i + 1}: "
                    f"first stroke {ms:5.0f} ms   load {la}→{load()}",
                    flush=True,
                )
    print(f"first stroke after a server start, pen-up → {n_models} predictions (median):")
    for think in thinks:
        off = statistics.median(results[(think, False)])
        on = statistics.median(results[(think, True)])
        print(f"  think {think:g} s: preload off {off:5.0f} ms, on {on:5.0f} ms ({on / off:.2f}×)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs-dir", type=Path, help="runs folder (default: the benchmark's)")
    ap.add_argument("--draw", action="store_true", help="then open the Draw page too")
    ap.add_argument(
        "--first-stroke", action="store_true", help="instead: the first stroke's latency"
    )
    ap.add_argument(
        "--think", type=float, nargs="+", default=[0.0, 2.0], help="seconds before drawing"
    )
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    runs_dir = ensure_models(args.runs_dir)
    if args.first_stroke:
        with sync_playwright() as pw:
            browser = launch_browser(pw)
            print(f"load {load()} at the start")
            first_strokes(browser, runs_dir, args.think, args.rounds)
            browser.close()
        return 0
    rows = []
    with sync_playwright() as pw:
        t0 = time.perf_counter()
        browser = launch_browser(pw)
        print(f"chromium start (not counted): {time.perf_counter() - t0:.2f} s")
        for i in range(args.rounds):
            la = load()
            row = one_round(browser, runs_dir, args.draw)
            rows.append(row)
            extra = f", then Draw page {row['draw']:.2f} s" if "draw" in row else ""
            print(
                f"round {i + 1}: health {row['health']:.2f} s, Home title visible "
                f"{row['home']:.2f} s{extra}   load {la}→{load()}",
                flush=True,
            )
        browser.close()
    home = statistics.median(r["home"] for r in rows)
    health = statistics.median(r["health"] for r in rows)
    verdict = "meets" if home <= GOAL_S else "MISSES"
    print(
        f"median of {len(rows)}: streamlit run → health {health:.2f} s → Home rendered "
        f"{home:.2f} s — {verdict} the goal of ≤ {GOAL_S:g} s"
    )
    if args.draw:
        print(f"  then the Draw page: median {statistics.median(r['draw'] for r in rows):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
