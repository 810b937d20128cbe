"""Word <-> id mapping, saved as JSON (never pickle) so any user file can be read safely."""
from __future__ import annotations

import collections
import json
from typing import Sequence

import numpy as np

from .annotations import TokenIds, Words
from .errors import UserError

PAD, UNK, START, END = "<pad>", "<unk>", "<start>", "<end>"
SPECIAL_TOKENS = (PAD, UNK, START, END)  # ids 0..3; padding must be 0 for masking


class VocabularyError(UserError, ValueError):
    """A vocabulary JSON that is not one this program wrote."""


class Vocabulary:
    """Maps words to ids; words outside it become <unk>."""

    def __init__(self, words: Sequence[str], max_length: int):
        self.words = list(SPECIAL_TOKENS) + [w for w in words if w not in SPECIAL_TOKENS]
        self.index = {word: i for i, word in enumerate(self.words)}
        self.max_length = int(max_length)  # words per caption, without start/end

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def build(cls, captions: Sequence[Words], min_count: int, max_length: int) -> Vocabulary:
        """Vocabulary of words seen at least min_count times, most frequent first (ties by word)."""
        counts = collections.Counter(word for words in captions for word in words)
        kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(kept, max_length)

    def encode(self, words: Words) -> list:
        """Ids of <start> words... <end>, cut to max_length words."""
        unk = self.index[UNK]
        ids = [self.index.get(word, unk) for word in words[: self.max_length]]
        return [self.index[START]] + ids + [self.index[END]]

    def decode(self, ids: TokenIds) -> list:
        """Words for ids, stopping at <end> and leaving out special tokens."""
        words = []
        for i in ids:
            word = self.words[int(i)]
            if word == END:
                break
            if word not in SPECIAL_TOKENS:
                words.append(word)
        return words

    def teacher_forcing_arrays(self, captions: Sequence[Words]) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, targets) int32 arrays (N, max_length + 1): targets are inputs shifted by one word."""
        width = self.max_length + 1
        inputs = np.zeros((len(captions), width), np.int32)
        targets = np.zeros((len(captions), width), np.int32)
        for row, words in enumerate(captions):
            ids = self.encode(words)
            inputs[row, : len(ids) - 1] = ids[:-1]
            targets[row, : len(ids) - 1] = ids[1:]
        return inputs, targets

    def to_json(self) -> str:
        return json.dumps({"format": "image-captioner-vocabulary", "version": 1,
                           "max_length": self.max_length, "words": self.words})

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise VocabularyError(f"vocabulary is not valid JSON ({error.msg})") from None
        if not isinstance(data, dict) or data.get("format") != "image-captioner-vocabulary":
            raise VocabularyError("not an image-captioner vocabulary")
        words, max_length = data.get("words"), data.get("max_length")
        if (not isinstance(words, list) or not all(isinstance(w, str) for w in words)
                or tuple(words[:4]) != SPECIAL_TOKENS or not isinstance(max_length, int) or max_length < 1):
            raise VocabularyError("vocabulary JSON has a wrong word list or max_length")
        return cls(words[4:], max_length)
