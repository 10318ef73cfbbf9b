"""Draw & predict: draw a digit (or upload a picture) and see what each model reads."""

from pathlib import Path

import streamlit as st

from mnistkit.catalog import default_choices
from mnistkit.predict import ModelError
from mnistkit.preprocess import preprocess_digit
from ui import explain
from ui.bars import show_prediction
from ui.digit_input import clear_canvas, read_canvas, read_upload, upload_widget
from ui.figures import step_strip
from ui.job import current_job
from ui.lesson import transform_lesson
from ui.messages import PREPROCESS_REASONS, plain
from ui.replay import drawing_on_map
from ui.resources import model_choices, model_mtime, predictor, preload_models

st.title("Draw & predict")
st.write(
    "Draw one digit, 0 to 9, with the mouse or a finger. Every model gets the same 28×28 "
    "picture, prepared the way MNIST's digits were: cropped, scaled to 20 px and centred "
    "(strokes thinner than MNIST's pen are thickened on the way)."
)

offered = {choice.label: choice for choice in model_choices()}
job = current_job()  # the student's own latest run comes first (issue 13, item 5)
snap = job.snapshot() if job is not None else None
own_run = Path(snap.run_dir).name if snap is not None and snap.finished and snap.run_dir else None
own = [choice for choice in offered.values() if own_run and choice.run_id == own_run]
defaults = [choice.label for choice in default_choices(offered.values(), own)]
wanted = st.session_state.get("draw_models") or defaults
preload_models(offered[label].path for label in wanted if label in offered)  # before pen-up
left, right = st.columns([1, 1.4], gap="large")

with left:
    source = st.radio("Input", ["Draw", "Upload a picture"], horizontal=True, key="draw_source")
    if source == "Draw":
        st.space("small")  # room for the canvas toolbar, which floats up when pointed at
        image = read_canvas()
        st.button("Clear", on_click=clear_canvas, icon=":material/delete:")
    else:
        image, error = read_upload(upload_widget())
        if error:
            st.error(error)
    result = preprocess_digit(image) if image is not None else None
    if result is not None and result.inverted:
        st.caption("Dark ink on a light background: inverted to white on black, as in MNIST.")

with right:
    if not offered:
        st.warning(explain.NO_MODEL)
    picked = st.multiselect(
        "Models",
        list(offered),
        default=defaults,
        key="draw_models",
        placeholder="Choose one or more models",
    )
    if result is None or result.empty:
        waiting = "empty" if source == "Draw" else "no_upload"
        st.info(PREPROCESS_REASONS[result.reason if result and result.reason else waiting])
    else:
        st.session_state["last_drawing"] = result.input  # for the Inside page
        if offered and not picked:
            st.info("Choose a model above to see what it reads.")
        columns = st.columns(2) if len(picked) > 1 else [st.container()]
        for i, label in enumerate(picked):
            with columns[i % len(columns)]:
                try:
                    probs = predictor(offered[label].path).proba(result.input)[0]
                except ModelError as exc:
                    st.error(f"{plain(label)}: {plain(exc)}")
                    continue
                show_prediction(label, probs)

if result is not None and not result.empty:
    st.subheader("What the models see")
    step_strip(result.steps)

move = st.expander("Shift / scale / rotate my digit", key="draw_move", on_change="rerun")
with move:
    if move.open:  # computed only while open: keeps drawing → prediction fast
        if result is None or result.empty:
            st.info("Draw a digit first.")
        else:
            chosen = [offered[label] for label in picked]
            transform_lesson(result.input, default_choices(offered.values(), chosen))

where = st.expander("Where my digit lands on the map", key="draw_map", on_change="rerun")
with where:
    if where.open:  # computed only while open, as above
        chosen = [offered[label] for label in picked] or list(offered.values())
        if result is None or result.empty or not chosen:
            st.info("Draw a digit first.")
        else:
            choice = next((c for c in chosen if c.arch == "cnn"), chosen[0])
            try:
                drawing_on_map(choice.label, choice.path, model_mtime(choice.path), result.input)
            except ModelError as exc:
                st.error(f"{plain(choice.label)}: {plain(exc)}")
