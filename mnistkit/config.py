"""Training configuration: one frozen dataclass that round-trips through JSON, and its presets.

The name lists here are the only ones: `mnistkit.models` maps them to Keras classes, the CLI and
the Train page offer them as choices.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ARCHS = ("dense", "cnn")
OPTIMIZER_NAMES = ("sgd", "adam", "adagrad", "nadam", "rmsprop", "adadelta", "adamax", "ftrl")
ACTIVATION_NAMES = ("relu", "sigmoid", "tanh", "leaky_relu")
LR_SCHEDULES = ("constant", "cosine")
MAX_CONV_LAYERS = 4  # each conv layer is followed by a 2×2 pool: 28 → 14 → 7 → 3 → 1 pixels


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a run trains; the seed course's values are the defaults."""

    arch: str = "cnn"  # "dense" or "cnn"
    epochs: int = 20  # upper bound; early stopping usually ends sooner
    batch_size: int = 32
    dropout: float = 0.4  # CNN: before the output layer; dense: after each hidden layer, 0 = none
    optimizer: str = "adam"
    learning_rate: float = 0.001
    activation: str = "relu"
    seed: int = 42
    val_split: float = 0.2
    subset: int | None = None  # train on a stratified subset of this many images
    patience: int = 3  # early-stopping patience in epochs; 0 disables early stopping
    augment: bool = False  # random shift/rotation/zoom while training
    dense_units: tuple[int, ...] = (256, 64)  # dense net: its hidden layers' widths
    conv_filters: tuple[int, ...] = (16, 32)  # CNN: 3×3 conv layers, each followed by a 2×2 pool
    cnn_dense_units: int = 80  # CNN: the Dense layer between the convolutions and the output
    steps_per_execution: int = 1  # >1 batches several steps per call (faster, coarser logs)
    lr_schedule: str = "constant"  # "constant" or "cosine" (decays to 0 over the run)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, not {self.arch!r}")
        if self.optimizer not in OPTIMIZER_NAMES:
            raise ValueError(f"optimizer must be one of {OPTIMIZER_NAMES}, not {self.optimizer!r}")
        if self.activation not in ACTIVATION_NAMES:
            raise ValueError(
                f"activation must be one of {ACTIVATION_NAMES}, not {self.activation!r}"
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, not {self.lr_schedule!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.steps_per_execution < 1:
            raise ValueError("epochs, batch_size and steps_per_execution must be at least 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout}")
        if not 0.0 < self.val_split < 1.0:
            raise ValueError(f"val_split must be in (0, 1), not {self.val_split}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, not {self.learning_rate}")
        if self.subset is not None and self.subset < 20:
            raise ValueError(f"subset must be at least 20 images, not {self.subset}")
        if self.patience < 0:
            raise ValueError(f"patience must be 0 or more, not {self.patience}")
        for name in ("dense_units", "conv_filters"):  # lists from JSON → a hashable tuple
            object.__setattr__(self, name, _as_sizes(name, getattr(self, name)))
        if not self.dense_units or min(self.dense_units) < 1:
            raise ValueError(f"dense_units must be one or more positive sizes: {self.dense_units}")
        if not 1 <= len(self.conv_filters) <= MAX_CONV_LAYERS or min(self.conv_filters) < 1:
            raise ValueError(
                f"conv_filters must be 1 to {MAX_CONV_LAYERS} positive sizes: {self.conv_filters}"
            )
        if self.cnn_dense_units < 1:
            raise ValueError(f"cnn_dense_units must be positive, not {self.cnn_dense_units}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (tuples become lists), one key per field."""
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        """Build from a run's config.json: unknown keys are ignored, missing or null ones default.

        Values are coerced where that is safe ("3" or 3.0 → 3, "1e-3" → 0.001, "true" → True);
        anything else raises a ValueError that names the field. An old config's positional
        `hidden` list is translated by `sizes_from_hidden`.
        """
        if not isinstance(d, Mapping):
            raise ValueError(f"a config must be a JSON object, not {type(d).__name__}")
        d = dict(d)
        hidden = d.pop("hidden", None)
        if hidden is not None:
            for key, value in sizes_from_hidden(d.get("arch", cls.arch), hidden).items():
                d.setdefault(key, value)  # a config with the new fields keeps them
        kwargs = {
            f.name: _COERCE[f.name](f.name, d[f.name])
            for f in dataclasses.fields(cls)
            if d.get(f.name) is not None
        }
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def sizes_from_hidden(arch: str, hidden: Sequence[int]) -> dict[str, Any]:
    """The named size fields an old config's `hidden` list meant, read as the old builder read it.

    Dense: the hidden layers' widths. CNN: `(conv1, conv2, dense)`; fewer than two numbers were
    ignored, as was anything after the third. An empty list meant the seed sizes.
    """
    if not isinstance(hidden, (list, tuple)):
        raise ValueError(f"hidden must be a list of sizes, not {hidden!r}")
    if arch == "dense":
        return {"dense_units": hidden} if hidden else {}
    sizes: dict[str, Any] = {}
    if len(hidden) >= 2:
        sizes["conv_filters"] = hidden[:2]
    if len(hidden) >= 3:
        sizes["cnn_dense_units"] = hidden[2]
    return sizes


# --- safe coercion of JSON-ish values (from_dict) ------------------------------------------


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            number = _float_or_none(value)
    if isinstance(number, float) and number.is_integer():
        return int(number)
    raise ValueError(f"{name} must be a whole number, not {value!r}")


def _as_float(name: str, value: Any) -> float:
    number = None if isinstance(value, bool) else _float_or_none(value)
    if number is None or not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    return number


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value) if isinstance(value, (int, float, str)) else None
    except ValueError:
        return None


def _as_bool(name: str, value: Any) -> bool:
    words = {"true": True, "1": True, "false": False, "0": False}
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in words:
        return words[value.strip().lower()]
    raise ValueError(f"{name} must be true or false, not {value!r}")


def _as_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, not {value!r}")
    return value


def _as_optional_int(name: str, value: Any) -> int | None:
    return None if value is None else _as_int(name, value)


def _as_sizes(name: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list of whole numbers, not {value!r}")
    return tuple(_as_int(name, v) for v in value)


_BY_TYPE = {
    "int": _as_int,
    "float": _as_float,
    "bool": _as_bool,
    "str": _as_str,
    "int | None": _as_optional_int,
    "tuple[int, ...]": _as_sizes,
}
# one coercer per field; a field of a new type fails here, at import
_COERCE = {f.name: _BY_TYPE[f.type] for f in dataclasses.fields(TrainConfig)}


# --- presets ---------------------------------------------------------------------------------


def seed_defaults(arch: str) -> TrainConfig:
    """The seed course's settings: CNN 20 epochs (early stopping), dense 10, batch 32, Adam."""
    if arch == "dense":
        return TrainConfig(arch="dense", epochs=10, dropout=0.0)
    return TrainConfig(arch="cnn")


def quick_lesson(arch: str) -> TrainConfig:
    """A preset that reaches a good model in well under a minute on a laptop CPU.

    Chosen by measurement (benchmarks/time_to_good.py, 2 busy cores): the CNN reaches
    ≥ 99.0 % test accuracy in 4 epochs (≈ 21 s from Start), the dense net ≈ 98 % in 5
    (≈ 9 s). Batch 128 with a high peak learning rate decayed by a cosine; 16 steps per call
    into TensorFlow (the live curve still moves several times a second).
    """
    if arch == "dense":
        return TrainConfig(
            arch="dense",
            epochs=5,
            batch_size=128,
            dropout=0.0,
            learning_rate=0.003,
            lr_schedule="cosine",
            steps_per_execution=16,
        )
    return TrainConfig(
        arch="cnn",
        epochs=4,
        batch_size=128,
        learning_rate=0.01,
        lr_schedule="cosine",
        steps_per_execution=16,
    )


@dataclass(frozen=True)
class Preset:
    """A named starting point: `make(arch)` is its config, `label` what people see."""

    id: str  # stable: the CLI's `--preset ID` and the Train page's widget value
    label: str
    make: Callable[[str], TrainConfig]


PRESETS: dict[str, Preset] = {
    p.id: p
    for p in (
        Preset("seed", "seed defaults", seed_defaults),
        Preset("quick", "quick lesson demo", quick_lesson),
    )
}
DEFAULT_PRESET = "quick"  # the Train page starts here
