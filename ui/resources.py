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
from pathlib import Path

import numpy as np
import streamlit as st

from mnistkit import catalog
from mnistkit.catalog import ModelChoice
from mnistkit.data import load_mnist
from mnistkit.runs import RunInfo, RunStore, resolve_runs_dir


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


def run_predictions(info: RunInfo) -> np.ndarray | None:
    """`RunStore.predictions` of a run as an array (None without valid ones), read once per
    version of its predictions.json: Compare and Inside ask on every rerun."""
    store = RunStore(info.path.parent)
    mtime = model_mtime(info.path / "predictions.json")
    return None if mtime < 0 else _predictions(str(store.root), info.run_id, mtime)


@st.cache_data(show_spinner=False, max_entries=32)
def _predictions(root: str, run_id: str, mtime: float) -> np.ndarray | None:
    labels = RunStore(root).predictions(run_id)
    return None if labels is None else np.asarray(labels, dtype=np.int8)


def predicted_test_labels(choice: ModelChoice) -> np.ndarray:
    """The model's predicted digit for every MNIST test image: a run's own predictions.json
    when it has valid ones, else predicted once per model file (bundled models have none)."""
    if choice.run_id is not None:
        labels = run_predictions(run_store().load(choice.run_id))
        if labels is not None and len(labels) == len(mnist()[1][1]):
            return labels
    return _predict_test_labels(str(choice.path), model_mtime(choice.path))


@st.cache_data(show_spinner="Classifying the 10 000 test images…", max_entries=8)
def _predict_test_labels(path: str, mtime: float) -> np.ndarray:
    from mnistkit.data import to_model_input

    _, (x_test, _) = mnist()
    return predictor(path).proba(to_model_input(x_test)).argmax(axis=1).astype(np.int8)


CHOICES_TTL_S = 2.0  # a new or deleted run shows at once; a run's new model within this


def model_choices(store: RunStore | None = None) -> list[ModelChoice]:
    """`mnistkit.catalog.list_choices`: bundled models first, then every run that kept a
    model, newest first.

    Without `store` (the app's runs folder), the list is shared for `CHOICES_TTL_S` seconds:
    the Draw page asks on every stroke, and listing reads every run's JSON files (~5 ms for
    40 runs). A run folder added or removed changes the folder's mtime, a new key.
    """
    if store is not None:
        return catalog.list_choices(store)
    root, bundled = str(resolve_runs_dir()), catalog.BUNDLED_DIR
    return list(_shared_choices(str(bundled), model_mtime(bundled), root, model_mtime(root)))


@st.cache_resource(show_spinner=False, ttl=CHOICES_TTL_S, max_entries=8)
def _shared_choices(
    bundled_dir: str, bundled_mtime: float, root: str, root_mtime: float
) -> tuple[ModelChoice, ...]:
    return tuple(catalog.list_choices(_store(root), Path(bundled_dir)))


def model_mtime(path: str | Path) -> float:
    """The file's (or folder's) modification time, -1 if it is missing: a cache key part."""
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return -1.0


@st.cache_resource(show_spinner="Loading the model…", max_entries=16)
def _predictor(path: str, mtime: float):
    preloaded = _take_preloaded(path, mtime)
    if preloaded is not None:
        return preloaded.result()  # waits while it is still loading; raises what it raised
    from mnistkit.predict import load_predictor

    return load_predictor(path)


FAILED_LOADS_KEPT = 64  # file versions whose load failed, remembered (oldest forgotten first)
_failed_loads: dict[tuple[str, float], Exception] = {}
_failed_lock = threading.Lock()


def predictor(path: str | Path):
    """A shared, thread-safe `Predictor` for a model file (reloaded if the file changes).

    Raises `mnistkit.predict.ModelError` with a clear sentence for a bad file; a file version
    that failed once fails again at once (a zip bomb or a huge model costs its seconds and
    gigabytes once, not on every stroke of every session that picked it). Any page that
    predicts also stops Streamlit's per-run Keras reset (`keep_keras_state`), which otherwise
    costs every stroke on the Draw page a `clear_session()` and a full garbage collection.
    """
    from mnistkit.errors import MnistkitError

    keep_keras_state()
    key = (str(Path(path)), model_mtime(path))
    with _failed_lock:
        failed = _failed_loads.get(key)
    if failed is not None:  # a new exception each time: re-raising one object grows its
        raise type(failed)(*failed.args)  # traceback by this page run's frames, every stroke
    try:
        return _predictor(*key)
    except MnistkitError as exc:
        with _failed_lock:
            _failed_loads[key] = exc.with_traceback(None)
            while len(_failed_loads) > FAILED_LOADS_KEPT:
                _failed_loads.pop(next(iter(_failed_loads)))
        raise


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
    return preload_models(choice.path for choice in catalog.default_choices(model_choices()))


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
