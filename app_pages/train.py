"""Train: pick an architecture and settings, train in a background job, watch the curves live.

The job belongs to this browser session (see `ui.job`); this script only reads its snapshot.
A fragment polls the snapshot while it trains, so widget changes or a page switch never
interrupt training.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from mnistkit.catalog import accuracy_text
from mnistkit.config import (
    ACTIVATION_NAMES,
    ARCHS,
    DEFAULT_PRESET,
    LR_SCHEDULES,
    OPTIMIZER_NAMES,
    PRESETS,
    TrainConfig,
)
from mnistkit.limits import LimitError, load_limits
from mnistkit.links import read_link
from mnistkit.outcome import judge
from mnistkit.progress import Snapshot
from mnistkit.speed import estimate
from ui import charts, explain
from ui import replay as replay_ui
from ui.identity import current_actor
from ui.job import current_job, start_job, stop_job
from ui.messages import OUTCOMES, plain
from ui.resources import keep_keras_state, run_store

keep_keras_state()  # Streamlit would otherwise reset Keras after every poll of the curves

POLL_SECONDS = 0.7
FULL = 60_000  # subset value meaning "all training images"
SUBSETS = (300, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 30_000, FULL)
BATCH_SIZES = (16, 32, 64, 128, 256, 512)
RATES = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
FORM = "train_form"  # session_state: the form's values, kept across page switches
SHOWN_JOB = "train_form_job"  # session_state: the job whose settings the form last showed
MODIFIED = "modified"  # the preset box's value (and extra option) when the form matches none
MODIFIED_LABEL = "modified (your own settings)"
FIELDS = (  # widget keys are f"train_{field}"
    "arch",
    "epochs",
    "dropout",
    "optimizer",
    "learning_rate",
    "lr_schedule",
    "batch_size",
    "activation",
    "subset",
    "seed",
    "patience",
    "augment",
    "name",
    "steps_per_execution",  # no widget: carried from the applied preset (a speed setting)
)


def form_values(config: TrainConfig, name: str = "") -> dict:
    """The form's values for a config (subset None → all images)."""
    values = {f: getattr(config, f) for f in FIELDS if f != "name"}
    values["subset"] = FULL if config.subset is None or config.subset >= FULL else config.subset
    if values["subset"] not in SUBSETS:
        values["subset"] = min(SUBSETS, key=lambda s: abs(s - config.subset))
    values["name"] = name
    return values


def config_from_form(values: dict) -> TrainConfig:
    """The `TrainConfig` the form describes."""
    fields = {f: values[f] for f in FIELDS if f not in ("name", "subset")}
    subset = None if values["subset"] >= FULL else int(values["subset"])
    return TrainConfig(**fields, subset=subset)


def _load_form() -> None:
    """Put the remembered form values into the widget keys (Streamlit drops them on page switch)."""
    if FORM not in st.session_state:
        st.session_state[FORM] = form_values(PRESETS[DEFAULT_PRESET].make(TrainConfig().arch))
    for field, value in st.session_state[FORM].items():
        st.session_state.setdefault(f"train_{field}", value)


def _current_values() -> dict:
    return {f: st.session_state[f"train_{f}"] for f in FIELDS}


def matching_preset(values: dict) -> str:
    """The id of the preset whose settings (for the form's architecture) the form holds,
    else MODIFIED."""
    for preset_id, preset in PRESETS.items():
        if form_values(preset.make(values["arch"]), values["name"]) == values:
            return preset_id
    return MODIFIED


def _fill_form(values: dict) -> None:
    st.session_state[FORM] = values
    for field, value in values.items():
        st.session_state[f"train_{field}"] = value


def _apply_preset() -> None:
    """Preset box callback: its settings for the chosen architecture fill the form."""
    if st.session_state.train_preset == MODIFIED:
        return
    preset = PRESETS[st.session_state.train_preset]
    _fill_form(form_values(preset.make(st.session_state.train_arch), st.session_state.train_name))


def _follow_architecture() -> None:
    """Architecture callback: a form that held a preset gets that preset's settings for the
    new architecture (the CNN's 4 epochs at lr 0.01 are not the dense net's); a modified
    form keeps its values."""
    before, now = st.session_state[FORM], _current_values()
    others_kept = all(now[f] == before[f] for f in FIELDS if f != "arch")
    preset_id = matching_preset(before)
    if preset_id != MODIFIED and others_kept:  # (several changes at once: keep them all)
        preset = PRESETS[preset_id]
        _fill_form(form_values(preset.make(st.session_state.train_arch), before["name"]))


