"""The model file's format: a zip of the card (JSON), the vocabulary (JSON), and each decoder twice, as a
Keras file (decoder.keras) that training and combining need and as its plain weight arrays (decoder.npz)
that captioning decodes with in numpy, so describing a photo never loads TensorFlow. An ensemble holds
several (decoder-1.keras + decoder-1.npz, ...) over one vocabulary; a calibrated model also holds its
training photos' feature centres (domain.npz). Here: the member names, the size caps the reader enforces,
and what a loaded file is (Bundle)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ml.data.vocab import Vocabulary

BUNDLE_SUFFIX = ".captioner"
MEMBERS = ("card.json", "vocab.json", "decoder.keras", "decoder.npz")
# Optional: the training photos' feature centres, for telling how typical a photo is (ml/honesty/confidence.py).
DOMAIN_MEMBER = "domain.npz"
# The most centres a model file may hold (this app writes 256).
MAX_CENTROIDS = 4096
MiB = 1024 * 1024
# Uncompressed sizes a model file may declare, checked before anything is read (a zip of 1 MB can hold
# a 1 GiB card.json). The shipped five-decoder file: card 24 KB, vocabulary 30 KB, decoders 5-7 MB each.
MAX_MEMBER_BYTES = {"card.json": 1 * MiB, "vocab.json": 16 * MiB, "decoder": 200 * MiB}
MAX_TOTAL_BYTES = 400 * MiB
# The most arrays one decoder has (the attention decoder has 20); more is not a file this app wrote.
MAX_ARRAYS = 64


@dataclass
class Bundle:
    """A loaded model: each decoder's weight arrays (float32, by Keras path), the vocabulary and the card."""

    decoder_arrays: list[dict[str, np.ndarray]]
    vocab: Vocabulary
    card: dict
    path: Optional[Path] = None
    centroids: Optional[np.ndarray] = None


def decoder_member(index: int) -> str:
    return "decoder.keras" if index == 0 else f"decoder-{index}.keras"


def arrays_member(index: int) -> str:
    return "decoder.npz" if index == 0 else f"decoder-{index}.npz"
