"""Captions that name what the encoder recognises (issue 23): when the encoder surely recognises the photo's
subject ("horse", summed over every horse class) and the caption does not name it, the photo is captioned
again by constrained beam search (ml/decoders/search.py) so that the sentence contains the word, fluent
around it ("two horses are standing in a field").

A word the decoder never learned (Flickr8k has no "eagle" or "van") is produced through the nearest more
general word it knows, along WordNet ("bird", "car"), which is then replaced in the sentence: exactly what
copying that word's embedding and output rows to the new word would decode (Hendricks et al. 2016's transfer,
without fine-tuning), with no change to the model file. When the subject is a thing no person or dog can be
(a car, a building, a landscape), captions that bring in people or dogs are ruled out too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence

from ml.decoders.search import constrained_beam_decode
from ml.encoders.words import GENERAL_WORDS, ImageNetWords, Recognised
from ml.honesty.hedging import DOG_WORDS, MORE_PEOPLE_WORDS, PERSON_WORDS, with_article

if TYPE_CHECKING:
    import numpy as np

    from ml.data.vocab import Vocabulary
    from ml.decoders.numpy_step import StepDecoderLike

# Words a caption may already use for a recognised subject (and so needs no renaming).
SAME_SUBJECT = {"dog": DOG_WORDS, "cat": {"cat", "cats", "kitten", "kittens"}, "person": PERSON_WORDS,
                "bird": {"bird", "birds", "duck", "ducks", "seagull", "seagulls", "pigeon", "pigeons"},
                "car": {"car", "cars", "truck", "jeep", "van"}, "truck": {"truck", "trucks"},
                "bicycle": {"bike", "bikes", "bicycle", "bicycles"}, "motorcycle": {"motorcycle", "motorbike", "dirt bike"},
                "boat": {"boat", "boats", "ship", "kayak", "canoe"}, "mountain": {"mountain", "mountains", "hill", "hills"},
                "shore": {"shore", "beach", "lake", "ocean", "water"}, "cliff": {"cliff", "rock", "rocks", "mountain"}}
# Words for people a Flickr8k caption uses besides PERSON_WORDS, ruled out with them where no one can be.
PEOPLE_NOUNS = MORE_PEOPLE_WORDS | {"his", "her",
                # what only people wear: "a bridge with a red shirt" brings a person back in
                "shirt", "shirts", "jacket", "jackets", "hat", "hats", "helmet", "helmets", "dress", "shorts", "pants",
                "jeans", "uniform", "uniforms", "costume", "costumes", "swimsuit", "coat", "cap", "sunglasses",
                "glasses", "outfit", "outfits", "bikini", "backpack", "gear", "trunks", "t"}
IRREGULAR_PLURALS = {"person": "people", "man": "men", "woman": "women", "child": "children", "mouse": "mice",
                     "goose": "geese", "fish": "fish", "sheep": "sheep", "deer": "deer", "cow": "cows"}
# Kinds whose subject is renamed: the kinds a Flickr8k-trained decoder mistakes for people or dogs. Clothing
# and objects are left alone: in everyday photos they are what people wear and hold (a jersey, a ski).
RENAMED_KINDS = ("animal", "dog", "vehicle", "building", "landscape", "food", "plant")
# Kinds named in photos like the training ones too: there a dog the caption leaves out is usually beside the
# person it names ("a man plays frisbee with his dog"), so only other animals are named.
TYPICAL_PHOTO_KINDS = ("animal",)
# Kinds that act (and so are a sentence's subject: "a cat is sitting on a bed"); the others are where people
# and animals act, so their word may come anywhere ("a boat on a lake").
ANIMATE_KINDS = ("animal", "dog")
# Kinds no person or dog can be: a caption about such a subject may not bring them in.
NO_PEOPLE_KINDS = ("animal", "vehicle", "building", "landscape", "food", "plant")


# Words that cannot be a sentence's subject: a caption with one of them right before "is"/"are" lost its noun
# ("a brown and white is standing"), which happens when every word for what the decoder sees is ruled out.
NOT_A_SUBJECT = {"a", "an", "the", "and", "black", "white", "brown", "small", "little", "young", "big", "large",
                 "red", "blue", "green", "yellow", "colorful", "male", "female", "line", "shore", "of", "in", "on"}
# What only people and animals do, said of a thing ("a tree is walking through the water").
ANIMATE_VERBS = {"walking", "running", "jumping", "playing", "riding", "climbing", "swimming", "skiing", "walks",
                 "runs", "jumps", "plays", "climbs", "smiling", "looking", "holding", "wearing", "doing", "standing",
                 "flying", "surfing", "stands"}


# Words that lead to where a caption's people are ("in front of a building", "down a snowy mountain").
PLACE_PREPOSITIONS = {"in", "on", "at", "through", "down", "near", "by", "over", "across", "along", "under", "into",
                      "onto", "of", "behind", "beside", "past", "outside", "inside", "towards", "toward"}
# Places said without an article ("snow", not "a snow").
MASS_PLACES = {"water", "grass", "sand", "snow", "dirt", "mud", "ocean", "sunlight", "rain", "traffic", "darkness"}
# What a place phrase may not hold: "in the air", "in the background" on their own say nothing about the photo.
NOT_A_PLACE = {"air", "camera", "background", "distance", "front", "middle", "it", "them", "other", "each"}

# Nouns that end like a verb's -ing form.
ING_NOUNS = {"building", "buildings", "clothing", "ceiling", "painting", "swing", "ring", "string", "wing", "wings",
             "thing", "something", "evening", "morning", "wedding", "railing", "spring", "sling", "king", "ping"}


def first_verb(words: Sequence[str]) -> Optional[int]:
    """Where a caption's first verb is ("is", "are", an -ing word, or one of ANIMATE_VERBS), or None."""
    for position, word in enumerate(words):
        if word in ("is", "are") or word in ANIMATE_VERBS or (word.endswith("ing") and word not in ING_NOUNS):
            return position
    return None


