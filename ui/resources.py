"""Process-wide cached resources: the run store, MNIST, and models with fast predictors.

Read-only things shared by every browser session live in `st.cache_resource`; TensorFlow is
imported only inside the functions that need a model, so pages without models render fast.
After the first page run (and whenever the Draw page opens) a background thread imports
TensorFlow and loads the Draw page's models (`preload_models`), so the first stroke does not
wait 3–5 s for them; `predictor()` takes what it loaded.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from concurrent.futures import Future
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


CHOICES_TTL_S = 2.0  # a new or deleted run shows at once; a run's new model within this


def model_choices(store: RunStore | None = None) -> list[ModelChoice]:
    """Bundled models first, then every run that kept a model, newest first.

    Without `store` (the app's runs folder), the list is shared for `CHOICES_TTL_S` seconds:
    the Draw page asks on every stroke, and listing reads every run's JSON files (~5 ms for
    40 runs). A run folder added or removed changes the folder's mtime, a new key.
    """
    if store is not None:
        return list_choices(store)
    root = str(resolve_runs_dir())
    return list(
        _shared_choices(str(BUNDLED_DIR), model_mtime(BUNDLED_DIR), root, model_mtime(root))
    )


@st.cache_resource(show_spinner=False, ttl=CHOICES_TTL_S, max_entries=8)
def _shared_choices(
    bundled_dir: str, bundled_mtime: float, root: str, root_mtime: float
) -> tuple[ModelChoice, ...]:
    return tuple(list_choices(_store(root), Path(bundled_dir)))


def default_choices(choices: Iterable[ModelChoice]) -> list[ModelChoice]:
    """The first dense and the first CNN offered (bundled ones come first, then newest runs)."""
    picked: dict[str, ModelChoice] = {}
    for choice in choices:
        if choice.arch in ("dense", "cnn") and choice.arch not in picked:
            picked[choice.arch] = choice
    return [picked[a] for a in ("dense", "cnn") if a in picked]


def list_choices(store: RunStore, bundled_dir: Path | None = None) -> list[ModelChoice]:
    """The models `model_choices` offers, listed now from `store` and the bundled folder."""
    bundled_dir = BUNDLED_DIR if bundled_dir is None else bundled_dir
    choices = [
        ModelChoice(f"pretrained {p.stem}", p, p.stem if p.stem in ("dense", "cnn") else None, True)
        for p in sorted(bundled_dir.glob("*.keras"))
    ]
    for info in store.list():
        if info.has_model and not info.broken:
            choices.append(ModelChoice(run_label(info), info.model_path, info.arch, False))
    return choices


def model_mtime(path: str | Path) -> float:
    """The file's (or folder's) modification time, -1 if it is missing: a cache key part."""
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return -1.0


def run_label(info: RunInfo) -> str:
    acc = f", {info.test_accuracy:.2%}" if info.test_accuracy is not None else ""
    return f"{info.run_id} ({info.arch or '?'}{acc})"


@st.cache_resource(show_spinner="Loading the model…", max_entries=16)
def _predictor(path: str, mtime: float):
    preloaded = _take_preloaded(path, mtime)
    if preloaded is not None:
        return preloaded.result()  # waits while it is still loading; raises what it raised
    from mnistkit.predict import load_predictor

    return load_predictor(path)


def predictor(path: str | Path):
    """A shared, thread-safe `Predictor` for a model file (reloaded if the file changes).

    Raises `mnistkit.predict.ModelError` with a clear sentence for a bad file. Any page that
    predicts also stops Streamlit's per-run Keras reset (`keep_keras_state`), which otherwise
    costs every stroke on the Draw page a `clear_session()` and a full garbage collection.
    """
    keep_keras_state()
    return _predictor(str(Path(path)), model_mtime(path))


# --- loading models before the first stroke ------------------------------------------------

PRELOAD_ENV = "MNISTKIT_PRELOAD"  # "0": load models only when a page first predicts
_preload_lock = threading.Lock()
# (path, mtime) → the load in the background thread; None once `_predictor` took it.
_preloads: dict[tuple[str, float], Future | None] = {}


def preload_models(paths: Iterable[str | Path]) -> list[Path]:
    """Start importing TensorFlow and loading these model files in a background thread, so a
    page's first prediction does not wait for them (3–5 s on a fresh server). Each file
    version is loaded at most once per process; `predictor()` takes the result (waiting if
    the load is still running). Returns the files this call started loading.
    """
    if os.environ.get(PRELOAD_ENV, "1").strip() == "0":
        return []
    keep_keras_state()  # before Keras exists: Streamlit must not reset it mid-load
    todo: list[tuple[str, Future]] = []
    with _preload_lock:
        for path in paths:
            key = (str(Path(path)), model_mtime(path))
            if key[1] >= 0 and key not in _preloads:
                _preloads[key] = Future()
                todo.append((key[0], _preloads[key]))
    if todo:
        name = "mnistkit-preload"
        threading.Thread(target=_load_all, args=(todo,), name=name, daemon=True).start()
    return [Path(path) for path, _ in todo]


def preload_default_models() -> list[Path]:
    """`preload_models` for the Draw page's default models; the app calls it after each page
    run, so they load while the first page is read, before anyone opens Draw."""
    return preload_models(choice.path for choice in default_choices(model_choices()))


def _load_all(todo: list[tuple[str, Future]]) -> None:
    """The background thread: load each model into its future (a failure is kept, not lost)."""
    from mnistkit.predict import load_predictor

    for path, future in todo:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(load_predictor(path))
            except BaseException as exc:  # ModelError and friends: `predictor()` raises it
                future.set_exception(exc)


def _take_preloaded(path: str, mtime: float) -> Future | None:
    """The background load of this file version, once (later calls get None)."""
    with _preload_lock:
        future = _preloads.get((path, mtime))
        if future is not None:
            _preloads[(path, mtime)] = None
        return future


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
