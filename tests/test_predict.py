"""Tests for mnistkit.predict: safe model loading and the fast, thread-safe Predictor."""

from __future__ import annotations

import os
import threading
import zipfile

import keras
import numpy as np
import pytest

from mnistkit.predict import (
    BATCH,
    ModelError,
    Predictor,
    check_model_shape,
    load_model,
    load_predictor,
    resolve_model_path,
)
from tests.helpers import images, save_tiny_model, tiny_model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny valid model saved as .keras (shared by this module, read-only)."""
    return save_tiny_model(tmp_path_factory.mktemp("model") / "tiny.keras", seed=11)


@pytest.fixture(scope="module")
def predictor(saved):
    return Predictor(load_model(saved))


def softmax_model(input_shape, classes=10, before=()):
    inputs = keras.Input(input_shape)
    x = inputs
    for layer in before:
        x = layer(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(x))


# --- loading --------------------------------------------------------------------------


def test_load_model_file_and_run_folder(saved, tmp_path):
    model = load_model(saved)
    reference = tiny_model(seed=11)
    for a, b in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(saved.read_bytes())
    assert resolve_model_path(run) == run / "model.keras"
    from_run = load_model(run)
    x = images(3)
    np.testing.assert_allclose(np.asarray(from_run(x)), np.asarray(model(x)), rtol=1e-6)
    assert load_model(str(saved)).count_params() == model.count_params()  # str paths too


def test_random_bytes_are_refused(tmp_path):
    bad = tmp_path / "noise.keras"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelError, match="noise.keras"):
        load_model(bad)


def test_truncated_zip_is_refused(saved, tmp_path):
    data = saved.read_bytes()
    bad = tmp_path / "truncated.keras"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="truncated.keras"):
        load_model(bad)


def test_zip_without_a_model_is_refused(tmp_path):
    bad = tmp_path / "other.keras"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("config.json", '{"class_name": "NoSuchLayer", "config": {}}')
    with pytest.raises(ModelError, match="could not be loaded"):
        load_model(bad)


def test_damaged_weights_are_refused(saved, tmp_path):
    """A zip whose weights member is cut short: loads must fail as ModelError, not h5py's."""
    bad = tmp_path / "weights.keras"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            payload = src.read(item.filename)
            if item.filename.endswith(".h5"):
                payload = payload[:200]
            dst.writestr(item, payload)
    with pytest.raises(ModelError, match="weights.keras"):
        load_model(bad)


@pytest.mark.parametrize(
    "input_shape, classes, word",
    [
        ((32, 32, 1), 10, "expects input"),
        ((28, 28, 3), 10, "expects input"),
        ((28, 28, 1), 5, "10"),
    ],
)
def test_wrong_shapes_are_refused(tmp_path, input_shape, classes, word):
    path = tmp_path / "wrong.keras"
    softmax_model(input_shape, classes).save(path)
    with pytest.raises(ModelError, match=word):
        load_model(path)


def test_two_dimensional_input_is_accepted(tmp_path):
    path = tmp_path / "flat.keras"
    model = softmax_model((28, 28))
    model.save(path)
    p = Predictor(load_model(path))
    x = images(5)
    np.testing.assert_allclose(p.proba(x), np.asarray(model(x[..., 0])), rtol=1e-5, atol=1e-7)


def test_multi_output_model_is_refused():
    inputs = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, [keras.layers.Dense(10)(flat), keras.layers.Dense(10)(flat)])
    with pytest.raises(ModelError):
        check_model_shape(model)


def test_lambda_layer_is_refused(tmp_path):
    path = tmp_path / "lambda.keras"
    softmax_model((28, 28, 1), before=[keras.layers.Lambda(lambda t: t * 2.0)]).save(path)
    with pytest.raises(ModelError, match="contains a Lambda layer") as info:
        load_model(path)
    assert "safety" in str(info.value) and "\n" not in str(info.value)


def test_run_folder_without_model(tmp_path):
    with pytest.raises(ModelError, match="no model.keras"):
        load_model(tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="no model file"):
        load_model(tmp_path / "absent.keras")


@pytest.mark.parametrize("suffix", [".h5", ".weights.h5", ".zip", ""])
def test_wrong_extension(saved, tmp_path, suffix):
    other = tmp_path / f"model{suffix}"
    other.write_bytes(saved.read_bytes())  # a real model, but not named .keras
    with pytest.raises(ModelError, match="'.keras'"):
        load_model(other)


