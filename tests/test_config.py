"""Tests for mnistkit.config: seed defaults, JSON round trip, validation, presets."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mnistkit.config import (
    ACTIVATION_NAMES,
    ARCHS,
    OPTIMIZER_NAMES,
    PRESETS,
    TrainConfig,
    quick_lesson,
    seed_defaults,
)


def test_defaults_are_the_seed_cnn():
    c = TrainConfig()
    assert (c.arch, c.epochs, c.batch_size, c.dropout) == ("cnn", 20, 32, 0.4)
    assert (c.optimizer, c.learning_rate, c.activation) == ("adam", 0.001, "relu")
    assert (c.seed, c.val_split, c.patience) == (42, 0.2, 3)
    assert c.subset is None and c.augment is False and c.hidden == ()
    assert c.steps_per_execution == 1 and c.lr_schedule == "constant"


def test_seed_defaults_per_arch():
    assert seed_defaults("cnn") == TrainConfig()
    dense = seed_defaults("dense")
    assert (dense.arch, dense.epochs, dense.dropout, dense.batch_size) == ("dense", 10, 0.0, 32)
    assert (dense.optimizer, dense.learning_rate, dense.seed) == ("adam", 0.001, 42)


def test_names_cover_the_issue():
    assert set(ARCHS) == {"dense", "cnn"}
    assert set(OPTIMIZER_NAMES) == {
        "sgd",
        "adam",
        "adagrad",
        "nadam",
        "rmsprop",
        "adadelta",
        "adamax",
        "ftrl",
    }
    assert set(ACTIVATION_NAMES) == {"relu", "sigmoid", "tanh", "leaky_relu"}


ROUND_TRIP = [
    TrainConfig(),
    TrainConfig(arch="dense", epochs=10, dropout=0.0, subset=None),
    TrainConfig(arch="dense", hidden=(128, 32, 16), dropout=0.25, subset=5000),
    TrainConfig(arch="cnn", hidden=(8, 16, 40), optimizer="sgd", learning_rate=0.05),
    TrainConfig(activation="leaky_relu", augment=True, lr_schedule="cosine", seed=0),
    TrainConfig(optimizer="ftrl", patience=0, val_split=0.1, steps_per_execution=8),
]


@pytest.mark.parametrize("config", ROUND_TRIP, ids=lambda c: f"{c.arch}-{c.hidden}-{c.subset}")
def test_json_round_trip(config):
    text = config.to_json()
    back = TrainConfig.from_json(text)
    assert back == config
    assert isinstance(back.hidden, tuple)
    raw = json.loads(text)
    assert raw["hidden"] == list(config.hidden)
    assert raw["subset"] == config.subset
    assert set(raw) == {f.name for f in dataclasses.fields(TrainConfig)}


def test_to_dict_is_plain_json():
    d = TrainConfig(hidden=(4, 8)).to_dict()
    assert d["hidden"] == [4, 8]
    assert json.loads(json.dumps(d)) == d


def test_hidden_is_normalised_to_int_tuple():
    c = TrainConfig(arch="dense", hidden=[64.0, "32"])  # type: ignore[list-item]
    assert c.hidden == (64, 32)
    assert hash(c) == hash(TrainConfig(arch="dense", hidden=(64, 32)))


@pytest.mark.parametrize(
    "changes, word",
    [
        ({"arch": "rnn"}, "arch"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"activation": "gelu"}, "activation"),
        ({"lr_schedule": "step"}, "lr_schedule"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"steps_per_execution": 0}, "steps_per_execution"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"val_split": 0.0}, "val_split"),
        ({"val_split": 1.0}, "val_split"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": -1e-3}, "learning_rate"),
        ({"subset": 10}, "subset"),
        ({"patience": -1}, "patience"),
    ],
)
def test_invalid_values_raise(changes, word):
    with pytest.raises(ValueError, match=word):
        TrainConfig(**changes)
    with pytest.raises(ValueError, match=word):
        TrainConfig().replace(**changes)  # replace validates too


def test_boundary_values_are_accepted():
    TrainConfig(dropout=0.0, subset=20, patience=0, epochs=1, batch_size=1)


def test_frozen():
    c = TrainConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.epochs = 3  # type: ignore[misc]


def test_from_dict_ignores_unknown_keys():
    d = TrainConfig(arch="dense", epochs=3).to_dict()
    d.update(future_option=True, name="old run", notes=[1, 2])
    c = TrainConfig.from_dict(d)
    assert c == TrainConfig(arch="dense", epochs=3)


def test_from_dict_fills_missing_keys_with_defaults():
    c = TrainConfig.from_dict({"arch": "dense", "hidden": None})
    assert c == TrainConfig(arch="dense")


def test_from_dict_validates():
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig.from_dict({"optimizer": "nope"})


def test_replace_returns_new_config():
    c = TrainConfig()
    d = c.replace(epochs=5)
    assert d.epochs == 5 and c.epochs == 20


def test_presets():
    assert set(PRESETS) == {"seed defaults", "quick lesson demo"}
    assert PRESETS["seed defaults"] is seed_defaults
    assert PRESETS["quick lesson demo"] is quick_lesson
    for preset in PRESETS.values():
        for arch in ARCHS:
            c = preset(arch)
            assert isinstance(c, TrainConfig) and c.arch == arch
            assert TrainConfig.from_json(c.to_json()) == c


@pytest.mark.parametrize("arch", ARCHS)
def test_quick_lesson_is_shorter_than_seed(arch):
    quick, seed = quick_lesson(arch), seed_defaults(arch)
    assert quick.epochs < seed.epochs
    assert quick.batch_size > seed.batch_size  # fewer, larger steps on a laptop CPU
    assert quick.lr_schedule == "cosine"
