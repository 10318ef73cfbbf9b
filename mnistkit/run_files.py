"""Reading a run folder's files safely: never through a link, never a value of the wrong type.

A run folder may be handed in by a student (`cp -r` keeps symlinks) or hand-edited, and every
page reads it. So each file is opened without following links (`O_NOFOLLOW`), up to a size
cap, parsed once, and each value is checked against what mnistkit writes: a value of the
wrong type is dropped (a series entry becomes None) and a note says what was dropped. Pages
and the command line then never see a string where a number belongs, a NaN, a 1e30 in a
confusion matrix, or a file outside the runs folder. Standard library only.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from mnistkit.config import ARCHS

MAX_JSON_BYTES = 4 * 2**20  # predictions.json for 10 000 images is ~30 KB
MAX_SERIES = 10_000  # epochs in a history
MAX_TEXT = 200  # characters of a text value kept from a run file
MAX_COUNT = 10**9  # a confusion-matrix cell, a parameter count


class Unreadable(Exception):
    """A run file that is missing or cannot be read or parsed; the message says why."""


def is_regular_file(path: Path) -> bool:
    """True for a plain file that is not a link (a link may point outside the runs folder)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def read_bytes(path: Path, limit: int = MAX_JSON_BYTES) -> bytes:
    """The bytes of a plain file, never through a link; `Unreadable` if missing, a link, not a
    plain file, or larger than `limit`. `FileNotFoundError` is re-raised as it is."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if os.path.islink(path):
            raise Unreadable(f"{path.name} is a link; mnistkit reads only plain files") from None
        raise Unreadable(f"{path.name} cannot be read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable(f"{path.name} is not a plain file")
        if info.st_size > limit:
            raise Unreadable(f"{path.name} is larger than {limit // 2**20} MB")
        return handle.read(limit + 1)[:limit]


def read_json(path: Path, required: bool = True) -> Any:
    """Parse a run file's JSON (strict: no NaN or Infinity); None if optional and missing."""
    try:
        data = read_bytes(path)
    except FileNotFoundError:
        if required:
            raise Unreadable(f"{path.name} is missing") from None
        return None
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable(f"{path.name} cannot be read: it is not UTF-8 text") from None
    try:
        return json.loads(decoded, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise Unreadable(f"{path.name} is not valid JSON ({str(exc)[:80]})") from None


def read_object(path: Path, required: bool = True) -> dict[str, Any] | None:
    """`read_json` that must give a JSON object."""
    obj = read_json(path, required)
    if obj is not None and not isinstance(obj, dict):
        raise Unreadable(f"{path.name} does not hold a JSON object")
    return obj


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


# --- what each value must be ------------------------------------------------------------


def number(value: Any) -> float | None:
    """A finite int or float (not a bool), as float; else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:  # an int like 2**1100
        return None
    return result if math.isfinite(result) else None


def count(value: Any) -> int | None:
    """A whole number 0..MAX_COUNT (not a bool); else None."""
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return value
    return None


def text(value: Any) -> str | None:
    """A string, cut to MAX_TEXT characters, control characters removed; else None."""
    if not isinstance(value, str):
        return None
    return "".join(c for c in value if c.isprintable())[:MAX_TEXT]


def fraction(value: Any) -> float | None:
    """A number in [0, 1]; else None."""
    result = number(value)
    return result if result is not None and 0.0 <= result <= 1.0 else None


def clean_history(raw: Any) -> tuple[dict[str, list[float | None]], list[str]]:
    """Per-epoch series: lists of finite numbers (a bad entry becomes None, so epochs stay
    aligned); keys that are not lists are dropped."""
    if not isinstance(raw, dict):
        return {}, ["history.json does not hold a JSON object"]
    history, bad = {}, []
    for key, series in raw.items():
        if not isinstance(series, list) or len(series) > MAX_SERIES:
            bad.append(str(key)[:40])
            continue
        values = [number(v) for v in series]
        if any(v is None and s is not None for v, s in zip(values, series, strict=True)):
            bad.append(str(key)[:40])
        history[str(key)[:40]] = values
    return history, [f"history.json: ignored bad values in {', '.join(bad)}"] if bad else []


METRIC_KINDS = {
    "test_accuracy": fraction,
    "test_loss": number,
    "train_seconds": number,
    "best_val_loss": number,
    "params": count,
    "epochs_run": count,
    "best_epoch": count,
}


def clean_metrics(raw: Any) -> tuple[dict[str, Any], list[str]]:
    """The metrics mnistkit writes, each of its kind; a 10×10 confusion matrix of counts and
    ten per-class accuracies, or they are left out. Unknown keys are dropped."""
    if not isinstance(raw, dict):
        return {}, ["metrics.json does not hold a JSON object"]
    metrics: dict[str, Any] = {}
    bad = []
    for key, kind in METRIC_KINDS.items():
        if key in raw:
            value = kind(raw[key])
            if value is None and raw[key] is not None:
                bad.append(key)
            else:
                metrics[key] = value
    if isinstance(raw.get("stopped_early"), bool):
        metrics["stopped_early"] = raw["stopped_early"]
    if "confusion_matrix" in raw:
        cm = raw["confusion_matrix"]
        rows = cm if _ten(cm) else []
        cells = [[count(v) for v in row] if _ten(row) else [] for row in rows]
        if len(cells) == 10 and all(len(r) == 10 and None not in r for r in cells):
            metrics["confusion_matrix"] = cells
        else:
            bad.append("confusion_matrix")
    if "per_class_accuracy" in raw:
        per = raw["per_class_accuracy"]
        values = [fraction(v) for v in per] if _ten(per) else []
        if len(values) == 10 and None not in values:
            metrics["per_class_accuracy"] = values
        else:
            bad.append("per_class_accuracy")
    return metrics, [f"metrics.json: ignored bad {', '.join(bad)}"] if bad else []


def _ten(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 10


def clean_config(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The config with plain values only: numbers finite, texts short, `arch` one of ARCHS
    (else left out), lists only of numbers; anything else is dropped."""
    config: dict[str, Any] = {}
    bad = []
    for key, value in raw.items():
        key = str(key)[:40]
        if value is None or isinstance(value, bool):
            config[key] = value
        elif isinstance(value, int | float):
            kept = number(value)
            if kept is None:
                bad.append(key)
            else:
                config[key] = value
        elif isinstance(value, str):
            config[key] = text(value)
        elif isinstance(value, list) and len(value) <= 16 and None not in map(number, value):
            config[key] = list(value)
        else:
            bad.append(key)
    if "arch" in config and config["arch"] not in ARCHS:
        bad.append("arch")
        del config["arch"]
    return config, [f"config.json: ignored bad {', '.join(bad)}"] if bad else []


def read_predictions(path: Path) -> list[int] | None:
    """A list of digits 0–9 (one per test image), or None when missing, unreadable or wrong."""
    try:
        values = read_json(path, required=False)
    except Unreadable:
        return None
    if not isinstance(values, list):
        return None
    if not all(type(v) is int and 0 <= v <= 9 for v in values):
        return None  # bools, floats, strings and out-of-range labels are all wrong here
    return values
