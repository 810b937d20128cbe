"""What the app says when it is not sure: hedged wording, and the ImageNet label a caption contradicts.

A user who cannot see the photo hears only the sentence, so an unsure caption says so ("I'm not sure;
it may be ...") and, when the encoder confidently recognises something the caption's subject cannot be
(a cat, an espresso, where the caption speaks of a dog or a boy), the sentence names it first.
"""
from __future__ import annotations

import re
from typing import Optional, Sequence

# Words by which a Flickr8k caption names its subject.
DOG_WORDS = {"dog", "dogs", "puppy", "puppies"}
PERSON_WORDS = {"man", "men", "woman", "women", "boy", "boys", "girl", "girls", "person", "people", "child",
                "children", "kid", "kids", "baby", "toddler", "lady", "guy", "player", "players", "skier",
                "surfer", "biker", "climber", "skateboarder", "snowboarder", "crowd", "couple", "team"}
# ImageNet-1k's classes are ordered by WordNet: 151-280 are dogs, wolves and foxes (what a caption's "dog"
# may see), 0-397 are animals, 923-969 food and drink.
CANINE_CLASSES = range(151, 281)
ANIMAL_CLASSES = range(0, 398)
FOOD_CLASSES = range(923, 970)
# A label this probable is one the encoder is sure of (on Flickr8k dev, 4 % of photos have one that a
# caption contradicts by the rule below).
CONFIDENT_LABEL = 0.5


def contradicts(caption_words: Sequence[str], class_index: int) -> bool:
    """Whether a confidently recognised ImageNet class cannot be what the caption is about: anything but a
    canine for a caption about a dog; an animal or food for a caption about people (and no dog)."""
    words = set(caption_words)
    if words & DOG_WORDS:
        return class_index not in CANINE_CLASSES
    if words & PERSON_WORDS:
        return class_index in ANIMAL_CLASSES or class_index in FOOD_CLASSES
    return False


def short_label(label: str) -> str:
    """'Mexican hairless dog (xoloitzcuintli)' -> 'Mexican hairless dog'; 'handrail / baluster' -> 'handrail'."""
    return re.sub(r"\s*\(.*?\)", "", label).split(" / ")[0].strip()


def with_article(label: str) -> str:
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
