"""Tests for mnistkit.config: seed defaults, JSON round trip, validation, presets."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mnistkit.config import (
    ACTIVATION_NAMES,
    ARCHS,
    DEFAULT_PRESET,
    MAX_CONV_LAYERS,
    OPTIMIZER_NAMES,
    PRESETS,
    Preset,
    TrainConfig,
    quick_lesson,
    seed_defaults,
    sizes_from_hidden,
)


def test_defaults_are_the_seed_cnn():
    c = TrainConfig()
    assert (c.arch, c.epochs, c.batch_size, c.dropout) == ("cnn", 20, 32, 0.4)
    assert (c.optimizer, c.learning_rate, c.activation) == ("adam", 0.001, "relu")
    assert (c.seed, c.val_split, c.patience) == (42, 0.2, 3)
    assert c.subset is None and c.augment is False
    assert (c.dense_units, c.conv_filters, c.cnn_dense_units) == ((256, 64), (16, 32), 80)
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
    TrainConfig(arch="dense", dense_units=(128, 32, 16), dropout=0.25, subset=5000),
    TrainConfig(conv_filters=(8, 16, 24), cnn_dense_units=40, optimizer="sgd", learning_rate=0.05),
    TrainConfig(activation="leaky_relu", augment=True, lr_schedule="cosine", seed=0),
    TrainConfig(optimizer="ftrl", patience=0, val_split=0.1, steps_per_execution=8),
]


@pytest.mark.parametrize("config", ROUND_TRIP, ids=lambda c: f"{c.arch}-{c.subset}-{c.seed}")
def test_json_round_trip(config):
    text = config.to_json()
    back = TrainConfig.from_json(text)
    assert back == config
    assert isinstance(back.dense_units, tuple) and isinstance(back.conv_filters, tuple)
    raw = json.loads(text)
    assert raw["dense_units"] == list(config.dense_units)
    assert raw["conv_filters"] == list(config.conv_filters)
    assert raw["cnn_dense_units"] == config.cnn_dense_units
    assert raw["subset"] == config.subset
    assert set(raw) == {f.name for f in dataclasses.fields(TrainConfig)}


def test_to_dict_is_plain_json():
    d = TrainConfig(conv_filters=(4, 8)).to_dict()
    assert d["conv_filters"] == [4, 8] and "hidden" not in d
    assert json.loads(json.dumps(d)) == d


def test_sizes_are_normalised_to_int_tuples():
    c = TrainConfig(arch="dense", dense_units=[64.0, "32"])  # type: ignore[list-item]
    assert c.dense_units == (64, 32)
    assert hash(c) == hash(TrainConfig(arch="dense", dense_units=(64, 32)))


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
        ({"dense_units": ()}, "dense_units"),
        ({"dense_units": (64, 0)}, "dense_units"),
        ({"conv_filters": ()}, "conv_filters"),
        ({"conv_filters": (8,) * (MAX_CONV_LAYERS + 1)}, "conv_filters"),
        ({"conv_filters": (8, -1)}, "conv_filters"),
        ({"conv_filters": 16}, "conv_filters"),
        ({"cnn_dense_units": 0}, "cnn_dense_units"),
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


def test_from_dict_fills_missing_and_null_keys_with_defaults():
    c = TrainConfig.from_dict({"arch": "dense", "hidden": None, "epochs": None})
    assert c == TrainConfig(arch="dense")


def test_from_dict_validates():
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig.from_dict({"optimizer": "nope"})


# An old run folder's config.json said `"hidden": [...]`, read by position (see sizes_from_hidden).
OLD_HIDDEN = [
    ("dense", [], {}),
    ("dense", [128, 32, 16], {"dense_units": (128, 32, 16)}),
    ("dense", [8], {"dense_units": (8,)}),
    ("cnn", [], {}),
    ("cnn", [8], {}),  # the old builder ignored a single number
    ("cnn", [8, 16], {"conv_filters": (8, 16)}),
    ("cnn", [32, 64, 128], {"conv_filters": (32, 64), "cnn_dense_units": 128}),
    ("cnn", [4, 8, 12, 99], {"conv_filters": (4, 8), "cnn_dense_units": 12}),  # 99 was ignored
]


@pytest.mark.parametrize("arch, hidden, sizes", OLD_HIDDEN)
def test_old_hidden_is_translated_to_named_sizes(arch, hidden, sizes):
    old = {**TrainConfig(arch=arch).to_dict(), "hidden": hidden}
    for key in ("dense_units", "conv_filters", "cnn_dense_units"):
        del old[key]  # an old config.json has only `hidden`
    assert TrainConfig.from_dict(old) == TrainConfig(arch=arch, **sizes)
    assert TrainConfig.from_json(json.dumps(old)) == TrainConfig(arch=arch, **sizes)


def test_old_hidden_without_arch_is_a_cnn():
    assert sizes_from_hidden("cnn", [8, 16, 32]) == {"conv_filters": [8, 16], "cnn_dense_units": 32}
    c = TrainConfig.from_dict({"hidden": [8, 16, 32]})
    assert (c.arch, c.conv_filters, c.cnn_dense_units) == ("cnn", (8, 16), 32)


def test_new_sizes_win_over_an_old_hidden():
    c = TrainConfig.from_dict({"arch": "cnn", "hidden": [8, 16, 32], "conv_filters": [4]})
    assert (c.conv_filters, c.cnn_dense_units) == ((4,), 32)


def test_old_hidden_that_is_not_a_list_raises():
    with pytest.raises(ValueError, match="hidden"):
        TrainConfig.from_dict({"hidden": "32,64"})


def test_from_dict_coerces_json_ish_values():
    c = TrainConfig.from_dict(
        {
            "epochs": "5",
            "batch_size": 64.0,
            "dropout": "0.25",
            "learning_rate": "1e-3",
            "val_split": "0.1",
            "augment": "true",
            "subset": "500",
            "conv_filters": ["8", 16.0],
            "cnn_dense_units": "40",
        }
    )
    assert (c.epochs, c.batch_size, c.dropout, c.learning_rate) == (5, 64, 0.25, 0.001)
    assert (c.val_split, c.augment, c.subset) == (0.1, True, 500)
    assert (c.conv_filters, c.cnn_dense_units) == ((8, 16), 40)
    assert TrainConfig.from_dict({"augment": 0, "dropout": 0}) == TrainConfig(dropout=0.0)


@pytest.mark.parametrize(
    "key, value",
    [
        ("epochs", "five"),
        ("epochs", 2.5),
        ("epochs", True),
        ("subset", "many"),
        ("dropout", "half"),
        ("learning_rate", "nan"),
        ("learning_rate", float("inf")),
        ("learning_rate", [0.1]),
        ("augment", "maybe"),
        ("augment", 2),
        ("optimizer", 3),
        ("dense_units", "256,64"),
        ("dense_units", [256, "a lot"]),
        ("cnn_dense_units", 8.5),
    ],
)
def test_from_dict_rejects_values_it_cannot_coerce(key, value):
    with pytest.raises(ValueError, match=key):
        TrainConfig.from_dict({key: value})


def test_from_json_of_a_non_object_raises():
    with pytest.raises(ValueError, match="JSON object"):
        TrainConfig.from_json("[1, 2]")


def test_replace_returns_new_config():
    c = TrainConfig()
    d = c.replace(epochs=5)
    assert d.epochs == 5 and c.epochs == 20


def test_presets():
    assert list(PRESETS) == ["seed", "quick"]
    assert PRESETS["seed"] == Preset("seed", "seed defaults", seed_defaults)
    assert PRESETS["quick"] == Preset("quick", "quick lesson demo", quick_lesson)
    assert DEFAULT_PRESET in PRESETS
    for preset_id, preset in PRESETS.items():
        assert preset.id == preset_id
        for arch in ARCHS:
            c = preset.make(arch)
            assert isinstance(c, TrainConfig) and c.arch == arch
            assert TrainConfig.from_json(c.to_json()) == c


@pytest.mark.parametrize("arch", ARCHS)
def test_quick_lesson_is_shorter_than_seed(arch):
    quick, seed = quick_lesson(arch), seed_defaults(arch)
    assert quick.epochs < seed.epochs
    assert quick.batch_size > seed.batch_size  # fewer, larger steps on a laptop CPU
    assert quick.lr_schedule == "cosine"
