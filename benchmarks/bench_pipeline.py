"""Benchmarks of the ml pipeline on this machine, printed as figures with ratios measured in one run.

    .venv/bin/python benchmarks/bench_pipeline.py --data ../shared/flickr8k [--model assets/models/default.captioner]

1. Feature extraction images/s per encoder (cached pipeline from disk) vs the encoder's bare
   forward pass on an in-memory batch of the same size.
2. Greedy and beam-3 milliseconds per caption (one photo at a time, features already computed).
3. Training seconds per epoch: sequence-level teacher forcing (ours) vs the tutorial's one sample
   per word, both on the same captions, extrapolated to the full train split.
"""
import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from ml.data.datasets import load_dataset
from ml.data.images import load_pixels
from ml.encoders.registry import build_encoder, compiled_forward, get_spec
from ml.features.cache import extract_features

BATCH_SIZE = 32
PREVIOUS_BATCH, PREVIOUS_LEARNING_RATE = 64, 1e-3  # the default batch before, also timed
SAMPLED_WORDS = 512  # the sampled softmax timed beside the default (ml/training/sampled_softmax.py)


def bench_extraction(dataset, encoder_name, photo_count):
    spec = get_spec(encoder_name)
    encoder = build_encoder(encoder_name, pretrained=encoder_name != "xception")  # speed only
    paths = [dataset.image_path(n) for n in dataset.splits["train"][:photo_count]]
    forward = compiled_forward(encoder)
    batch = np.stack([load_pixels(p, spec.image_size) for p in paths[:BATCH_SIZE]])
    forward(batch)  # trace once
    start, rounds = time.perf_counter(), max(2, photo_count // BATCH_SIZE)
    for _ in range(rounds):
        forward(batch).numpy()
    bare = rounds * BATCH_SIZE / (time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        extract_features(paths, encoder_name, cache, BATCH_SIZE, encoder=encoder)
        piped = len(paths) / (time.perf_counter() - start)
    print(f"features {encoder_name:19s} pipeline {piped:6.1f} img/s   bare forward {bare:6.1f} img/s   "
          f"ratio {piped / bare:.2f}   ({len(paths)} photos, batch {BATCH_SIZE})", flush=True)


def bench_decoding(model_path, dataset, photo_count):
    from ml.captioning.captioner import Captioner

    captioner = Captioner.load(model_path)
    names = dataset.splits["test"][:photo_count]
    features = extract_features([dataset.image_path(n) for n in names], captioner.spec.name,
                                grid=captioner.uses_grid).features
    vectors = list(features.values())
    for beam in (1, 3, 5):
        captioner.caption_features(vectors[0], beam)
        start = time.perf_counter()
        for vector in vectors:
            captioner.caption_features(vector, beam)
        per_caption = (time.perf_counter() - start) / len(vectors) * 1000
        print(f"decoding beam {beam}: {per_caption:.2f} ms per caption ({len(vectors)} photos, one at a time, "
              f"{len(captioner.bundle.decoder_arrays)} decoder(s): {captioner.card.get('decoder')})")


def _word_level_arrays(images, inputs, targets):
    """The tutorial's samples: (photo, padded prefix) -> next word, one sample per word."""
    rows, prefixes, nexts = [], [], []
    width = inputs.shape[1]
    for row in range(len(inputs)):
        for position in range(width):
            if targets[row, position] == 0:
                break
            prefix = np.zeros(width, np.int32)
            prefix[width - position - 1:] = inputs[row, : position + 1]
            rows.append(row)
            prefixes.append(prefix)
            nexts.append(targets[row, position])
    return images[rows], np.stack(prefixes), np.array(nexts)


def _word_level_model(vocab_size, feature_dim, units):
    import keras
    from keras import layers

    image = keras.Input((feature_dim,))
    words = keras.Input((None,), dtype="int32")
    projected = layers.Dense(units, activation="relu")(layers.Dropout(0.5)(image))
    sequence = layers.LSTM(units)(layers.Dropout(0.5)(layers.Embedding(vocab_size, units, mask_zero=True)(words)))
    hidden = layers.Dense(units, activation="relu")(layers.Add()([projected, sequence]))
    model = keras.Model([image, words], layers.Dense(vocab_size)(hidden))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def bench_training(dataset, caption_count, train_photos=None):
    from ml.features.for_dataset import dataset_features
    from ml.training.config import TrainConfig
    from ml.training.rows import BUCKET_BATCHES, build_vocabulary, caption_arrays, make_tf_dataset
    from ml.training.run_state import compiled_decoder
    from ml.training.sampled_softmax import with_sampled_softmax

    config = TrainConfig()
    vocab = build_vocabulary(dataset, config)
    train = dataset.splits["train"][:train_photos]
    features, _ = dataset_features(dataset, config.encoder, train)
    full = caption_arrays(train, dataset, features, vocab)
    photo_features, photo_index, inputs, targets = full
    subset = (photo_features, photo_index[:caption_count], inputs[:caption_count], targets[:caption_count])
    scale = len(photo_index) / caption_count

    def sequence_epoch_seconds(bucket_batches, run_config=config):
        sequence_model = with_sampled_softmax(compiled_decoder(vocab, photo_features.shape[1], run_config),
                                              run_config.sampled_words)
        data = make_tf_dataset(subset, run_config.batch_size, shuffle_seed=0, bucket_batches=bucket_batches)
        sequence_model.fit(data.take(2), verbose=0)  # build and trace
        start = time.perf_counter()
        sequence_model.fit(data, verbose=0)
        return (time.perf_counter() - start) * scale

    unbucketed_seconds = sequence_epoch_seconds(1)
    sequence_seconds = sequence_epoch_seconds(BUCKET_BATCHES)
    previous = dataclasses.replace(config, batch_size=PREVIOUS_BATCH, learning_rate=PREVIOUS_LEARNING_RATE)
    previous_seconds = sequence_epoch_seconds(BUCKET_BATCHES, previous)
    sampled = dataclasses.replace(config, sampled_words=SAMPLED_WORDS)
    sampled_seconds = sequence_epoch_seconds(BUCKET_BATCHES, sampled)

    word_images, prefixes, nexts = _word_level_arrays(photo_features[subset[1]], *subset[2:])
    word_model = _word_level_model(len(vocab), photo_features.shape[1], config.units)
    word_model.fit([word_images[:128], prefixes[:128]], nexts[:128], batch_size=config.batch_size, verbose=0)
    start = time.perf_counter()
    word_model.fit([word_images, prefixes], nexts, batch_size=config.batch_size, verbose=0)
    word_seconds = (time.perf_counter() - start) * scale
    print(f"training epoch on {len(train)} training photos ({len(photo_index)} captions, measured on {caption_count}):")
    print(f"  sequence-level teacher forcing {sequence_seconds:7.1f} s (captions batched by length; batched as they "
          f"come {unbucketed_seconds:.1f} s, {unbucketed_seconds / sequence_seconds:.2f}x)   one sample per word "
          f"({len(nexts)} samples) {word_seconds:7.1f} s   speed-up {word_seconds / sequence_seconds:.1f}x "
          f"({word_seconds / unbucketed_seconds:.1f}x batched as they come)")
    print(f"  (the batch: {config.batch_size}, learning rate {config.learning_rate:g}; the loss over {SAMPLED_WORDS} sampled "
          f"words of {len(vocab)} (--sampled-words) {sampled_seconds:.1f} s, speed-up {word_seconds / sampled_seconds:.1f}x; "
          f"at batch {PREVIOUS_BATCH}, the default before, {previous_seconds:.1f} s, speed-up "
          f"{word_seconds / previous_seconds:.1f}x)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=Path("assets/models/default.captioner"))
    parser.add_argument("--photos", type=int, default=256, help="photos per extraction benchmark")
    parser.add_argument("--captions", type=int, default=3000, help="captions per training benchmark")
    parser.add_argument("--decode-photos", type=int, default=200, help="test photos per decoding benchmark")
    parser.add_argument("--train-photos", type=int, default=None, help="training photos (default: the whole split)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["features", "decoding", "training"])
    args = parser.parse_args()
    dataset = load_dataset(args.data)
    print(f"machine: {os.cpu_count()} cores; {dataset.summary().splitlines()[0]}")
    if "features" not in args.skip:
        for encoder_name in ("efficientnet-lite2", "efficientnet-lite0", "xception"):
            bench_extraction(dataset, encoder_name, args.photos)
    if "decoding" not in args.skip:
        bench_decoding(args.model, dataset, args.decode_photos)
    if "training" not in args.skip:
        bench_training(dataset, args.captions, args.train_photos)


if __name__ == "__main__":
    main()
