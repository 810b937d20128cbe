"""The LSTM caption decoder: a Keras model for training, and a numpy step function for decoding.

"merge" architecture (Tanti et al. 2018, the classic Keras tutorial): the LSTM reads only words;
the projected image is added to its output at every step before the word classifier.
"inject" adds to that what Show and Tell does: the image also sets the LSTM's initial state, so the
words are read in the light of the photo. Training
runs one forward pass per caption over all positions (teacher forcing), padding masked out.
"""
import keras
import numpy as np
from keras import layers

from .config import DECODER_TYPES


def build_decoder(kind, vocab_size, feature_dim, units, dropout):
    """Keras model {image: (N, feature_dim), words: (N, T)} -> next-word logits (N, T, vocab_size)."""
    if kind not in DECODER_TYPES:
        raise ValueError(f"unknown decoder type '{kind}' (choose from {', '.join(DECODER_TYPES)})")
    return build_merge_decoder(vocab_size, feature_dim, units, dropout, init_state=kind == "inject")


def build_merge_decoder(vocab_size, feature_dim, units, dropout, init_state=False):
    """The merge decoder; with init_state the image also sets the LSTM's initial state."""
    image = keras.Input((feature_dim,), name="image")
    words = keras.Input((None,), dtype="int32", name="words")
    # 1. Project the photo's features to the decoder width.
    projected = layers.Dropout(dropout, name="image_dropout")(image)
    projected = layers.Dense(units, activation="relu", name="image_projection")(projected)
    projected = layers.Reshape((1, units), name="image_per_step")(projected)
    # 2. Read the caption so far.
    embedded = layers.Embedding(vocab_size, units, mask_zero=True, name="embedding")(words)
    embedded = layers.Dropout(dropout, name="word_dropout")(embedded)
    initial_state = None
    if init_state:
        dropped = layers.Dropout(dropout, name="state_dropout")(image)
        initial_state = [layers.Dense(units, activation="tanh", name=f"init_{s}")(dropped) for s in "hc"]
    sequence = layers.LSTM(units, return_sequences=True, name="lstm")(embedded, initial_state=initial_state)
    # 3. Merge both and classify the next word.
    merged = layers.Add(name="merge")([projected, sequence])
    hidden = layers.Dense(units, activation="relu", name="merge_dense")(merged)
    logits = layers.Dense(vocab_size, name="word_logits")(hidden)
    return keras.Model({"image": image, "words": words}, logits, name="inject_decoder" if init_state else "merge_decoder")


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def _log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class StepDecoder:
    """The trained decoder as plain numpy arrays: one decoding step is a few small matrix products.

    Far faster per word than calling Keras, and it keeps TensorFlow off the decoding path.
    """

    def __init__(self, model):
        weights = {w.path: np.asarray(w.numpy(), np.float32) for w in model.weights}
        get = lambda name: weights[name]  # noqa: E731 - short lookup helper
        self.image_kernel, self.image_bias = get("image_projection/kernel"), get("image_projection/bias")
        self.embedding = get("embedding/embeddings")
        self.lstm_kernel = get("lstm/lstm_cell/kernel")
        self.lstm_recurrent = get("lstm/lstm_cell/recurrent_kernel")
        self.lstm_bias = get("lstm/lstm_cell/bias")
        self.merge_kernel, self.merge_bias = get("merge_dense/kernel"), get("merge_dense/bias")
        self.logits_kernel, self.logits_bias = get("word_logits/kernel"), get("word_logits/bias")
        self.units = self.lstm_recurrent.shape[0]
        self.init_state = [(weights[f"init_{s}/kernel"], weights[f"init_{s}/bias"])
                           for s in "hc"] if "init_h/kernel" in weights else None

    def start(self, features):
        """Per-photo constant (projected image) and initial LSTM state for a batch of feature vectors."""
        features = np.atleast_2d(np.asarray(features, np.float32))
        projected = np.maximum(features @ self.image_kernel + self.image_bias, 0.0)
        if self.init_state:
            hidden, cell = (np.tanh(features @ kernel + bias) for kernel, bias in self.init_state)
            return projected, (hidden, cell)
        zeros = np.zeros((len(features), self.units), np.float32)
        return projected, (zeros, zeros.copy())

    def step(self, projected, state, tokens):
        """Log-probabilities of the next word for each row, and the new LSTM state."""
        hidden, cell = state
        gates = self.embedding[tokens] @ self.lstm_kernel + hidden @ self.lstm_recurrent + self.lstm_bias
        i, f, g, o = np.split(gates, 4, axis=-1)
        cell = _sigmoid(f) * cell + _sigmoid(i) * np.tanh(g)
        hidden = _sigmoid(o) * np.tanh(cell)
        merged = np.maximum((hidden + projected) @ self.merge_kernel + self.merge_bias, 0.0)
        return _log_softmax(merged @ self.logits_kernel + self.logits_bias), (hidden, cell)
