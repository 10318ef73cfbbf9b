"""Compare: runs side by side — curves, a summary table, confusion matrices, test images.

Everything comes from the run folders (history.json, metrics.json, predictions.json,
model.keras, snapshots/); TensorFlow is never needed here. A damaged run is listed with its
reason and a run deleted while listed gives a message, never a crash.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from mnistkit import ownership
from mnistkit.catalog import accuracy_text, run_label
from mnistkit.data import DataError
from mnistkit.run_files import Unreadable, number
from mnistkit.runs import RunBusyError, RunInfo, history_csv
from ui import charts, explain, pictures
from ui import replay as replay_ui
from ui.identity import current_actor
from ui.messages import plain
from ui.resources import mnist, run_predictions, run_store

SELECTION = "compare_runs"  # session_state key of the multiselect
MISCLASSIFIED = 15  # misclassified test images shown
MATRICES_PER_ROW = 3


def table_row(info: RunInfo) -> dict:
    """One row of the comparison table."""
    config, metrics = info.config or {}, info.metrics or {}
    epochs = metrics.get("epochs_run")
    if epochs is None and info.history:
        epochs = len(info.history.get("loss") or [])
    return {
        "name": info.name,  # as typed (any script); the run id is the folder
        "run": info.run_id,
        "architecture": info.arch or "?",
        "parameters": metrics.get("params"),
        "epochs": epochs,
        "optimizer": str(config.get("optimizer", "?")),
        "dropout": number(config.get("dropout")),
        "learning rate": number(config.get("learning_rate")),
        "test accuracy": accuracy_text(info.test_accuracy),
        "training time (s)": metrics.get("train_seconds"),
        "status": info.status,
    }


def _delete(run_id: str) -> None:
    """Delete-button callback: the policy refuses someone else's run (`ownership`), the
    store a run that is still training."""
    st.session_state.compare_confirm = False
    try:
        ownership.delete_run(run_store(), current_actor(), run_id)
    except ownership.NotYoursError as exc:
        st.session_state.compare_notice = ("error", f"Not deleted: {exc}.")
        return
    except RunBusyError as exc:
        st.session_state.compare_notice = ("error", plain(exc))
        return
    except (OSError, ValueError) as exc:
        failed = f"Could not delete {plain(run_id)}: {plain(exc)}"
        st.session_state.compare_notice = ("error", failed)
        return
    st.session_state.compare_notice = ("success", f"Deleted {plain(run_id)}.")
    if SELECTION in st.session_state:
        st.session_state[SELECTION] = [r for r in st.session_state[SELECTION] if r != run_id]


def _rename(run_id: str) -> None:
    """Rename-button callback: only the run's owner or the teacher (`ownership`)."""
    try:
        name = st.session_state.get(f"compare_rename-{run_id}", "")
        ownership.rename_run(run_store(), current_actor(), run_id, name)
    except ownership.NotYoursError as exc:
        st.session_state.compare_notice = ("error", f"Not renamed: {exc}.")
    except (OSError, ValueError) as exc:
        st.session_state.compare_notice = ("error", f"Could not rename {run_id}: {exc}")


# --- page ---------------------------------------------------------------------------------
st.title("Compare runs")
st.write("Put runs side by side: how they learned, how well they do on the 10 000 test images.")

store = run_store()
actor = current_actor()
infos = store.list()
usable = {i.run_id: i for i in infos if not i.broken}
broken = [i for i in infos if i.broken]
owners = {i.run_id: ownership.owner_of(store, i) for i in infos}
mine = {r for r, owner in owners.items() if ownership.may_change_run(actor, owner)}


def _label(run_id: str) -> str:
    """A run's label in the pickers: its name, accuracy and owner (shown as plain text)."""
    return f"{run_label(usable[run_id])} · {owners[run_id].label}"


notice = st.session_state.pop("compare_notice", None)
if notice:
    getattr(st, notice[0])(notice[1])

if broken:
    with st.expander(f"{len(broken)} run folder(s) cannot be read", icon=":material/warning:"):
        st.dataframe(
            pd.DataFrame({"run": [i.run_id for i in broken], "reason": [i.error for i in broken]}),
            hide_index=True,
        )

selected: list[RunInfo] = []
if not usable:
    st.info("No runs to compare yet: train a dense network and a CNN first.")
    explain.page_link("app_pages/train.py", label="Train", icon=":material/model_training:")
else:
    if SELECTION in st.session_state:
        kept = [r for r in st.session_state[SELECTION] if r in usable]
        for gone in set(st.session_state[SELECTION]) - set(kept):
            st.warning(f"Run {plain(gone)} no longer exists or cannot be read; it was removed.")
        st.session_state[SELECTION] = kept
    else:
        latest = [store.latest(arch=a) for a in ("dense", "cnn")]
        defaults = [i.run_id for i in latest if i is not None and i.run_id in usable]
        st.session_state[SELECTION] = defaults or list(usable)[:1]
    chosen = st.multiselect(
        "Runs",
        list(usable),
        key=SELECTION,
        format_func=_label,
        help="Default: the latest dense network and the latest CNN.",
    )
    for run_id in chosen:
        info = store.load(run_id)  # read again: it may have changed or gone since the listing
        if info.broken:
            st.warning(f"Run {plain(run_id)} cannot be read any more: {plain(info.error)}")
        else:
            selected.append(info)
            if info.error:  # values the library dropped from damaged files
                st.warning(f"Run {plain(run_id)}: {plain(info.error)}")

