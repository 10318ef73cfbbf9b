"""Inside the CNN: feature maps, conv 1's kernels, hidden activations and a saliency map."""

import numpy as np
import streamlit as st

from mnistkit.data import DataError
from mnistkit.predict import ModelError
from ui import explain, figures, keep
from ui import replay as replay_ui
from ui.bars import show_prediction
from ui.messages import plain
from ui.resources import mnist, model_choices, predicted_test_labels, predictor

SOURCES = ["Test image by index", "Random test image", "Misclassified test image", "My drawing"]
SALIENCY = (
    "The **saliency map** is the gradient of the top class's probability with respect to each "
    "input pixel: bright pixels are the ones whose change would move the answer most."
)


def feature_maps_text(counts: list[int]) -> str:
    """What a feature map is, with this model's numbers (conv 1's filter count)."""
    return (
        "A convolution layer slides small 3×3 filters over the image. Each filter gives one "
        "**feature map**: bright wherever the image holds that filter's pattern (an edge, a "
        "stroke end, a curve) and dark elsewhere. "
        f"Conv 1 has {counts[0]} filters, so {counts[0]} maps."
    )


def pooling_text(counts: list[int]) -> str:
    """Max pooling, and what the next conv layer makes of the pooled maps (if there is one)."""
    text = (
        "**Max pooling** keeps the largest value of every 2×2 window: each map shrinks to half "
        "its size, keeps its strongest responses and forgets their exact position, so a digit "
        "moved by a pixel or two looks the same."
    )
    if len(counts) > 1:
        text += (
            f" Conv 2 then combines all {counts[0]} pooled maps into {counts[1]} new ones: "
            "patterns of patterns, such as corners and loops."
        )
    return text


def kernels_text(count: int) -> str:
    return (
        f"The {count} learnt 3×3 kernels of conv 1. Red weights add the pixel below them, blue "
        "weights subtract it; many of them are edge detectors for one direction."
    )


def dense_text(layer: str, inputs: int, first: bool, cnn: bool) -> str:
    """What a hidden dense layer looks at: the pixels, the CNN's maps or the layer before."""
    if first and cnn:
        seen = f"all {inputs:,} numbers of the flattened feature maps at once"
    elif first:
        seen = f"all {inputs:,} pixels at once"
    else:
        seen = f"all {inputs:,} units of the layer before it"
    return (
        f"This dense layer looks at {seen}. Each cell is one unit's activation after its "
        "non-linearity; dark cells are units that stay off for this image."
    )


st.title("Inside the CNN")
st.write("Pick an image and a model, and follow the image through the network's layers.")

offered = sorted(model_choices(), key=lambda c: c.arch != "cnn")  # CNNs first
if not offered:
    st.info(explain.NO_MODEL)
    st.stop()
by_label = {choice.label: choice for choice in offered}
for key, allowed in (("inside_model", by_label), ("inside_source", SOURCES)):
    keep.restore(key, allowed)  # the choices survive a visit to another page
keep.restore("inside_index")
keep.restore("inside_mistake")

left, right = st.columns([1, 2])
choice = by_label[left.selectbox("Model", list(by_label), key="inside_model")]
source = right.radio("Image", SOURCES, horizontal=True, key="inside_source")
keep.keep("inside_model", "inside_source")

try:
    model = predictor(choice.path)
except ModelError as exc:
    st.error(plain(exc))
    st.stop()

caption = ""
if source == "My drawing":
    x = st.session_state.get("last_drawing")
    if x is None:
        st.info("No drawing yet: draw a digit on the **Draw & predict** page, then come back.")
        st.stop()
    caption = "your last drawing"
else:
    try:
        _, (x_test, y_test) = mnist()
    except DataError as exc:
        st.error(f"The MNIST test set is not available: {plain(exc)}")
        st.stop()
    if source == "Test image by index":
        index = int(
            right.number_input("Test image index", 0, len(x_test) - 1, 0, key="inside_index")
        )
        keep.keep("inside_index")
    elif source == "Random test image":
        if "inside_random" not in st.session_state:
            st.session_state.inside_random = int(np.random.default_rng().integers(len(x_test)))
        if right.button("Another random image"):
            st.session_state.inside_random = int(np.random.default_rng().integers(len(x_test)))
        index = st.session_state.inside_random
    else:
        predicted = predicted_test_labels(choice)
        wrong = np.flatnonzero(predicted != y_test)
        if len(wrong) == 0:
            st.success("This model gets every test image right: nothing misclassified to show.")
            st.stop()
        if st.session_state.get("inside_mistake", 1) > len(wrong):  # another model: fewer
            st.session_state.inside_mistake = 1
        n = int(
            right.number_input(f"Mistake (of {len(wrong)})", 1, len(wrong), 1, key="inside_mistake")
        )
        keep.keep("inside_mistake")
        index = int(wrong[n - 1])
    x = (x_test[index] / 255.0).astype(np.float32)[..., None]
    caption = f"test image {index}, labelled {int(y_test[index])}"

from mnistkit import activations  # noqa: E402  (imports TensorFlow: only once a model is in use)

probs = model.proba(x)[0]
col_image, col_pred, col_saliency = st.columns([1, 2, 2])
col_image.image(figures.enlarge(x, 140), caption=caption)
with col_pred:
    show_prediction(choice.label, probs)
with col_saliency:
    st.pyplot(figures.saliency_figure(x, activations.saliency(model.model, x)))
    st.caption(SALIENCY)

convs = activations.conv_layers(model.model)
if convs:
    maps = activations.feature_maps(model.model, x)
    shown = [maps[name].transpose(2, 0, 1) for name in convs[:2]]  # (channels, H, W) each
    counts = [len(out) for out in shown]
    st.subheader("Feature maps")
    st.write(feature_maps_text(counts))
    # each grid gets the width its maps need (conv 1's 32 maps of 28×28 are twice as wide
    # as conv 2's 64 of 14×14), so no map is squeezed
    widths = [figures.grid_shape(len(out)) * out.shape[2] for out in shown]
    columns = st.columns(widths) if len(shown) > 1 else [st.container()]
    for column, name, out in zip(columns, convs[:2], shown, strict=False):
        column.markdown(f"**{name}**: {len(out)} maps of {out.shape[1]}×{out.shape[2]}")
        column.pyplot(figures.map_grid(out, figures.grid_shape(len(out))))
    st.write(pooling_text(counts))
    st.subheader("Conv 1 kernels")
    kernels = activations.conv_kernels(model.model, convs[0])
    kcol, text = st.columns([1, 3])
    kcol.pyplot(figures.map_grid(kernels, figures.grid_shape(len(kernels)), "RdBu_r", True))
    text.write(kernels_text(len(kernels)))
else:
    st.info("This model has no convolution layers: choose a CNN to see feature maps and kernels.")

hidden = activations.dense_activations(model.model, x)
if hidden:
    st.subheader("Hidden dense layers")
    for i, (name, values) in enumerate(hidden.items()):
        inputs = int(model.model.get_layer(name).get_weights()[0].shape[0])  # kernel (in, out)
        st.write(dense_text(name, inputs, first=i == 0, cnn=bool(convs)))
        active = int((np.asarray(values) > 0).sum())
        st.markdown(f"**{plain(name)}**: {len(values)} units, {active} active")
        st.pyplot(figures.activation_strip(values))

st.subheader("Watch it learn")
replay_ui.replay_section(choice.path.parent if choice.run_id else None, "inside_replay", x)
