"""Tests for mnistkit.imaging: decoding hand-made image files and arrays into grey, safely."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from mnistkit.imaging import MAX_BYTES, ImageError, load_image, to_gray
from mnistkit.preprocess import preprocess_digit
from tests.test_preprocess import SIDE, draw


def png_bytes(img: Image.Image, **save) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", **save)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (1-bit grey); its data is never decoded."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# -- to_gray --------------------------------------------------------------------------------


def test_to_gray_accepts_shapes_and_dtypes():
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 255
    assert to_gray(rgb)[0, 0] == pytest.approx(0.299, abs=1e-6)
    assert to_gray(np.full((4, 5, 1), 255, np.uint8)).shape == (4, 5)
    assert to_gray(np.full((4, 5), 0.5, np.float64))[0, 0] == pytest.approx(0.5)
    assert to_gray(np.full((4, 5), 128.0, np.float32))[0, 0] == pytest.approx(128 / 255)
    rgba = np.full((4, 5, 4), 255, np.uint8)
    rgba[..., 3] = 51
    assert to_gray(rgba)[0, 0] == pytest.approx(0.2)  # luminance x alpha
    assert to_gray(np.ones((4, 5), bool))[0, 0] == 1.0
    with pytest.raises(ValueError):
        to_gray(np.zeros((4, 5, 6)))


# -- load_image -------------------------------------------------------------------------------


def test_load_image_from_path_bytes_and_file(tmp_path):
    data = png_bytes(Image.fromarray(draw(mode="L")))
    path = tmp_path / "digit.png"
    path.write_bytes(data)
    for source in (path, str(path), data, io.BytesIO(data)):
        gray = load_image(source)
        assert gray.dtype == np.uint8 and gray.shape == (SIDE, SIDE)
        np.testing.assert_array_equal(gray, draw(mode="L"))


def test_load_image_16_bit_png():
    ramp = np.arange(16 * 16, dtype=np.uint16).reshape(16, 16) * 257
    img = Image.fromarray(ramp)
    assert img.mode == "I;16"
    gray = load_image(png_bytes(img))
    assert gray.dtype == np.uint8
    np.testing.assert_array_equal(gray, np.arange(256, dtype=np.uint8).reshape(16, 16))


def test_load_image_palette_png_with_and_without_transparency():
    img = Image.fromarray(draw(mode="RGB")).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    assert img.mode == "P"
    gray = load_image(png_bytes(img))
    assert gray.max() > 200 and gray[0, 0] == 0
    background = img.getpixel((0, 0))
    gray = load_image(png_bytes(img, transparency=background))
    assert gray[0, 0] == 0 and gray.max() > 200


def test_load_image_transparent_pngs():
    canvas = draw(background=(0, 0, 0, 0))  # white strokes on a transparent canvas
    gray = load_image(png_bytes(Image.fromarray(canvas)))
    expected = np.rint(to_gray(canvas) * 255)
    assert gray[0, 0] == 0 and np.abs(gray - expected).max() <= 1
    # dark ink on a transparent sheet is composited onto white, then auto-inverted
    dark = draw(background=(0, 0, 0, 0), ink=(0, 0, 0, 255))
    gray = load_image(png_bytes(Image.fromarray(dark)))
    assert gray[0, 0] == 255 and gray.min() == 0
    assert preprocess_digit(gray).inverted


def test_load_image_other_modes_and_first_frame():
    buf = io.BytesIO()
    Image.fromarray(draw(mode="RGB")).convert("CMYK").save(buf, "JPEG")
    assert load_image(buf.getvalue()).max() > 200
    frames = [Image.new("L", (8, 8), 200), Image.new("L", (8, 8), 50)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    assert abs(int(load_image(buf.getvalue())[0, 0]) - 200) <= 2


@pytest.mark.parametrize(
    "data",
    [b"definitely not an image", b"", png_bytes(Image.new("L", (64, 64), 7))[:60]],
    ids=["text", "empty", "truncated"],
)
def test_load_image_rejects_non_images_and_truncated(data):
    with pytest.raises(ImageError):
        load_image(data)


def test_load_image_rejects_corrupt_png_data():
    data = bytearray(png_bytes(Image.fromarray(draw(mode="L"))))
    data[-200:-20] = bytes(180)
    with pytest.raises(ImageError):
        load_image(bytes(data))


@pytest.mark.parametrize(
    "side, shown", [(20000, "400,000,000"), (10000, "100,000,000"), (7000, "7000×7000")]
)
def test_load_image_rejects_too_many_pixels_from_header(side, shown):
    with pytest.raises(ImageError, match="too large") as info:
        load_image(png_header_only(side, side))
    assert shown in str(info.value)


def test_load_image_rejects_too_many_bytes(tmp_path):
    big = b"\0" * (MAX_BYTES + 1)
    with pytest.raises(ImageError, match="MiB"):
        load_image(big)
    path = tmp_path / "big.png"
    path.write_bytes(big)
    with pytest.raises(ImageError, match="MiB"):
        load_image(path)


def test_load_image_missing_file(tmp_path):
    with pytest.raises(ImageError):
        load_image(tmp_path / "nope.png")


def test_a_phone_photo_is_turned_upright_by_its_exif_orientation():
    """A phone held sideways stores the picture as the sensor saw it, plus "rotate 90° to
    show it" (orientation 6): an upright 7 must come back upright, not read as a 2."""
    upright = np.zeros((60, 40), np.uint8)
    upright[10:14, 8:32] = 255  # the bar of a 7, at the top
    upright[14:50, 26:30] = 255  # its stem
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # as the sensor saw it
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
    gray = load_image(buffer.getvalue())
    assert gray.shape == upright.shape
    assert np.abs(gray.astype(int) - upright).mean() < 8  # JPEG noise only


def test_a_large_jpeg_is_decoded_at_a_reduced_scale():
    from mnistkit.imaging import MAX_SIDE

    photo = Image.new("L", (MAX_SIDE * 2, MAX_SIDE + 400), 30)
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG")
    assert max(load_image(buffer.getvalue()).shape) <= MAX_SIDE


def test_a_file_that_is_no_picture_says_which_pictures_work():
    with pytest.raises(ImageError) as info:
        load_image(b"not an image at all" * 10)
    assert "Pillow" not in str(info.value) and "PNG, JPEG" in str(info.value)
