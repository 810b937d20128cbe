"""Whether a photo has people in it: a logistic regression on the encoder's pooled features, learned from
Flickr8k's captions (ml.honesty.hedging.has_people: the share of a photo's five captions that name a person).
ImageNet has no class for a person, so its tags cannot say that a photo has no one in it; this probe can, and captioning uses it so
as not to put people into photos of buildings, streets, fish or food (issue 23, ml/captioning/naming.py).

Learned by scripts/make_people_probe.py; the default encoder's probe ships as
assets/encoders/efficientnet-lite2-people.npz (plain arrays, read with allow_pickle=False). Other encoders
have none, and captioning goes on without it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ml.core.atomic import replace_atomically
from ml.core.defaults import asset_path
from ml.core.types import PathLike


def shipped_probe_path(encoder_name: str) -> Path:
    return asset_path("encoders", f"{encoder_name}-people.npz")


class PeopleProbe:
    """Pooled encoder features in, the probability that the photo has people in it out."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, weights: np.ndarray, bias: float):
        self.mean, self.scale = np.asarray(mean, np.float32), np.asarray(scale, np.float32)
        self.weights, self.bias = np.asarray(weights, np.float32), float(bias)

    @classmethod
    def for_encoder(cls, encoder_name: str) -> Optional[PeopleProbe]:
        """The shipped probe of an encoder, or None where it has none."""
        path = shipped_probe_path(encoder_name)
        return cls.load(path) if path.is_file() else None

    @classmethod
    def load(cls, path: PathLike) -> PeopleProbe:
        """A probe written by save (plain arrays, read with allow_pickle=False)."""
        with np.load(path, allow_pickle=False) as stored:
            return cls(stored["mean"], stored["scale"], stored["weights"], float(stored["bias"]))

    def probabilities(self, pooled: np.ndarray) -> np.ndarray:
        """One probability per row of pooled features."""
        logits = ((np.atleast_2d(pooled) - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-logits))

    def save(self, target: PathLike) -> Path:
        def write(temp):
            with open(temp, "wb") as file:
                np.savez(file, mean=self.mean, scale=self.scale, weights=self.weights, bias=np.float32(self.bias))

        return replace_atomically(target, write)


def fit_probe(features: np.ndarray, labels: np.ndarray, l2: float = 0.1, steps: int = 800,
              learning_rate: float = 0.05) -> PeopleProbe:
    """Logistic regression with an L2 penalty on standardised features, by full-batch Adam (8000 photos x 1280
    features take seconds; the penalty was chosen on Flickr8k dev: 0.1 gave the best AUC of 0.001 to 0.1)."""
    x = np.asarray(features, np.float64)
    y = np.asarray(labels, np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    weights, bias = np.zeros(z.shape[1]), 0.0
    first, second = np.zeros_like(weights), np.zeros_like(weights)
    for step in range(1, steps + 1):
        error = 1.0 / (1.0 + np.exp(-(z @ weights + bias))) - y
        gradient = z.T @ error / len(y) + l2 * weights
        first, second = 0.9 * first + 0.1 * gradient, 0.999 * second + 0.001 * gradient ** 2
        weights -= learning_rate * (first / (1 - 0.9 ** step)) / (np.sqrt(second / (1 - 0.999 ** step)) + 1e-8)
        bias -= learning_rate * error.mean()
    return PeopleProbe(mean, scale, weights, bias)
