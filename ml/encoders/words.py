"""What the encoder recognises, in the words a person would use: each ImageNet-1k class's plain words (most
specific first: "common sorrel horse" -> horse, animal) and kind (animal, dog, vehicle, building, ...), from
assets/encoders/imagenet-words.json (derived from WordNet by scripts/make_imagenet_words.py), and class
probabilities summed up that tree, so that "ox 0.32 + sorrel 0.25" is an animal at 0.57 and every horse class
together is a horse.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np

from ml.core.defaults import asset_path

# Words that say what kind of thing something is rather than what it is: too general to name a subject.
GENERAL_WORDS = {"animal", "vehicle", "structure", "landscape", "object", "clothing", "instrument", "person", "food"}


@dataclass
class Recognised:
    """A word for what is in the photo with the summed probability of every class it names, and its kind."""

    word: str
    probability: float
    kind: str


class ImageNetWords:
    """ImageNet-1k classes as plain words and kinds, with the sums of class probabilities over each."""

    def __init__(self, classes: list[dict]):
        if len(classes) != 1000:
            raise ValueError(f"expected 1000 ImageNet classes, got {len(classes)}")
        self.class_words = [list(entry["words"]) for entry in classes]
        self.class_kinds = [entry["kind"] for entry in classes]
        self.vocabulary = sorted({word for words in self.class_words for word in words})
        column = {word: index for index, word in enumerate(self.vocabulary)}
        self.kinds, self.kind_matrix = _grouping(self.class_kinds)
        self.word_matrix = np.zeros((1000, len(self.vocabulary)), np.float32)
        for index, words in enumerate(self.class_words):
            self.word_matrix[index, [column[word] for word in words]] = 1.0
        # How general each word is: the most classes it names (a word's depth in the tree, read off the table).
        self.word_breadth = self.word_matrix.sum(axis=0)
        self.general = np.array([word in GENERAL_WORDS for word in self.vocabulary])
        # What the app shows for a class: its most specific plain word, or its own name where that word only says
        # what kind of thing it is ("space shuttle", not "vehicle").
        self.tag_words = [words[0] if words[0] not in GENERAL_WORDS else short_label(entry.get("name", words[0]))
                          for words, entry in zip(self.class_words, classes)]
        self.tag_labels, self.tag_matrix = _grouping(self.tag_words)
        self.first_labels, self.first_matrix = _grouping([words[0] for words in self.class_words])
        self.word_kind: dict[str, str] = {}
        for index, words in enumerate(self.class_words):
            for word in words:
                self.word_kind.setdefault(word, self.class_kinds[index])

    @classmethod
    def shipped(cls) -> ImageNetWords:
        return _shipped_words()

    def plain_word(self, class_index: int) -> str:
        """'common sorrel horse' -> 'horse', 'space shuttle' -> 'space shuttle': what the app shows for a class."""
        return self.tag_words[class_index]

    def plain_tags(self, probabilities: np.ndarray, count: int = 3) -> list[list[tuple[str, float]]]:
        """For each row of class probabilities, the `count` most probable words the app shows, each with the
        summed probability of its classes ("cat" for tabby, tiger cat and Egyptian Mau together)."""
        return _top(np.atleast_2d(probabilities) @ self.tag_matrix, self.tag_labels, count)

    def first_word_tags(self, probabilities: np.ndarray, count: int = 3) -> list[list[tuple[str, float]]]:
        """As plain_tags, grouped by each class's first word even where it is as general as "vehicle" (so a
        caller can tell a vague recognition from a precise one)."""
        return _top(np.atleast_2d(probabilities) @ self.first_matrix, self.first_labels, count)

    def word_probabilities(self, probabilities: np.ndarray) -> np.ndarray:
        """(N, words): each word's summed class probability."""
        return np.atleast_2d(probabilities) @ self.word_matrix

    def kind_probabilities(self, probabilities: np.ndarray) -> np.ndarray:
        """(N, kinds): each kind's summed class probability."""
        return np.atleast_2d(probabilities) @ self.kind_matrix

    def subject(self, probabilities: np.ndarray, threshold: float) -> Optional[Recognised]:
        """The most specific word whose summed probability reaches `threshold` (a horse before an animal), leaving
        out the GENERAL_WORDS ("animal" says too little to name a subject); None when the encoder recognises
        nothing that surely."""
        sums = self.word_probabilities(probabilities)[0]
        candidates = np.flatnonzero((sums >= threshold) & ~self.general)
        if not len(candidates):
            return None
        best = candidates[np.lexsort((-sums[candidates], self.word_breadth[candidates]))[0]]
        word = self.vocabulary[best]
        return Recognised(word, float(sums[best]), self.word_kind[word])

    def likely_kind(self, probabilities: np.ndarray) -> Recognised:
        """The kind of thing with the largest summed probability."""
        sums = self.kind_probabilities(probabilities)[0]
        best = int(sums.argmax())
        return Recognised(self.kinds[best], float(sums[best]), self.kinds[best])


def short_label(name: str) -> str:
    """'Mexican hairless dog (xoloitzcuintli)' -> 'Mexican hairless dog'; 'handrail / baluster' -> 'handrail'."""
    return re.sub(r"\s*\(.*?\)", "", name).split(" / ")[0].strip()


def _grouping(labels: list[str]) -> tuple[list[str], np.ndarray]:
    """The distinct labels, and a (1000, labels) 0/1 matrix that sums class probabilities per label."""
    distinct = sorted(set(labels))
    matrix = np.zeros((len(labels), len(distinct)), np.float32)
    for index, label in enumerate(labels):
        matrix[index, distinct.index(label)] = 1.0
    return distinct, matrix


def _top(sums: np.ndarray, labels: list[str], count: int) -> list[list[tuple[str, float]]]:
    rows = []
    for row in sums:
        best = np.argsort(row)[::-1][:count]
        rows.append([(labels[index], round(float(row[index]), 4)) for index in best])
    return rows


@lru_cache(maxsize=1)
def _shipped_words() -> ImageNetWords:
    table = json.loads(asset_path("encoders", "imagenet-words.json").read_text(encoding="utf-8"))
    return ImageNetWords(table["classes"])
