"""Look inside a model: feature maps, convolution kernels, hidden activations, saliency."""

from __future__ import annotations

import threading
import weakref

import keras
import numpy as np
import tensorflow as tf

_lock = threading.Lock()
_probes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def conv_layers(model: keras.Model) -> list[str]:
    """Names of the Conv2D layers, in order."""
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def dense_layers(model: keras.Model) -> list[str]:
    """Names of the hidden Dense layers (all but the output), in order."""
    names = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    return names[:-1]


def after_activation(model: keras.Model, name: str) -> str:
    """The layer whose output is `name` after its non-linearity (`conv1` → `conv1_act`)."""
    names = {layer.name for layer in model.layers}
    return f"{name}_act" if f"{name}_act" in names else name


def _probe(model: keras.Model, names: tuple[str, ...]):
    """A cached tf.function returning the outputs of the named layers (built from `model.input`)."""
    with _lock:
        per_model = _probes.setdefault(model, {})
        if names not in per_model:
            probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
            shape = tuple(model.inputs[0].shape[1:])
            per_model[names] = tf.function(
                lambda x: probe(x, training=False),
                input_signature=[tf.TensorSpec((None, *shape), tf.float32)],
            )
        return per_model[names]


def _batch(model: keras.Model, x: np.ndarray) -> np.ndarray:
    shape = tuple(model.inputs[0].shape[1:])
    return np.asarray(x, dtype=np.float32).reshape((1, *shape))


def batch_outputs(
    model: keras.Model, x: np.ndarray, names: list[str], batch_size: int = 500
) -> list[np.ndarray]:
    """Outputs of the named layers for images (N, ...), computed `batch_size` at a time."""
    x = np.asarray(x, dtype=np.float32)
    probe = _probe(model, tuple(names))
    chunks: list[list[np.ndarray]] = [[] for _ in names]
    for start in range(0, len(x), batch_size):
        outs = probe(x[start : start + batch_size])
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for chunk, out in zip(chunks, outs, strict=True):
            chunk.append(np.asarray(out))
    return [np.concatenate(c) if c else np.zeros((0,)) for c in chunks]


def hidden_layer(model: keras.Model) -> str | None:
    """The last hidden dense layer after its non-linearity (the hidden-space map's layer)."""
    names = dense_layers(model)
    return after_activation(model, names[-1]) if names else None


def layer_outputs(model: keras.Model, x: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """Outputs of the named layers for one image, without the batch axis."""
    outs = _probe(model, tuple(names))(_batch(model, x))
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    return {n: np.asarray(o)[0] for n, o in zip(names, outs, strict=True)}


def feature_maps(model: keras.Model, x: np.ndarray) -> dict[str, np.ndarray]:
    """Each conv layer's activated output for one image: name → (H, W, channels)."""
    names = conv_layers(model)
    outs = layer_outputs(model, x, [after_activation(model, n) for n in names])
    return dict(zip(names, outs.values(), strict=True))


def dense_activations(model: keras.Model, x: np.ndarray) -> dict[str, np.ndarray]:
    """Each hidden dense layer's activated output for one image: name → (units,)."""
    names = dense_layers(model)
    outs = layer_outputs(model, x, [after_activation(model, n) for n in names])
    return dict(zip(names, outs.values(), strict=True))


def conv_kernels(model: keras.Model, name: str | None = None) -> np.ndarray:
    """The first conv layer's kernels as (filters, 3, 3) for single-channel input."""
    name = name or conv_layers(model)[0]
    kernel = np.asarray(model.get_layer(name).get_weights()[0])  # (kh, kw, in, out)
    return kernel[:, :, 0, :].transpose(2, 0, 1)


def saliency(model: keras.Model, x: np.ndarray, target: int | None = None) -> np.ndarray:
    """|∂ p(target) / ∂ input| for one image, scaled to [0, 1] (target: the top class)."""
    xb = tf.convert_to_tensor(_batch(model, x))
    with tf.GradientTape() as tape:
        tape.watch(xb)
        probs = model(xb, training=False)
        cls = int(tf.argmax(probs[0])) if target is None else target
        score = probs[0, cls]
    grad = np.abs(np.asarray(tape.gradient(score, xb))[0]).reshape(28, 28)
    peak = grad.max()
    return grad / peak if peak > 0 else grad
