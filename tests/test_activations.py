"""Tests for mnistkit.activations: feature maps, kernels, hidden activations, saliency."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mnistkit.activations import (
    after_activation,
    conv_kernels,
    conv_layers,
    dense_activations,
    dense_layers,
    feature_maps,
    layer_outputs,
    saliency,
)
from mnistkit.models import build_cnn, build_dense
from tests.helpers import images


def seeded(build, **kwargs):
    keras.utils.set_random_seed(0)
    return build(**kwargs)


@pytest.fixture(scope="module")
def cnn():
    return seeded(build_cnn)


@pytest.fixture(scope="module")
def dense():
    return seeded(build_dense)


@pytest.fixture(scope="module")
def digit():
    """A "7"-ish stroke: enough ink that every feature map has something to show."""
    x = np.zeros((28, 28, 1), np.float32)
    x[6:9, 6:22] = 1.0
    for i in range(14):
        x[9 + i, 20 - i : 23 - i] = 1.0
    return x


def test_layer_name_helpers(cnn, dense):
    assert conv_layers(cnn) == ["conv1", "conv2"]
    assert dense_layers(cnn) == ["dense1"]
    assert conv_layers(dense) == []
    assert dense_layers(dense) == ["dense1", "dense2"]
    assert after_activation(cnn, "conv1") == "conv1_act"
    assert after_activation(cnn, "pool1") == "pool1"


def test_feature_map_shapes(cnn, digit):
    maps = feature_maps(cnn, digit)
    assert list(maps) == ["conv1", "conv2"]
    assert maps["conv1"].shape == (28, 28, 16)
    assert maps["conv2"].shape == (14, 14, 32)


def test_relu_feature_maps_are_the_activated_conv_outputs(cnn, digit):
    maps = feature_maps(cnn, digit)
    raw = layer_outputs(cnn, digit, ["conv1", "conv2"])
    for name in ("conv1", "conv2"):
        assert maps[name].min() >= 0.0
        np.testing.assert_allclose(maps[name], np.maximum(raw[name], 0.0), rtol=1e-5, atol=1e-6)
    assert (raw["conv1"] < 0).any()  # so the check above is not vacuous


def test_conv1_matches_a_manual_convolution(cnn, digit):
    kernel, bias = cnn.get_layer("conv1").get_weights()
    padded = np.pad(digit[:, :, 0], 1)
    manual = np.zeros((28, 28, 16), np.float32)
    for r in range(28):
        for c in range(28):
            patch = padded[r : r + 3, c : c + 3]
            manual[r, c] = np.tensordot(patch, kernel[:, :, 0, :], axes=([0, 1], [0, 1])) + bias
    np.testing.assert_allclose(
        layer_outputs(cnn, digit, ["conv1"])["conv1"], manual, rtol=1e-4, atol=1e-5
    )


def test_leaky_relu_maps_can_be_negative(digit):
    model = seeded(build_cnn, activation="leaky_relu")
    maps = feature_maps(model, digit)
    raw = layer_outputs(model, digit, ["conv1"])["conv1"]
    np.testing.assert_allclose(maps["conv1"], np.where(raw > 0, raw, 0.1 * raw), rtol=1e-5)
    assert maps["conv1"].min() < 0


@pytest.mark.parametrize("shape", [(28, 28), (28, 28, 1), (1, 28, 28, 1)])
def test_input_shapes_agree(cnn, digit, shape):
    a = feature_maps(cnn, digit.reshape(shape))["conv2"]
    np.testing.assert_array_equal(a, feature_maps(cnn, digit)["conv2"])


def test_conv_kernels(cnn):
    k = conv_kernels(cnn)
    assert k.shape == (16, 3, 3)
    weights = cnn.get_layer("conv1").get_weights()[0]
    for f in range(16):
        np.testing.assert_array_equal(k[f], weights[:, :, 0, f])
    assert conv_kernels(cnn, "conv1").shape == (16, 3, 3)


def test_dense_activations(dense, digit):
    acts = dense_activations(dense, digit)
    assert {k: v.shape for k, v in acts.items()} == {"dense1": (256,), "dense2": (64,)}
    w1, b1 = dense.get_layer("dense1").get_weights()
    expected = np.maximum(digit.reshape(-1) @ w1 + b1, 0.0)
    np.testing.assert_allclose(acts["dense1"], expected, rtol=1e-4, atol=1e-5)
    assert acts["dense2"].min() >= 0.0


def test_dense_activations_of_the_cnn(cnn, digit):
    acts = dense_activations(cnn, digit)
    assert list(acts) == ["dense1"] and acts["dense1"].shape == (80,)


@pytest.mark.parametrize("build", [build_cnn, build_dense])
def test_saliency(build, digit):
    model = seeded(build)
    s = saliency(model, digit)
    assert s.shape == (28, 28)
    assert s.min() >= 0.0 and s.max() == pytest.approx(1.0)
    other = int(np.argmin(np.asarray(model(digit[None]))[0]))
    t = saliency(model, digit, target=other)
    assert t.shape == (28, 28) and t.max() == pytest.approx(1.0)
    assert not np.allclose(s, t)


def test_saliency_is_the_input_gradient(digit):
    """For a linear-softmax model the gradient is known in closed form."""
    inputs = keras.Input((28, 28, 1))
    out = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    keras.utils.set_random_seed(1)
    model = keras.Model(inputs, out)
    w, b = model.get_layer(index=2).get_weights()
    z = digit.reshape(-1) @ w + b
    p = np.exp(z - z.max())
    p /= p.sum()
    c = int(np.argmax(p))
    grad = np.abs(p[c] * (w[:, c] - w @ p)).reshape(28, 28)
    np.testing.assert_allclose(saliency(model, digit), grad / grad.max(), rtol=1e-3, atol=1e-5)


def test_probes_work_on_an_augmented_model(digit):
    model = seeded(build_cnn, augment=True)
    maps = feature_maps(model, digit)
    np.testing.assert_array_equal(maps["conv1"], feature_maps(model, digit)["conv1"])
    assert maps["conv1"].shape == (28, 28, 16)


def test_random_images_give_finite_outputs(cnn):
    for x in images(3, seed=9):
        assert all(np.isfinite(v).all() for v in feature_maps(cnn, x).values())
        assert np.isfinite(saliency(cnn, x)).all()
