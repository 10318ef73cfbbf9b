"""Draw & predict: draw a digit (or upload a picture) and see what each model reads."""

import streamlit as st

from mnistkit.predict import ModelError
from mnistkit.preprocess import preprocess_digit
from ui import drawing
from ui.messages import PREPROCESS_REASONS
from ui.resources import model_choices, predictor, preload_models

st.title("Draw & predict")
st.write(
    "Draw one digit, 0 to 9, with the mouse or a finger. Every model gets the same 28×28 "
    "picture, prepared the way MNIST's digits were: cropped, scaled to 20 px and centred "
    "(strokes thinner than MNIST's pen are thickened on the way)."
)

offered = {choice.label: choice for choice in model_choices()}
wanted = st.session_state.get("draw_models") or drawing.default_models(offered.values())
preload_models(offered[label].path for label in wanted if label in offered)  # before pen-up
left, right = st.columns([1, 1.4], gap="large")

with left:
    source = st.radio("Input", ["Draw", "Upload a picture"], horizontal=True, key="draw_source")
    if source == "Draw":
        st.space("small")  # room for the canvas toolbar, which floats above the canvas
        image = drawing.read_canvas(drawing.canvas_key())
        st.button("Clear", on_click=drawing.clear_canvas, icon=":material/delete:")
    else:
        image, error = drawing.read_upload(drawing.upload_widget())
        if error:
            st.error(error)
    result = preprocess_digit(image) if image is not None else None
    if result is not None and result.inverted:
        st.caption("Dark ink on a light background: inverted to white on black, as in MNIST.")

with right:
    if not offered:
        st.warning(drawing.NO_MODEL)
    picked = st.multiselect(
        "Models",
        list(offered),
        default=drawing.default_models(offered.values()),
        key="draw_models",
        placeholder="Choose one or more models",
    )
    if result is None or result.empty:
        st.info(PREPROCESS_REASONS[result.reason if result and result.reason else "empty"])
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
                    st.error(f"{label}: {exc}")
                    continue
                drawing.show_prediction(label, probs)

if result is not None and not result.empty:
    st.subheader("What the models see")
    drawing.step_strip(result.steps)

move = st.expander("Shift / scale / rotate my digit", key="draw_move", on_change="rerun")
with move:
    if move.open:  # computed only while open: keeps drawing → prediction fast
        if result is None or result.empty:
            st.info("Draw a digit first.")
        else:
            chosen = [offered[label] for label in picked]
            drawing.transform_lesson(
                result.input, drawing.lesson_models(chosen, [*offered.values()])
            )
