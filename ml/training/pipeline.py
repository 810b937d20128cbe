"""Whole jobs built from the parts: data set -> features -> trained, evaluated, saved model."""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from ml.captioning.captioner import Captioner
from ml.core.atomic import locked_folder, write_text_atomically
from ml.core.defaults import BEAM_WIDTH, user_data_dir
from ml.core.errors import TrainingError
from ml.core.progress import CancelFlag, ProgressCallback
from ml.core.types import FeaturesByName, PathLike
from ml.data.datasets import load_dataset
from ml.data.metrics import caption_metrics
from ml.decoders.numpy_step import DecoderArrays, model_arrays, step_decoder_for
from ml.decoders.search import decode_captions
from ml.encoders.litert import pooled
from ml.features.for_dataset import dataset_feature_table, dataset_features
from ml.features.table import FeatureSources, FeatureTable
from ml.honesty.calibration import calibrate_decoders
from ml.model_file.card import SPLITS, metric_key, training_card
from ml.model_file.writer import save_bundle
from ml.training.config import MIN_TRAIN_PHOTOS
from ml.training.runs import RUN_RECORD

if TYPE_CHECKING:
    from ml.data.datasets import Dataset
    from ml.data.vocab import Vocabulary
    from ml.training.config import TrainConfig

log = logging.getLogger(__name__)


# Training photos the typicality centres are fitted on (all of Flickr8k's; a sample of COCO's).
CENTROID_SAMPLE = 20_000


def sample_rows(table: FeatureTable, count: int) -> np.ndarray:
    """Up to `count` rows of a table, evenly spread (a fixed sample, so a rerun fits the same centres)."""
    return table.rows(np.linspace(0, len(table) - 1, min(count, len(table))).astype(int))


def report_unreadable(errors: list[str], shown: int = 20) -> None:
    """Name the photos that could not be read (they are left out of training and scores)."""
    for error in errors[:shown]:
        log.warning("%s", error)
    if len(errors) > shown:
        log.warning("... and %d more unreadable photos", len(errors) - shown)


