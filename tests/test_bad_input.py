"""Bad input through the app and the command line: run folders deleted while listed, models
that are not what they claim, odd uploads. Each gets one clear sentence; the rest works."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnistkit import runs
from tests.classroom import (
    open_page,
    png,
    predictions,
    seven,
)
from tests.helpers import (
    shown,
)


def test_run_folder_deleted_while_pages_list_it(model_runs, canvas, monkeypatch):
    """A run deleted (e.g. on Compare by the teacher) while another page lists it."""
    from ui import resources

    real_choices = resources.model_choices

    def list_then_delete(store=None):
        offered = real_choices(store)
        (model_runs["cnn"] / "model.keras").unlink(missing_ok=True)  # gone after the listing
        return offered

    monkeypatch.setattr(resources, "model_choices", list_then_delete)
    draw = open_page("draw")
    assert len(predictions(draw)) == 1 and "dense" in predictions(draw)[0]
    assert "cnn" in draw.error[0].value and "no model file" in shown(draw.error[0].value)

    monkeypatch.setattr(resources, "model_choices", real_choices)
    real_read = runs.read_object

    def read_then_vanish(path: Path, required: bool = True):
        data = real_read(path, required)
        if path.parent == model_runs["dense"]:
            import shutil

            shutil.rmtree(model_runs["dense"], ignore_errors=True)
        return data

    monkeypatch.setattr(runs, "read_object", read_then_vanish)
    home = open_page("home")  # the runs folder was checked at start-up by the Draw page
    row = home.dataframe[-1].value.set_index("run").loc[model_runs["dense"].name]
    assert row["status"] == "broken" and row["note"] == "run folder no longer exists"


def _lambda_model(path: Path) -> Path:
    import keras

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))
    keras.Model(inputs, outputs).save(path)
    return path


def _shaped_model(path: Path, input_shape, classes: int) -> Path:
    import keras

    inputs = keras.Input(input_shape)
    outputs = keras.layers.Dense(classes, activation="softmax")(keras.layers.Flatten()(inputs))
    keras.Model(inputs, outputs).save(path)
    return path


BAD_MODELS = {
    "lambda": (lambda p: _lambda_model(p), "contains a Lambda layer"),
    "wrong-input": (lambda p: _shaped_model(p, (32, 32, 1), 10), "expects input"),
    "wrong-output": (lambda p: _shaped_model(p, (28, 28, 1), 5), "10 class probabilities"),
}


@pytest.mark.parametrize("kind", list(BAD_MODELS))
def test_bad_model_in_the_app_is_refused_and_the_other_still_predicts(
    model_runs, canvas, tmp_path, kind
):
    make, reason = BAD_MODELS[kind]
    make(tmp_path / "bad.keras")
    (model_runs["cnn"] / "model.keras").write_bytes((tmp_path / "bad.keras").read_bytes())
    at = open_page("draw")
    assert len(predictions(at)) == 1 and "dense" in predictions(at)[0]
    (error,) = at.error
    assert model_runs["cnn"].name in shown(error.value) and reason in shown(error.value)
    assert "\n" not in error.value and "Traceback" not in error.value


@pytest.mark.parametrize("kind", list(BAD_MODELS))
def test_bad_model_on_the_command_line_is_one_error_line(tmp_path, capsys, kind):
    from mnistkit.cli import main

    make, reason = BAD_MODELS[kind]
    model = make(tmp_path / f"{kind}.keras")
    digit = tmp_path / "seven.png"
    seven("L").save(digit)
    assert main(["predict", "--model", str(model), str(digit)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and reason in err and "\n" not in err


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims width × height: a decompression bomb's header."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _palette_seven() -> bytes:
    img = seven("RGB")
    img = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    return png(img, transparency=img.getpixel((0, 0)))


UPLOADS = {  # name: (make the bytes, error text or None when it must be read)
    "bomb-20000x20000.png": (lambda: _png_header_only(20_000, 20_000), "too large"),
    "sixteen-bit.png": (
        lambda: png(Image.fromarray(np.asarray(seven("L"), np.uint16) * 257)),
        None,
    ),
    "palette-transparent.png": (_palette_seven, None),
    "ink-on-transparent.png": (
        lambda: png(seven("RGBA", ink=(0, 0, 0, 255), paper=(0,) * 4)),
        None,
    ),
    "big-4000px.png": (lambda: png(seven("LA", side=4000, paper=(0, 0))), None),
}


@pytest.mark.parametrize("name", list(UPLOADS))
def test_odd_uploads_through_the_app(model_runs, canvas, name):
    """Issue 5's odd uploads end in a prediction or one clear error; the page keeps working."""
    make, error = UPLOADS[name]
    content = make()
    at = open_page("draw", draw_source="Upload a picture")
    at.file_uploader(key="draw_upload").set_value((name, content, "image/png"))
    at.run()
    assert not at.exception
    if error:
        assert len(at.error) == 1 and error in shown(at.error[0].value) and not predictions(at)
    else:
        assert not at.error and len(predictions(at)) == 2


def test_a_big_transparent_upload_costs_bounded_memory():
    """A 4000×4000 RGBA picture within the caps: shrunk before the float work (was ~430 MiB)."""
    from mnistkit.imaging import MAX_SIDE, load_image
    from mnistkit.preprocess import preprocess_digit

    data = png(seven("RGBA", side=4000, paper=(0, 0, 0, 0)))
    tracemalloc.start()
    try:
        gray = load_image(data)
        result = preprocess_digit(gray)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert gray.shape == (MAX_SIDE, MAX_SIDE) and not result.empty
    assert peak < 200 * 2**20, f"{peak / 2**20:.0f} MiB"