def _show_job_settings(job) -> None:
    """Put a running job's own settings in the form, once per job (e.g. after a reload)."""
    if st.session_state.get(SHOWN_JOB) == job.id:
        return
    st.session_state[SHOWN_JOB] = job.id
    values = form_values(job.config, job.name or "")
    st.session_state[FORM] = values
    for field, value in values.items():
        st.session_state[f"train_{field}"] = value


def describe(config: TrainConfig) -> str:
    """One line of a config's settings, e.g. 'CNN · 4 epochs · batch 128 · adam, lr 0.01'."""
    arch = {"dense": "Dense network", "cnn": "CNN"}.get(config.arch, config.arch)
    images = "all 60 000 images" if config.subset is None else f"{config.subset:,} images"
    parts = [
        arch,
        f"{config.epochs} epoch{'s' if config.epochs != 1 else ''} at most",
        f"batch {config.batch_size}",
        f"{config.optimizer}, learning rate {config.learning_rate:g} ({config.lr_schedule})",
        f"{config.activation}",
        f"dropout {config.dropout:g}",
        images,
    ]
    if config.augment:
        parts.append("augmented")
    return " · ".join(parts)


def _start() -> None:
    try:
        config = config_from_form(_current_values())
    except ValueError as exc:
        st.session_state.train_error = str(exc)
        return
    try:
        start_job(config, st.session_state.train_name)
    except LimitError as exc:  # the lesson's caps, checked by the library whatever the widgets say
        st.session_state.train_error = f"Not started: {exc}."
        return
    st.session_state.pop("train_error", None)


@st.cache_data(show_spinner="Building the model (the first time loads TensorFlow)…")
def model_summary(config_json: str) -> tuple[list[dict], int]:
    """Layer table and parameter count of the model a config builds (architecture fields only)."""
    from mnistkit.models import build_model, layer_summary

    model = build_model(TrainConfig.from_json(config_json))
    return layer_summary(model), int(model.count_params())


def _apply_link(link) -> None:
    """Open the page as a lesson link set it up (once per link and session)."""
    preset = link.preset or st.session_state.get("train_preset", DEFAULT_PRESET)
    if preset not in presets:
        preset = presets[0]
    arch = link.values.get("arch", st.session_state.get("train_arch", TrainConfig().arch))
    base = PRESETS[preset].make(arch).to_dict()
    try:
        config = TrainConfig.from_dict({**base, **link.values})
    except ValueError:  # settings that are fine alone but not together: the preset alone
        config = PRESETS[preset].make(arch)
    values = form_values(config, st.session_state.get("train_name", ""))
    values["batch_size"] = min(BATCH_SIZES, key=lambda b: abs(b - config.batch_size))
    values["learning_rate"] = min(RATES, key=lambda r: abs(r - config.learning_rate))
    values["epochs"] = min(config.epochs, 30)  # the widgets' ranges
    values["patience"] = min(config.patience, 10)
    values["dropout"] = round(min(config.dropout, 0.8) * 20) / 20
    values["seed"] = max(0, min(config.seed, 2**31 - 1))
    st.session_state[FORM] = values
    for field, value in values.items():
        st.session_state[f"train_{field}"] = value
    st.session_state.train_preset = preset


def _architecture_key(values: dict) -> str:
    """The summary depends only on these fields: cache one entry per architecture."""
    keep = ("arch", "dropout", "activation", "augment")
    return TrainConfig(**{k: values[k] for k in keep}).to_json()


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def progress_text(snap: Snapshot) -> str:
    """'epoch e/E · batch b/B · what it does · ~Ns left' (time measured on this machine)."""
    if snap.steps_per_epoch == 0:
        return snap.message or "starting…"
    epoch = min(snap.epoch + 1, snap.epochs)
    step = (
        snap.steps_per_epoch if snap.epoch >= snap.epochs else min(snap.step, snap.steps_per_epoch)
    )
    text = f"epoch {epoch}/{snap.epochs} · batch {step}/{snap.steps_per_epoch}"
    if snap.message and snap.message != "training":
        text += f" · {snap.message}"
    if snap.fraction < 1:
        text += f" · ~{_duration(snap.eta)} left" if snap.eta is not None else " · timing…"
    return text


