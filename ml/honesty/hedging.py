"""What the app says when it is not sure: hedged wording, and the ImageNet label a caption contradicts.

A user who cannot see the photo hears only the sentence, so an unsure caption says so ("I'm not sure;
it may be ...") and, when the encoder confidently recognises something the caption's subject cannot be
(a cat, an espresso, where the caption speaks of a dog or a boy), the sentence names it first.
"""
from __future__ import annotations

import re
from typing import Iterable, Optional, Sequence

import numpy as np

from ml.encoders.words import ImageNetWords, Recognised, short_label

# Words by which a Flickr8k caption names its subject.
DOG_WORDS = {"dog", "dogs", "puppy", "puppies"}
PERSON_WORDS = {"man", "men", "woman", "women", "boy", "boys", "girl", "girls", "person", "people", "child",
                "children", "kid", "kids", "baby", "toddler", "lady", "guy", "player", "players", "skier",
                "surfer", "biker", "climber", "skateboarder", "snowboarder", "crowd", "couple", "team"}
# Other words Flickr8k's captions use for people.
MORE_PEOPLE_WORDS = {"hiker", "hikers", "rider", "riders", "climbers", "boarder", "swimmer", "swimmers", "runner",
                     "runners", "cyclist", "bicyclist", "bikers", "skiers", "surfers", "gentleman", "adults", "adult",
                     "teenager", "teenagers", "students", "family", "group", "he", "she"}


def has_people(captions: Iterable[Sequence[str]]) -> float:
    """The share of a photo's captions (word lists) that name a person: the label the people probe
    (ml/encoders/people.py) learns."""
    words = PERSON_WORDS | MORE_PEOPLE_WORDS
    named = [bool(set(caption) & words) for caption in captions]
    return float(np.mean(named)) if named else 0.0


# A label this probable is one the encoder is sure of (on Flickr8k dev, 4 % of photos have one that a
# caption contradicts by the rule below).
CONFIDENT_LABEL = 0.5


# Kinds of thing (summed over WordNet's tree, ml/encoders/words.py) that a caption about people cannot be about.
# In photos like the training ones only animals and food count: there, a mountain, a bicycle or a horse nearly
# always has someone on it; in photos unlike them, vehicles, buildings, landscapes, plants and dogs count too.
NOT_PEOPLE_KINDS = ("animal", "food")
NOT_PEOPLE_KINDS_UNUSUAL = NOT_PEOPLE_KINDS + ("dog", "canine", "vehicle", "building", "landscape", "plant")
DOG_KINDS = ("dog", "canine")


def contradicted(words: ImageNetWords, caption_words: Sequence[str], probabilities: np.ndarray,
                 unusual: bool = False) -> Optional[Recognised]:
    """What the encoder surely sees that the caption's subject cannot be, or None: a kind of thing (summed up
    WordNet's tree, so "ox 32 % + sorrel 25 %" is an animal at 57 %) of at least CONFIDENT_LABEL that is not a
    dog for a caption about a dog, nor a person's for a caption about people (see NOT_PEOPLE_KINDS); named by
    its most specific word that is at least half that sure, else by the kind."""
    caption = set(caption_words)
    kind = words.likely_kind(probabilities)
    if kind.probability < CONFIDENT_LABEL:
        return None
    if caption & DOG_WORDS:
        if kind.kind in DOG_KINDS:
            return None
    elif not (caption & PERSON_WORDS and kind.kind in (NOT_PEOPLE_KINDS_UNUSUAL if unusual else NOT_PEOPLE_KINDS)):
        return None
    named = words.subject(probabilities, CONFIDENT_LABEL / 2)
    word = named.word if named is not None and named.kind == kind.kind else kind.word
    return Recognised(word, kind.probability, kind.kind)


# Words said without "a": "it looks like food", not "a food".
MASS_NOUNS = {"food", "coffee", "fungus", "clothing"}


def with_article(label: str) -> str:
    if label in MASS_NOUNS:
        return label
    return f"{'an' if label[:1].lower() in 'aeiou' else 'a'} {label}"


def as_clause(caption: str) -> str:
    """'a boy is sitting on a bench' -> 'a boy sitting on a bench', to follow 'it may be'."""
    return re.sub(r"\b(is|are) (\w+ing)\b", r"\2", caption, count=1)


def hedged_text(caption: str, unsure: bool, looks_like: Optional[str] = None) -> str:
    """The sentence shown and spoken: the caption itself when sure, else one that says it is not sure
    and names what the encoder recognises when the caption contradicts it."""
    if not caption or not unsure:
        return caption
    if looks_like:
        return f"It looks like {with_article(short_label(looks_like))}. I'm not sure; my caption may be wrong: {caption}."
    return f"I'm not sure; it may be {as_clause(caption)}."