def fluent(words: Sequence[str], animate: bool) -> bool:
    """Whether a recaptioned sentence still reads as one: a noun right before its first verb (not "a black and
    white haired standing"), and no walking bridges."""
    verb = first_verb(words)
    if verb is not None:
        before = words[verb - 1] if verb else ""
        if not before or before in NOT_A_SUBJECT or before.endswith("ed"):
            return False
    return animate or not set(words) & ANIMATE_VERBS


# How typical a photo must be to count as like the training ones, and below which it is far unlike them
# (ml/honesty/confidence.py's typicality): chosen for the shipped model (0.62, 5 % of its Flickr8k dev photos
# below; 0.56), and kept at the same distance from any other model's own "unlike the training photos" threshold
# (its calibration's typical_threshold, 3 % of its dev photos below; 0.586 for the shipped model), since
# typicality's scale differs from one encoder and training set to another. Only below the first are things other
# than animals named and people ruled out: on Flickr8k, a mountain or a bicycle nearly always has someone on it.
UNUSUAL_MARGIN, STRANGE_MARGIN = 0.034, 0.026


@dataclass
class NamingRule:
    """When and how captions are made to name the recognised subject (thresholds chosen on the tuning half
    of tests/data/open_vocabulary/ and checked on Flickr8k dev, docs/honesty.md)."""

    threshold: float = 0.4
    typical_threshold: float = 0.6  # in photos like the training ones, where the caption is more often right
    kinds: Sequence[str] = RENAMED_KINDS
    within: int = 5  # the subject's word comes among the caption's first words ("a black and white cat")
    unusual_below: float = -1.0  # no photo is unusual for a model that cannot tell (no calibration)
    beam: int = 3  # the constrained search keeps two beams of this width: 3 costs what one beam of 5 does
    # Far below it, where the encoder sees this little of what people wear or are, a caption with people in it is
    # replaced by what the encoder sees.
    strange_below: float = -1.0
    no_one_below: float = 0.2
    # ... and said as just what the encoder sees most ("a spatula") when it is at least this sure of it.
    template_above: float = 0.1
    # In a photo merely unlike the training ones, the same when the people probe (ml/encoders/people.py) is this
    # unsure that anyone is in it (0: never).
    alone_below: float = 0.8
    # ... and where it is this sure that no one is there, what the encoder sees people wear (a sweater on a shelf,
    # boots on a floor) does not keep people in: chosen on the ImageNet sample photos of clothing, where 0.2 took
    # people out of 7 more of 37 captions of photos without anyone and out of none of 43 with people in them.
    surely_alone_below: float = 0.2


def rule_for_model(typical_threshold: Optional[float]) -> NamingRule:
    """The naming rule for a model whose calibration calls photos below `typical_threshold` unlike its training
    photos (None: an uncalibrated model, for which no photo counts as unusual)."""
    if typical_threshold is None:
        return NamingRule()
    return NamingRule(unusual_below=typical_threshold + UNUSUAL_MARGIN, strange_below=typical_threshold - STRANGE_MARGIN)


