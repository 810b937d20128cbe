"""Word <-> id mapping, saved as JSON (never pickle) so any user file can be read safely."""
from __future__ import annotations

import collections
import json
from typing import Iterable, Sequence

import numpy as np
from numpy.typing import DTypeLike

from ml.core.defaults import LARGEST_VOCABULARY, LONGEST_CAPTION_LIMIT
from ml.core.errors import UserError
from ml.core.schema import schema_problem
from ml.core.types import TokenIds, Words

PAD, UNK, START, END = "<pad>", "<unk>", "<start>", "<end>"
SPECIAL_TOKENS = (PAD, UNK, START, END)  # ids 0..3; padding must be 0 for masking


class VocabularyError(UserError, ValueError):
    """A vocabulary JSON that is not one this program wrote."""


WORD_PATTERN = r"^[^\W\d_]+(['-][^\W\d_]+)*$"
VOCABULARY_SCHEMA = {
    "type": "object",
    "required": ["format", "words", "max_length"],
    "properties": {
        "format": {"const": "image-captioner-vocabulary"},
        "version": {"type": "integer", "minimum": 1},
        "max_length": {"type": "integer", "minimum": 1, "maximum": LONGEST_CAPTION_LIMIT},
        "words": {"type": "array", "minItems": len(SPECIAL_TOKENS), "maxItems": LARGEST_VOCABULARY,
                  "prefixItems": [{"const": token} for token in SPECIAL_TOKENS],
                  # Letters only (any script), with inner apostrophes or hyphens: a word is printed to terminals
                  # and written into photos, so control characters and line breaks are refused.
                  "items": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": WORD_PATTERN}},
    },
}


class Vocabulary:
    """Maps words to ids; words outside it become <unk>."""

    def __init__(self, words: Sequence[str], max_length: int):
        self.words = list(SPECIAL_TOKENS) + [w for w in words if w not in SPECIAL_TOKENS]
        self.index = {word: i for i, word in enumerate(self.words)}
        self.max_length = int(max_length)  # words per caption, without start/end

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def build(cls, captions: Iterable[Words], min_count: int, max_length: int) -> Vocabulary:
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

    def caption_ids(self, captions: Iterable[Words], count: int, dtype: DTypeLike = np.int32) -> np.ndarray:
        """(count, max_length + 2) ids, one row per caption: <start> words <end>, then padding. Training
        reads inputs and targets as two views of it (row[:-1], row[1:]): half the memory of two arrays."""
        ids = np.zeros((count, self.max_length + 2), dtype)
        for row, words in enumerate(captions):
            encoded = self.encode(words)
            ids[row, : len(encoded)] = encoded
        return ids

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
        problem = schema_problem(data, VOCABULARY_SCHEMA)
        if problem:
            raise VocabularyError(f"vocabulary JSON has a wrong field ({problem})")
        if len(set(data["words"])) != len(data["words"]):
            raise VocabularyError("vocabulary JSON lists a word twice")
        return cls(data["words"][len(SPECIAL_TOKENS):], data["max_length"])
