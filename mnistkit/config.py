"""Training configuration: one frozen dataclass that round-trips through JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

ARCHS = ("dense", "cnn")
OPTIMIZER_NAMES = ("sgd", "adam", "adagrad", "nadam", "rmsprop", "adadelta", "adamax", "ftrl")
ACTIVATION_NAMES = ("relu", "sigmoid", "tanh", "leaky_relu")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a run trains; the seed course's values are the defaults."""

    arch: str = "cnn"  # "dense" or "cnn"
    epochs: int = 20  # upper bound; early stopping usually ends sooner
    batch_size: int = 32
    dropout: float = 0.4  # CNN: before the output layer; dense: 0 means no Dropout layer
    optimizer: str = "adam"
    learning_rate: float = 0.001
    activation: str = "relu"
    seed: int = 42
    val_split: float = 0.2
    subset: int | None = None  # train on a stratified subset of this many images
    patience: int = 3  # early-stopping patience in epochs; 0 disables early stopping
    augment: bool = False  # random shift/rotation/zoom while training
    hidden: tuple[int, ...] = field(default=())  # () = the seed model's sizes
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
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be constant or cosine, not {self.lr_schedule!r}")
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
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden sizes must be positive, not {self.hidden}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from a dict, ignoring unknown keys (older or newer run folders)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        if "hidden" in kwargs:
            kwargs["hidden"] = tuple(kwargs["hidden"] or ())
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


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


PRESETS = {"seed defaults": seed_defaults, "quick lesson demo": quick_lesson}
