"""Tests for mnistkit.models: the seed architectures, their knobs, optimizers, augmentation."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from mnistkit.config import ACTIVATION_NAMES, OPTIMIZER_NAMES, TrainConfig
from mnistkit.models import (
    OPTIMIZERS,
    activation_layer,
    build_cnn,
    build_dense,
    build_model,
    layer_summary,
    make_optimizer,
)
from tests.helpers import images, labels


def dense_params(sizes):
    """Weights + biases of a chain of fully connected layers with these widths."""
    return sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False))


def conv_params(kernel, c_in, c_out):
    return kernel * kernel * c_in * c_out + c_out


# The seed models, counted from their shapes.
SEED_DENSE_PARAMS = dense_params([28 * 28, 256, 64, 10])
SEED_CNN_PARAMS = (
    conv_params(3, 1, 16)
    + conv_params(3, 16, 32)
    + dense_params([(28 // 2 // 2) ** 2 * 32, 80, 10])  # two 2×2 pools: 28 → 7
)


def kinds(model):
    return [(layer.name, type(layer).__name__) for layer in model.layers]


def test_formula_matches_the_issue_numbers():
    assert (SEED_DENSE_PARAMS, SEED_CNN_PARAMS) == (218_058, 131_130)


def test_seed_dense_layers_and_params():
    m = build_dense()
    assert kinds(m) == [
        ("image", "InputLayer"),
        ("flatten", "Flatten"),
        ("dense1", "Dense"),
        ("dense1_act", "Activation"),
        ("dense2", "Dense"),
        ("dense2_act", "Activation"),
        ("output", "Dense"),
    ]
    assert [m.get_layer(n).units for n in ("dense1", "dense2", "output")] == [256, 64, 10]
    assert m.get_layer("output").activation is keras.activations.softmax
    assert m.count_params() == SEED_DENSE_PARAMS
    # the Dense layers themselves are linear: the non-linearity is the separate layer
    assert m.get_layer("dense1").activation is keras.activations.linear


def test_seed_cnn_layers_and_params():
    m = build_cnn()
    assert kinds(m) == [
        ("image", "InputLayer"),
        ("conv1", "Conv2D"),
        ("conv1_act", "Activation"),
        ("pool1", "MaxPooling2D"),
        ("conv2", "Conv2D"),
        ("conv2_act", "Activation"),
        ("pool2", "MaxPooling2D"),
        ("flatten", "Flatten"),
        ("dense1", "Dense"),
        ("dense1_act", "Activation"),
        ("dropout", "Dropout"),
        ("output", "Dense"),
    ]
    assert m.count_params() == SEED_CNN_PARAMS
    conv1, conv2 = m.get_layer("conv1"), m.get_layer("conv2")
    assert (conv1.filters, conv1.kernel_size, conv1.padding) == (16, (3, 3), "same")
    assert (conv2.filters, conv2.kernel_size, conv2.padding) == (32, (3, 3), "same")
    assert m.get_layer("pool1").pool_size == (2, 2)
    assert m.get_layer("dense1").units == 80
    assert m.get_layer("dropout").rate == pytest.approx(0.4)
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in m.layers[1:]}
    assert shapes["conv1_act"] == (28, 28, 16)
    assert shapes["pool1"] == (14, 14, 16)
    assert shapes["conv2"] == (14, 14, 32)
    assert shapes["pool2"] == (7, 7, 32)
    assert shapes["flatten"] == (7 * 7 * 32,)
    assert shapes["output"] == (10,)


@pytest.mark.parametrize("build", [build_dense, build_cnn])
def test_model_input_exists(build):
    m = build()
    assert tuple(m.input.shape) == (None, 28, 28, 1)
    probe = keras.Model(m.input, m.get_layer("dense1").output)  # what activations.py relies on
    assert probe(images(2)).shape[0] == 2


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("build", [build_dense, build_cnn])
def test_activation_layers(build, activation):
    m = build(activation=activation)
    acts = [layer for layer in m.layers if layer.name.endswith("_act")]
    assert len(acts) == (2 if build is build_dense else 3)
    for layer in acts:
        if activation == "leaky_relu":
            assert isinstance(layer, layers.LeakyReLU)
            assert layer.negative_slope == pytest.approx(0.1)
        else:
            assert type(layer) is layers.Activation
            assert layer.activation is getattr(keras.activations, activation)


def test_leaky_relu_passes_negative_values():
    layer = activation_layer("leaky_relu", "x")
    out = np.asarray(layer(np.array([[-2.0, 3.0]], np.float32)))
    np.testing.assert_allclose(out, [[-0.2, 3.0]], rtol=1e-6)


def test_unknown_activation_raises():
    with pytest.raises(ValueError, match="gelu"):
        activation_layer("gelu", "x")


def test_dense_with_dropout():
    m = build_dense(dropout=0.3)
    drops = [layer for layer in m.layers if isinstance(layer, layers.Dropout)]
    assert [d.name for d in drops] == ["dropout1", "dropout2"]
    assert all(d.rate == pytest.approx(0.3) for d in drops)
    names = [layer.name for layer in m.layers]
    assert names.index("dropout1") == names.index("dense1_act") + 1
    assert m.count_params() == SEED_DENSE_PARAMS  # dropout adds no weights


def test_no_dropout_layer_when_zero():
    assert not any(isinstance(la, layers.Dropout) for la in build_dense(dropout=0.0).layers)
    assert not any(isinstance(la, layers.Dropout) for la in build_cnn(dropout=0.0).layers)


def test_custom_sizes():
    d = build_dense(units=(32,))
    assert [la.name for la in d.layers if isinstance(la, layers.Dense)] == ["dense1", "output"]
    assert d.count_params() == dense_params([784, 32, 10])
    c = build_cnn(filters=(4, 8), dense_units=12)
    assert c.count_params() == (
        conv_params(3, 1, 4) + conv_params(3, 4, 8) + dense_params([7 * 7 * 8, 12, 10])
    )


@pytest.mark.parametrize(
    "config, params",
    [
        (TrainConfig(arch="dense"), SEED_DENSE_PARAMS),
        (TrainConfig(), SEED_CNN_PARAMS),
        (TrainConfig(arch="dense", dense_units=(16, 8)), dense_params([784, 16, 8, 10])),
        (
            TrainConfig(conv_filters=(4, 8), cnn_dense_units=12),
            conv_params(3, 1, 4) + conv_params(3, 4, 8) + dense_params([392, 12, 10]),
        ),
        (  # three conv layers: 28 → 14 → 7 → 3
            TrainConfig(conv_filters=(4, 8, 8), cnn_dense_units=12),
            conv_params(3, 1, 4)
            + conv_params(3, 4, 8)
            + conv_params(3, 8, 8)
            + dense_params([3 * 3 * 8, 12, 10]),
        ),
    ],
)
def test_build_model_from_config(config, params):
    m = build_model(config)
    assert m.count_params() == params
    assert m.name == config.arch
    assert m.optimizer is not None and m.loss == "sparse_categorical_crossentropy"


def test_builder_defaults_are_the_config_defaults():
    """The builders read their defaults from `TrainConfig`, so each seed size lives there only."""
    assert build_dense().count_params() == build_model(TrainConfig(arch="dense")).count_params()
    assert build_cnn().count_params() == build_model(TrainConfig()).count_params()


def test_deepest_cnn_the_config_allows_builds():
    from mnistkit.config import MAX_CONV_LAYERS

    m = build_model(TrainConfig(conv_filters=(2,) * MAX_CONV_LAYERS, cnn_dense_units=4))
    assert tuple(m.get_layer(f"pool{MAX_CONV_LAYERS}").output.shape[1:]) == (1, 1, 2)


def test_optimizer_classes_are_the_config_names():
    assert tuple(OPTIMIZERS) == OPTIMIZER_NAMES


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_every_optimizer_compiles_and_trains(name):
    keras.utils.set_random_seed(1)
    m = build_model(TrainConfig(arch="dense", dense_units=(8,), optimizer=name, learning_rate=0.01))
    assert isinstance(m.optimizer, OPTIMIZERS[name])
    before = [w.copy() for w in m.get_weights()]
    loss, acc = m.train_on_batch(images(16), labels(16))
    assert np.isfinite(loss) and 0.0 <= acc <= 1.0
    after = m.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_make_optimizer_learning_rate_and_cosine():
    opt = make_optimizer("sgd", 0.05)
    assert float(opt.learning_rate) == pytest.approx(0.05)
    cos = make_optimizer("adam", 0.01, "cosine", decay_steps=100)
    assert isinstance(cos._learning_rate, keras.optimizers.schedules.LearningRateSchedule)
    assert float(cos.learning_rate) == pytest.approx(0.01)
    cos.iterations.assign(50)
    assert float(cos.learning_rate) == pytest.approx(0.005, rel=1e-4)
    cos.iterations.assign(100)
    assert float(cos.learning_rate) == pytest.approx(0.0, abs=1e-7)
    # cosine without a known number of steps falls back to a constant rate
    fallback = make_optimizer("adam", 0.01, "cosine", decay_steps=0)
    assert not isinstance(fallback._learning_rate, keras.optimizers.schedules.LearningRateSchedule)
    assert float(fallback.learning_rate) == pytest.approx(0.01)


def test_make_optimizer_unknown():
    with pytest.raises(ValueError, match="lbfgs"):
        make_optimizer("lbfgs", 0.1)


@pytest.mark.parametrize("build", [build_dense, build_cnn])
def test_augmentation_is_inactive_at_inference(build):
    keras.utils.set_random_seed(3)
    aug = build(augment=True)
    plain = build(augment=False)
    assert [la.name for la in aug.layers[1:4]] == ["aug_rotate", "aug_zoom", "aug_shift"]
    assert aug.count_params() == plain.count_params()
    plain.set_weights(aug.get_weights())
    x = images(4, seed=5)
    first = np.asarray(aug(x, training=False))
    second = np.asarray(aug(x, training=False))
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, np.asarray(plain(x, training=False)), rtol=1e-5, atol=1e-7)


def test_augmentation_changes_images_while_training():
    keras.utils.set_random_seed(4)
    aug_layers = keras.Sequential(
        [la for la in build_cnn(augment=True).layers if la.name.startswith("aug_")]
    )
    x = np.zeros((2, 28, 28, 1), np.float32)
    x[:, 8:20, 12:16] = 1.0
    np.testing.assert_array_equal(np.asarray(aug_layers(x, training=False)), x)
    assert not np.allclose(np.asarray(aug_layers(x, training=True)), x)


def test_layer_summary_rows():
    m = build_cnn()
    rows = layer_summary(m)
    assert [r["layer"] for r in rows] == [la.name for la in m.layers]
    assert sum(r["parameters"] for r in rows) == SEED_CNN_PARAMS
    conv1 = next(r for r in rows if r["layer"] == "conv1")
    assert conv1 == {
        "layer": "conv1",
        "type": "Conv2D",
        "output shape": "(None, 28, 28, 16)",
        "parameters": conv_params(3, 1, 16),
    }
