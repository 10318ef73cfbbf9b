"""Tests for ui.digit_input: reading an upload, showing user text literally."""

from __future__ import annotations

import io
import types

import numpy as np
from PIL import Image

from ui.digit_input import read_upload
from ui.messages import plain


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


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


def test_plain_escapes_markdown_and_html():
    assert plain("**a** <i>b</i> [c](d)") == r"\*\*a\*\* \<i\>b\</i\> \[c\]\(d\)"
