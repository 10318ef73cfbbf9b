"""Pen drawings as training data: pick writers, render, preprocess like the app, mix with MNIST.

Every drawing goes through `mnistkit.preprocess.preprocess_digit`, the Draw page's own pipeline,
so the model trains on exactly what it will be shown. Choices about these drawings must be made
writer-independently: `split_writers` keeps every writer on one side only. Rendered inputs are
cached outside the repository (default ~/.cache/mnistkit, or $XDG_CACHE_HOME/mnistkit), keyed by
the source file, the render settings and this code.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mnistkit import pen_drawings
from mnistkit.pen_drawings import RenderSettings, read_unipen, render_many
from mnistkit.preprocess import preprocess_digit

if TYPE_CHECKING:
    from mnistkit.training import PreparedData

CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mnistkit"
PENDIGITS_WRITERS = tuple(range(1, 31))  # pendigits-orig.tra: writers 1-30


def parse_writers(text: str) -> tuple[int, ...]:
    """'1-20' or '1,3,5-7' -> sorted writer ids; raises ValueError on anything else."""
    ids: set[int] = set()
    for part in text.replace(" ", "").split(","):
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"writers must look like '1-20' or '1,3,5-7', not {text!r}")
        first, last = int(low), int(high) if dash else int(low)
        if first < 1 or last < first:
            raise ValueError(f"bad writer range {part!r} in {text!r}")
        ids.update(range(first, last + 1))
    return tuple(sorted(ids))


def format_writers(writers: Iterable[int]) -> str:
    """The inverse of parse_writers: (1, 2, 3, 7) -> '1-3,7'."""
    ids, parts = sorted(set(writers)), []
    for w in ids:
        if parts and parts[-1][1] == w - 1:
            parts[-1][1] = w
        else:
            parts.append([w, w])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in parts)


def split_writers(
    writers: Iterable[int], held_out: Iterable[int]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(train writers, held-out writers): every writer on exactly one side."""
    everyone, out = set(writers), set(held_out)
    if not out <= everyone:
        raise ValueError(f"held-out writers {sorted(out - everyone)} are not among the writers")
    return tuple(sorted(everyone - out)), tuple(sorted(out))


@dataclass(frozen=True)
class DrawingsSpec:
    """Which pen drawings join the training data and how they are rendered."""

    source: str  # a UNIPEN digit file, e.g. pendigits-orig.tra.gz
    writers: tuple[int, ...] = PENDIGITS_WRITERS  # the writers whose digits are used
    repeats: int = 3  # each digit is rendered this many times, with different random draws
    render_seed: int = 1000  # fixed: the drawings do not change with the training seed
    settings: RenderSettings = field(default_factory=RenderSettings)

    def __post_init__(self) -> None:
        if self.repeats < 1:
            raise ValueError(f"repeats must be at least 1, not {self.repeats}")
        object.__setattr__(self, "writers", tuple(sorted({int(w) for w in self.writers})))
        if not self.writers:
            raise ValueError("at least one writer is needed")

    def describe(self) -> dict[str, Any]:
        """What a model's JSON records about these drawings."""
        return {
            "source": Path(self.source).name,
            "writers": format_writers(self.writers),
            "repeats": self.repeats,
            "render_seed": self.render_seed,
            "render": self.settings.to_dict(),
            "renderer": "mnistkit.pen_drawings.render, then mnistkit.preprocess.preprocess_digit",
        }


def _code_key(spec: DrawingsSpec) -> str:
    """A short hash of everything that decides the rendered inputs (not the writer choice)."""
    h = hashlib.sha256()
    for module in (pen_drawings.__file__, __file__, preprocess_digit.__code__.co_filename):
        h.update(Path(module).read_bytes())
    source = Path(spec.source)
    h.update(f"{source.name}:{source.stat().st_size}".encode())
    h.update(repr((spec.repeats, spec.render_seed, spec.settings)).encode())
    return h.hexdigest()[:12]


def rendered_inputs(
    spec: DrawingsSpec, cache_dir: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs (N, 28, 28) uint8, labels, writers) for every digit of the file, all writers.

    Rendered and preprocessed once (about 5 ms a drawing), then read from the cache.
    Drawings the pipeline finds empty are left out.
    """
    cache = Path(cache_dir or CACHE_DIR) / f"drawings-{Path(spec.source).name.split('.')[0]}"
    path = cache.with_name(f"{cache.name}-{_code_key(spec)}.npz")
    if path.exists():
        with np.load(path) as data:
            return data["x"], data["y"], data["writer"]
    digits = read_unipen(spec.source)
    images = render_many(digits, spec.render_seed, spec.repeats, spec.settings)
    x = np.zeros((len(images), 28, 28), np.uint8)
    keep = np.ones(len(images), bool)
    for i, image in enumerate(images):
        result = preprocess_digit(image)
        if result.input is None:
            keep[i] = False
        else:
            x[i] = np.rint(result.input[..., 0] * 255).astype(np.uint8)
    y = np.repeat([d.label for d in digits], spec.repeats).astype(np.int64)[keep]
    writer = np.repeat([d.writer for d in digits], spec.repeats).astype(np.int64)[keep]
    x = x[keep]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.npz")
    np.savez_compressed(tmp, x=x, y=y, writer=writer)
    os.replace(tmp, path)
    return x, y, writer


def with_drawings(
    data: PreparedData,
    spec: DrawingsSpec,
    seed: int,
    cache_dir: str | os.PathLike[str] | None = None,
) -> PreparedData:
    """`data` with the spec's writers' drawings added to the training set, shuffled with `seed`.

    Validation and test sets stay MNIST's, so the kept epoch and the reported test accuracy
    mean what they meant before.
    """
    from mnistkit.data import to_model_input
    from mnistkit.training import PreparedData

    x, y, writer = rendered_inputs(spec, cache_dir)
    chosen = np.isin(writer, spec.writers)
    missing = set(spec.writers) - set(writer[chosen].tolist())
    if missing:
        raise ValueError(f"no drawings by writers {sorted(missing)} in {spec.source}")
    x_train = np.concatenate([data.x_train, to_model_input(x[chosen])])
    y_train = np.concatenate([data.y_train, y[chosen]])
    order = np.random.default_rng(seed).permutation(len(x_train))
    return PreparedData(
        x_train[order], y_train[order], data.x_val, data.y_val, data.x_test, data.y_test
    )
