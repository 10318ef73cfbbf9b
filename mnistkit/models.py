"""Model builders: the seed course's dense net and small CNN, with their knobs exposed.

Every model starts with `keras.Input` (so `model.input` exists for activation models) and
names its layers (`conv1`, `conv1_act`, `pool1`, ..., `dense1`, `output`) so pages can read
activations by name. Activations are separate layers, as the course explains: a Dense or
Conv2D layer is linear; the `Activation`/`LeakyReLU` layer after it adds the non-linearity.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from mnistkit.config import ACTIVATION_NAMES, OPTIMIZER_NAMES, TrainConfig, seed_defaults

OPTIMIZERS = {  # one Keras class per name in `config.OPTIMIZER_NAMES` (a test checks they agree)
    "sgd": keras.optimizers.SGD,
    "adam": keras.optimizers.Adam,
    "adagrad": keras.optimizers.Adagrad,
    "nadam": keras.optimizers.Nadam,
    "rmsprop": keras.optimizers.RMSprop,
    "adadelta": keras.optimizers.Adadelta,
    "adamax": keras.optimizers.Adamax,
    "ftrl": keras.optimizers.Ftrl,
}
SEED_DENSE, SEED_CNN = seed_defaults("dense"), seed_defaults("cnn")  # the builders' defaults
INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def activation_layer(name: str, layer_name: str) -> layers.Layer:
    """A separate non-linearity layer: ReLU, sigmoid, tanh or leaky ReLU."""
    if name == "leaky_relu":
        return layers.LeakyReLU(negative_slope=0.1, name=layer_name)
    if name not in ACTIVATION_NAMES:
        raise ValueError(f"activation must be one of {ACTIVATION_NAMES}, not {name!r}")
    return layers.Activation(name, name=layer_name)


def augmentation_layers(
    degrees: float = 10.0, zoom: float = 0.1, shift: float = 0.1
) -> list[layers.Layer]:
    """Random rotation (±degrees), zoom (±zoom) and shift (±shift of the side); training only."""
    return [
        layers.RandomRotation(degrees / 360, fill_mode="constant", name="aug_rotate"),
        layers.RandomZoom(zoom, fill_mode="constant", name="aug_zoom"),
        layers.RandomTranslation(shift, shift, fill_mode="constant", name="aug_shift"),
    ]


# The dense net has no translation invariance: milder augmentation suits it better
# (measured: MNIST test 98.2 % -> 98.6 %, pendigits drawings 94.0 % -> 95.0 %; models/README.md).
DENSE_AUGMENTATION = {"degrees": 6.0, "zoom": 0.06, "shift": 0.05}


def _chain(stack: list[layers.Layer], name: str) -> keras.Model:
    """A functional model from `keras.Input` through the layers in order (so `.input` exists)."""
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = inputs
    for layer in stack:
        x = layer(x)
    return keras.Model(inputs, x, name=name)


def build_dense(
    units: Sequence[int] = SEED_DENSE.dense_units,
    activation: str = SEED_DENSE.activation,
    dropout: float = SEED_DENSE.dropout,
    augment: bool = SEED_DENSE.augment,
) -> keras.Model:
    """Flatten → Dense(u) per width in `units` → Dense(10, softmax); optional Dropout.

    The defaults are the seed net: Flatten → Dense(256) → Dense(64) → Dense(10).
    """
    stack: list[layers.Layer] = augmentation_layers(**DENSE_AUGMENTATION) if augment else []
    stack.append(layers.Flatten(name="flatten"))
    for i, width in enumerate(units, start=1):
        stack += [
            layers.Dense(width, name=f"dense{i}"),
            activation_layer(activation, f"dense{i}_act"),
        ]
        if dropout > 0:
            stack.append(layers.Dropout(dropout, name=f"dropout{i}"))
    stack.append(layers.Dense(NUM_CLASSES, activation="softmax", name="output"))
    return _chain(stack, "dense")


def build_cnn(
    filters: Sequence[int] = SEED_CNN.conv_filters,
    dense_units: int = SEED_CNN.cnn_dense_units,
    activation: str = SEED_CNN.activation,
    dropout: float = SEED_CNN.dropout,
    augment: bool = SEED_CNN.augment,
) -> keras.Model:
    """(Conv 3×3 → Pool 2×2) per width in `filters` → Flatten → Dense → Dropout → Dense(10).

    The defaults are the seed CNN: Conv(16) → Pool → Conv(32) → Pool → Flatten → Dense(80)
    → Dropout(0.4) → Dense(10, softmax).
    """
    stack: list[layers.Layer] = augmentation_layers() if augment else []
    for i, width in enumerate(filters, start=1):
        stack += [
            layers.Conv2D(width, kernel_size=3, padding="same", name=f"conv{i}"),
            activation_layer(activation, f"conv{i}_act"),
            layers.MaxPooling2D(pool_size=2, name=f"pool{i}"),
        ]
    stack += [
        layers.Flatten(name="flatten"),
        layers.Dense(dense_units, name="dense1"),
        activation_layer(activation, "dense1_act"),
    ]
    if dropout > 0:
        stack.append(layers.Dropout(dropout, name="dropout"))
    stack.append(layers.Dense(NUM_CLASSES, activation="softmax", name="output"))
    return _chain(stack, "cnn")


def make_optimizer(
    name: str, learning_rate: float, schedule: str = "constant", decay_steps: int = 0
) -> keras.optimizers.Optimizer:
    """An optimizer by its lower-case name, optionally with a cosine-decayed learning rate."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZER_NAMES}, not {name!r}")
    lr: float | keras.optimizers.schedules.LearningRateSchedule = learning_rate
    if schedule == "cosine" and decay_steps > 0:
        lr = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps)
    return OPTIMIZERS[name](learning_rate=lr)


def build_network(config: TrainConfig) -> keras.Model:
    """The uncompiled network a training config describes (a replay sets its weights)."""
    if config.arch == "dense":
        return build_dense(
            units=config.dense_units,
            activation=config.activation,
            dropout=config.dropout,
            augment=config.augment,
        )
    return build_cnn(
        filters=config.conv_filters,
        dense_units=config.cnn_dense_units,
        activation=config.activation,
        dropout=config.dropout,
        augment=config.augment,
    )


def build_model(config: TrainConfig, steps_per_epoch: int = 0) -> keras.Model:
    """The compiled model a training config describes."""
    model = build_network(config)
    model.compile(
        optimizer=make_optimizer(
            config.optimizer,
            config.learning_rate,
            config.lr_schedule,
            steps_per_epoch * config.epochs,
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=config.steps_per_execution,
    )
    return model


def layer_summary(model: keras.Model) -> list[dict]:
    """One row per layer: name, type, output shape, parameter count (for the Train page)."""
    return [
        {
            "layer": layer.name,
            "type": type(layer).__name__,
            "output shape": str(tuple(layer.output.shape)),
            "parameters": layer.count_params(),
        }
        for layer in model.layers
    ]