@st.fragment(run_every=POLL_SECONDS)
def live_panel(job) -> None:
    """Redrawn every POLL_SECONDS from the job's snapshot; a full rerun once the job ends."""
    snap = job.snapshot()
    if snap.finished:
        st.rerun()
    if snap.status == "queued":
        position = snap.queue_position or 1
        st.info(
            f"Waiting: {_ordinal(position)} in line for a free training slot "
            "(other people are training). **Stop** takes you out of the line."
        )
        return
    st.caption(f"Training now: {describe(job.config)}")
    st.progress(snap.fraction, text=progress_text(snap))
    curves, pictures = st.columns([5, 2])
    with curves:
        charts.training_curves(snap.batches, snap.history)
    with pictures:
        replay_ui.live_views(snap.run_dir)


def finished_panel(snap: Snapshot) -> None:
    """Outcome, test accuracy, final curves and where to go next."""
    run = Path(snap.run_dir).name if snap.run_dir else None
    where = f" (run `{run}`)" if run else ""
    verdict = judge(snap.metrics, snap.history) if snap.status in ("completed", "stopped") else None
    if verdict is not None:
        title, advice = OUTCOMES[verdict]
        st.error(f"{title}{where}: {plain(snap.message)}. {advice}")
    elif snap.status == "completed":
        st.success(f"Training completed{where}: {plain(snap.message)}")
    elif snap.status == "stopped":
        st.warning(f"Training stopped{where}: {plain(snap.message)}")
    else:
        st.error(f"Training {snap.status}{where}: {plain(snap.message)}")
    metrics = snap.metrics or {}
    if metrics.get("test_accuracy") is not None:
        a, b, c = st.columns(3)
        a.metric("Test accuracy", accuracy_text(metrics["test_accuracy"]))
        if metrics.get("epochs_run") is not None:
            best = metrics.get("best_epoch", "?")
            b.metric("Epochs run", metrics["epochs_run"], help=f"best epoch: {best}")
        if metrics.get("train_seconds") is not None:
            c.metric("Training time", _duration(metrics["train_seconds"]))
    if snap.batches or snap.history:
        charts.training_curves(snap.batches, snap.history)
    if metrics:
        st.write("Next: compare this run with others, or draw digits for it to read.")
        explain.page_link(
            "app_pages/compare.py", label="Compare runs", icon=":material/compare_arrows:"
        )
        explain.page_link("app_pages/draw.py", label="Draw & predict", icon=":material/draw:")


# --- page ---------------------------------------------------------------------------------
st.title("Train a model")
st.write(
    "Choose a network and its settings, press **Start**, and watch it learn. Training runs in the "
    "background: you may switch pages and come back."
)

actor = current_actor()
limits = load_limits(run_store().root)
presets = [p for p in PRESETS if actor.teacher or limits.presets is None or p in limits.presets]
presets = presets or [DEFAULT_PRESET]
job = current_job(actor)
snap = job.snapshot() if job is not None else None
busy = snap is not None and not snap.finished
_load_form()
link = read_link(st.query_params.to_dict())
link_key = repr(sorted(st.query_params.to_dict().items()))
if not link.empty and st.session_state.get("train_link") != link_key:
    st.session_state.train_link = link_key  # applied once: the student may change it after
    st.session_state.train_link_hidden = link.hidden
    _apply_link(link)
if link.problems:
    st.caption(f"This lesson link has {len(link.problems)} setting(s) this page cannot use.")
hidden = set(st.session_state.get("train_link_hidden", ()))
hidden |= set() if actor.teacher else set(limits.hidden)
if busy:  # the form shows what is training, not what it held before (a reload, a new tab)
    _show_job_settings(job)
matched = matching_preset(_current_values())
st.session_state.train_preset = matched if matched in presets else MODIFIED
tip = explain.CONTROL_TIPS


def show(control: str) -> bool:
    """Whether a control is on the page (a lesson link or the lesson's limits may hide it)."""
    return control not in hidden


