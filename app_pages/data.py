"""Data: what MNIST looks like to a network — shapes, labels, samples, scaling, flattening."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from mnistkit.data import DataError
from ui import explain, pictures
from ui.messages import plain
from ui.resources import mnist

GRID_ROWS, GRID_COLS = 3, 5
PATCH = slice(10, 15)  # the 5×5 patch seed 000 prints: x_train[0, 10:15, 10:15]


def patch(image: np.ndarray) -> pd.DataFrame:
    """The 5×5 patch as a table labelled with its row and column indices."""
    rows = range(PATCH.start, PATCH.stop)
    return pd.DataFrame(image[PATCH, PATCH], index=list(rows), columns=[str(c) for c in rows])


st.title("The MNIST data")
st.write("Handwritten digits, 28 × 28 grey pixels each, with the digit they show as the label.")

try:
    (x_train, y_train), (x_test, y_test) = mnist()
except DataError as exc:
    st.error(f"The MNIST data cannot be loaded: {plain(exc)}")
    st.info("The Home page explains where the data comes from and how to use it offline.")
    st.stop()

# --- shapes and labels --------------------------------------------------------------------
st.header("Shapes and labels")
shapes = pd.DataFrame(
    {
        "array": ["x_train", "y_train", "x_test", "y_test"],
        "shape": [str(a.shape) for a in (x_train, y_train, x_test, y_test)],
        "dtype": [str(a.dtype) for a in (x_train, y_train, x_test, y_test)],
    }
)
left, right = st.columns([3, 2])
left.dataframe(shapes, hide_index=True)
right.metric("Training images", f"{len(x_train):,}")
right.metric("Test images", f"{len(x_test):,}")
st.write(f"Label set: `{sorted(int(v) for v in np.unique(y_train))}` — ten classes, one per digit.")

st.subheader("Images per digit")
counts = pd.DataFrame(
    {
        "train": np.bincount(y_train, minlength=10),
        "test": np.bincount(y_test, minlength=10),
    },
    index=pd.Index([str(d) for d in range(10)], name="digit"),
)
st.bar_chart(counts, x_label="digit", y_label="images", stack=False)
st.caption("Roughly 6 000 training images per digit: the classes are close to balanced.")

# --- samples --------------------------------------------------------------------------------
st.header("Samples")
if "sample_seed" not in st.session_state:
    st.session_state.sample_seed = 0
if st.button("Reshuffle", key="reshuffle", icon=":material/shuffle:"):
    st.session_state.sample_seed += 1
rng = np.random.default_rng(st.session_state.sample_seed)
picks = rng.choice(len(x_train), size=GRID_ROWS * GRID_COLS, replace=False)
pictures.labelled_images(
    x_train[picks], [f"label {int(y_train[i])}" for i in picks], cols=GRID_COLS, width=560
)

# --- normalisation --------------------------------------------------------------------------
st.header("Normalisation: ÷ 255")
st.write(explain.NORMALISE)
scaled = x_train[0].astype(np.float32) / 255.0
before, after = st.columns(2)
with before:
    st.markdown("**Before** (`uint8`)")
    a, b = st.columns(2)
    a.metric("min", int(x_train.min()))
    b.metric("max", int(x_train.max()))
    st.caption("`x_train[0, 10:15, 10:15]`")
    st.dataframe(patch(x_train[0]), width="content")
with after:
    st.markdown("**After** (`float32`, ÷ 255)")
    a, b = st.columns(2)
    a.metric("min", f"{float(x_train.min()) / 255:.1f}")
    b.metric("max", f"{float(x_train.max()) / 255:.1f}")
    st.caption("`(x_train[0] / 255)[10:15, 10:15]`")
    st.dataframe(patch(scaled).round(3), width="content")

# --- flatten --------------------------------------------------------------------------------
st.header("Flatten: (28, 28) → 784")
st.write(explain.FLATTEN)
st.code(
    f"x_train[0].shape            # {x_train[0].shape}\n"
    f"x_train[0].reshape(-1).shape  # {x_train[0].reshape(-1).shape}",
    language="python",
)
pictures.flat_strip(x_train[0])
