"""The LSTM caption decoder as Keras models for training (ml/decoders/numpy_step.py decodes with their weights).

"merge" architecture (Tanti et al. 2018, the classic Keras tutorial): the LSTM reads only words;
the projected image is added to its output at every step before the word classifier.
"inject" adds to that what Show and Tell does: the image also sets the LSTM's initial state, so the
words are read in the light of the photo.
"attention" is inject plus soft attention over the encoder's spatial grid (Bahdanau scores, as in
Show, Attend and Tell): at each word the LSTM state picks the regions whose features join the merge.
It is built from stock Keras layers only, so its model files load with safe_mode. Training
runs one forward pass per caption over all positions (teacher forcing). Padding is not masked in the model:
it only ever follows a caption's words, so the LSTM's outputs at the words are the same without a mask, and the
loss leaves padded positions out (ignore_class=0). A mask made the LSTM select between old and new state at
every step, and an epoch took 1.2x as long (docs/benchmarks.md, "Training speed").
"""
from __future__ import annotations

import keras
from keras import layers

from ml.core.defaults import DECODER_TYPES
from ml.core.errors import TrainingError


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
    embedded = layers.Embedding(vocab_size, units, name="embedding")(words)
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
    embedded = layers.Embedding(vocab_size, units, name="embedding")(words)
    embedded = layers.Dropout(dropout, name="word_dropout")(embedded)
    sequence = layers.LSTM(units, return_sequences=True, name="lstm")(embedded, initial_state=initial_state)
    queries = layers.Dense(units, use_bias=False, name="attention_queries")(sequence)
    context = layers.AdditiveAttention(name="attention")([queries, values, keys])
    # 4. Merge and classify the next word.
    merged = layers.Add(name="merge")([projected, sequence, context])
    hidden = layers.Dense(units, activation="relu", name="merge_dense")(merged)
    logits = layers.Dense(vocab_size, name="word_logits")(hidden)
    return keras.Model({"grid": grid, "words": words}, logits, name="attention_decoder")
