"""Crafted files a student with a script might hand in, for the attack tests and benchmarks.

Each function builds one attack from a valid file, so what the app refuses is the attack
itself and not a file that was broken anyway.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

WEIGHTS_MEMBER = "model.weights.h5"  # inside a Keras 3 `.keras` zip


def zip_bomb_model(template: Path, out: Path, inflated_bytes: int) -> Path:
    """`template` (a `.keras` file) with its weights member replaced by `inflated_bytes`
    zero bytes, deflated: a file of about inflated_bytes / 1000 that unpacks to it all."""
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(
        out, "w", zipfile.ZIP_DEFLATED, compresslevel=9
    ) as bomb:
        for info in source.infolist():
            if info.filename == WEIGHTS_MEMBER:
                continue
            bomb.writestr(info, source.read(info))
        chunk = bytes(2**20)
        with bomb.open(WEIGHTS_MEMBER, "w", force_zip64=True) as member:
            for start in range(0, inflated_bytes, len(chunk)):
                member.write(chunk[: min(len(chunk), inflated_bytes - start)])
    return out


def hand_in_run(
    runs_dir: Path,
    run_id: str,
    status: str | None = "completed",
    *,
    arch: str = "dense",
    model: Path | None = None,
    fields: dict | None = None,
    **files: object,
) -> Path:
    """A run folder as a student could copy into the runs folder (or edit by hand): config
    and status JSON (`status=None`: a corrupt status.json), `fields` added to the status,
    `model` copied as its `model.keras`, and each `name=obj` written as `name.json`."""
    folder = runs_dir / run_id
    folder.mkdir(parents=True)
    config = {"arch": arch, "optimizer": "adam"}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    if status is None:
        (folder / "status.json").write_text("{not json", encoding="utf-8")
    else:
        written = {"status": status, "created": "2024-01-01T12:00:00+00:00", "name": run_id}
        text = json.dumps({**written, **(fields or {})})
        (folder / "status.json").write_text(text, encoding="utf-8")
    if model is not None:
        (folder / "model.keras").write_bytes(model.read_bytes())
    for name, obj in files.items():
        (folder / f"{name}.json").write_text(json.dumps(obj), encoding="utf-8")
    return folder


def huge_png(side: int) -> bytes:
    """A `side`×`side` PNG of a white 7 on black: a few hundred KB that decode to side² px."""
    image = np.zeros((side, side), np.uint8)
    thick = max(1, side // 20)
    top, left, right = side // 5, side // 4, 3 * side // 4
    image[top : top + thick, left:right] = 255  # the bar of the 7
    for row in range(top, 4 * side // 5):  # its stem, slanting left
        col = right - (row - top) * (right - left) // (3 * side // 5)
        image[row, max(0, col - thick) : col] = 255
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
