"""AppTest for the Inside page, on the tiny dense and CNN runs of the shared `trained_runs`
fixture (tests/conftest.py) and the real MNIST test set."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnistkit.data import DATA_ENV
from tests.helpers import shown

PAGE = Path(__file__).resolve().parents[1] / "app_pages" / "inside.py"
TIMEOUT = 120  # the first run imports TensorFlow and loads the model


def run_page(model: str | None = None, **session) -> AppTest:
    """Run the page; `model`: pick the first model whose label contains it."""
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    if model is not None:
        box = at.selectbox(key="inside_model")
        box.set_value(next(o for o in box.options if model in o)).run()
        assert not at.exception, at.exception
    return at


def text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def prediction(at: AppTest) -> int:
    metric = next(m for m in at.metric if m.label.startswith("Prediction"))
    return int(metric.value)


def test_cnn_models_come_first(trained_copy):
    options = run_page().selectbox(key="inside_model").options
    kinds = ["cnn" if "cnn" in o else "dense" for o in options]
    assert kinds == sorted(kinds, key=lambda k: k != "cnn")


def test_cnn_feature_maps_and_kernels_for_a_test_image(trained_copy):
    at = run_page("shared-cnn")
    at.number_input(key="inside_index").set_value(3).run()
    assert not at.exception
    body = text(at)
    assert "**conv1**: 16 maps of 28×28" in body
    assert "**conv2**: 32 maps of 14×14" in body
    assert "feature map" in body and "Max pooling" in body
    assert [s.value for s in at.subheader][:2] == ["Feature maps", "Conv 1 kernels"]
    assert 0 <= prediction(at) <= 9
    assert any("test image 3, labelled" in c for img in at.image for c in img.captions)
    assert "saliency" in " ".join(c.value for c in at.caption)
    assert len(at.image) >= 5  # input, saliency, conv1 grid, conv2 grid, kernels


def test_random_image_and_another_one(trained_copy):
    at = run_page("shared-cnn", inside_source="Random test image", inside_random=42)
    assert any("test image 42," in c for img in at.image for c in img.captions)
    at.button[0].click().run()  # "Another random image"
    assert not at.exception


def test_misclassified_image_is_really_misclassified(trained_copy):
    at = run_page("shared-cnn", inside_source="Misclassified test image")
    caption = next(c for img in at.image for c in img.captions if "labelled" in c)
    label = int(re.search(r"labelled (\d)", caption).group(1))
    assert prediction(at) != label
    at.number_input(key="inside_mistake").set_value(2).run()
    assert not at.exception
    at.session_state["inside_mistake"] = 10_001  # e.g. left over from a worse model
    at.run()
    assert not at.exception and at.number_input(key="inside_mistake").value == 1


def test_mistakes_come_from_the_runs_own_predictions(trained_copy):
    """A run's predictions.json picks the mistakes: the page does not predict 10 000 images."""
    from mnistkit.data import load_mnist

    _, (_, y_test) = load_mnist(os.environ[DATA_ENV])
    said = y_test.astype(int).tolist()
    said[5] = (said[5] + 1) % 10  # the one "mistake" in this run's own file
    (trained_copy.root / trained_copy.cnn / "predictions.json").write_text(json.dumps(said))
    at = run_page("shared-cnn", inside_source="Misclassified test image")
    assert at.number_input(key="inside_mistake").label == "Mistake (of 1)"
    assert any("test image 5," in c for img in at.image for c in img.captions)


def test_my_drawing_needs_a_drawing_first(trained_copy):
    at = run_page("shared-cnn", inside_source="My drawing")
    assert "Draw" in at.info[0].value and not at.metric
    seven = np.zeros((28, 28, 1), np.float32)
    seven[6, 8:20] = 1.0
    seven[6:22, 18] = 1.0
    at = run_page("shared-cnn", inside_source="My drawing", last_drawing=seven)
    assert 0 <= prediction(at) <= 9 and "**conv1**" in text(at)


def test_dense_model_shows_hidden_activations(trained_copy):
    at = run_page("shared-dense")
    body = text(at)
    assert re.search(r"\*\*dense1\*\*: 256 units, \d+ active", body)
    assert re.search(r"\*\*dense2\*\*: 64 units, \d+ active", body)
    assert "no convolution layers" in at.info[0].value
    assert "Feature maps" not in [s.value for s in at.subheader]


def test_the_words_follow_the_model_shown(trained_copy):
    """Issue 13, item 7: the bundled CNN has 32 and 64 maps, not the seed's 16 and 32, and
    a CNN's dense layer looks at its flattened maps, not at 784 pixels."""
    at = run_page("pretrained cnn")
    body = text(at)
    assert "Conv 1 has 32 filters, so 32 maps." in body
    assert "all 32 pooled maps into 64 new ones" in body
    assert "16" not in body.split("Conv 1 has")[1].split(".")[0]
    assert "flattened feature maps" in body and "784 pixels" not in body
    dense = run_page("shared-dense")
    assert "all 784 pixels at once" in text(dense)
    assert "all 256 units of the layer before it" in text(dense)


def test_the_model_and_image_choice_survive_a_page_switch(trained_copy):
    at = AppTest.from_file(str(PAGE.parents[1] / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.run()
    at.switch_page("app_pages/inside.py").run()
    box = at.selectbox(key="inside_model")
    box.set_value(next(o for o in box.options if "shared-dense" in o)).run()
    at.number_input(key="inside_index").set_value(7).run()
    at.switch_page("app_pages/home.py").run()
    at.switch_page("app_pages/inside.py").run()
    assert not at.exception
    assert "shared-dense" in at.selectbox(key="inside_model").value
    assert at.number_input(key="inside_index").value == 7


def test_no_models_says_how_to_get_one(runs_dir, monkeypatch, tmp_path):
    monkeypatch.setattr("mnistkit.catalog.BUNDLED_DIR", tmp_path / "no-bundled-models")
    at = run_page()
    assert "Train" in at.info[0].value and not at.metric


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 broken zip"])
def test_a_broken_model_is_an_error_not_a_crash(trained_copy, damage):
    (trained_copy.root / trained_copy.cnn / "model.keras").write_bytes(damage)
    at = run_page("shared-cnn")
    assert len(at.error) == 1 and "model.keras" in shown(at.error[0].value)
    assert not at.metric
