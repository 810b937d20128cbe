"""What decides a training run, checked when it is made: light (no TensorFlow), so the app can check
a form on its UI thread and the CLI can refuse an option before any work."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ml.core import defaults
from ml.core.errors import TrainingError
from ml.encoders.registry import ENCODERS


@dataclass
class TrainConfig:
    """Everything that decides what a training run produces (stored with the run and the model)."""

    encoder: str = defaults.DEFAULT_ENCODER
    decoder: str = defaults.DEFAULT_DECODER
    units: int = defaults.DECODER_UNITS
    dropout: float = defaults.DROPOUT
    batch_size: int = defaults.BATCH_SIZE
    learning_rate: float = defaults.LEARNING_RATE
    # Words the training loss compares each true word with (sampled softmax; 0: the whole vocabulary).
    sampled_words: int = defaults.SAMPLED_WORDS
    epochs: int = defaults.EPOCHS
    patience: int = defaults.PATIENCE
    # After an epoch without a better dev loss: go back to the best weights and multiply the learning
    # rate by this (1.0 keeps training on as before).
    lr_decay: float = defaults.LR_DECAY
    # Also train on each photo mirrored left-right (its features from the flipped photo), with the same captions.
    mirrored: bool = defaults.MIRRORED
    # Self-critical fine-tuning of the best weights afterwards: passes over the training photos (0: none).
    self_critical_epochs: float = defaults.SELF_CRITICAL_EPOCHS
    self_critical_lr: float = defaults.SELF_CRITICAL_LR
    # Weight of the human captions' cross-entropy during fine-tuning (0: the samples' scores only).
    self_critical_human_weight: float = defaults.SELF_CRITICAL_HUMAN_WEIGHT
    min_word_count: int = defaults.MIN_WORD_COUNT
    max_words: int = defaults.MAX_CAPTION_WORDS
    seed: int = defaults.SEED

    def __post_init__(self):
        """Refuse settings that cannot train (batch size 0 divided by zero after feature extraction, a
        negative learning rate saved a garbage model): checked before any work, in one line."""
        if self.encoder not in ENCODERS:
            raise TrainingError(f"unknown encoder {self.encoder!r} (choose from {', '.join(ENCODERS)})")
        if self.decoder not in defaults.DECODER_TYPES:
            raise TrainingError(f"unknown decoder {self.decoder!r} (choose from {', '.join(defaults.DECODER_TYPES)})")
        for name, (low, high, low_included) in SETTING_RANGES.items():
            value = getattr(self, name)
            if self.__dataclass_fields__[name].type == "int" and not isinstance(value, int):
                raise TrainingError(f"{name.replace('_', ' ')} must be a whole number, not {value!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not (
                    (value >= low if low_included else value > low) and value <= high):
                bound = f"{'from' if low_included else 'above'} {low:g} to {high:g}"
                raise TrainingError(f"{name.replace('_', ' ')} must be a number {bound}, not {value!r}")


# Allowed values of TrainConfig's numbers: (low, high, whether low itself is allowed).
SETTING_RANGES = {
    "units": (1, 4096, True), "dropout": (0.0, 0.95, True), "batch_size": (1, 65536, True),
    "learning_rate": (0.0, 1.0, False), "sampled_words": (0, 1_000_000, True),
    "epochs": (1, 10_000, True), "patience": (1, 10_000, True),
    "lr_decay": (0.0, 1.0, False), "self_critical_epochs": (0.0, 1000.0, True),
    "self_critical_lr": (0.0, 1.0, False), "self_critical_human_weight": (0.0, 100.0, True),
    "min_word_count": (1, 1_000_000, True), "max_words": (1, defaults.LONGEST_CAPTION_LIMIT, True),
    "seed": (0, 2**31 - 1, True),
}
# The fewest training photos a run may ask for (fewer cannot make a dev split of its own).
MIN_TRAIN_PHOTOS = 10
