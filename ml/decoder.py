"""The LSTM caption decoder: a Keras model for training, and a numpy step function for decoding.

"merge" architecture (Tanti et al. 2018, the classic Keras tutorial): the LSTM reads only words;
the projected image is added to its output at every step before the word classifier.
"inject" adds to that what Show and Tell does: the image also sets the LSTM's initial state, so the
words are read in the light of the photo.
"attention" is inject plus soft attention over the encoder's spatial grid (Bahdanau scores, as in
Show, Attend and Tell): at each word the LSTM state picks the regions whose features join the merge.
It is built from stock Keras layers only, so its model files load with safe_mode. Training
runs one forward pass per caption over all positions (teacher forcing), padding masked out.
"""
from __future__ import annotations

from typing import Sequence, Union

import keras
import numpy as np
from keras import layers

from .config import DECODER_TYPES
from .errors import TrainingError


def build_decoder(kind: str, vocab_size: int, feature_dim: int, units: int, dropout: float) -> keras.Model:
    """Keras model {image: (N, feature_dim), words: (N, T)} -> next-word logits (N, T, vocab_size)."""
    if kind not in DECODER_TYPES:
        raise TrainingError(f"unknown decoder type '{kind}' (choose from {', '.join(DECODER_TYPES)})")
    if kind == "attention":
        return build_attention_decoder(vocab_size, feature_dim, units, dropout)
    return build_merge_decoder(vocab_size, feature_dim, units, dropout, init_state=kind == "inject")


def build_merge_decoder(vocab_size: int, feature_dim: int, units: int, dropout: float,
                        init_state: bool = False) -> keras.Model:
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


def build_attention_decoder(vocab_size: int, feature_dim: int, units: int, dropout: float) -> keras.Model:
    """Keras model {grid: (N, regions, feature_dim), words: (N, T)} -> next-word logits (N, T, vocab_size)."""
    grid = keras.Input((None, feature_dim), name="grid")
    words = keras.Input((None,), dtype="int32", name="words")
    # 1. The whole photo (mean of the grid) sets the LSTM state and joins every step, as in inject.
    pooled = layers.GlobalAveragePooling1D(name="pooled")(grid)
    projected = layers.Dropout(dropout, name="image_dropout")(pooled)
    projected = layers.Dense(units, activation="relu", name="image_projection")(projected)
    projected = layers.Reshape((1, units), name="image_per_step")(projected)
    dropped = layers.Dropout(dropout, name="state_dropout")(pooled)
    initial_state = [layers.Dense(units, activation="tanh", name=f"init_{s}")(dropped) for s in "hc"]
    # 2. Regions of the photo as attention values and keys.
    values = layers.Dropout(dropout, name="grid_dropout")(grid)
    values = layers.Dense(units, activation="relu", name="grid_projection")(values)
    keys = layers.Dense(units, use_bias=False, name="attention_keys")(values)
    # 3. Read the caption so far; each step's state asks which regions matter for the next word.
    embedded = layers.Embedding(vocab_size, units, mask_zero=True, name="embedding")(words)
    embedded = layers.Dropout(dropout, name="word_dropout")(embedded)
    sequence = layers.LSTM(units, return_sequences=True, name="lstm")(embedded, initial_state=initial_state)
    queries = layers.Dense(units, use_bias=False, name="attention_queries")(sequence)
    context = layers.AdditiveAttention(name="attention")([queries, values, keys])
    # 4. Merge and classify the next word.
    merged = layers.Add(name="merge")([projected, sequence, context])
    hidden = layers.Dense(units, activation="relu", name="merge_dense")(merged)
    logits = layers.Dense(vocab_size, name="word_logits")(hidden)
    return keras.Model({"grid": grid, "words": words}, logits, name="attention_decoder")