def check_writable(output_path: PathLike) -> None:
    """Find out before hours of training, not after, that the model cannot be saved where asked."""
    if Path(output_path).is_dir():
        raise TrainingError(f"{output_path}: is a folder; name the model file to write (e.g. {Path(output_path) / 'my.captioner'})")
    folder = Path(output_path).parent
    existing = next((f for f in (folder, *folder.parents) if f.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise TrainingError(f"{output_path}: cannot save the model there ({existing} is not a writable folder)")


def default_run_dir(output_path: PathLike) -> Path:
    return user_data_dir() / "runs" / Path(output_path).stem


def limit_training_photos(dataset: Dataset, max_train_photos: Optional[int]) -> Dataset:
    """Keep only the first N training photos (and as many dev/test), for quick runs and tests."""
    if max_train_photos is not None and max_train_photos < MIN_TRAIN_PHOTOS:
        raise TrainingError(f"training photos must be at least {MIN_TRAIN_PHOTOS}, not {max_train_photos}")
    if max_train_photos:
        dataset.splits["train"] = dataset.splits["train"][:max_train_photos]
        keep_eval = max(5, max_train_photos // 6)
        for split in ("dev", "test"):
            dataset.splits[split] = dataset.splits[split][:keep_eval]
    return dataset


def evaluate_decoder(decoder_arrays: Sequence[DecoderArrays], vocab: Vocabulary, dataset: Dataset,
                     features: FeaturesByName, split: str, beam_width: int) -> dict:
    """BLEU-1..4 and CIDEr of a decoder's (or an ensemble's) captions on one split."""
    names = [n for n in dataset.splits[split] if n in features]
    vectors = np.stack([features[n] for n in names])
    captions = decode_captions(step_decoder_for(decoder_arrays), vocab, vectors, beam_width)
    return caption_metrics(dict(zip(names, captions)), dataset.references(split))


def train_model(data_root: PathLike, output_path: PathLike, config: TrainConfig, run_dir: Optional[PathLike] = None,
                max_train_photos: Optional[int] = None, on_progress: Optional[ProgressCallback] = None,
                cancel: Optional[CancelFlag] = None, weights_path: Optional[PathLike] = None,
                command: str = "") -> dict:
    """Train on a data set folder and save a model file; returns its model card. The run folder is locked
    while this runs: a second run on it stops at once, naming the first one's PID."""
    check_writable(output_path)
    with locked_folder(run_dir or default_run_dir(output_path)) as locked_run_dir:
        return _train_model(data_root, output_path, config, locked_run_dir, max_train_photos, on_progress, cancel,
                            weights_path, command)


def _train_model(data_root, output_path, config, run_dir, max_train_photos, on_progress, cancel, weights_path,
                 command) -> dict:
    from ml.training.loop import train_decoder  # TensorFlow: loaded when a run starts, not with this module

    started = time.monotonic()
    record = json.dumps({"data": str(Path(data_root).resolve()), "output": str(Path(output_path).resolve()),
                         "max_train_photos": max_train_photos, "config": dataclasses.asdict(config)}, indent=2)
    if not (Path(run_dir) / "state.json").is_file():  # a new run: listed as unfinished from now on (the app
        # offers Resume); a folder holding a run keeps its record until this run is accepted and done there
        write_text_atomically(Path(run_dir) / RUN_RECORD, record)
    dataset = limit_training_photos(load_dataset(data_root), max_train_photos)
    log.info("%s", dataset.summary())
    grid = config.decoder == "attention"
    evaluation = [n for split in ("dev", "test") for n in dataset.splits[split]]
    features, errors = dataset_features(dataset, config.encoder, evaluation, on_progress, cancel, weights_path, grid)
    train_table, train_errors = dataset_feature_table(dataset, config.encoder, dataset.splits["train"],
                                                      Path(run_dir) / "train-features.npy", on_progress, cancel,
                                                      weights_path, grid)
    errors += train_errors
    report_unreadable(errors)
    mirrored = None
    if config.mirrored:
        mirrored, _ = dataset_features(dataset, config.encoder, dataset.splits["train"], on_progress, cancel,
                                       weights_path, grid, flipped=True)
    result = train_decoder(dataset, FeatureSources(features, train_table), config, run_dir, on_progress=on_progress, cancel=cancel,
                           mirrored_by_name=mirrored)
    metrics = {metric_key(split, 1): evaluate_decoder([model_arrays(result.decoder)], result.vocab, dataset, features, split, 1)
               for split in SPLITS}
    card = training_card(Path(output_path).stem, config, result, dataset, data_root, len(errors), metrics,
                         time.monotonic() - started, command)
    calibrated = calibrate_decoders([model_arrays(result.decoder)], result.vocab, dataset, features,
                                    pooled(sample_rows(train_table, CENTROID_SAMPLE)), encoder_name=config.encoder)
    centroids = None
    if calibrated is not None:
        card["confidence"], centroids = calibrated
    save_bundle(output_path, result.decoder, result.vocab, card, centroids)
    write_text_atomically(Path(run_dir) / RUN_RECORD, record)  # where this run's model now is
    return card


def evaluate_model(captioner: Captioner, data_root: PathLike, split: str, beam_width: int = BEAM_WIDTH,
                   on_progress: Optional[ProgressCallback] = None, cancel: Optional[CancelFlag] = None,
                   weights_path: Optional[PathLike] = None) -> dict:
    """Scores of a loaded model on a data set split (features come from the cache when present)."""
    dataset = load_dataset(data_root)
    names = dataset.splits[split]
    features, errors = dataset_features(dataset, captioner.spec.name, names, on_progress, cancel, weights_path,
                                        captioner.uses_grid)
    return evaluate_decoder(captioner.bundle.decoder_arrays, captioner.vocab, dataset, features, split, beam_width)


def compare_models(models: dict[str, PathLike], data_root: PathLike, max_train_photos: Optional[int] = None,
                   sample_count: int = 3) -> dict:
    """Models side by side on the same test photos (the run's own, with the same photo limit), greedy:
    {"photos": N, "scores": {label: metrics}, "samples": [(photo name, {label: caption})]}. For the app's
    'adopt this model?' question: a new model is compared with the one in use before it replaces it."""

    dataset = limit_training_photos(load_dataset(data_root), max_train_photos)
    names = dataset.splits["test"]
    scores: dict[str, dict] = {}
    samples: dict[str, dict[str, str]] = {}
    for label, path in models.items():
        captioner = Captioner.load(path)
        features, _ = dataset_features(dataset, captioner.spec.name, names, grid=captioner.uses_grid)
        scores[label] = evaluate_decoder(captioner.bundle.decoder_arrays, captioner.vocab, dataset, features, "test", 1)
        shown = [name for name in names if name in features][:sample_count]
        if shown:
            captions = captioner.caption_features(np.stack([features[n] for n in shown]), beam_width=1)
            for name, caption in zip(shown, captions):
                samples.setdefault(name, {})[label] = caption
    return {"photos": len(names), "scores": scores, "samples": list(samples.items())}
