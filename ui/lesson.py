"""The "move my digit" lesson: shift, scale or rotate a drawing and see which model still
reads it (a dense network learnt pixel positions, a CNN's filters slide)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from mnistkit.catalog import ModelChoice
from mnistkit.transform import sweep, transform_digit
from ui.bars import probability_chart
from ui.figures import enlarge
from ui.messages import plain
from ui.resources import predictor

UNMOVED = {"dx": 0, "dy": 0, "scale": 1.0, "angle": 0}  # the sliders' start: the digit as drawn


def reset_controls(prefix: str = "move") -> None:
    """Button callback: every slider back to the unmoved digit."""
    for name, value in UNMOVED.items():
        st.session_state[f"{prefix}_{name}"] = value


def transform_controls(prefix: str = "move") -> dict[str, float]:
    """Four sliders (shift right, shift down, scale, rotate) and a Reset button."""
    a, b, c, d, e = st.columns([3, 3, 3, 3, 1.4], vertical_alignment="bottom")
    moves = {
        "dx": a.slider("Shift right (px)", -10, 10, UNMOVED["dx"], key=f"{prefix}_dx"),
        "dy": b.slider("Shift down (px)", -10, 10, UNMOVED["dy"], key=f"{prefix}_dy"),
        "scale": c.slider("Scale", 0.4, 1.6, UNMOVED["scale"], 0.05, key=f"{prefix}_scale"),
        "angle": d.slider(
            "Rotate (°, anticlockwise)", -90, 90, UNMOVED["angle"], 5, key=f"{prefix}_angle"
        ),
    }
    e.button(
        "Reset",
        key=f"{prefix}_reset",
        icon=":material/restart_alt:",
        on_click=reset_controls,
        args=(prefix,),
        help="Back to your digit as drawn",
    )
    return moves


def transform_lesson(x: np.ndarray, models: list[ModelChoice]) -> None:
    """Move the digit with sliders; show the moved input and each model's reading side by side,
    then how sure each model stays as the digit slides sideways."""
    st.write(
        "MNIST digits are always centred and about 20 px tall. Move yours and see which model "
        "still reads it: a dense network learnt *which pixels* light up for each digit, a CNN "
        "slides the same small filters everywhere, and pooling forgives small shifts."
    )
    moves = transform_controls()
    moved = transform_digit(x, **moves)
    columns = st.columns([1, *([2] * len(models))])
    columns[0].image(enlarge(moved, 140), caption="what the models get")
    curves: dict[str, np.ndarray] = {}
    shifts = np.arange(-10, 11)
    for column, choice in zip(columns[1:], models, strict=True):
        with column:
            try:
                model = predictor(choice.path)
            except Exception as exc:  # ModelError and friends: say it, keep the page
                st.error(f"{plain(choice.label)}: {plain(exc)}")
                continue
            before, after = model.proba(np.stack([transform_digit(x), moved]))
            digit, was = int(after.argmax()), int(before.argmax())
            st.metric(
                label=f"Moved — {plain(choice.label)}",
                value=str(digit),
                delta=f"{after[digit]:.0%} sure (unmoved: {was}, {before[was]:.0%})",
                delta_color="off",
                delta_arrow="off",
            )
            probability_chart(after, height=130, width="content")
            curves[choice.arch or choice.label] = model.proba(sweep(x, "dx", shifts))[:, was]
    if curves:
        st.caption("Probability of the digit each model reads unmoved, as it slides sideways")
        frame = pd.DataFrame(curves, index=pd.Index(shifts, name="shift"))
        st.line_chart(frame, x_label="shift right (px)", y_label="probability", height=220)
