"""The Draw page's input: the 280×280 drawing pad, its Clear button, and a picture upload.

The pad is the black square of a taller canvas: the component's toolbar floats over the
canvas's top edge (invisible at first, over the top ≈30 px, and catches the pointer there),
so the canvas keeps a grey strip of `TOOLBAR_STRIP` px on top that the toolbar sits in and
the pad starts below it. Ink drawn into the strip still counts. The drawing is remembered in
`st.session_state`, so it is still there after a visit to another page.

Any user text shown in Markdown goes through `ui.messages.plain`.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from mnistkit.imaging import MAX_BYTES, ImageError, load_image
from ui.messages import plain

CANVAS_SIZE = 280  # px, 10x MNIST's 28: the black drawing pad
TOOLBAR_STRIP = 36  # px above the pad: the toolbar's box reaches 30 px into the canvas at rest
STRIP_GREY = 74  # the strip's grey: white ink stays visible on it
STROKE_WIDTH = 20  # px: a thick marker, about 2 px after scaling to 28x28
UPLOAD_MIME_TYPES = [f"image/{kind}" for kind in ("png", "jpeg", "gif", "bmp", "webp", "tiff")]
DRAWING = "canvas_drawing"  # session_state: (json_data, RGBA pixels) of the latest drawing
MOUNTED = "canvas_mounted"  # session_state: (widget key, the initial drawing it was given)
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]


def canvas_key() -> str:
    """The canvas widget's current key; Clear moves to a new one (a fresh, empty canvas)."""
    st.session_state.setdefault("canvas_generation", 0)
    return f"canvas-{st.session_state.canvas_generation}"


def clear_canvas() -> None:
    """Button callback: forget the drawing by giving the canvas a new key."""
    st.session_state.canvas_generation = st.session_state.get("canvas_generation", 0) + 1
    st.session_state.pop(DRAWING, None)


def _background() -> np.ndarray:
    """The canvas's background picture: the grey toolbar strip above the black pad."""
    picture = np.zeros((TOOLBAR_STRIP + CANVAS_SIZE, CANVAS_SIZE, 3), np.uint8)
    picture[:TOOLBAR_STRIP] = STRIP_GREY
    return picture


def _mount() -> tuple[str, dict | None]:
    """The widget key to show and the initial drawing it gets, fixed for the key's life.

    Streamlit drops a widget's state when its page is left; coming back would show an empty
    canvas. The drawing kept in `DRAWING` then goes to a new key as its `initial_drawing`
    (changing a live canvas's `initial_drawing` would reload it and drop a pending stroke).
    """
    state = st.session_state
    key = canvas_key()
    mounted_key, initial = state.get(MOUNTED, (None, None))
    saved = state.get(DRAWING)
    if mounted_key == key and key not in state and saved is not None:  # back from a page
        state.canvas_generation += 1
        key = canvas_key()
    if mounted_key != key:
        initial = saved[0] if saved is not None else None
        state[MOUNTED] = (key, initial)
    return key, initial


def read_canvas() -> np.ndarray | None:
    """Show the black pad with a white pen; its RGBA pixels (the strip included), or None
    before drawing."""
    # Imported here: the component registers itself with a running Streamlit on import.
    from streamlit_drawable_canvas import st_canvas

    key, initial = _mount()
    result = st_canvas(
        stroke_width=STROKE_WIDTH,
        stroke_color="#FFFFFF",
        background_image=Image.fromarray(_background()),  # not in image_data: ink only
        height=TOOLBAR_STRIP + CANVAS_SIZE,
        width=CANVAS_SIZE,
        drawing_mode="freedraw",
        update_streamlit=True,
        return_image_data=True,
        initial_drawing=initial,
        key=key,
    )
    image = result.image_data
    if image is None and initial is not None:  # remounted: the canvas has not sent yet
        saved = st.session_state.get(DRAWING)
        return None if saved is None else saved[1]
    if image is not None:
        st.session_state[DRAWING] = (result.json_data, image)
    return image


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
