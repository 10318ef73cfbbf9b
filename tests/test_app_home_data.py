"""AppTests for the Home and Data pages (no TensorFlow on either)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnistkit.data import DATA_ENV

ROOT = Path(__file__).resolve().parents[1]
HOME, DATA = str(ROOT / "app_pages" / "home.py"), str(ROOT / "app_pages" / "data.py")


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for kind in (at.error, at.warning, at.info, at.success) for e in kind]
    return "\n".join(str(p) for p in parts)


def test_home_without_runs(runs_dir):
    at = AppTest.from_file(HOME, default_timeout=30).run()
    assert not at.exception
    assert [h.value for h in at.header] == ["A lesson in three steps", "Models", "Latest runs"]
    steps = [b.label for b in at.button]
    assert steps[:3] == ["1 · Look at the data", "2 · Train a network", "3 · Draw a digit"]
    assert all(b.proto.type == "primary" for b in at.button[:3])
    assert "No runs yet." in _texts(at)
    assert at.expander[-1].label.startswith("For the teacher")  # setup folded away
    assert "python -m mnistkit download" in " ".join(m.value for m in at.expander[-1].markdown)
    assert "minute" not in _texts(at)  # no speed claim from another machine


def test_home_lists_runs_and_broken_ones(runs_dir, make_run):
    make_run(runs_dir, "20240101-120000-good", metrics={"test_accuracy": 0.97})
    make_run(runs_dir, "20240101-130000-bad", status=None)
    odd = make_run(runs_dir, "20240101-140000-odd", metrics={"test_accuracy": "n/a"})
    (odd / "model.keras").write_bytes(b"")  # listed as a model; its odd accuracy is ignored
    at = AppTest.from_file(HOME, default_timeout=30).run()
    assert not at.exception
    table = at.dataframe[-1].value
    rows = table.set_index("run")
    assert rows.loc["20240101-120000-good", "test accuracy"] == "97.00 %"
    assert rows.loc["20240101-130000-bad", "test accuracy"] == "—"  # not "None"
    assert rows.loc["20240101-130000-bad", "status"] == "broken"
    assert "not valid JSON" in rows.loc["20240101-130000-bad", "note"]
    assert any("cannot be read" in w.value for w in at.warning)
    models = [m for m in at.dataframe[0].value["model"] if not m.startswith("pretrained")]
    assert models == ["20240101-140000-odd"]  # the bundled models come first


def test_data_folder_missing_is_explained(runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "nowhere"))
    for page in (HOME, DATA):
        at = AppTest.from_file(page, default_timeout=30).run()
        assert not at.exception
        assert any("does not exist" in e.value for e in at.error), page


def test_data_page_shows_empty_folder_error(runs_dir, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(DATA_ENV, str(empty))
    at = AppTest.from_file(DATA, default_timeout=30).run()
    assert not at.exception
    assert any("no MNIST data in" in e.value for e in at.error)
    assert not at.get("image")


@pytest.fixture
def data_page(runs_dir):
    if not os.environ.get(DATA_ENV):
        pytest.skip(f"{DATA_ENV} is not set: the Data page needs real MNIST")
    return AppTest.from_file(DATA, default_timeout=60).run()


def test_data_page(data_page):
    at = data_page
    assert not at.exception
    shapes = at.dataframe[0].value.set_index("array")["shape"].to_dict()
    assert shapes == {
        "x_train": "(60000, 28, 28)",
        "y_train": "(60000,)",
        "x_test": "(10000, 28, 28)",
        "y_test": "(10000,)",
    }
    assert "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]" in _texts(at)
    assert len(at.get("vega_lite_chart")) == 1  # class counts
    assert len(at.get("image")) == 2  # sample grid, flatten strip
    before, after = at.dataframe[1].value.to_numpy(), at.dataframe[2].value.to_numpy()
    from ui.resources import mnist

    (x_train, _), _ = mnist()
    np.testing.assert_array_equal(before, x_train[0, 10:15, 10:15])
    np.testing.assert_allclose(after, x_train[0, 10:15, 10:15] / 255, atol=5e-4)
    assert [m.value for m in at.metric if m.label == "max"] == ["255", "1.0"]
    assert "(784,)" in at.code[0].value


def test_data_reshuffle(data_page):
    at = data_page
    seed = at.session_state["sample_seed"]
    at.button(key="reshuffle").click().run()
    assert not at.exception
    assert at.session_state["sample_seed"] == seed + 1


def test_first_pages_render_fast_without_tensorflow(
    runs_dir, tmp_path, monkeypatch, render_in_subprocess
):
    if not os.environ.get(DATA_ENV):  # an empty folder: Data shows its error, still no TF
        (tmp_path / "empty").mkdir()
        monkeypatch.setenv(DATA_ENV, str(tmp_path / "empty"))
    result = render_in_subprocess(HOME, DATA)
    assert result[HOME]["exceptions"] == [] and result[DATA]["exceptions"] == []
    assert result[HOME]["errors"] == []
    assert result[HOME]["seconds"] < 5
    assert not result["tensorflow_imported"]
