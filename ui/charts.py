"""Training curves: loss and accuracy per batch and per epoch, one run live or several
overlaid (Vega-Lite, via a plain spec or Altair).

Curves are redrawn from a snapshot on every poll (Streamlit removed `add_rows`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd
import streamlit as st

from ui.explain import VALIDATION

BATCH_CURVE = "train, batch by batch"  # smoothed
TRAIN_EPOCH = "train (epoch)"
VAL_EPOCH = "validation"  # per epoch: it is only measured at an epoch's end
CURVE_COLORS = {BATCH_CURVE: "#9ecae9", TRAIN_EPOCH: "#1f77b4", VAL_EPOCH: "#ff7f0e"}
METRICS = {"loss": "loss", "accuracy": "accuracy"}
# px of the whole chart element: Streamlit's theme fits axes, titles and legend inside it,
# and took ~215 px of a 300 px chart for them (a 55-85 px plot). With the legend in one row
# above and no chart title (the y axis names the metric) 420 px leave a plot of ~300 px.
CHART_HEIGHT = 420


def curve_frame(batches: Sequence[Mapping], history: Mapping[str, Sequence]) -> pd.DataFrame:
    """Long table (epoch, value, metric, curve) of per-batch points and per-epoch results.

    Epoch `i` (0-based) of the history is drawn at x = i + 1, where its batches end.
    """
    rows = []
    for point in batches:
        for metric in METRICS:
            value = point.get(metric)
            if value is not None:
                rows.append((float(point["epoch"]), float(value), metric, BATCH_CURVE))
    for metric in METRICS:
        for key, curve in ((metric, TRAIN_EPOCH), (f"val_{metric}", VAL_EPOCH)):
            for i, value in enumerate(history.get(key) or []):
                if value is not None:
                    rows.append((float(i + 1), float(value), metric, curve))
    return pd.DataFrame(rows, columns=["epoch", "value", "metric", "curve"])


def zoomed_domain(metric: str, epoch_values: Sequence[float]) -> list[float] | None:
    """The y range that shows the per-epoch values large, once there are two of them.

    After epoch 1 accuracy sits between 0.97 and 1.0 while the first batches started near
    0.1: over the whole range train and validation lie on one flat line against 1.0. Zoomed
    to the epochs' values (with a margin), the gap between them is visible; earlier batch
    points leave the plot through its bottom (accuracy) or top (loss) edge (marks are clipped)."""
    values = [float(v) for v in epoch_values if v is not None]
    if len(values) < 2:
        return None
    low, high = min(values), max(values)
    margin = max((high - low) * 0.25, 0.002 if metric == "accuracy" else 0.01)
    if metric == "accuracy":
        return [max(0.0, low - margin), min(1.0, high + margin)]
    return [max(0.0, low - margin), high + margin]


def _curve_spec(metric: str, domain: list[float] | None = None) -> dict:
    """Vega-Lite spec: the smoothed per-batch line plus per-epoch lines with points.

    A plain dict (not an Altair chart): the page redraws it about once a second while a run
    trains, and skipping Altair's schema validation makes each redraw several times cheaper.
    """
    color = {
        "field": "curve",
        "type": "nominal",
        "title": None,
        "scale": {"domain": list(CURVE_COLORS), "range": list(CURVE_COLORS.values())},
        "legend": {"orient": "top", "columns": 2, "labelLimit": 200},  # fits a narrow column
    }
    scale = {"zero": False} if domain is None else {"domain": domain}
    encoding = {
        "x": {"field": "epoch", "type": "quantitative", "title": "epoch"},
        "y": {"field": "value", "type": "quantitative", "title": metric, "scale": scale},
        "color": color,
        "tooltip": [
            {"field": "curve", "type": "nominal"},
            {"field": "epoch", "type": "quantitative", "format": ".2f"},
            {"field": "value", "type": "quantitative", "format": ".4f"},
        ],
    }
    is_batch = f"datum.curve === '{BATCH_CURVE}'"
    return {
        "layer": [
            {
                "transform": [{"filter": is_batch}],
                "mark": {"type": "line", "strokeWidth": 1.5, "clip": True},
                "encoding": encoding,
            },
            {
                "transform": [{"filter": f"!({is_batch})"}],
                "mark": {"type": "line", "point": True, "clip": True},
                "encoding": encoding,
            },
        ],
    }


def training_curves(batches: Sequence[Mapping], history: Mapping[str, Sequence]) -> None:
    """Loss and accuracy side by side: smoothed per-batch training curve plus per-epoch points."""
    frame = curve_frame(batches, history)
    if frame.empty:
        st.caption("The curves appear after the first batches.")
        return
    for column, metric in zip(st.columns(2), METRICS, strict=True):
        with column:
            data = frame[frame["metric"] == metric].drop(columns="metric")
            per_epoch = data.loc[data["curve"] != BATCH_CURVE, "value"]
            spec = _curve_spec(metric, zoomed_domain(metric, per_epoch.tolist()))
            st.vega_lite_chart(data, spec, width="stretch", height=CHART_HEIGHT)
    if history.get("val_loss"):
        st.caption(VALIDATION)


def compare_frame(histories: Mapping[str, Mapping[str, Sequence]]) -> pd.DataFrame:
    """Long table (run, epoch, value, metric, split) of several runs' per-epoch histories."""
    rows = []
    for label, history in histories.items():
        for metric in METRICS:
            for key, split in ((metric, "train"), (f"val_{metric}", "validation")):
                for i, value in enumerate(history.get(key) or []):
                    if value is not None:
                        rows.append((label, i + 1, float(value), metric, split))
    return pd.DataFrame(rows, columns=["run", "epoch", "value", "metric", "split"])


def compare_curves(histories: Mapping[str, Mapping[str, Sequence]]) -> None:
    """Per-epoch loss and accuracy of several runs overlaid (colour = run, dash = split)."""
    frame = compare_frame(histories)
    if frame.empty:
        st.caption("These runs have no per-epoch history yet.")
        return
    for column, metric in zip(st.columns(2), METRICS, strict=True):
        domain = zoomed_domain(metric, frame.loc[frame["metric"] == metric, "value"].tolist())
        scale = alt.Scale(zero=False) if domain is None else alt.Scale(domain=domain)
        chart = (
            alt.Chart(frame[frame["metric"] == metric])
            .mark_line(point=True, clip=True)
            .encode(
                x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
                y=alt.Y("value:Q", title=metric, scale=scale),
                color=alt.Color(
                    "run:N",
                    title="run",
                    scale=alt.Scale(scheme="category10"),
                    legend=alt.Legend(orient="top", direction="vertical", labelLimit=400),
                ),
                strokeDash=alt.StrokeDash(
                    "split:N",
                    title="data",
                    sort=["train", "validation"],
                    legend=alt.Legend(orient="top", direction="vertical", symbolStrokeColor="gray"),
                ),
                tooltip=["run:N", "split:N", "epoch:Q", alt.Tooltip("value:Q", format=".4f")],
            )
        )
        with column:
            st.altair_chart(chart, width="stretch", height=CHART_HEIGHT)
    st.caption(VALIDATION)
