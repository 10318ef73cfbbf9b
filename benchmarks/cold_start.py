"""Cold start: `streamlit run streamlit_app.py` → the Home page rendered in a real browser.

Each round starts a fresh server process on a free loopback port and, in an already
running chromium (Debian's, through Playwright; its own start-up is printed apart), loads
the app's root URL as soon as `/_stcore/health` answers, until the Home page's title
("mnistkit") is visible. Printed per round: server process start → health answers →
title visible, then the median of `--rounds`. With `--draw`, each round then also opens
the Draw page and times it to its prompt (the first page that loads TensorFlow does so
only when a model predicts, so this stays light). Goal (issue 6): ≤ 5 s.

    python benchmarks/cold_start.py
    python benchmarks/cold_start.py --rounds 5 --draw
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_roundtrip import ensure_models, launch_browser, load, running_app  # noqa: E402

GOAL_S = 5.0


def one_round(browser, runs_dir: Path, draw: bool) -> dict[str, float]:
    """Seconds from the server's spawn to health, and to the Home title on screen."""
    t0 = time.perf_counter()
    with running_app(runs_dir) as (url, _server):  # returns once /_stcore/health answers
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs-dir", type=Path, help="runs folder (default: the benchmark's)")
    ap.add_argument("--draw", action="store_true", help="then open the Draw page too")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    runs_dir = ensure_models(args.runs_dir)
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
