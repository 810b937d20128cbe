"""Sampled softmax (Jean et al. 2015, "On Using Very Large Target Vocabulary for Neural Machine Translation"):
during cross-entropy training the loss compares each true next word with a few hundred words drawn for the
batch, not with the whole vocabulary, so the word classifier's multiply-adds (more than half of a batch's) shrink
by the vocabulary over the sample. Only the training step changes: the decoder, its weights, its file, the dev
loss that picks the best epoch and every caption are computed over the whole vocabulary as before.

Words are drawn by Zipf's law over their ids (TensorFlow's log-uniform sampler), which fits the vocabulary's
order, most frequent first (ml/data/vocab.py), and the loss corrects for how often each is drawn. A vocabulary
no larger than the sample trains on the full softmax.
"""
from __future__ import annotations

import weakref
from typing import Any

import keras

from ml.training.multi_worker import MultiWorkerDecoder, _as_vectors

# The part of each decoder before its word classifier, made once per decoder and kept outside it, so Keras does
# not count it among the decoder's layers (its weights would be saved twice).
_BEFORE_CLASSIFIER: "weakref.WeakKeyDictionary[keras.Model, keras.Model]" = weakref.WeakKeyDictionary()


@keras.saving.register_keras_serializable(package="image_captioner")
class SampledSoftmaxDecoder(MultiWorkerDecoder):
    """A decoder whose training step uses a sampled softmax over `sampled_words` words (0: the full softmax).
    Set by `with_sampled_softmax` on every start and resume (it is a training setting, not part of the file)."""

    sampled_words = 0

    def train_step(self, data: Any) -> dict:
        classifier = self.get_layer("word_logits")
        if not 0 < self.sampled_words < classifier.units:
            return super().train_step(data)
        import tensorflow as tf

        inputs, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            hidden = _before_classifier(self)(inputs, training=True)
            loss = _sampled_loss(classifier, hidden, targets, self.sampled_words)
            # Gradients are summed over the replicas, as Keras's own step scales its loss for.
            scaled = loss / self.distribute_strategy.num_replicas_in_sync
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        self._loss_tracker.update_state(loss, sample_weight=tf.shape(targets)[0])
        return _as_vectors(self.get_metrics_result(), self.distribute_strategy)


def _before_classifier(model: keras.Model) -> keras.Model:
    if model not in _BEFORE_CLASSIFIER:
        _BEFORE_CLASSIFIER[model] = keras.Model(model.inputs, model.get_layer("word_logits").input)
    return _BEFORE_CLASSIFIER[model]


def _sampled_loss(classifier: Any, hidden: Any, targets: Any, sampled_words: int) -> Any:
    """Mean sampled-softmax loss over the caption positions that hold a word (padding, id 0, left out)."""
    import tensorflow as tf

    rows = tf.reshape(hidden, (-1, tf.shape(hidden)[-1]))
    labels = tf.reshape(tf.cast(targets, tf.int64), (-1, 1))
    losses = tf.nn.sampled_softmax_loss(tf.transpose(classifier.kernel), classifier.bias, labels, rows,
                                        sampled_words, classifier.units)
    words = tf.cast(tf.reshape(targets, (-1,)) != 0, losses.dtype)
    return tf.reduce_sum(losses * words) / tf.maximum(tf.reduce_sum(words), 1.0)


def with_sampled_softmax(model: keras.Model, sampled_words: int) -> keras.Model:
    """The same layers, weights and compiled optimizer and loss as a SampledSoftmaxDecoder training on a sample of
    `sampled_words` words; call inside the strategy's scope."""
    decoder = model if isinstance(model, SampledSoftmaxDecoder) else SampledSoftmaxDecoder(
        inputs=model.inputs, outputs=model.outputs, name=model.name)
    if decoder is not model:
        decoder.compile(optimizer=model.optimizer, loss=model.loss)
    decoder.sampled_words = sampled_words
    return decoder
