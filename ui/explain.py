"""Short teaching texts shown beside the controls (what the seed course explains), and page links.

Plain Markdown only: nothing here is rendered as HTML.
"""

from __future__ import annotations

import streamlit as st

ACTIVATION = (
    "**Activation.** A Dense or Conv2D layer only multiplies and adds, so a stack of them is still "
    "one linear function. The activation after each layer (ReLU, sigmoid, tanh, leaky ReLU) bends "
    "it; that is what lets the network draw curved boundaries between digits."
)
SOFTMAX = (
    "**Softmax vs sigmoid.** Ten classes get a softmax output: ten probabilities that add up to 1. "
    "A single yes/no output would use one sigmoid unit instead (one probability)."
)
LOSS = (
    "**Which cross-entropy?** Integer labels (`5`) → `sparse_categorical_crossentropy` (used "
    "here); one-hot labels (`[0,0,0,0,0,1,0,0,0,0]`) → `categorical_crossentropy`; one sigmoid "
    "output → `binary_crossentropy`."
)
DROPOUT = (
    "**Dropout** switches off a random share of units at every training step, so the network "
    "cannot rely on a few of them; it fights overfitting and is off at test time."
)
EARLY_STOPPING = (
    "**Early stopping** watches the validation loss and ends training after *patience* epochs "
    "without improvement; the run keeps the best checkpoint, not the last one."
)
OPTIMIZER = (
    "**Optimizer and learning rate** decide how big a step the weights take after each batch. "
    "Adam at 0.001 is a safe start; plain SGD usually wants a larger rate (≈ 0.01–0.1)."
)
VALIDATION = (
    "**Train vs validation.** 20 % of the training images are held back. When the training curve "
    "keeps improving but validation gets worse, the model is memorising: overfitting."
)
AUGMENT = (
    "**Augmentation** shifts, rotates and zooms the training images a little at random, so the "
    "model sees more varied digits (slower, usually more robust to hand drawings)."
)

CONTROL_NOTES = (ACTIVATION, SOFTMAX, LOSS, DROPOUT, EARLY_STOPPING, OPTIMIZER, AUGMENT)

NORMALISE = (
    "Pixels are stored as integers 0–255. Dividing by 255 puts them in 0–1, which keeps the "
    "first layer's sums small and lets training start smoothly."
)
FLATTEN = (
    "A dense network wants a flat vector, so `Flatten` turns each 28 × 28 image into 784 numbers "
    "(row after row). A CNN keeps the 2-D grid and learns small local filters instead."
)
CONFUSION = (
    "Rows are the true digit, columns the predicted one: the diagonal counts the correct answers, "
    "everything else shows which digits get mixed up."
)

NO_MODEL = (
    "No model yet. Open the **Train** page and train one (the *quick lesson demo* preset takes "
    "about 20 seconds for the CNN), or run `python -m mnistkit train --arch cnn` in a terminal."
)


def page_link(page: str, label: str, icon: str | None = None) -> None:
    """`st.page_link`, or a plain caption when the page is not registered (a page run alone)."""
    try:
        st.page_link(page, label=label, icon=icon)
    except st.errors.StreamlitAPIException:
        st.caption(f"→ {label}")
