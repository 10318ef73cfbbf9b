"""Which models exist: the bundled pretrained ones and every run that kept a model.

The one home of the bundled-models folder (`BUNDLED_DIR`), of a run's label (its name as
typed, not its ASCII folder name) and of the rule for the models a page shows by default.
Standard library only; the app caches `list_choices` (`ui.resources.model_choices`), the
library and the CLI call it directly.
"""

from __future__ import annotations

import re
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
    runs = [i for i in store.list() if i.has_model and not i.broken]
    labels = [run_label(info) for info in runs]
    for info, label in zip(runs, labels, strict=True):
        if labels.count(label) > 1:  # two runs with one name: their start time tells them apart
            label = f"{label} · {_started(info.run_id)}"
        if label in (c.label for c in choices):  # same name, same minute
            label = f"{label} · {info.run_id}"
        choices.append(ModelChoice(label, info.model_path, info.arch, False, info.run_id))
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


def _started(run_id: str) -> str:
    """`01-02 12:00` from a run id `20240102-120000-…`; the id itself if it is not one."""
    found = re.match(r"\d{4}(\d\d)(\d\d)-(\d\d)(\d\d)\d\d", run_id)
    return f"{found[1]}-{found[2]} {found[3]}:{found[4]}" if found else run_id


def accuracy_text(accuracy: float | None) -> str:
    """`99.11 %` (the one way every page writes an accuracy), or `—` when unknown."""
    return "—" if accuracy is None else f"{accuracy * 100:.2f} %"


def run_label(info: RunInfo) -> str:
    """`my CNN · 99.11 %`: the name as typed (any script; the folder name is ASCII), then the
    test accuracy when known. A run without a name shows its id."""
    name = " ".join(str(info.name or "").split()) or info.run_id
    accuracy = info.test_accuracy  # None for a missing or non-number value
    return name if accuracy is None else f"{name} · {accuracy_text(accuracy)}"
