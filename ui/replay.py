"""Streamlit glue for "see it learn": the epoch slider with Play, the replayed views, the
live panel's pictures and the drawing on the hidden-space map. The library computes every
view (`mnistkit.replay`); this module caches, lays out and explains them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import streamlit as st

from mnistkit import hidden_map, replay
from ui import replay_pictures as pics
from ui.bars import show_prediction
from ui.messages import plain

PLAY_SECONDS = 0.6  # one epoch per frame while playing

INTRO = (
    "Every run keeps a snapshot of its network before training (**epoch 0**: random "
    "weights) and after each epoch. Move the slider, or press **Play**, to watch it learn."
)
MAP = (
    "**The hidden-space map.** Each dot is one of 2 000 test images, placed by the numbers "
    "the last hidden layer gives it (squashed from {units} numbers onto a flat page). The "
    "colour is the true digit; a dot with a black ring is one the network gets wrong. Even "
    "at epoch 0 a few digits sit apart (similar pictures give similar numbers); watch the "
    "others gather into their own islands as the network learns."
)
CONFUSION = (
    "Rows: the true digit. Columns: what the network said. Red cells off the diagonal are "
    "mistakes: watch them fade."
)
KERNELS = (
    "Conv 1's 16 kernels at this epoch. At epoch 0 they are random numbers; training "
    "changes them bit by bit, and some become edge detectors: a red side beside a blue side."
)
HISTOGRAMS = (
    "How each layer's weights are spread (grey outline: epoch 0). Point at the flat block at "
    "epoch 0, the random start, and at how training turns it into a hill with long tails: "
    "most weights stay near zero, a few grow large, the ones the network leans on most."
)
NO_SNAPSHOTS = (
    "This run was trained before runs kept snapshots, so it cannot be replayed. Train a new "
    "run on the **Train** page to watch one learn."
)


def stamp(run_dir: str | Path) -> float:
    """Changes whenever the run gains or replaces a snapshot (the caches' key)."""
    try:
        return os.stat(Path(run_dir) / "snapshots").st_mtime
    except OSError:
        return -1.0


@st.cache_data(show_spinner=False, max_entries=256)
def _map_and_confusion(run_dir: str, epoch: int, stamp: float):
    frame = replay.map_at(run_dir, epoch)
    if frame is None:
        return None
    return (
        pics.map_png(frame.xy, frame.labels, frame.wrong),
        pics.confusion_cells_png(frame.confusion()),
        frame.accuracy,
        int(frame.wrong.sum()),
    )


@st.cache_data(show_spinner=False, max_entries=256)
def _kernels(run_dir: str, epoch: int, stamp: float) -> bytes | None:
    kernels = replay.kernels_at(run_dir, epoch)
    return None if kernels is None else pics.tiles_png(kernels, 4, "RdBu_r", True, px=14)


@st.cache_data(show_spinner=False, max_entries=16)
def _histograms(run_dir: str, stamp: float) -> list[replay.Histograms]:
    return replay.weight_histograms(run_dir)


@st.cache_resource(show_spinner=False, max_entries=8)
def _network(run_dir: str, stamp: float) -> replay.EpochNetwork:
    return replay.EpochNetwork(run_dir)


def _hidden_units(run_dir: str) -> str:
    config = replay.config_of(run_dir)
    if config is None:
        return "many"
    return str(config.cnn_dense_units if config.arch == "cnn" else config.dense_units[-1])


# --- the epoch slider and Play ------------------------------------------------------------


def _toggle_play(key: str, last: int) -> None:
    playing = not st.session_state.get(f"{key}_playing", False)
    st.session_state[f"{key}_playing"] = playing
    if playing and st.session_state.get(f"{key}_epoch") == last:
        st.session_state[f"{key}_epoch"] = 0  # Play at the end starts again


def epoch_controls(key: str, epochs: list[int]) -> int:
    """Play/Pause and the epoch slider; returns the epoch to show. While playing, each run of
    the fragment advances one epoch (see `continue_playing`)."""
    slider = f"{key}_epoch"
    if st.session_state.get(slider) not in epochs:
        st.session_state[slider] = epochs[-1]
    if st.session_state.pop(f"{key}_advance", False):
        later = [e for e in epochs if e > st.session_state[slider]]
        st.session_state[slider] = later[0] if later else epochs[-1]
    if st.session_state[slider] == epochs[-1]:
        st.session_state[f"{key}_playing"] = False
    playing = st.session_state.get(f"{key}_playing", False)
    button, bar = st.columns([1, 6], vertical_alignment="bottom")
    button.button(
        "Pause" if playing else "Play",
        key=f"{key}_play",
        icon=":material/pause:" if playing else ":material/play_arrow:",
        on_click=_toggle_play,
        args=(key, epochs[-1]),
    )
    bar.select_slider("Epoch", epochs, key=slider, help="0 = before any training")
    return int(st.session_state[slider])


def continue_playing(key: str) -> None:
    """At the end of the fragment: while playing, wait a frame and show the next epoch."""
    if not st.session_state.get(f"{key}_playing", False):
        return
    time.sleep(PLAY_SECONDS)
    st.session_state[f"{key}_advance"] = True
    try:
        st.rerun(scope="fragment")
    except st.errors.StreamlitAPIException:  # during a full-page run: rerun the page
        st.rerun()


# --- the views ----------------------------------------------------------------------------


def map_views(run_dir: str, epoch: int) -> None:
    """The hidden-space map and the confusion matrix at `epoch`, with the sample's accuracy."""
    views = _map_and_confusion(run_dir, epoch, stamp(run_dir))
    if views is None:
        st.caption(f"No hidden-space map was kept for epoch {epoch}.")
        return
    map_bytes, confusion_bytes, accuracy, wrong = views
    left, right = st.columns([1.3, 1])
    with left:
        st.image(map_bytes, caption=f"hidden-space map, epoch {epoch}", width=420)
        st.caption(MAP.format(units=_hidden_units(run_dir)))
    with right:
        st.metric(
            f"Right at epoch {epoch}",
            f"{accuracy:.1%}",
            help="of the same 2 000 test images",
        )
        st.image(confusion_bytes, caption=f"{wrong} mistakes of 2 000, epoch {epoch}", width=330)
        st.caption(CONFUSION)


def kernel_view(run_dir: str, epoch: int, caption: bool = True) -> bool:
    """Conv 1's kernels at `epoch` (False when the run has no conv layer or kept none)."""
    kernels = _kernels(run_dir, epoch, stamp(run_dir))
    if kernels is None:
        return False
    st.image(kernels, caption=f"conv 1 kernels, epoch {epoch}", width=240)
    if caption:
        st.caption(KERNELS)
    return True


def histogram_view(run_dir: str, epoch: int) -> None:
    """Each layer's weight histogram at `epoch` against epoch 0's."""
    hists = _histograms(run_dir, stamp(run_dir))
    shown = [h for h in hists if epoch in h.epochs]
    if not shown:
        st.caption(f"No weights were kept for epoch {epoch}.")
        return
    columns = st.columns(min(4, len(shown)))
    for i, h in enumerate(shown):
        counts = h.counts[h.epochs.index(epoch)]
        first = h.counts[h.epochs.index(0)] if 0 in h.epochs and epoch != 0 else None
        title = f"{h.layer} · {h.counts[0].sum():,} weights"
        columns[i % len(columns)].image(pics.histogram_png(h.edges, counts, first, title))
    st.caption(HISTOGRAMS)


def image_views(run_dir: str, epoch: int, x: np.ndarray) -> None:
    """What the network at `epoch` makes of the image: prediction, saliency, feature maps."""
    view = replay.image_view(_network(run_dir, stamp(run_dir)), epoch, x)
    if view is None:
        st.caption(f"No weights were kept for epoch {epoch}: pick another epoch.")
        return
    prediction, saliency, kernels = st.columns([1.2, 1, 1])
    with prediction:
        show_prediction(f"at epoch {epoch}", view.probs)
    saliency.image(pics.saliency_png(x, view.saliency), caption=f"saliency, epoch {epoch}")
    with kernels:
        kernel_view(run_dir, epoch, caption=False)
    for name, maps in list(view.feature_maps.items())[:2]:
        tiles = maps.transpose(2, 0, 1)
        cols, px = (8, 3) if len(tiles) <= 16 else (16, 3)
        st.image(
            pics.tiles_png(tiles, cols, px=px),
            caption=f"{name}: {len(tiles)} feature maps, epoch {epoch}",
        )


def replay_section(run_dir: str | Path | None, key: str, x: np.ndarray | None = None) -> None:
    """The replay of one run (or why there is none): with `x`, the image's views too."""
    if run_dir is None:
        st.caption(
            "The bundled models were trained before runs kept snapshots: pick one of your own "
            "runs to replay it."
        )
        return
    run_dir = str(run_dir)
    found = replay.epochs(run_dir)
    if not found:
        st.caption(NO_SNAPSHOTS)
        return
    st.write(INTRO)
    _replay_fragment(run_dir, key, x)


@st.fragment
def _replay_fragment(run_dir: str, key: str, x: np.ndarray | None) -> None:
    found = replay.epochs(run_dir)
    if len(found) < 2:
        epoch = found[0]
        st.caption(f"Only epoch {epoch} was kept (the run stopped before an epoch finished).")
    else:
        epoch = epoch_controls(key, found)
    if x is not None:
        image_views(run_dir, epoch, x)
    map_views(run_dir, epoch)
    with st.expander("Weight histograms"):
        histogram_view(run_dir, epoch)
    continue_playing(key)


# --- the Train page's live panel ------------------------------------------------------------


def live_views(run_dir: str | None) -> None:
    """Conv 1's kernels and the hidden-space map after the latest epoch (nothing before the
    first snapshot). Cached per epoch: a poll that finds no new epoch costs a directory read."""
    found = replay.epochs(run_dir) if run_dir else []
    if not found:
        return
    epoch = found[-1]
    views = _map_and_confusion(run_dir, epoch, stamp(run_dir))
    kernel_view(run_dir, epoch, caption=False)
    if views is not None:
        st.image(views[0], caption=f"hidden-space map after epoch {epoch}", width="stretch")
    st.caption(
        "After every epoch: conv 1's kernels and where the last hidden layer puts 2 000 test "
        "images (colour = true digit, ringed = wrong)."
    )


# --- the Draw page: where a drawing lands -------------------------------------------------


@st.cache_data(show_spinner="Placing 2 000 test images on the map…", max_entries=8)
def _model_map(path: str, mtime: float) -> tuple | None:
    """For a model file: the sample's hidden activations, its projection and map picture."""
    from mnistkit import activations, snapshots
    from mnistkit.data import to_model_input
    from ui.resources import mnist, predictor

    model = predictor(path).model
    name = activations.hidden_layer(model)
    if name is None:
        return None
    _, (x_test, y_test) = mnist()
    indices = snapshots.sample_indices(y_test)
    x = to_model_input(x_test[indices])
    hidden, probs = activations.batch_outputs(model, x, [name, model.layers[-1].name])
    projection = hidden_map.fit(hidden)
    labels = y_test[indices].astype(np.int64)
    return hidden, projection, labels, probs.argmax(axis=1), indices


def drawing_on_map(label: str, path: str | Path, mtime: float, x: np.ndarray) -> None:
    """The drawing as a star on the model's hidden-space map, and its nearest test images."""
    from mnistkit import activations
    from ui.pictures import labelled_images
    from ui.resources import mnist, predictor

    found = _model_map(str(path), mtime)
    if found is None:
        st.caption(f"{plain(label)} has no hidden dense layer to map.")
        return
    hidden, projection, labels, pred, indices = found
    model = predictor(path).model
    mine = activations.batch_outputs(model, np.asarray(x)[None], [activations.hidden_layer(model)])
    point = projection.apply(mine[0])[0]
    near = hidden_map.nearest(hidden, mine[0][0], k=8)
    said = int(predictor(path).proba(x)[0].argmax())
    common = int(np.bincount(labels[near], minlength=10).argmax())
    left, right = st.columns([1.2, 1])
    left.image(
        pics.map_png(projection.apply(hidden), labels, pred != labels, mark=point),
        caption="your drawing is the star",
        width=420,
    )
    with right:
        st.markdown(
            f"**{plain(label)}** reads a **{said}**. The test images nearest to your drawing "
            f"in the last hidden layer are mostly **{common}s**:"
        )
        _, (x_test, _) = mnist()
        labelled_images(x_test[indices[near]], [str(d) for d in labels[near]], cols=4, cell=1.0)
        st.caption(
            "Nearest means: the hidden layer gives them the most similar numbers. When your "
            "digit sits among another digit's images, that digit is what the network sees."
        )
