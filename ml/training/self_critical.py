"""Self-critical fine-tuning (Rennie et al. 2017, "Self-critical Sequence Training for Image Captioning").

Cross-entropy training teaches the decoder the next word of a human caption; it never sees its own
captions. Here, after it, the decoder writes several captions of its own for each training photo
(sampled word by word), each is scored against that photo's human captions, and the decoder learns to
make the captions that scored above the photo's other samples more likely, and those below less
likely (the mean of the other samples is the baseline, as in Luo 2020, "A Better Variant of
Self-Critical Sequence Training"). Half an epoch of it raised one inject decoder's dev BLEU-1 / BLEU-4
from 59.2 / 17.8 to 64.9 / 20.9 greedy (docs/quality.md).

The score is CIDEr-D plus the mean of sentence BLEU-1 and BLEU-4: CIDEr-D alone made captions shorter
and shorter, and BLEU's brevity penalty pushes back. On the scores alone the captions still became
plainer (the shipped ensemble: 523 different captions for 1000 dev photos instead of 826), so the
human captions' cross-entropy stays in the loss with a weight (0.25: 623 different captions, and
more BLEU-4 and CIDEr).
"""
from __future__ import annotations

import gc
import math
from collections import Counter
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from ml.core.progress import CancelFlag, Phase, ProgressCallback, ProgressMeter, check_cancel
from ml.core.types import FeaturesByName, References, Words
from ml.data.vocab import END, PAD, START
from ml.decoders.numpy_step import StepDecoder
from ml.decoders.search import next_word_log_probs

if TYPE_CHECKING:
    import keras

    from ml.data.vocab import Vocabulary
    from ml.decoders.numpy_step import StepDecoderLike

SAMPLES_PER_PHOTO = 5
PHOTOS_PER_BATCH = 16
CIDER_SIGMA = 6.0  # CIDEr-D's Gaussian length penalty, as in pycocoevalcap


def ngram_counts(words: Words, longest: int = 4) -> Counter:
    """Counts of every 1- to `longest`-word run in a word list."""
    return Counter(tuple(words[i:i + n]) for n in range(1, longest + 1) for i in range(len(words) - n + 1))


class CaptionReward:
    """Scores a caption against one photo's human captions: CIDEr-D (computed as pycocoevalcap does,
    with document frequencies over all photos given here) + (sentence BLEU-1 + BLEU-4) / 2."""

    def __init__(self, references_by_photo: References):
        self.references = references_by_photo
        document_freq: Counter = Counter()
        for refs in references_by_photo.values():
            document_freq.update({gram for ref in refs for gram in ngram_counts(ref)})
        self._document_freq = document_freq
        self._log_photos = math.log(float(len(references_by_photo)))
        self._per_photo: dict = {}

    def __call__(self, words: Words, photo: str) -> float:
        counts = ngram_counts(words)  # counted once for both parts: this runs for every sample
        return self._cider_d(counts, len(words), photo) + self._bleu(counts, len(words), photo)

    def cider_d(self, words: Words, photo: str) -> float:
        return self._cider_d(ngram_counts(words), len(words), photo)

    def bleu(self, words: Words, photo: str) -> float:
        """(BLEU-1 + BLEU-4) / 2 of one caption, clipped counts against all references, the closest
        reference length for the brevity penalty, and add-one smoothing for 2- to 4-grams."""
        return self._bleu(ngram_counts(words), len(words), photo)

    def _tfidf(self, counts):
        """Per n: {n-gram: tf-idf weight} and its norm."""
        vectors: list[dict] = [{} for _ in range(4)]
        norms = [0.0] * 4
        for gram, count in counts.items():
            weight = count * (self._log_photos - math.log(max(1.0, self._document_freq[gram])))
            vectors[len(gram) - 1][gram] = weight
            norms[len(gram) - 1] += weight * weight
        return vectors, [math.sqrt(n) for n in norms]

    def _photo(self, photo):
        """What every sample of a photo is scored against, computed once per photo: each reference's
        tf-idf vectors, norms and length, and each n-gram's highest count in any one reference."""
        if photo not in self._per_photo:
            refs = self.references[photo]
            most_in_a_ref: Counter = Counter()
            for ref in refs:
                most_in_a_ref |= ngram_counts(ref)
            self._per_photo[photo] = ([(*self._tfidf(ngram_counts(ref)), len(ref)) for ref in refs], most_in_a_ref)
        return self._per_photo[photo]

    def _cider_d(self, counts, length, photo) -> float:
        vectors, norms = self._tfidf(counts)
        references = self._photo(photo)[0]
        total = 0.0
        for ref_vectors, ref_norms, ref_length in references:
            penalty = math.exp(-((length - ref_length) ** 2) / (2 * CIDER_SIGMA ** 2))
            for n in range(4):
                if norms[n] and ref_norms[n]:
                    ref = ref_vectors[n]
                    overlap = sum(min(w, ref.get(g, 0.0)) * ref.get(g, 0.0) for g, w in vectors[n].items())
                    total += penalty * overlap / (norms[n] * ref_norms[n])
        return 10.0 * total / 4 / len(references)

    def _bleu(self, counts, length, photo) -> float:
        if not length:
            return 0.0
        most_in_a_ref = self._photo(photo)[1]
        matched, total = [0] * 4, [0] * 4
        for gram, count in counts.items():
            matched[len(gram) - 1] += min(count, most_in_a_ref[gram])
            total[len(gram) - 1] += count
        precisions = [(matched[0] / total[0])] + [(m + 1) / (t + 1) if t else 0.0
                                                  for m, t in zip(matched[1:], total[1:])]
        closest = min((abs(len(r) - length), len(r)) for r in self.references[photo])[1]
        brevity = 1.0 if length >= closest else math.exp(1 - closest / length)
        bleu4 = math.exp(sum(math.log(max(p, 1e-9)) for p in precisions) / 4)
        return brevity * (precisions[0] + bleu4) / 2


