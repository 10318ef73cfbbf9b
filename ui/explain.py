"""Short teaching texts shown beside the controls (what the seed course explains), and page links.

Plain Markdown only: nothing here is rendered as HTML.
"""

from __future__ import annotations

import streamlit as st

# --- Train: one or two short sentences beside each control (its `help`) -------------------
CONTROL_TIPS = {
    "preset": "Ready-made settings. Change anything and this says “modified”.",
    "arch": (
        "A dense network looks at all 784 pixels at once. A CNN slides small filters over the "
        "picture, so it finds a stroke wherever it is."
    ),
    "epochs": "One epoch = the network sees every training picture once.",
    "batch": (
        "The network looks at this many pictures, then corrects itself once. Bigger batches: "
        "faster, but fewer corrections per epoch."
    ),
    "optimizer": "The rule for how the network corrects itself. Adam is a safe choice.",
    "rate": (
        "How big each correction is. Too small: learning is slow. Too big: the network jumps "
        "around and learns nothing. Adam: start at 0.001."
    ),
    "schedule": "“cosine” makes the corrections smaller and smaller towards the end.",
    "seed": "The same seed gives the same start, so two runs can be compared fairly.",
    "activation": (
        "What each unit does with its sum before passing it on. ReLU (keep positives, drop "
        "negatives) works well."
    ),
    "dropout": (
        "While training, switch off this share of units at random, so the network cannot lean "
        "on a few of them. Helps against memorising."
    ),
    "images": "Fewer pictures: faster, but the network learns less. 20 % are kept for checking.",
    "patience": (
        "Stop early when the check on held-back pictures has not improved for this many "
        "epochs. The best model is kept."
    ),
    "augment": "Shift, turn and zoom the pictures a little each time: slower, more robust.",
    "name": "A name for this run, shown on the other pages.",
}

WORDS = (
    ("Epoch", "one pass through all the training pictures."),
    ("Batch", "a handful of pictures; after each batch the network corrects itself a little."),
    ("Loss", "how wrong the network is: lower is better. Training pushes it down."),
    ("Accuracy", "the share of pictures it gets right: 0.98 means 98 in 100."),
    (
        "Validation",
        "pictures kept apart from training, to check the network on ones it has not seen.",
    ),
)

ACTIVATION = (
    "**Activation.** A Dense or Conv2D layer only multiplies and adds, so a stack of them is still "
    "one linear function. The activation after each layer (ReLU, sigmoid, tanh, leaky ReLU) bends "
    "it; that is what lets the network draw curved boundaries between digits."
)
SOFTMAX = (
    "**The output layer** is fixed here: ten units with a softmax, ten probabilities that add up "
    "to 1 (a single yes/no output would use one sigmoid unit instead)."
)
LOSS = (
    "**The loss** is fixed too: integer labels (`5`) → `sparse_categorical_crossentropy`; "
    "one-hot labels (`[0,0,0,0,0,1,0,0,0,0]`) would need `categorical_crossentropy`."
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

DEEPER_NOTES = (ACTIVATION, OPTIMIZER, DROPOUT, EARLY_STOPPING, AUGMENT, SOFTMAX, LOSS)


def train_notes() -> None:
    """The Train page's side notes: the four words of a lesson, the rest folded away."""
    st.markdown("**The words you will see**")
    for word, meaning in WORDS:
        st.markdown(f"**{word}**: {meaning}")
    st.caption("Point at the ? beside a control to see what it does.")
    with st.expander("More detail, for the curious"):
        for text in DEEPER_NOTES:
            st.caption(text)


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
    "No model yet. Open the **Train** page and train one (the *quick lesson demo* preset is the "
    "fastest), or run `python -m mnistkit train --arch cnn` in a terminal."
)


def page_link(page: str, label: str, icon: str | None = None) -> None:
    """`st.page_link`, or a plain caption when the page is not registered (a page run alone)."""
    try:
        st.page_link(page, label=label, icon=icon)
    except st.errors.StreamlitAPIException:
        st.caption(f"→ {label}")


def page_button(page: str, label: str, icon: str | None = None) -> None:
    """A big button that opens `page`; a plain caption when the page is not registered."""
    if st.button(label, icon=icon, type="primary", width="stretch", key=f"go-{page}"):
        try:
            st.switch_page(page)
        except st.errors.StreamlitAPIException:
            st.caption(f"→ {label}")