controls, notes = st.columns([3, 2], gap="large")
with controls:
    if busy:
        st.caption("These are the settings of the run that is training; Stop it to change them.")
    if show("preset"):
        st.selectbox(
            "Preset",
            (*presets, MODIFIED) if matched == MODIFIED or matched not in presets else presets,
            key="train_preset",
            on_change=_apply_preset,
            disabled=busy,
            format_func=lambda i: PRESETS[i].label if i in PRESETS else MODIFIED_LABEL,
            help=tip["preset"],
        )
    if show("arch"):
        st.radio(
            "Architecture",
            ARCHS,
            key="train_arch",
            horizontal=True,
            on_change=_follow_architecture,
            disabled=busy,
            format_func={"dense": "Dense network", "cnn": "CNN"}.get,
            help=tip["arch"],
        )
    summary_slot = st.container()  # filled last: building the model may first load TensorFlow
    left, right = st.columns(2)
    with left:
        if show("epochs"):
            st.slider(
                "Epochs (at most)", 1, 30, key="train_epochs", disabled=busy, help=tip["epochs"]
            )
        if show("batch_size"):
            st.select_slider(
                "Batch size", BATCH_SIZES, key="train_batch_size", disabled=busy, help=tip["batch"]
            )
        if show("optimizer"):
            st.selectbox(
                "Optimizer",
                OPTIMIZER_NAMES,
                key="train_optimizer",
                disabled=busy,
                help=tip["optimizer"],
            )
        if show("learning_rate"):
            st.select_slider(
                "Learning rate", RATES, key="train_learning_rate", disabled=busy, help=tip["rate"]
            )
        if show("lr_schedule"):
            st.selectbox(
                "Learning-rate schedule",
                LR_SCHEDULES,
                key="train_lr_schedule",
                disabled=busy,
                help=tip["schedule"],
            )
        if show("seed"):
            st.number_input(
                "Seed", 0, 2**31 - 1, step=1, key="train_seed", disabled=busy, help=tip["seed"]
            )
    with right:
        if show("activation"):
            st.selectbox(
                "Activation",
                ACTIVATION_NAMES,
                key="train_activation",
                disabled=busy,
                help=tip["activation"],
            )
        if show("dropout"):
            st.slider(
                "Dropout",
                0.0,
                0.8,
                step=0.05,
                key="train_dropout",
                disabled=busy,
                help=tip["dropout"],
            )
        if show("subset"):
            st.select_slider(
                "Training images",
                SUBSETS,
                key="train_subset",
                disabled=busy,
                format_func=lambda n: "all 60 000" if n >= FULL else f"{n:,}",
                help=tip["images"],
            )
        if show("patience"):
            st.slider(
                "Early-stopping patience (epochs, 0 = off)",
                0,
                10,
                key="train_patience",
                disabled=busy,
                help=tip["patience"],
            )
        if show("augment"):
            st.toggle(
                "Augment (random shift, rotation, zoom)",
                key="train_augment",
                disabled=busy,
                help=tip["augment"],
            )
        st.text_input(
            "Run name",
            key="train_name",
            max_chars=60,
            placeholder="e.g. my first CNN",
            disabled=busy,
            help=tip["name"],
        )
    st.session_state[FORM] = _current_values()

    b1, b2, _ = st.columns([1, 1, 3])
    b1.button("Start", key="train_start", type="primary", disabled=busy, on_click=_start)
    b2.button(
        "Stop",
        key="train_stop",
        disabled=not busy,
        on_click=stop_job,
        help="Stops within a few batches and keeps the best model so far; "
        "takes a waiting run out of the line.",
    )
    if st.session_state.get("train_error"):
        st.error(st.session_state.train_error)
    if not busy:
        try:
            planned = config_from_form(st.session_state[FORM])
        except ValueError:
            planned = None
        guess = estimate(planned, run_store().list()) if planned is not None else None
        if guess is not None:
            st.caption(
                f"On this computer this should take about {_duration(guess.seconds)} "
                f"(measured on its latest {guess.run.arch} run; slower when others train at "
                "the same time)."
            )
        else:
            st.caption(
                "How long this takes depends on this computer and on who else is training: "
                "after the first epoch the progress bar says how long is left."
            )

with notes, st.container(border=True):
    explain.train_notes()

with summary_slot:
    try:
        rows, params = model_summary(_architecture_key(st.session_state[FORM]))
    except Exception as exc:  # a broken TensorFlow install must not hide the rest of the page
        st.error(f"The model cannot be built here: {plain(exc)}")
    else:
        with st.expander(f"Layers · {params:,} parameters"):
            st.metric("Parameters", f"{params:,}")
            st.dataframe(pd.DataFrame(rows), hide_index=True)

st.header("Progress")
if job is None:
    st.caption("No training yet: press **Start**.")
elif busy:
    live_panel(job)
else:
    finished_panel(snap)
