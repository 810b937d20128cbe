"""Calibrate a model's confidence on a data set's dev split (ml/honesty/confidence.py says what it measures).

Run at the end of every training run (ml/training/pipeline.py) and on demand for a model file
(`python -m ml calibrate --model MODEL --data FOLDER`): captions for the dev photos, their signals, each caption's
sentence-level CIDEr against the human captions, a logistic regression fitted to tell the better half,
and Spearman's rho between confidence and CIDEr on dev (and test, where the data set has one) written
into the model card beside the fit.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from ml.core.defaults import BEAM_WIDTH
from ml.core.errors import TrainingError
from ml.core.types import FeaturesByName, PathLike
from ml.data.datasets import load_dataset
from ml.data.metrics import sentence_cider
from ml.decoders.numpy_step import step_decoder_for
from ml.decoders.search import decode_captions
from ml.encoders.imagenet import ImageNetHead
from ml.encoders.litert import pooled
from ml.encoders.people import PeopleProbe
from ml.features.for_dataset import dataset_features
from ml.honesty.confidence import caption_signals, dog_probability, fit_calibration, spearman, training_centroids, typicality
from ml.model_file.reader import load_bundle
from ml.model_file.writer import add_calibration

if TYPE_CHECKING:
    from ml.data.datasets import Dataset
    from ml.data.vocab import Vocabulary
    from ml.decoders.numpy_step import DecoderArrays

log = logging.getLogger(__name__)

# Fewer dev captions than this give no calibration worth storing (a tiny test data set).
MIN_DEV_CAPTIONS = 50


def people_and_dogs(encoder_name: Optional[str], pooled_vectors: np.ndarray) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """Each photo's probability that someone is in it (the encoder's people probe) and that a dog is (its ImageNet
    head), each None where the encoder has none."""
    probe = PeopleProbe.for_encoder(encoder_name) if encoder_name else None
    head = ImageNetHead.for_encoder(encoder_name) if encoder_name else None
    return (probe.probabilities(pooled_vectors) if probe is not None else None,
            dog_probability(head.probabilities(pooled_vectors)) if head is not None else None)


def split_signals(decoder_arrays: Sequence[DecoderArrays], vocab: Vocabulary, dataset: Dataset,
                  features: FeaturesByName, split: str, centroids: np.ndarray,
                  beam_width: int, encoder_name: Optional[str] = None) -> tuple[np.ndarray, np.ndarray]:
    """Signals (photos, signals) of the captions of one split's photos, and their sentence CIDEr."""
    step_decoder = step_decoder_for(decoder_arrays)
    names = [n for n in dataset.splits[split] if n in features]
    vectors = np.stack([features[n] for n in names])
    word_lists = decode_captions(step_decoder, vocab, vectors, beam_width)
    pooled_vectors = pooled(vectors)
    people, dogs = people_and_dogs(encoder_name, pooled_vectors)
    signals = caption_signals(step_decoder, vocab, vectors, word_lists, typicality(pooled_vectors, centroids),
                              people=people, dogs=dogs)
    scores = sentence_cider(dict(zip(names, word_lists)), dataset.references(split))
    return signals, np.array([scores[n] for n in names])


def calibrate_decoders(decoder_arrays: Sequence[DecoderArrays], vocab: Vocabulary, dataset: Dataset,
                       features: FeaturesByName, training_pooled: np.ndarray,
                       beam_width: int = BEAM_WIDTH, encoder_name: Optional[str] = None) -> Optional[tuple[dict, np.ndarray]]:
    """The card's "confidence" entry (the fit and its Spearman's rho on dev and test) and the training
    centres, or None when the dev split is too small to calibrate on. encoder_name: the encoder whose people
    probe and ImageNet head give the agreement signals (none without it)."""
    if sum(n in features for n in dataset.splits.get("dev", [])) < MIN_DEV_CAPTIONS:
        log.info("confidence not calibrated: fewer than %d dev photos", MIN_DEV_CAPTIONS)
        return None
    centroids = training_centroids(training_pooled)
    signals, scores = split_signals(decoder_arrays, vocab, dataset, features, "dev", centroids, beam_width,
                                    encoder_name)
    calibration = fit_calibration(signals, scores)
    entry = calibration.to_json() | {"beam_width": beam_width, "dev_spearman": round(spearman(calibration.confidence(signals), scores), 3)}
    if sum(n in features for n in dataset.splits.get("test", [])) >= MIN_DEV_CAPTIONS:
        test_signals, test_scores = split_signals(decoder_arrays, vocab, dataset, features, "test", centroids,
                                                       beam_width, encoder_name)
        entry["test_spearman"] = round(spearman(calibration.confidence(test_signals), test_scores), 3)
    log.info("confidence calibrated: Spearman's rho %s on dev, %s on test", entry["dev_spearman"], entry.get("test_spearman"))
    return entry, centroids


def calibrate_model(model_path: PathLike, data_root: PathLike, beam_width: int = BEAM_WIDTH, command: str = "") -> dict:
    """Calibrate a model file on a data set (features from the cache where present) and store the result
    in the file; returns the card's new "confidence" entry."""
    bundle = load_bundle(model_path)
    dataset = load_dataset(data_root)
    grid = bundle.card.get("features") == "grid"
    encoder = bundle.card["encoder"]
    training, _ = dataset_features(dataset, encoder, dataset.splits["train"])
    names = [n for split in ("dev", "test") for n in dataset.splits.get(split, [])]
    features, _ = dataset_features(dataset, encoder, names, grid=grid)
    calibrated = calibrate_decoders(bundle.decoder_arrays, bundle.vocab, dataset, features,
                                    np.stack(list(training.values())), beam_width, encoder)
    if calibrated is None:
        raise TrainingError(f"{data_root}: fewer than {MIN_DEV_CAPTIONS} dev photos; cannot calibrate")
    entry, centroids = calibrated
    if command:
        entry["command"] = command
    add_calibration(Path(model_path), entry, centroids)
    return entry
