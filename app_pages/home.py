"""Home: a lesson in three steps first, then the models and the latest runs; the teacher's
setup (where the data comes from) folded away.

This page must render fast: it never imports TensorFlow (only run files and folder checks).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mnistkit.catalog import accuracy_text
from mnistkit.data import DATA_ENV, describe_source
from mnistkit.runs import RunInfo
from ui.explain import page_button
from ui.messages import plain
from ui.resources import model_choices, run_store

LATEST = 10  # runs shown in the table
STEPS = (  # (page, button, icon, what the step is)
    (
        "app_pages/data.py",
        "1 · Look at the data",
        ":material/grid_on:",
        "70 000 handwritten digits, each 28 × 28 pixels: what the computer really sees.",
    ),
    (
        "app_pages/train.py",
        "2 · Train a network",
        ":material/model_training:",
        "Pick Dense or CNN, press Start and watch the loss fall and the accuracy rise.",
    ),
    (
        "app_pages/draw.py",
        "3 · Draw a digit",
        ":material/draw:",
        "Draw your own digits and see what each network reads, then compare the runs.",
    ),
)

st.title("mnistkit")
st.write(
    "Teach a computer to read handwritten digits: train a network, watch it learn live, then "
    "test it with your own drawings."
)

# --- the lesson -----------------------------------------------------------------------------
st.header("A lesson in three steps")
source = describe_source()
if source.kind == "error":  # without data there is no lesson: say so before the steps
    st.error(plain(source.message))
for column, (page, label, icon, text) in zip(st.columns(3), STEPS, strict=True):
    with column, st.container(border=True):
        page_button(page, label, icon)
        st.write(text)

# --- models ---------------------------------------------------------------------------------
st.header("Models")
store = run_store()
infos = store.list()
choices = model_choices(store)
if choices:
    st.dataframe(
        pd.DataFrame(
            {
                "model": [c.label for c in choices],
                "architecture": [c.arch or "?" for c in choices],
                "source": ["bundled (models/)" if c.bundled else "trained run" for c in choices],
            }
        ),
        hide_index=True,
    )
else:
    st.info("No trained models yet: train one on the **Train** page.")


# --- latest runs ----------------------------------------------------------------------------
def _row(info: RunInfo) -> dict:
    return {
        "run": info.run_id,
        "name": info.name,
        "architecture": info.arch or "?",
        "status": info.status,
        "test accuracy": accuracy_text(info.test_accuracy),
        "created": info.created[:16].replace("T", " "),
        "note": info.error if info.broken else (info.message or info.error or ""),
    }


st.header("Latest runs")
if infos:
    st.dataframe(pd.DataFrame([_row(i) for i in infos[:LATEST]]), hide_index=True)
    broken = [i for i in infos if i.broken]
    if broken:
        st.warning(
            f"{len(broken)} run folder(s) cannot be read; they are listed with the reason "
            "(status 'broken') and can be deleted on the Compare page."
        )
else:
    st.caption("No runs yet.")

# --- for the teacher ------------------------------------------------------------------------
with st.expander("For the teacher: where the data and the runs are"):
    show = {"folder": st.success, "keras-cache": st.info, "download": st.warning}
    if source.kind in show:
        show[source.kind](plain(source.message))
    st.markdown(
        f"""
- **Set `{DATA_ENV}`** to a folder holding the four MNIST IDX files
  (`train-images-idx3-ubyte[.gz]` …) or a Keras `mnist.npz`; nothing is downloaded then.
- **Offline classroom?** On a machine with internet run `python -m mnistkit download --dir data`
  once, copy the `data` folder, and start the app with `{DATA_ENV}=data`.
- Without either, Keras downloads MNIST on first use and keeps it in `~/.keras/datasets`.
"""
    )
    st.caption(f"Runs are stored in {plain(store.root)}.")