def plural(word: str) -> str:
    """'horse' -> 'horses', 'bus' -> 'buses', 'puppy' -> 'puppies', 'man' -> 'men'; for a phrase, its last word."""
    *head, last = word.split(" ")
    if last in IRREGULAR_PLURALS:
        last = IRREGULAR_PLURALS[last]
    elif re.search(r"(s|x|z|ch|sh)$", last):
        last += "es"
    elif re.search(r"[^aeiou]y$", last):
        last = last[:-1] + "ies"
    else:
        last += "s"
    return " ".join([*head, last])


def forms(word: str) -> set[str]:
    """A word, its plural, and the words a caption may already use for the same subject."""
    return {word, plural(word)} | set(SAME_SUBJECT.get(word, ()))


def names(caption: str, word: str) -> bool:
    """Whether a caption already names the subject (as a whole word or phrase, or one of its other forms)."""
    text = f" {caption} "
    return any(f" {form} " in text for form in forms(word))


def stand_in(word: str, more_general: Sequence[str], vocab: Vocabulary) -> Optional[str]:
    """The word the decoder says in place of `word`: itself where it knows it, else the phrase's last word
    ("vending machine" -> "machine"), else the nearest more general word it knows ("eagle" -> "bird")."""
    for candidate in [word, word.split(" ")[-1], *more_general]:
        if candidate in vocab.index:
            return candidate
    return None


def with_articles_fixed(words: list[str]) -> list[str]:
    """'a eagle' -> 'an eagle', 'an horse' -> 'a horse' (after a replacement)."""
    fixed = list(words)
    for position in range(len(fixed) - 1):
        if fixed[position] in ("a", "an"):
            fixed[position] = "an" if fixed[position + 1][:1] in "aeiou" else "a"
    return fixed


def replaced(words: list[str], stand_in_word: str, word: str) -> list[str]:
    """The caption with the stand-in (and its plural) replaced by the subject's word (and its plural)."""
    if stand_in_word == word:
        return words
    swaps = {stand_in_word: word, plural(stand_in_word): plural(word)}
    return with_articles_fixed(" ".join(swaps.get(w, w) for w in words).split(" "))


