"""Helpers for the classroom tests (recovery, bad input, plain text): pages by name, a drawn
"7", tiny synthetic MNIST, a slot holder for the job queue. Their fixtures are in conftest.py.

Nothing here needs real MNIST: training goes through a tiny synthetic `mnist.npz`, and the
app pages get tiny untrained models in hand-made run folders, so a page renders in a second.
"""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from mnistkit.progress import Progress
from tests.helpers import (
    ROOT,
    shown,
)

TIMEOUT = 120  # seconds a page may take on a busy 2-core machine (first TensorFlow import)
SEVEN = [(90, 60), (190, 60), (120, 230)]  # a "7" in canvas pixels


def page(stem: str) -> str:
    """The page file `streamlit_app.py` registers with this stem (survives a folder rename)."""
    text = (ROOT / "streamlit_app.py").read_text(encoding="utf-8")
    for path in re.findall(r"st\.Page\(\s*[\"']([^\"']+\.py)[\"']", text):
        if Path(path).stem == stem:
            return str(ROOT / path)
    raise LookupError(f"streamlit_app.py registers no page {stem!r}")


def png(img: Image.Image, **save) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", **save)
    return buf.getvalue()


def seven(mode: str = "RGBA", side: int = 280, ink=None, paper=None) -> Image.Image:
    """A thick "7" like the canvas draws: by default opaque white ink on opaque black."""
    bands = len(Image.new(mode, (1, 1)).getbands())
    opaque = (255,) * bands if bands > 1 else 255
    black = ((0,) * (bands - 1) + (255,) if "A" in mode else (0,) * bands) if bands > 1 else 0
    img = Image.new(mode, (side, side), black if paper is None else paper)
    scale = side / 280
    points = [(x * scale, y * scale) for x, y in SEVEN]
    fill = opaque if ink is None else ink
    ImageDraw.Draw(img).line(points, fill=fill, width=max(2, round(20 * scale)))
    return img


def tiny_mnist(folder: Path, train: int = 320, test: int = 60) -> Path:
    """A synthetic `mnist.npz` (random images, balanced labels): real Keras training, fast."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(
        folder / "mnist.npz",
        x_train=rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
        y_train=np.arange(train) % 10,
        x_test=rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
        y_test=np.arange(test) % 10,
    )
    return folder


class Holder:
    """Something that holds a queue slot (what `JobQueue` needs: a `progress`)."""

    def __init__(self) -> None:
        self.progress = Progress()


def open_page(stem: str, query: dict | None = None, **session) -> AppTest:
    at = AppTest.from_file(page(stem), default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def predictions(at: AppTest) -> list[str]:
    return [shown(m.label) for m in at.metric if m.label.startswith("Prediction")]




def app_files() -> list[Path]:
    """Every Python file the app runs: entry point, registered pages, ui/ and mnistkit/."""
    text = (ROOT / "streamlit_app.py").read_text(encoding="utf-8")
    pages = [ROOT / p for p in re.findall(r"st\.Page\(\s*[\"']([^\"']+\.py)[\"']", text)]
    files = [ROOT / "streamlit_app.py", *pages]
    files += sorted((ROOT / "ui").glob("*.py")) + sorted((ROOT / "mnistkit").glob("*.py"))
    assert len(pages) >= 5 and all(p.is_file() for p in files)
    return files


def _calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Call):
            yield node