def test_model_error_is_one_sentence(tmp_path):
    bad = tmp_path / "x.keras"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelError) as info:
        load_model(bad)
    assert "\n" not in str(info.value)


# --- Predictor ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    [
        (28, 28),
        (28, 28, 1),
        (1, 28, 28, 1),
        (7, 28, 28, 1),
        (7, 28, 28),
        (28, 28, 28),  # 28 images, not one image with 28 channels
        (BATCH + 300, 28, 28, 1),
    ],
)
def test_proba_matches_model(predictor, shape):
    n = int(np.prod(shape)) // (28 * 28)
    x = images(n, seed=n).reshape(shape)
    got = predictor.proba(x)
    want = np.asarray(predictor.model(x.reshape(n, 28, 28, 1), training=False))
    assert got.shape == (n, 10) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)


def test_proba_accepts_uint_like_lists(predictor):
    x = images(1)[0, :, :, 0]
    np.testing.assert_allclose(predictor.proba(x.tolist()), predictor.proba(x), rtol=1e-6)


def test_proba_empty_batch(predictor):
    assert predictor.proba(np.zeros((0, 28, 28, 1), np.float32)).shape == (0, 10)


def test_load_predictor(saved):
    p = load_predictor(saved)
    x = images(2)
    np.testing.assert_allclose(p.proba(x), np.asarray(p.model(x)), rtol=1e-5, atol=1e-6)


def test_proba_is_thread_safe(predictor):
    inputs = [images(1 + i % 5, seed=i) for i in range(8)]
    expected = [predictor.proba(x) for x in inputs]
    results: list[list[np.ndarray]] = [[] for _ in inputs]
    errors: list[BaseException] = []
    start = threading.Barrier(len(inputs))

    def worker(i):
        try:
            start.wait()
            for _ in range(50):
                results[i].append(predictor.proba(inputs[i]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    for i, outs in enumerate(results):
        assert len(outs) == 50
        for out in outs:
            np.testing.assert_array_equal(out, expected[i])


def test_predictor_does_not_retrace(predictor):
    """The input_signature keeps one concrete function for every batch size."""
    for n in (1, 2, 3, 50):
        predictor.proba(images(n))
    assert predictor._fn.experimental_get_tracing_count() == 1


def test_model_files_are_not_written_by_loading(saved):
    before = os.stat(saved).st_mtime_ns
    load_model(saved)
    assert os.stat(saved).st_mtime_ns == before


# --- crafted files (a student with a script hands them in) ----------------------------


def test_a_zip_bomb_is_refused_before_keras_reads_it(saved, tmp_path):
    from devtools.hostile import zip_bomb_model
    from mnistkit.predict import MAX_UNPACKED_BYTES

    bomb = zip_bomb_model(saved, tmp_path / "bomb.keras", MAX_UNPACKED_BYTES + 2**20)
    assert bomb.stat().st_size < MAX_UNPACKED_BYTES // 100  # small on disk, huge unpacked
    with pytest.raises(ModelError, match=r"bomb.keras unpacks to 65 MB, more than the 64 MB"):
        load_model(bomb)


def test_a_model_with_too_many_parameters_is_refused(tmp_path):
    from mnistkit.predict import MAX_PARAMS

    units = MAX_PARAMS // 784 + 10
    path = tmp_path / "huge.keras"
    softmax_model((28, 28, 1), before=[keras.layers.Flatten(), keras.layers.Dense(units)]).save(
        path
    )
    with pytest.raises(ModelError, match=r"huge.keras has 5,\d{3},\d{3} parameters; mnistkit"):
        load_model(path)


def test_a_model_that_loads_but_cannot_run_says_so_in_one_sentence(saved, tmp_path):
    """A layer name TensorFlow refuses as a scope: Keras loads the file, the first call fails."""
    import json

    with zipfile.ZipFile(saved) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][-1]["config"]["name"] = "out put>?*"
    text = json.dumps(config).replace(f'"{config["config"]["layers"][-1]["name"]}"', '"out put>?*"')
    members["config.json"] = text.encode()
    path = tmp_path / "scope.keras"
    with zipfile.ZipFile(path, "w") as target:
        for name, data in members.items():
            target.writestr(name, data)
    with pytest.raises(ModelError) as info:
        load_predictor(path)
    message = str(info.value)
    assert message.startswith("scope.keras loads but fails when it is run: ")
    assert "not a valid scope name" in message and "\x1b" not in message and "\n" not in message
