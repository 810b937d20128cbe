"""Training memory against the number of photos (issue 17): peak RSS of a training process at 10k, 50k and
100k photos' worth of synthetic data (random 1280-d pooled features, five random 8-14-word captions per
photo over a 3,000-word vocabulary), with the training photos' features read from a FeatureTable on disk
(what `train_model` does now) and, as the baseline in the same run, held in memory as a dict.

Each size runs in a new process: it builds the data set, writes the table, counts the vocabulary, makes
the caption rows and the tf.data pipeline with train_decoder's own functions (ml/training/loop.py), and fits a
128-unit merge decoder for one epoch of 200 steps (a full epoch of 500k captions would take 15 minutes
here; the epoch's shuffled order of every caption row is made in numpy before the first step either way).

    .venv/bin/python benchmarks/bench_training_memory.py [--sizes 10000 50000 100000]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

FEATURE_DIM = 1280
STEPS = 200


def synthetic_dataset(photos: int, root: Path):
    from ml.data.datasets import Dataset

    rng = np.random.default_rng(0)
    words = [f"w{index}" for index in range(3000)]
    dataset = Dataset(root, "synthetic", root)
    names = [f"{index:06d}.jpg" for index in range(photos)]
    for name in names:
        dataset.captions[name] = [[words[i] for i in rng.integers(0, len(words), rng.integers(8, 15))] for _ in range(5)]
    dev = max(1, photos // 100)
    dataset.splits = {"train": names[2 * dev:], "dev": names[:dev], "test": names[dev:2 * dev]}
    return dataset


def child(photos: int, storage: str, scratch: Path, steps: int = STEPS) -> dict:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    from ml.features.table import FeatureSources, write_feature_table
    from ml.training.config import TrainConfig
    from ml.training.rows import build_vocabulary, caption_arrays, make_tf_dataset
    from ml.training.run_state import compiled_decoder

    dataset = synthetic_dataset(photos, scratch)
    train = dataset.splits["train"]
    rng = np.random.default_rng(1)
    dev_features = {name: rng.random(FEATURE_DIM, np.float32) for name in dataset.splits["dev"]}
    if storage == "table":
        rows = ((row, rng.random(FEATURE_DIM, np.float32)) for row in range(len(train)))
        train_features: Mapping[str, np.ndarray] = write_feature_table(scratch / "train.npy", train, rows, (FEATURE_DIM,), np.float32)
    else:
        train_features = {name: rng.random(FEATURE_DIM, np.float32) for name in train}
    features = FeatureSources(dev_features, train_features)
    config = TrainConfig(units=128, batch_size=64, min_word_count=5)
    vocab = build_vocabulary(dataset, config)
    arrays = caption_arrays(train, dataset, features, vocab)
    dev = caption_arrays(dataset.splits["dev"], dataset, features, vocab)
    model = compiled_decoder(vocab, FEATURE_DIM, config)
    model.fit(make_tf_dataset(arrays, config.batch_size, 0), validation_data=make_tf_dataset(dev, config.batch_size),
              epochs=1, steps_per_epoch=steps, verbose=0)
    return {"photos": photos, "captions": len(arrays[1]), "storage": storage,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps per run")
    parser.add_argument("--child", nargs=2, metavar=("PHOTOS", "STORAGE"))
    args = parser.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as scratch:
            print(json.dumps(child(int(args.child[0]), args.child[1], Path(scratch), args.steps)))
        return
    for storage in ("table", "memory"):
        peaks = []
        for photos in args.sizes:
            command = [sys.executable, __file__, "--child", str(photos), storage, "--steps", str(args.steps)]
            run = subprocess.run(command, capture_output=True, text=True, check=True)
            result = json.loads(run.stdout.strip().splitlines()[-1])
            peaks.append(result["peak_mib"])
            print(f"{storage:6s} {photos:7d} photos, {result['captions']:7d} captions: peak RSS {result['peak_mib']:7.0f} MiB "
                  f"({result['peak_mib'] / peaks[0]:.2f} x the {args.sizes[0]}-photo run)", flush=True)
        label = "features from a FeatureTable (train_model)" if storage == "table" else "features in memory (baseline)"
        print(f"  {label}: {peaks[-1] / peaks[0]:.2f} x from {args.sizes[0]} to {args.sizes[-1]} photos")


if __name__ == "__main__":
    main()