def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def _log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class StepDecoder:
    """The trained decoder as plain numpy arrays: one decoding step is a few small matrix products.

    Far faster per word than calling Keras, and it keeps TensorFlow off the decoding path.
    """

    def __init__(self, model: keras.Model):
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
        self.attends = "grid_projection/kernel" in weights
        if self.attends:
            self.grid_kernel, self.grid_bias = get("grid_projection/kernel"), get("grid_projection/bias")
            self.key_kernel, self.query_kernel = get("attention_keys/kernel"), get("attention_queries/kernel")
            self.attention_scale = get("attention/scale")

    def start(self, features: np.ndarray) -> tuple[tuple, tuple]:
        """Per-photo memory (arrays with one row per photo) and initial LSTM state.

        features: (N, feature_dim) pooled vectors, or (N, regions, feature_dim) grids for attention.
        """
        features = np.asarray(features, np.float32)
        grid = None
        if self.attends:
            grid = features if features.ndim == 3 else features[None]
            features = grid.mean(axis=1)
        features = np.atleast_2d(features)
        projected = np.maximum(features @ self.image_kernel + self.image_bias, 0.0)
        memory: tuple = (projected,)
        if grid is not None:
            values = np.maximum(grid @ self.grid_kernel + self.grid_bias, 0.0)
            memory = (projected, values, values @ self.key_kernel)
        if self.init_state:
            hidden, cell = (np.tanh(features @ kernel + bias) for kernel, bias in self.init_state)
            return memory, (hidden, cell)
        zeros = np.zeros((len(features), self.units), np.float32)
        return memory, (zeros, zeros.copy())

    def _attend(self, hidden, values, keys):
        """Bahdanau attention as Keras' AdditiveAttention computes it: softmax(sum(scale*tanh(q+k)))."""
        queries = hidden @ self.query_kernel
        scores = (self.attention_scale * np.tanh(queries[:, None, :] + keys)).sum(axis=-1)
        weights = np.exp(scores - scores.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        return (weights[:, :, None] * values).sum(axis=1)

    def step(self, memory: tuple, state: tuple, tokens: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Log-probabilities of the next word for each row, and the new LSTM state."""
        hidden, cell = state
        gates = self.embedding[tokens] @ self.lstm_kernel + hidden @ self.lstm_recurrent + self.lstm_bias
        i, f, g, o = np.split(gates, 4, axis=-1)
        cell = _sigmoid(f) * cell + _sigmoid(i) * np.tanh(g)
        hidden = _sigmoid(o) * np.tanh(cell)
        merged = hidden + memory[0]
        if self.attends:
            merged = merged + self._attend(hidden, memory[1], memory[2])
        merged = np.maximum(merged @ self.merge_kernel + self.merge_bias, 0.0)
        return _log_softmax(merged @ self.logits_kernel + self.logits_bias), (hidden, cell)


class EnsembleStepDecoder:
    """Several step decoders over one vocabulary; each step averages their word probabilities (a mixture:
    on dev, beam 5, BLEU-4 21.95 -> 22.13 and CIDEr 54.2 -> 55.1 against averaging log-probabilities).

    Members without attention read the pooled vector (the mean of the grid) when given grids.
    Memory and state are flat so greedy and beam search treat an ensemble like one decoder.
    """

    def __init__(self, members: Sequence[StepDecoder]):
        self.members = list(members)
        self.attends = any(member.attends for member in self.members)
        self.units = sum(member.units for member in self.members)

    def start(self, features: np.ndarray) -> tuple[tuple, tuple]:
        features = np.asarray(features, np.float32)
        memories, hiddens, cells = [], [], []
        for member in self.members:
            own = features.mean(axis=-2) if (features.ndim == 3 and not member.attends) else features
            memory, (hidden, cell) = member.start(own)
            memories.append(memory)
            hiddens.append(hidden)
            cells.append(cell)
        self.memory_sizes = [len(memory) for memory in memories]
        flat = tuple(part for memory in memories for part in memory)
        return flat, (np.concatenate(hiddens, axis=1), np.concatenate(cells, axis=1))

    def step(self, memory: tuple, state: tuple, tokens: np.ndarray) -> tuple[np.ndarray, tuple]:
        hidden, cell = state
        log_probs, hiddens, cells = [], [], []
        memory_at = unit_at = 0
        for member, size in zip(self.members, self.memory_sizes):
            own_state = (hidden[:, unit_at:unit_at + member.units], cell[:, unit_at:unit_at + member.units])
            member_log_probs, (h, c) = member.step(memory[memory_at:memory_at + size], own_state, tokens)
            log_probs.append(member_log_probs)
            hiddens.append(h)
            cells.append(c)
            memory_at, unit_at = memory_at + size, unit_at + member.units
        stacked = np.stack(log_probs)
        top = stacked.max(axis=0)  # log of the mean probability, without overflow:
        mixed = top + np.log(np.exp(stacked - top).mean(axis=0))
        return mixed, (np.concatenate(hiddens, axis=1), np.concatenate(cells, axis=1))


# What decoding steps through: one decoder, or an ensemble averaging its members' word probabilities.
StepDecoderLike = Union["StepDecoder", "EnsembleStepDecoder"]


def step_decoder_for(decoders: Union[keras.Model, Sequence[keras.Model]]) -> StepDecoderLike:
    """The numpy step decoder for one Keras decoder or an ensemble of them."""
    steps = [StepDecoder(decoder) for decoder in decoders]
    return steps[0] if len(steps) == 1 else EnsembleStepDecoder(steps)
