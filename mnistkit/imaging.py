"""Decode uploads and arrays into grey images safely: size caps, any Pillow mode, transparency.

Transparency rule (files and arrays alike): transparent pixels are background. The background is
black (so the grey value is luminance x alpha, as for a canvas with white strokes) unless the
visible pixels are mostly dark (alpha-weighted mean luminance < 0.5), i.e. dark ink on a
transparent sheet, which is composited onto white instead.
"""

from __future__ import annotations

import io
import os
import re
import struct
import warnings
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

from mnistkit.errors import MnistkitError

MAX_PIXELS = 16_000_000  # a 12-megapixel phone photo fits; a digit needs far fewer
MAX_BYTES = 20 * 1024 * 1024
MAX_SIDE = 2048  # a decoded upload is shrunk to this longer side: one digit needs no more
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601-2, as Pillow's convert("L")
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error)


class ImageError(MnistkitError):
    """The upload is not a usable image: unreadable, corrupt, or too large."""


def _read_bytes(source: str | Path | bytes | BinaryIO) -> bytes:
    """Read at most MAX_BYTES + 1 bytes from a path, a bytes object or a binary file."""
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
        elif isinstance(source, (str, os.PathLike)):
            if os.path.getsize(source) > MAX_BYTES:
                raise ImageError(f"the file is larger than {MAX_BYTES // 2**20} MiB")
            data = Path(source).read_bytes()
        else:
            data = source.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ImageError(f"cannot read the file: {exc}") from exc
    if len(data) > MAX_BYTES:
        raise ImageError(f"the file is larger than {MAX_BYTES // 2**20} MiB")
    return data


def _too_large(width: int, height: int) -> ImageError:
    """The error for an image whose header claims more than MAX_PIXELS pixels."""
    return ImageError(
        f"the image is too large: {width}×{height} = {width * height:,} pixels "
        f"(limit {MAX_PIXELS:,})"
    )


def _composite(luma: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Put float luminance with alpha (both [0,1]) onto the background the image implies."""
    weight = float(alpha.sum())
    dark_ink = weight > 0 and float((luma * alpha).sum()) / weight < 0.5
    out = luma * alpha
    return out + (1.0 - alpha) if dark_ink else out


def _decoded_gray(img: Image.Image) -> np.ndarray:
    """Convert a loaded Pillow image of any mode into 2-D uint8 grey."""
    mode = img.mode
    if mode.startswith("I") or mode == "F":
        a = np.asarray(img).astype(np.float32)
        a = a / 257.0 if mode.startswith("I") else (a * 255.0 if a.max() <= 1.0 else a)
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)
    if mode == "LAB":
        return np.asarray(img.getchannel("L"))
    if "A" in mode or "a" in mode or "transparency" in img.info:
        return np.rint(to_gray(np.asarray(img.convert("RGBA"))) * 255).astype(np.uint8)
    return np.asarray(img.convert("L"))


def load_image(source: str | Path | bytes | BinaryIO) -> np.ndarray:
    """Decode an image file (path, bytes or binary file) into 2-D uint8 grey; first frame only.

    Turned upright by its EXIF orientation (phones store a photo as the sensor saw it). Images
    with a side over MAX_SIDE are shrunk (aspect kept) before the grey conversion, so a large
    upload within the caps costs one decode, not gigabytes of float copies; a JPEG is decoded
    at a reduced scale to begin with.
    """
    data = _read_bytes(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > MAX_PIXELS:  # header only, nothing decoded yet
                    raise _too_large(img.width, img.height)
                img.seek(0)
                if img.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale: faster, smaller
                    img.draft(img.mode, (MAX_SIDE, MAX_SIDE))
                img.load()
                upright = ImageOps.exif_transpose(img)  # a phone photo says how it was held
                if max(upright.size) > MAX_SIDE:
                    upright.thumbnail((MAX_SIDE, MAX_SIDE))
                return _decoded_gray(upright)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise ImageError(f"the image is too large: {size} (limit {MAX_PIXELS:,})") from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageError(
            "this file is not a picture mnistkit can read (PNG, JPEG, GIF, BMP, WebP or TIFF)"
        ) from exc
    except _DECODE_ERRORS as exc:
        raise ImageError(f"the image is truncated or corrupt: {exc}") from exc


def to_gray(image: np.ndarray) -> np.ndarray:
    """Return 2-D float32 grey in [0, 1] from (H,W), (H,W,1|2|3|4) uint8 or float arrays.

    Integers are read as 0..255; floats as 0..1, or 0..255 when their maximum exceeds 1;
    booleans as 0/1. RGB becomes luminance; alpha follows the module's transparency rule.
    """
    a = np.asarray(image)
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 2, 3, 4))):
        raise ValueError(f"Expected an (H, W) or (H, W, 1-4) image, got shape {a.shape}.")
    if a.dtype.kind in "fb":
        a = a.astype(np.float32)
        if a.size and a.max() > 1.0:
            a = a / 255.0
    else:
        a = a.astype(np.float32) * np.float32(1 / 255)
    if a.ndim == 3:
        channels = a.shape[2]
        luma = a[..., :3] @ _LUMA if channels >= 3 else a[..., 0]
        a = _composite(luma, a[..., -1]) if channels in (2, 4) else luma
    return np.clip(a, 0.0, 1.0).astype(np.float32, copy=False)
