"""Tests for ui.digit_input: reading an upload, showing user text literally."""

from __future__ import annotations

import io
import types

import numpy as np
import pytest
from PIL import Image

from ui.digit_input import read_upload
from ui.messages import plain


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


DIGIT = np.zeros((280, 280), np.uint8)
DIGIT[60:80, 90:190] = 255


@pytest.fixture(autouse=True)
def session_state(monkeypatch) -> dict:
    """`st.session_state` as a dict: these run outside a Streamlit script."""
    from ui import digit_input

    state: dict = {}
    monkeypatch.setattr(digit_input.st, "session_state", state)
    return state


def test_read_upload_turns_image_errors_into_one_sentence():
    upload = types.SimpleNamespace(name="x.png", getvalue=lambda: b"GIF89a garbage")
    image, error = read_upload(upload)
    assert image is None and error.startswith("Cannot use “x\\.png”:")
    seven = np.zeros((280, 280, 4), np.uint8)
    seven[..., 3] = 255
    seven[60:80, 90:190, :3] = 255
    good = types.SimpleNamespace(name="ok.png", getvalue=lambda: png_bytes(seven))
    image, error = read_upload(good)
    assert error is None and image.shape == (280, 280) and image.dtype == np.uint8
    assert read_upload(None) == (None, None)
    text = types.SimpleNamespace(name="notes.png", getvalue=lambda: b"my homework")
    _, error = read_upload(text)
    assert "PNG" in error and "Pillow" not in error  # what to upload, not a library's name


def test_plain_escapes_markdown_and_html():
    assert plain("**a** <i>b</i> [c](d)") == r"\*\*a\*\* \<i\>b\</i\> \[c\]\(d\)"


def test_an_upload_is_decoded_once_not_on_every_rerun(monkeypatch, session_state):
    """Six tabs rerunning with a 6320 px picture each pushed everyone's p95 to 3.5 s."""
    from ui import digit_input

    state = session_state
    decoded = []
    real = digit_input.load_image
    monkeypatch.setattr(digit_input, "load_image", lambda data: decoded.append(1) or real(data))
    first = types.SimpleNamespace(name="a.png", file_id="f1", getvalue=lambda: png_bytes(DIGIT))
    for _ in range(5):  # five reruns with the same picture in the uploader
        image, reason = read_upload(first)
    assert reason is None and image.shape == DIGIT.shape and decoded == [1]
    second = types.SimpleNamespace(name="b.png", file_id="f2", getvalue=lambda: b"junk")
    assert read_upload(second)[0] is None and decoded == [1, 1]
    assert read_upload(None) == (None, None) and digit_input.UPLOAD_KEY not in state
