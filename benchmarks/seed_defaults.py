"""The seed models at their default settings on full MNIST: test accuracy and seconds per epoch.

Runs `python -m mnistkit train --arch {dense,cnn} --json` exactly as a user would (seed
defaults: dense 10 epochs, CNN up to 20 with early stopping, batch 32, Adam) into a
temporary runs folder and prints one line per model. Goals (issue 2): CNN ≥ 99.2 %,
dense ≥ 98.0 % test accuracy.

    MNISTKIT_DATA_DIR=../shared/datasets/mnist python benchmarks/seed_defaults.py [--arch cnn]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=("dense", "cnn", "both"), default="both")
    args = parser.parse_args()
    archs = ("dense", "cnn") if args.arch == "both" else (args.arch,)
    with tempfile.TemporaryDirectory() as runs:
        for arch in archs:
            cmd = [
                sys.executable,
                "-m",
                "mnistkit",
                "train",
                "--arch",
                arch,
                "--runs-dir",
                runs,
                "--json",
            ]
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise SystemExit(f"{arch}: exit {proc.returncode}: {proc.stderr.strip()}")
            summary = json.loads(proc.stdout.strip().splitlines()[-1])
            history = json.loads((Path(summary["run_dir"]) / "history.json").read_text())
            per_epoch = history["epoch_seconds"]
            print(
                f"{arch:5s} test accuracy {summary['test_accuracy']:.4f}  "
                f"test loss {summary['test_loss']:.4f}  epochs {summary['epochs_run']}  "
                f"s/epoch median {statistics.median(per_epoch):.1f} "
                f"(min {min(per_epoch):.1f}, max {max(per_epoch):.1f})  "
                f"train {summary['train_seconds']:.0f} s  params {summary['params']}"
            )


if __name__ == "__main__":
    main()