def sample_captions(step_decoder: StepDecoderLike, vocab: Vocabulary, features: np.ndarray, samples: int,
                    rng: np.random.Generator) -> np.ndarray:
    """`samples` captions per photo, each word drawn from the decoder's distribution: token ids
    (rows photo by photo), each row ending in <end> then padding."""
    memory, state = step_decoder.start(features)
    memory = tuple(np.repeat(part, samples, axis=0) for part in memory)
    state = tuple(np.repeat(part, samples, axis=0) for part in state)
    rows = len(memory[0])
    pad, end = vocab.index[PAD], vocab.index[END]
    tokens = np.full(rows, vocab.index[START])
    ids = np.full((rows, vocab.max_length + 1), pad, np.int32)
    finished = np.zeros(rows, bool)
    for position in range(vocab.max_length):
        log_probs, state = next_word_log_probs(step_decoder, vocab, memory, state, tokens, position == 0)
        cumulative = np.exp(log_probs - log_probs.max(axis=1, keepdims=True)).cumsum(axis=1)
        draws = rng.random((rows, 1)) * cumulative[:, -1:]
        tokens = np.minimum((cumulative < draws).sum(axis=1), len(vocab) - 1)
        ids[:, position] = np.where(finished, pad, tokens)
        finished |= tokens == end
        if finished.all():
            break
    ids[~finished, vocab.max_length] = end  # captions cut at the longest length end there
    return ids


def advantages(rewards: Sequence[float], samples: int) -> np.ndarray:
    """Each sample's reward minus the mean reward of the same photo's other samples."""
    per_photo = np.asarray(rewards, np.float32).reshape(-1, samples)
    others = (per_photo.sum(axis=1, keepdims=True) - per_photo) / (samples - 1)
    return (per_photo - others).reshape(-1)


