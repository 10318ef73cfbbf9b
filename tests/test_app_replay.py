"""AppTests for "see it learn": the epoch slider and Play on Inside and Compare, the
hidden-space map, the Train page's live panel, the drawing on the map, and old runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[1] / "app_pages"
TIMEOUT = 120


def run(page: str, **session) -> AppTest:
    at = AppTest.from_file(str(PAGES / page), default_timeout=TIMEOUT)
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def pick(at: AppTest, key: str, contains: str) -> AppTest:
    box = at.selectbox(key=key)
    box.set_value(next(o for o in box.options if contains in o)).run()
    assert not at.exception, at.exception
    return at


def captions(at: AppTest) -> list[str]:
    return [c for img in at.image for c in img.captions]


def test_inside_slider_moves_every_view_to_that_epoch(trained_copy):
    at = pick(run("inside.py"), "inside_model", trained_copy.cnn)
    slider = at.select_slider(key="inside_replay_epoch")
    assert slider.options == ["0", "1"] and slider.value == 1  # starts at the end
    assert "hidden-space map, epoch 1" in captions(at)
    slider.set_value(0).run()
    assert not at.exception, at.exception
    shown = captions(at)
    for caption in ("saliency, epoch 0", "conv 1 kernels, epoch 0", "hidden-space map, epoch 0"):
        assert caption in shown
    assert any(c.startswith("conv1: 16 feature maps, epoch 0") for c in shown)
    assert any(m.label == "Prediction — at epoch 0" for m in at.metric)
    assert any(m.label == "Right at epoch 0" for m in at.metric)


def test_play_runs_through_the_epochs_and_stops_at_the_end(trained_copy):
    at = pick(run("inside.py"), "inside_model", trained_copy.cnn)
    at.button(key="inside_replay_play").click().run()  # at the end: starts again from 0
    assert not at.exception, at.exception
    assert at.select_slider(key="inside_replay_epoch").value == 1
    assert at.session_state["inside_replay_playing"] is False
    assert at.button(key="inside_replay_play").label == "Play"
