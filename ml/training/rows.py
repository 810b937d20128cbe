"""What a training run learns from, as arrays: the vocabulary, one row per caption (its photo's features by
row number, the caption's word ids as inputs and as targets), mirrored photos, and the tf.data pipeline
that feeds them to Keras a batch at a time (rows shuffled per epoch in numpy, features gathered per batch,
so memory does not grow with the data set)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np

from ml.core.errors import TrainingError
from ml.core.types import CaptionArrays, FeaturesByName
from ml.data.captions import Dataset
from ml.data.vocab import Vocabulary
from ml.features.table import FeatureTable
from ml.training.config import TrainConfig

if TYPE_CHECKING:
    import tensorflow as tf


def build_vocabulary(dataset: Dataset, config: TrainConfig) -> Vocabulary:
    """Counted in one pass over the training captions (no list of them is made)."""
    train_captions = (words for name in dataset.splits["train"] for words in dataset.captions[name])
    return Vocabulary.build(train_captions, config.min_word_count, config.max_words)


def _feature_source(photos: Sequence[str], features_by_name: FeaturesByName) -> tuple[Any, list[int]]:
    """Where the photos' features are read from, and each photo's row there: a FeatureTable on disk that
    holds them all (training photos; memory does not grow with their number), else an array stacked here."""
    maps = getattr(features_by_name, "maps", [features_by_name])  # FeatureSources: dicts and tables
    for source in maps:
        if isinstance(source, FeatureTable) and all(name in source for name in photos):
            return source, [source.index[name] for name in photos]
    return np.stack([features_by_name[name] for name in photos]), list(range(len(photos)))


def row_shape(source: Any) -> tuple:
    """The shape of one photo's features in a feature source (a FeatureTable or an array)."""
    return source.row_shape if isinstance(source, FeatureTable) else source.shape[1:]


def caption_arrays(names: Sequence[str], dataset: Dataset, features_by_name: FeaturesByName,
                   vocab: Vocabulary) -> CaptionArrays:
    """Photo features once per photo (a FeatureTable's rows, or an array), and one row per caption: (photo
    features, photo row, input ids, target ids). Photos without features are skipped. Inputs and targets
    are two views of one array of ids, uint16 where the vocabulary allows: a quarter of the memory of two
    int32 arrays, which grew with the data set (COCO: 590k captions)."""
    photos = [name for name in names if name in features_by_name]
    if not photos:
        raise TrainingError("no captions with photo features to train on")
    source, photo_rows = _feature_source(photos, features_by_name)
    counts = [len(dataset.captions[name]) for name in photos]
    photo_index = np.repeat(np.array(photo_rows, np.int32), counts)
    id_type = np.uint16 if len(vocab) <= np.iinfo(np.uint16).max else np.int32
    captions = (words for name in photos for words in dataset.captions[name])
    ids = vocab.caption_ids(captions, len(photo_index), id_type)
    return source, photo_index, ids[:, :-1], ids[:, 1:]


def with_mirrored(arrays: CaptionArrays, names: Sequence[str], features_by_name: FeaturesByName,
                  mirrored_by_name: FeaturesByName) -> CaptionArrays:
    """The training rows twice: once with each photo's features, once with its mirror image's (both held
    in memory: mirroring doubles the features anyway).

    `names` are the photos `arrays` was made from, in the same order."""
    source, photo_index, inputs, targets = arrays
    photos = [name for name in names if name in features_by_name]
    missing = [name for name in photos if name not in mirrored_by_name]
    if missing:
        raise TrainingError(f"{missing[0]}: no features of the mirrored photo")
    plain = source.rows(range(len(source))) if isinstance(source, FeatureTable) else source
    mirrored = np.stack([mirrored_by_name[name] for name in photos]).astype(plain.dtype)
    if isinstance(source, FeatureTable):  # rows were table rows: put the mirrored photos in the same order
        mirrored_rows = np.empty_like(plain)
        mirrored_rows[[source.index[name] for name in photos]] = mirrored
        mirrored = mirrored_rows
    return (np.concatenate([plain, mirrored]), np.concatenate([photo_index, photo_index + len(plain)]),
            np.concatenate([inputs, inputs]), np.concatenate([targets, targets]))


BUCKET_BATCHES = 32  # batches' worth of shuffled captions grouped by length at a time


def make_tf_dataset(arrays: CaptionArrays, batch_size: int, shuffle_seed: Optional[int] = None,
                    bucket_batches: int = BUCKET_BATCHES) -> tf.data.Dataset:
    """Batches of ({image or grid, words}, targets), padding trimmed to the longest caption in each batch.
    The pipeline carries only caption row numbers; each batch's features and ids are gathered then (numpy),
    so nothing is copied into TensorFlow per caption and a FeatureTable is read a batch at a time."""
    import tensorflow as tf

    source, photo_index, inputs, targets = arrays
    read = source.rows if isinstance(source, FeatureTable) else source.__getitem__
    shape = row_shape(source)
    feature_key = "grid" if len(shape) == 2 else "image"
    order = np.random.default_rng(shuffle_seed)

    lengths = (inputs != 0).sum(axis=1)

    def batches_of_rows():
        """Caption row numbers batch by batch, in a new order each epoch: shuffled here, not in a tf.data
        shuffle buffer (that holds every caption's row as a tensor: 50 MB for COCO). Shuffled captions are
        grouped by length, `bucket_batches` batches' worth at a time (1: not grouped), and those batches go
        out in a shuffled order: a batch is padded to its longest caption, so like lengths together leave
        less padding to compute (an epoch 1.6x faster on Flickr8k, docs/benchmarks.md)."""
        if shuffle_seed is None:
            rows = np.arange(len(photo_index))
            yield from (rows[start:start + batch_size] for start in range(0, len(rows), batch_size))
            return
        rows = order.permutation(len(photo_index))
        for chunk_start in range(0, len(rows), batch_size * bucket_batches):
            chunk = rows[chunk_start:chunk_start + batch_size * bucket_batches]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            batches = [chunk[start:start + batch_size] for start in range(0, len(chunk), batch_size)]
            for index in order.permutation(len(batches)):
                yield batches[index]

    def gather(caption_rows):
        caption_rows = np.asarray(caption_rows)
        features = np.asarray(read(photo_index[caption_rows]), np.float32)
        return features, inputs[caption_rows].astype(np.int32), targets[caption_rows].astype(np.int32)

    def assemble(caption_rows):
        features, words, target = tf.numpy_function(gather, [caption_rows], [tf.float32, tf.int32, tf.int32])
        features.set_shape((None,) + tuple(shape))
        words.set_shape((None, inputs.shape[1]))
        target.set_shape((None, targets.shape[1]))
        length = tf.reduce_max(tf.reduce_sum(tf.cast(words != 0, tf.int32), axis=1))
        return {feature_key: features, "words": words[:, :length]}, target[:, :length]

    # do_not_convert: plain tensor code needs no AutoGraph, and a frozen app has no source for it to read.
    assemble = tf.autograph.experimental.do_not_convert(assemble)
    batches = tf.data.Dataset.from_generator(batches_of_rows, output_signature=tf.TensorSpec((None,), tf.int64))
    return batches.map(assemble, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