class SubjectNamer:
    """Recaptions photos whose caption does not name what the encoder surely recognises, or brings people or
    dogs into a photo of something else."""

    def __init__(self, words: ImageNetWords, vocab: Vocabulary, rule: Optional[NamingRule] = None):
        self.words, self.vocab, self.rule = words, vocab, rule or NamingRule()
        self.people_words = {w for w in PERSON_WORDS | DOG_WORDS | PEOPLE_NOUNS if w in vocab.index}
        self.person_words = self.people_words - DOG_WORDS
        self.animal_words = {form for word, kind in words.word_kind.items() if kind in ("animal", "dog")
                             for form in forms(word) if form in vocab.index}

    def subject(self, probabilities: np.ndarray, threshold: Optional[float] = None) -> Optional[Recognised]:
        """The photo's recognised subject when it is sure enough and of a kind this rule renames."""
        recognised = self.words.subject(probabilities, self.rule.threshold if threshold is None else threshold)
        return recognised if recognised is not None and recognised.kind in self.rule.kinds else None

    def more_general(self, word: str) -> list[str]:
        """The words after `word` in the chains of the classes it names (eagle -> bird, animal)."""
        chains = [chain for chain in self.words.class_words if word in chain]
        return list(dict.fromkeys(w for chain in chains for w in chain[chain.index(word) + 1:]))

    def banned_words(self, recognised: Recognised, said: str) -> set[str]:
        """Words the new caption may not use: people and dogs in a photo of something they cannot be, and
        other animals where the subject is an animal (the decoder's favourite mistake: a cat called a dog)."""
        banned = set(self.people_words) if recognised.kind in NO_PEOPLE_KINDS else set()
        if recognised.kind != "dog":
            banned |= self.animal_words
        return banned - forms(said) - forms(recognised.word)

    def named(self, step_decoder: StepDecoderLike, feature: np.ndarray, caption: str, probabilities: np.ndarray,
              beam_width: int, typicality: float = 1.0, people: float = 1.0) -> tuple[str, Optional[Recognised]]:
        """The caption, recaptioned where it does not name the recognised subject or brings in people or dogs
        the subject cannot be; and that subject (None when the encoder recognises nothing surely). `people`: the
        people probe's probability that anyone is in the photo (1 where there is no probe)."""
        unusual = typicality < self.rule.unusual_below
        strange = typicality < self.rule.strange_below
        # the probe knows people, not dogs: where it alone says no one is there, only people are taken out
        alone = unusual and people < self.rule.alone_below and bool(set(caption.split()) & self.person_words)
        has_people = bool(set(caption.split()) & self.people_words)
        recognised = self.subject(probabilities, self.rule.threshold if unusual else self.rule.typical_threshold)
        if recognised is None or (recognised.kind not in TYPICAL_PHOTO_KINDS and not unusual):
            surely_alone = alone and people < self.rule.surely_alone_below
            if surely_alone or (((strange and has_people) or alone) and self.sees_no_one(probabilities)):
                return self.without_people(caption, probabilities), recognised
            return caption, recognised
        invents_people = unusual and recognised.kind in NO_PEOPLE_KINDS and has_people
        if names(caption, recognised.word) and not invents_people:
            return caption, recognised
        said = stand_in(recognised.word, self.more_general(recognised.word), self.vocab)
        if said is None:
            return caption, recognised
        if recognised.kind in ANIMATE_KINDS:
            placing: dict = {"within": self.rule.within}
        else:  # a thing does not act: "a bridge over the water", not "a bridge is walking"
            placing = {"prefix": [self.vocab.index["a"], self.vocab.index[said]],
                       "not_after_prefix": [self.vocab.index[w] for w in ("is", "are", "and") if w in self.vocab.index]
                       + [self.vocab.index[w] for w in self.people_words]}
        new = self.recaptioned(step_decoder, feature, caption, beam_width, [said, plural(said)],
                               self.banned_words(recognised, said), placing)
        if new == caption or not fluent(new.split(), recognised.kind in ANIMATE_KINDS):
            return caption, recognised
        return " ".join(replaced(new.split(), said, recognised.word)), recognised

    def without_people(self, caption: str, probabilities: np.ndarray) -> str:
        """For a photo far unlike the training ones where the encoder sees no one, yet the caption brings in people
        or dogs: what the encoder sees most ("a spatula"), said plainly, when it is a thing (not an animal, not
        a kind as vague as "structure") it is at least a little sure of; else the caption as it was, which is
        hedged anyway (the photo is unusual). The decoder itself, with people ruled out, wrote broken sentences
        on the tuning half ("a black and white haired standing in the water")."""
        word, probability = self.words.first_word_tags(probabilities, 1)[0][0]
        kind = self.words.word_kind.get(word, "object")
        said_plainly = (probability >= self.rule.template_above and kind not in (*ANIMATE_KINDS, "canine")
                        and (word == "food" or word not in GENERAL_WORDS))
        if said_plainly:
            return with_article(word)
        return self.place_of(caption) or caption

    def place_of(self, caption: str) -> Optional[str]:
        """Where the caption puts its people, said alone: "a man is standing in front of a store" -> "a store",
        "a skier is skiing down a snowy mountain" -> "a snowy mountain"; None when that place has people in it,
        or acts, or the caption names none."""
        words = caption.split()
        places = [position for position, word in enumerate(words) if word in PLACE_PREPOSITIONS]
        if not places:
            return None
        place = words[places[-1] + 1:]
        if place[:1] in (["a"], ["an"], ["the"]):
            place = place[1:]
        if not place or set(place) & (self.people_words | ANIMATE_VERBS | NOT_A_PLACE) or first_verb(place) is not None:
            return None
        said = " ".join(place)
        plural_or_mass = (place[-1].endswith("s") and not place[-1].endswith("ss")) or place[-1] in MASS_PLACES
        return said if plural_or_mass else with_article(said)

    def sees_no_one(self, probabilities: np.ndarray) -> bool:
        """Whether the encoder sees nothing people wear or are (clothing, a diver, a ballplayer) in a photo."""
        kinds = dict(zip(self.words.kinds, self.words.kind_probabilities(probabilities)[0]))
        return kinds.get("clothing", 0.0) + kinds.get("person", 0.0) < self.rule.no_one_below

    def recaptioned(self, step_decoder: StepDecoderLike, feature: np.ndarray, caption: str, beam_width: int,
                    required_words: Sequence[str], banned_words: set[str], placing: dict) -> str:
        """The best caption under the constraints, or the caption unchanged when none ends."""
        required = [self.vocab.index[w] for w in required_words if w in self.vocab.index]
        banned = [self.vocab.index[w] for w in banned_words if w in self.vocab.index]
        words = constrained_beam_decode(step_decoder, self.vocab, feature[None], min(max(beam_width, 2), self.rule.beam),
                                        required, banned, **placing)
        return caption if words is None else " ".join(words)
