"""Lesson links: a Train page set up by the teacher, as URL query parameters.

``?preset=quick&arch=dense&epochs=2&subset=500&hide=optimizer,learning_rate`` opens the Train
page with that preset, those settings and those controls hidden. A link is configuration
only: it grants no right and lifts no lesson limit (`mnistkit.limits` still checks every job).
Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mnistkit.config import PRESETS, TrainConfig
from mnistkit.limits import CONTROLS

# The settings a link may carry, and how each is read from text.
FIELDS: dict[str, type] = {
    "arch": str,
    "epochs": int,
    "batch_size": int,
    "optimizer": str,
    "learning_rate": float,
    "lr_schedule": str,
    "seed": int,
    "activation": str,
    "dropout": float,
    "subset": int,
    "patience": int,
    "augment": bool,
}
HIDE = "hide"
PRESET = "preset"
MAX_VALUE = 40  # characters of one parameter's value that are read


@dataclass(frozen=True)
class LessonLink:
    """What a link asks for; ``problems`` lists the parameters that were ignored."""

    preset: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self.preset is None and not self.values and not self.hidden


def _read(kind: type, text: str) -> Any:
    if kind is bool:
        if text.lower() not in ("1", "0", "true", "false", "on", "off"):
            raise ValueError(text)
        return text.lower() in ("1", "true", "on")
    return kind(text)


def read_link(params: Mapping[str, Any]) -> LessonLink:
    """Parse query parameters; a value that is not valid is left out and named in problems."""
    problems: list[str] = []
    preset = str(params.get(PRESET, ""))[:MAX_VALUE] or None
    if preset is not None and preset not in PRESETS:
        problems.append(PRESET)
        preset = None
    values: dict[str, Any] = {}
    for name, kind in FIELDS.items():
        if name not in params:
            continue
        try:
            values[name] = _read(kind, str(params[name])[:MAX_VALUE])
            TrainConfig(**{name: values[name]})  # each value on its own must be valid
        except (ValueError, TypeError, OverflowError):
            values.pop(name, None)
            problems.append(name)
    hide = [h.strip() for h in str(params.get(HIDE, ""))[:400].split(",") if h.strip()]
    problems += [h[:MAX_VALUE] for h in hide if h not in CONTROLS]
    hidden = tuple(h for h in CONTROLS if h in hide)
    return LessonLink(preset, values, hidden, tuple(problems))


def link_query(preset: str | None, values: Mapping[str, Any], hidden: Iterable[str]) -> str:
    """The query string (``?...``) for a lesson link."""
    from urllib.parse import urlencode

    params: dict[str, str] = {}
    if preset in PRESETS:
        params[PRESET] = str(preset)
    for name, value in values.items():
        if name in FIELDS and value is not None:
            params[name] = str(int(value) if isinstance(value, bool) else value)
    hide = [h for h in CONTROLS if h in set(hidden)]
    if hide:
        params[HIDE] = ",".join(hide)
    return "?" + urlencode(params, safe=",") if params else ""