def teacher_forcing_pair(ids: np.ndarray, start_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) for sampled ids: inputs are <start> + the caption, targets the caption + <end>,
    both cut to the longest caption of the batch and padded with 0."""
    length = int((ids != 0).sum(axis=1).max())
    targets = ids[:, :length]
    inputs = np.concatenate([np.full((len(ids), 1), start_id, np.int32), targets[:, :-1]], axis=1)
    return np.where(targets == 0, 0, inputs).astype(np.int32), targets.astype(np.int32)


def _caption_log_probs(model, feature_key, features, inputs, targets):
    """log p(caption) of each row under teacher forcing (padding left out), and the number of words."""
    import tensorflow as tf

    logits = model({feature_key: features, "words": inputs}, training=False)
    mask = tf.cast(targets != 0, tf.float32)
    token_log_probs = tf.gather(tf.nn.log_softmax(logits), targets, batch_dims=2) * mask
    return tf.reduce_sum(token_log_probs, axis=1), tf.reduce_sum(mask)


def _policy_gradient_step(model, optimizer, feature_key, feature_shape, human_weight):
    """A compiled step: raise log p(caption) of the samples in proportion to their advantage, plus
    `human_weight` x the cross-entropy of the photos' human captions. Traced once for every batch shape
    (tracing holds the GIL: each retrace stalled the UI thread for 30 ms or more)."""
    import tensorflow as tf

    features = tf.TensorSpec((None,) + tuple(feature_shape), tf.float32)
    ids = tf.TensorSpec((None, None), tf.int32)

    # autograph=False: no tensor-dependent Python control flow, and a frozen app has no source to convert.
    @tf.function(input_signature=[features, ids, ids, tf.TensorSpec((None,), tf.float32), features, ids, ids],
                 autograph=False)
    def step(sample_features, inputs, targets, advantage, human_features, human_inputs, human_targets):
        with tf.GradientTape() as tape:
            sampled, _ = _caption_log_probs(model, feature_key, sample_features, inputs, targets)
            loss = -tf.reduce_mean(advantage * sampled)
            if human_weight:
                human, words = _caption_log_probs(model, feature_key, human_features, human_inputs, human_targets)
                loss += human_weight * -tf.reduce_sum(human) / words
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    return step


def _human_captions(vocab, batch, features, references, human_weight):
    """The batch photos' human captions as (features, inputs, targets) rows; none when unweighted."""
    if not human_weight:
        return features[:0], np.zeros((0, 1), np.int32), np.zeros((0, 1), np.int32)
    rows = [(index, words) for index, name in enumerate(batch) for words in references[name]]
    inputs, targets = vocab.teacher_forcing_arrays([words for _, words in rows])
    length = int((targets != 0).sum(axis=1).max())
    return (features[[index for index, _ in rows]], inputs[:, :length].astype(np.int32),
            targets[:, :length].astype(np.int32))


def fine_tune(model: keras.Model, vocab: Vocabulary, photos: Sequence[str], features_by_name: FeaturesByName,
              references: References, epochs: float, learning_rate: float, seed: int, human_weight: float = 0.0,
              on_progress: Optional[ProgressCallback] = None, cancel: Optional[CancelFlag] = None) -> list:
    """Self-critical fine-tuning of a trained Keras decoder in place, for `epochs` passes over `photos`
    (a fraction is fine); returns the mean reward of each batch. Raises Cancelled when asked to stop.

    human_weight > 0 keeps training on the human captions too, which keeps the captions varied."""
    import keras


    photos = [name for name in photos if name in features_by_name]
    reward = CaptionReward({name: references[name] for name in photos})
    optimizer = keras.optimizers.Adam(learning_rate, clipnorm=5.0)
    optimizer.build(model.trainable_variables)
    feature_shape = np.shape(features_by_name[photos[0]])
    feature_key = "grid" if len(feature_shape) == 2 else "image"
    train_step = _policy_gradient_step(model, optimizer, feature_key, feature_shape, human_weight)
    rng = np.random.default_rng(seed)
    batches = max(1, round(epochs * len(photos) / PHOTOS_PER_BATCH))
    meter = ProgressMeter(Phase.FINE_TUNE, batches, on_progress)
    order: list[int] = []
    mean_rewards: list[float] = []
    # Everything alive now (TensorFlow, the data, the traced step) stays alive through the loop: freezing
    # it keeps the loop's full garbage collections, which hold the GIL, from walking it again each time
    # (0.28 s pauses of the app's window, benchmarks/bench_app.py).
    gc.freeze()
    try:
        for _ in range(batches):
            check_cancel(cancel)
            if len(order) < PHOTOS_PER_BATCH:
                order = list(rng.permutation(len(photos)))
            batch = [photos[order.pop()] for _ in range(min(PHOTOS_PER_BATCH, len(photos)))]
            features = np.stack([features_by_name[name] for name in batch]).astype(np.float32)
            ids = sample_captions(StepDecoder.of_model(model), vocab, features, SAMPLES_PER_PHOTO, rng)
            rewards = [reward(vocab.decode(row), batch[i // SAMPLES_PER_PHOTO]) for i, row in enumerate(ids)]
            inputs, targets = teacher_forcing_pair(ids, vocab.index[START])
            train_step(np.repeat(features, SAMPLES_PER_PHOTO, axis=0), inputs, targets,
                       advantages(rewards, SAMPLES_PER_PHOTO),
                       *_human_captions(vocab, batch, features, references, human_weight))
            mean_rewards.append(float(np.mean(rewards)))
            meter.advance(1, "fine-tuning on caption scores", {"reward": mean_rewards[-1]})
    finally:
        gc.unfreeze()
    return mean_rewards
