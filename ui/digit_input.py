"""The Draw page's input: the 280×280 canvas, its Clear button, and a picture upload.

Any user text shown in Markdown goes through `ui.messages.plain`.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from mnistkit.imaging import MAX_BYTES, ImageError, load_image
from ui.messages import plain

CANVAS_SIZE = 280  # px, 10x MNIST's 28
STROKE_WIDTH = 20  # px: a thick marker, about 2 px after scaling to 28x28
UPLOAD_MIME_TYPES = [f"image/{kind}" for kind in ("png", "jpeg", "gif", "bmp", "webp", "tiff")]
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]


def canvas_key() -> str:
    """The canvas widget's current key; Clear moves to a new one (a fresh, empty canvas)."""
    st.session_state.setdefault("canvas_generation", 0)
    return f"canvas-{st.session_state.canvas_generation}"


def clear_canvas() -> None:
    """Button callback: forget the drawing by giving the canvas a new key."""
    st.session_state.canvas_generation = st.session_state.get("canvas_generation", 0) + 1


def read_canvas(key: str) -> np.ndarray | None:
    """Show the 280×280 black canvas with a white pen; its RGBA pixels, or None before drawing."""
    # Imported here: the component registers itself with a running Streamlit on import.
    from streamlit_drawable_canvas import st_canvas

    result = st_canvas(
        stroke_width=STROKE_WIDTH,
        stroke_color="#FFFFFF",
        background_color="#000000",
        height=CANVAS_SIZE,
        width=CANVAS_SIZE,
        drawing_mode="freedraw",
        update_streamlit=True,
        return_image_data=True,
        key=key,
    )
    return result.image_data


def upload_widget(key: str = "draw_upload"):
    """A file uploader for one picture, capped at the library's byte limit.

    The browser filters by type; the picture itself is checked by its content when it is
    read (`read_upload`). The MIME types make Streamlit skip its own extension check, which
    raises before the page runs (an exception box for a script that skipped the browser)."""
    return st.file_uploader(
        "Upload a picture of one digit",
        type=[*UPLOAD_MIME_TYPES, *UPLOAD_TYPES],
        key=key,
        max_upload_size=MAX_BYTES // 2**20,
        help="A photo or scan of a digit: light ink on dark or dark ink on paper both work.",
    )


UPLOAD_KEY = "digit_upload_decoded"  # session_state: (file id, grey image, reason)


def read_upload(uploaded) -> tuple[np.ndarray | None, str | None]:
    """(grey image, None) for a readable picture, (None, the reason) otherwise, (None, None)
    when nothing is uploaded. Each upload is decoded once: a rerun of the page (every widget
    change) reuses it, so one large picture cannot cost the server a decode per click."""
    if uploaded is None:
        st.session_state.pop(UPLOAD_KEY, None)
        return None, None
    file_id = getattr(uploaded, "file_id", None) or uploaded.name
    kept = st.session_state.get(UPLOAD_KEY)
    if kept is not None and kept[0] == file_id:
        return kept[1], kept[2]
    try:
        image, reason = load_image(uploaded.getvalue()), None
    except ImageError as exc:
        image, reason = None, f"Cannot use “{plain(uploaded.name)}”: {plain(exc)}"
    st.session_state[UPLOAD_KEY] = (file_id, image, reason)
    return image, reason
