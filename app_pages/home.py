"""Home: what mnistkit is, where the data comes from, which models exist, the latest runs.

This page must render fast: it never imports TensorFlow (only run files and folder checks).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mnistkit.data import DATA_ENV, describe_source
from mnistkit.runs import RunInfo
from ui.explain import page_link
from ui.messages import plain
from ui.resources import model_choices, run_store

LATEST = 10  # runs shown in the table

st.title("mnistkit")
st.write(
    "Train a dense network or a small convolutional network (CNN) on MNIST — 70 000 handwritten "
    "digits — and watch it learn live. Then compare runs, draw your own digits for the models to "
    "read, and look inside the CNN."
)

# --- where the data comes from ------------------------------------------------------------
st.header("Data")
source = describe_source()
show = {"folder": st.success, "keras-cache": st.info, "download": st.warning, "error": st.error}
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
    st.info("No trained models yet: train one on the **Train** page (about a minute).")


# --- latest runs ----------------------------------------------------------------------------
def _row(info: RunInfo) -> dict:
    return {
        "run": info.run_id,
        "name": info.name,
        "architecture": info.arch or "?",
        "status": info.status,
        "test accuracy": info.test_accuracy,
        "created": info.created[:16].replace("T", " "),
        "note": info.error if info.broken else (info.message or info.error or ""),
    }


st.header("Latest runs")
st.caption(f"Runs are stored in {plain(store.root)}.")
if infos:
    st.dataframe(
        pd.DataFrame([_row(i) for i in infos[:LATEST]]),
        hide_index=True,
        column_config={
            "test accuracy": st.column_config.NumberColumn(format="percent"),
        },
    )
    broken = [i for i in infos if i.broken]
    if broken:
        st.warning(
            f"{len(broken)} run folder(s) cannot be read; they are listed with the reason "
            "(status 'broken') and can be deleted on the Compare page."
        )
else:
    st.caption("No runs yet.")

# --- a lesson in three steps ----------------------------------------------------------------
st.header("How to run a lesson")
st.markdown("**1. Look at the data** — shapes, labels, sample digits, why we divide by 255.")
page_link("app_pages/data.py", label="Data", icon=":material/grid_on:")
st.markdown(
    "**2. Train** — pick Dense or CNN, choose the *quick lesson demo* preset, press Start and "
    "watch the loss fall and the accuracy rise (about a minute on a laptop)."
)
page_link("app_pages/train.py", label="Train", icon=":material/model_training:")
st.markdown(
    "**3. Compare and try it** — put the dense net and the CNN side by side, then draw digits "
    "and see what each model thinks."
)
page_link("app_pages/compare.py", label="Compare", icon=":material/compare_arrows:")
page_link("app_pages/draw.py", label="Draw & predict", icon=":material/draw:")