if selected:
    st.header("Learning curves")
    names = [run_label(i) for i in selected]  # the names as typed; the id only for twins
    charts.compare_curves(
        {
            name if names.count(name) == 1 else f"{name} ({i.run_id})": i.history or {}
            for name, i in zip(names, selected, strict=True)
        }
    )

    st.header("Summary")
    st.dataframe(
        pd.DataFrame([{"owner": owners[i.run_id].label, **table_row(i)} for i in selected]),
        hide_index=True,
        column_config={
            "parameters": st.column_config.NumberColumn(format="localized"),
            "epochs": st.column_config.NumberColumn(format="%d"),
            "learning rate": st.column_config.NumberColumn(format="%g"),
            "training time (s)": st.column_config.NumberColumn(format="%.1f"),
        },
    )

    st.header("Confusion matrices")
    st.caption(explain.CONFUSION)
    with_cm = [i for i in selected if (i.metrics or {}).get("confusion_matrix")]
    if not with_cm:
        st.caption("None of these runs has test metrics yet.")
    for start in range(0, len(with_cm), MATRICES_PER_ROW):
        row = with_cm[start : start + MATRICES_PER_ROW]
        for column, info in zip(st.columns(MATRICES_PER_ROW), row, strict=False):
            with column:
                title = run_label(info)
                pictures.confusion_matrix(info.metrics["confusion_matrix"], title)

    st.header("One run in detail")
    ids = [i.run_id for i in selected]
    if st.session_state.get("compare_focus") not in ids:
        st.session_state.compare_focus = ids[0]
    focus_id = st.selectbox("Run", ids, key="compare_focus", format_func=_label)
    focus = next(i for i in selected if i.run_id == focus_id)

    st.subheader("How it learned")
    if focus.status in ("queued", "running"):
        st.caption("Still training: its replay appears here when it has finished.")
    else:
        replay_ui.replay_section(focus.path, "compare_replay")

    predictions = run_predictions(focus)
    try:
        (_, _), (x_test, y_test) = mnist()
    except DataError as exc:
        st.warning(f"The test images cannot be shown: {plain(exc)}")
    else:
        if predictions is None or len(predictions) != len(y_test):
            st.caption("This run has no predictions for the test set (predictions.json).")
        else:
            wrong = np.flatnonzero(predictions != y_test)
            st.subheader("Misclassified test images")
            st.caption(
                f"{len(wrong):,} of {len(y_test):,} test images are misclassified; "
                f"the first {min(MISCLASSIFIED, len(wrong))} (red: predicted, true)."
            )
            shown = wrong[:MISCLASSIFIED]
            pictures.labelled_images(
                x_test[shown],
                [f"{predictions[i]} (true {y_test[i]})" for i in shown],
                wrong=[True] * len(shown),
            )
            st.subheader("The first test images")
            n = st.slider("How many", 10, 50, 20, step=5, key="compare_first_n")
            pictures.labelled_images(
                x_test[:n],
                [f"{predictions[i]} (true {y_test[i]})" for i in range(n)],
                cols=10,
                wrong=[bool(predictions[i] != y_test[i]) for i in range(n)],
                cell=1.1,
            )

    st.subheader("Downloads")
    d1, d2 = st.columns(2)
    model_bytes = None
    if focus.run_id not in mine:
        d1.caption("Downloads and renaming are for the run's owner and the teacher.")
    else:
        try:  # read now: a download that fails after the click does nothing in the browser
            model_bytes = store.model_bytes(focus.run_id) if focus.has_model else None
        except (OSError, Unreadable) as exc:
            d1.caption(f"The model file cannot be downloaded: {plain(exc)}")
    if model_bytes is not None:
        d1.download_button(
            "Model (.keras)",
            data=model_bytes,
            file_name=f"{focus.run_id}.keras",
            mime="application/octet-stream",
            on_click="ignore",
            key="compare_download_model",
            icon=":material/download:",
        )
    elif focus.run_id in mine and not focus.has_model:
        d1.caption("This run kept no model.")
    if focus.run_id in mine:
        d2.download_button(
            "History (.csv)",
            data=history_csv(focus.history or {}),
            file_name=f"{focus.run_id}-history.csv",
            mime="text/csv",
            on_click="ignore",
            key="compare_download_history",
            icon=":material/show_chart:",
        )
        r1, r2 = st.columns([3, 1], vertical_alignment="bottom")
        r1.text_input(
            "Show this run as", value=focus.name, key=f"compare_rename-{focus.run_id}", max_chars=60
        )
        r2.button("Rename", key="compare_rename_button", on_click=_rename, args=(focus.run_id,))

# --- delete ---------------------------------------------------------------------------------
if infos:
    st.header("Delete a run")
    every = [i.run_id for i in infos if i.run_id in mine]  # only runs you may change
    if len(every) < len(infos):
        st.caption("You can delete your own runs; other people's runs are theirs to delete.")
if infos and every:
    if st.session_state.get("compare_delete") not in every:
        st.session_state.pop("compare_delete", None)  # deleted meanwhile
    target = st.selectbox(
        "Run to delete", every, key="compare_delete", index=None, placeholder="Choose a run"
    )
    confirm = st.checkbox("Yes, delete this run folder for good", key="compare_confirm")
    st.button(
        "Delete",
        key="compare_delete_button",
        disabled=not (confirm and target),
        on_click=_delete,
        args=(target,),
        icon=":material/delete:",
    )
