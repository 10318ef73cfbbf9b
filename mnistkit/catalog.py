"""Which models exist: the bundled pretrained ones and every run that kept a model.

The one home of the bundled-models folder (`BUNDLED_DIR`), of a run's label and of the rule
for the models a page shows by default. Standard library only; the app caches
`list_choices` (`ui.resources.model_choices`), the library and the CLI call it directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mnistkit.runs import RunInfo, RunStore

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "models"  # {dense,cnn}.keras + .json
DEFAULT_ARCHS = ("dense", "cnn")  # one of each is shown by default, in this order


@dataclass(frozen=True)
class ModelChoice:
    """A model a page can offer: a bundled pretrained one or a run's best checkpoint."""

    label: str
    path: Path
    arch: str | None
    bundled: bool
    run_id: str | None = None  # the run it comes from; None for a bundled model


def list_choices(store: RunStore, bundled_dir: Path | None = None) -> list[ModelChoice]:
    """Bundled models first (by file name), then every readable run that kept a model, in
    the store's order (newest first). `bundled_dir`: default `BUNDLED_DIR`."""
    bundled_dir = BUNDLED_DIR if bundled_dir is None else Path(bundled_dir)
    choices = [
        ModelChoice(f"pretrained {p.stem}", p, p.stem if p.stem in DEFAULT_ARCHS else None, True)
        for p in sorted(bundled_dir.glob("*.keras"))
    ]
    for info in store.list():
        if info.has_model and not info.broken:
            path = info.model_path
            choices.append(ModelChoice(run_label(info), path, info.arch, False, info.run_id))
    return choices


def default_choices(
    choices: Iterable[ModelChoice], picked: Iterable[ModelChoice] = ()
) -> list[ModelChoice]:
    """The first dense and the first CNN, taken from `picked` if possible, else from `choices`
    (bundled ones come first there, then the newest runs). Without either kind: the first two
    of `picked`, or nothing."""
    picked = list(picked)
    first: dict[str, ModelChoice] = {}
    for choice in [*picked, *choices]:
        if choice.arch in DEFAULT_ARCHS and choice.arch not in first:
            first[choice.arch] = choice
    return [first[a] for a in DEFAULT_ARCHS if a in first] or picked[:2]


def run_label(info: RunInfo) -> str:
    """`run-id (arch, 97.12%)`; an unknown arch shows as `?`, an odd accuracy is left out."""
    accuracy = info.test_accuracy  # None for a missing or non-number value
    shown = f", {accuracy:.2%}" if accuracy is not None else ""
    return f"{info.run_id} ({info.arch or '?'}{shown})"
