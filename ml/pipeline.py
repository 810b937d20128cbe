"""Whole jobs built from the parts: data set -> features -> trained, evaluated, saved model."""
import time
from pathlib import Path

import numpy as np

from .bundle import save_bundle
from .card import SPLITS, metric_key, training_card
from .config import BEAM_WIDTH, user_data_dir
from .datasets import load_dataset
from .decoder import step_decoder_for
from .decoding import decode_captions
from .evaluation import caption_metrics
from .features import extract_features
from .training import train_decoder

def dataset_features(dataset, encoder_name, names, on_progress=None, cancel=None, weights_path=None, grid=False,
                     flipped=False):
    """Features by photo name for the given photos, and the one-line errors of unreadable ones."""
    paths = [dataset.image_path(name) for name in names]
    result = extract_features(paths, encoder_name, on_progress=on_progress, cancel=cancel,
                              weights_path=weights_path, grid=grid, flipped=flipped)
    features = {path.name: vector for path, vector in result.features.items()}
    return features, list(result.errors.values())


def default_run_dir(output_path) -> Path:
    return user_data_dir() / "runs" / Path(output_path).stem


def limit_training_photos(dataset, max_train_photos):
    """Keep only the first N training photos (and as many dev/test), for quick runs and tests."""
    if max_train_photos:
        dataset.splits["train"] = dataset.splits["train"][:max_train_photos]
        keep_eval = max(5, max_train_photos // 6)
        for split in ("dev", "test"):
            dataset.splits[split] = dataset.splits[split][:keep_eval]
    return dataset


def evaluate_decoder(decoders, vocab, dataset, features, split, beam_width) -> dict:
    """BLEU-1..4 and CIDEr of the decoder's (or ensemble's) captions on one split."""
    names = [n for n in dataset.splits[split] if n in features]
    vectors = np.stack([features[n] for n in names])
    captions = decode_captions(step_decoder_for(decoders), vocab, vectors, beam_width)
    return caption_metrics(dict(zip(names, captions)), dataset.references(split))


def train_model(data_root, output_path, config, run_dir=None, max_train_photos=None, on_progress=None,
                cancel=None, weights_path=None, command="") -> dict:
    """Train on a data set folder and save a model file; returns its model card."""
    started = time.monotonic()
    dataset = limit_training_photos(load_dataset(data_root), max_train_photos)
    names = [n for split in ("train", "dev", "test") for n in dataset.splits[split]]
    grid = config.decoder == "attention"
    features, errors = dataset_features(dataset, config.encoder, names, on_progress, cancel, weights_path, grid)
    mirrored = None
    if config.mirrored:
        mirrored, _ = dataset_features(dataset, config.encoder, dataset.splits["train"], on_progress, cancel,
                                       weights_path, grid, flipped=True)
    result = train_decoder(dataset, features, config, run_dir or default_run_dir(output_path),
                           on_progress=on_progress, cancel=cancel, mirrored_by_name=mirrored)
    metrics = {metric_key(split, 1): evaluate_decoder([result.decoder], result.vocab, dataset, features, split, 1)
               for split in SPLITS}
    card = training_card(Path(output_path).stem, config, result, dataset, data_root, len(errors), metrics,
                         time.monotonic() - started, command)
    save_bundle(output_path, result.decoder, result.vocab, card)
    return card


def evaluate_model(captioner, data_root, split, beam_width=BEAM_WIDTH, on_progress=None, cancel=None,
                   weights_path=None) -> dict:
    """Scores of a loaded model on a data set split (features come from the cache when present)."""
    dataset = load_dataset(data_root)
    names = dataset.splits[split]
    features, errors = dataset_features(dataset, captioner.spec.name, names, on_progress, cancel, weights_path,
                                        captioner.uses_grid)
    return evaluate_decoder(captioner.bundle.decoders, captioner.vocab, dataset, features, split, beam_width)
