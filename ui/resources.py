"""Process-wide cached resources: the run store, MNIST, and models with fast predictors.

Read-only things shared by every browser session live in `st.cache_resource`; TensorFlow is
imported only inside the functions that need a model, so pages without models render fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from mnistkit.data import load_mnist
from mnistkit.runs import RunInfo, RunStore, resolve_runs_dir

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "models"


@dataclass(frozen=True)
class ModelChoice:
    """A model a page can offer: a bundled pretrained one or a run's best checkpoint."""

    label: str
    path: Path
    arch: str | None
    bundled: bool


@st.cache_resource(show_spinner=False)
def _store(root: str) -> RunStore:
    store = RunStore(root)
    store.mark_interrupted()  # once per server process: runs a dead process left "running"
    return store


def run_store() -> RunStore:
    """The runs directory (`MNISTKIT_RUNS_DIR`, default ./runs), checked once at start-up."""
    return _store(str(resolve_runs_dir()))


def mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST as read-only uint8 arrays; `load_mnist` keeps one copy per process."""
    return load_mnist(os.environ.get("MNISTKIT_DATA_DIR") or None)


def model_choices(store: RunStore | None = None) -> list[ModelChoice]:
    """Bundled models first, then every run that kept a model, newest first."""
    choices = [
        ModelChoice(f"pretrained {p.stem}", p, p.stem if p.stem in ("dense", "cnn") else None, True)
        for p in sorted(BUNDLED_DIR.glob("*.keras"))
    ]
    for info in (store or run_store()).list():
        if info.has_model and not info.broken:
            choices.append(
                ModelChoice(run_label(info), info.path / "model.keras", info.arch, False)
            )
    return choices


def run_label(info: RunInfo) -> str:
    acc = f", {info.test_accuracy:.2%}" if info.test_accuracy is not None else ""
    return f"{info.run_id} ({info.arch or '?'}{acc})"


@st.cache_resource(show_spinner="Loading the model…", max_entries=16)
def _predictor(path: str, mtime: float):
    from mnistkit.predict import load_predictor

    return load_predictor(path)


def predictor(path: str | Path):
    """A shared, thread-safe `Predictor` for a model file (reloaded if the file changes).

    Raises `mnistkit.predict.ModelError` with a clear sentence for a bad file. Any page that
    predicts also stops Streamlit's per-run Keras reset (`keep_keras_state`), which otherwise
    costs every stroke on the Draw page a `clear_session()` and a full garbage collection.
    """
    keep_keras_state()
    path = Path(path)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = -1.0
    return _predictor(str(path), mtime)


def keep_keras_state() -> None:
    """Stop Streamlit from calling `keras.backend.clear_session()` after every script run.

    Streamlit's script runner "cleans" Keras after each run and fragment rerun of any session
    (`script_runner._clean_problem_modules`): that resets Keras' global state for every
    thread, clears TensorFlow's kernel cache and forces a full garbage collection, which
    slows a background training job (and shared predictors) many times over. This keeps
    only the harmless part (closing pyplot figures). Idempotent; a no-op if Streamlit
    changes its internals.
    """
    import sys

    from streamlit.runtime.scriptrunner import script_runner

    current = getattr(script_runner, "_clean_problem_modules", None)
    if current is None or getattr(current, "_mnistkit", False):
        return

    def _close_figures_only() -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")

    _close_figures_only._mnistkit = True  # type: ignore[attr-defined]
    script_runner._clean_problem_modules = _close_figures_only
