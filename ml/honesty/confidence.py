"""How sure a caption is, from the model itself, calibrated on the dev split so that the number means
something: captions with a higher confidence score higher against human captions (Spearman's rho in the
model card and docs/honesty.md).

Signals, each computed from what captioning has anyway (no TensorFlow):
- `mean_log_prob`: the ensemble's mean log-probability per word of the caption it chose;
- `worst_log_prob`: the least likely word of it;
- `member_spread`: how much the ensemble's members disagree about that caption (std of their means);
- `typicality`: how close the photo's features lie to the training photos' (cosine similarity to the
  nearest of a few hundred k-means centres of the training features, stored in the model file);
- `people_agreement`, `dog_agreement` (issue 23): whether what the caption names agrees with what the encoder
  recognises: the people probe's probability that someone is in the photo for a caption about people, one minus
  it for a caption without people; the same with the dog breeds' summed probability for dogs;
- `detail_log_prob`: the least likely of the caption's details, the words for a count, a gender or a colour
  (0 where it has none): the details are where a caption with the right subject goes wrong ("a man" for a woman,
  "two dogs" for one, "a black dog" for a brown one), and the ensemble is less sure of them when it does.
A logistic regression fitted on dev turns them into the probability that the caption scores above the
dev median sentence CIDEr. A caption is "unsure" when that is below a threshold chosen on dev, or when the
photo is less typical than all but a few dev photos: the caption's words can be likely while the photo is
nothing the model was trained on (a cat, a coffee cup, a rocket), so the confidence alone misses those.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from ml.data.vocab import PAD
from ml.decoders.numpy_step import member_features, members_of, mixture
from ml.encoders.words import ImageNetWords
from ml.honesty.hedging import DOG_KINDS, DOG_WORDS, MORE_PEOPLE_WORDS, PERSON_WORDS

if TYPE_CHECKING:
    from ml.data.vocab import Vocabulary
    from ml.decoders.numpy_step import StepDecoderLike

SIGNALS = ("mean_log_prob", "worst_log_prob", "member_spread", "typicality", "people_agreement", "dog_agreement",
           "detail_log_prob")
# Signals every calibration has (models calibrated before issue 23 have only these).
FIRST_SIGNALS = SIGNALS[:4]
# Words for the details of a scene a caption can get wrong while naming its subject right.
COUNT_WORDS = {"two", "three", "four", "five", "group", "crowd", "couple", "several", "many"}
MALE_WORDS = {"man", "men", "boy", "boys", "guy", "guys", "gentleman", "he", "his"}
FEMALE_WORDS = {"woman", "women", "girl", "girls", "lady", "ladies", "she", "her"}
GENDER_WORDS = MALE_WORDS | FEMALE_WORDS
COLOUR_WORDS = {"black", "white", "brown", "red", "blue", "green", "yellow", "orange", "pink", "purple", "gray",
                "grey", "tan"}
DETAIL_WORDS = COUNT_WORDS | GENDER_WORDS | COLOUR_WORDS
# What an agreement signal is where the model's encoder has no people probe or ImageNet head: nothing known.
UNKNOWN = 0.5


def teacher_forced(vocab: Vocabulary, word_lists: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs (N, T), targets (N, T) and a mask (N, T) for scoring given captions word by word (targets end
    with <end>), from the ids training uses, cut to the longest caption."""
    ids = vocab.caption_ids((list(words) for words in word_lists), len(word_lists), np.int64)
    targets = ids[:, 1:]
    mask = targets != vocab.index[PAD]
    length = int(mask.sum(axis=1).max())
    return ids[:, :length], targets[:, :length], mask[:, :length]


def member_word_log_probs(step_decoder: StepDecoderLike, vocab: Vocabulary, features: np.ndarray,
                          word_lists: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Each member's log-probability of each word of the given captions: (members, N, T), and the mask."""
    inputs, targets, mask = teacher_forced(vocab, word_lists)
    rows = np.arange(len(inputs))
    per_member = []
    for member in members_of(step_decoder):
        memory, state = member.start(member_features(member, np.asarray(features, np.float32)))
        scores = np.zeros(inputs.shape, np.float32)
        for position in range(inputs.shape[1]):
            log_probs, state = member.step(memory, state, inputs[:, position])
            scores[:, position] = log_probs[rows, targets[:, position]]
        per_member.append(scores)
    return np.stack(per_member), mask


def _member_scores(step_decoder: StepDecoderLike, vocab: Vocabulary, features: np.ndarray,
                   word_lists: Sequence[Sequence[str]], known_scores: Optional[Sequence[Optional[np.ndarray]]]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """member_word_log_probs, taking each caption's scores from known_scores where they are there."""
    given: list[Optional[np.ndarray]] = list(known_scores) if known_scores is not None else [None] * len(word_lists)
    missing = [index for index, scores in enumerate(given) if scores is None]
    if len(missing) == len(word_lists):
        return member_word_log_probs(step_decoder, vocab, features, word_lists)
    scored_again = {}
    if missing:
        scored, _ = member_word_log_probs(step_decoder, vocab, np.asarray(features)[missing],
                                          [word_lists[index] for index in missing])
        scored_again = {index: scored[:, row, :len(word_lists[index]) + 1] for row, index in enumerate(missing)}
    known = [scored_again[index] if scores is None else scores for index, scores in enumerate(given)]
    length = max(scores.shape[1] for scores in known)
    member_scores = np.zeros((known[0].shape[0], len(known), length), np.float32)
    mask = np.zeros((len(known), length), bool)
    for index, scores in enumerate(known):
        member_scores[:, index, :scores.shape[1]] = scores
        mask[index, :scores.shape[1]] = True
    return member_scores, mask


def agreement(word_lists: Sequence[Sequence[str]], named_by: set, probability: Optional[np.ndarray]) -> np.ndarray:
    """For each caption, the probability of what it says about one thing: `probability` (that the thing is in the
    photo) where the caption names it by one of `named_by`, else one minus it; UNKNOWN without a probability."""
    if probability is None:
        return np.full(len(word_lists), UNKNOWN)
    names = np.array([bool(named_by.intersection(words)) for words in word_lists])
    return np.where(names, probability, 1.0 - np.asarray(probability, np.float64))


def dog_probability(class_probabilities: np.ndarray) -> np.ndarray:
    """Each photo's probability that a dog is in it: its ImageNet class probabilities summed over the dog kinds
    (every breed, ml/encoders/words.py)."""
    words = ImageNetWords.shipped()
    kinds = words.kind_probabilities(class_probabilities)
    return kinds[:, [words.kinds.index(kind) for kind in DOG_KINDS if kind in words.kinds]].sum(axis=1)


def detail_log_probs(word_lists: Sequence[Sequence[str]], ensemble_scores: np.ndarray) -> np.ndarray:
    """Each caption's lowest word log-probability among its DETAIL_WORDS, 0 where it has none."""
    return np.array([min((ensemble_scores[row, position] for position, word in enumerate(words) if word in DETAIL_WORDS),
                         default=0.0) for row, words in enumerate(word_lists)], np.float64)


def caption_signals(step_decoder: StepDecoderLike, vocab: Vocabulary, features: np.ndarray,
                    word_lists: Sequence[Sequence[str]], typical: np.ndarray,
                    known_scores: Optional[Sequence[Optional[np.ndarray]]] = None,
                    people: Optional[np.ndarray] = None, dogs: Optional[np.ndarray] = None) -> np.ndarray:
    """The signals (N, len(SIGNALS)) for captions already chosen for these photos' features.

    known_scores: for each caption, the members' log-probabilities of its words and <end> (members, words + 1)
    where beam search kept them (batched_beam_search), else None: only those captions are scored again.
    people, dogs: each photo's probability that someone / a dog is in it (the people probe; the dog breeds'
    summed ImageNet probability), None where the encoder cannot tell."""
    member_scores, mask = _member_scores(step_decoder, vocab, features, word_lists, known_scores)
    ensemble_scores = mixture(member_scores)  # the ensemble's word log-probabilities, as decoding computes them
    counts = mask.sum(axis=1)
    mean_log_prob = np.where(mask, ensemble_scores, 0).sum(axis=1) / counts
    worst_log_prob = np.where(mask, ensemble_scores, np.inf).min(axis=1)
    member_means = np.where(mask, member_scores, 0).sum(axis=2) / counts
    member_spread = member_means.std(axis=0)
    return np.stack([mean_log_prob, worst_log_prob, member_spread, typical,
                     agreement(word_lists, PERSON_WORDS | MORE_PEOPLE_WORDS, people),
                     agreement(word_lists, DOG_WORDS, dogs),
                     detail_log_probs(word_lists, ensemble_scores)], axis=1).astype(np.float64)


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.atleast_2d(np.asarray(vectors, np.float64))
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def training_centroids(pooled_features: np.ndarray, count: int = 256, iterations: int = 20,
                       seed: int = 0) -> np.ndarray:
    """Spherical k-means centres of the training photos' pooled features (unit vectors, (count, dim)):
    a few hundred stand in for thousands of photos when asking 'is this photo like the training ones?'
    (on 24 everyday photos unlike Flickr8k, as good as comparing with all 6000: ROC AUC 0.93 both)."""
    points = _unit(pooled_features)
    rng = np.random.default_rng(seed)
    centres = points[rng.choice(len(points), min(count, len(points)), replace=False)]
    for _ in range(iterations):
        nearest = (points @ centres.T).argmax(axis=1)
        for index in range(len(centres)):
            members = points[nearest == index]
            if len(members):
                centres[index] = members.mean(axis=0)
        centres = _unit(centres)
    return centres.astype(np.float32)


def typicality(pooled_features: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Cosine similarity of each photo's pooled features to the nearest training centre (higher: more
    like the training photos)."""
    return (_unit(pooled_features) @ _unit(centroids).T).max(axis=1)


@dataclass
class Calibration:
    """A logistic regression over standardised signals, the confidence below which a caption is unsure,
    and the typicality below which a photo is unlike the training photos; stored in the model card."""

    signals: list
    mean: list
    scale: list
    weights: list
    bias: float
    threshold: float = 0.0
    typical_threshold: float = -1.0

    def confidence(self, signal_rows: np.ndarray) -> np.ndarray:
        """The probability that each caption scores above the dev median, from its signals (rows of all SIGNALS;
        the calibration reads those it was fitted on)."""
        columns = [SIGNALS.index(name) for name in self.signals]
        standard = (np.asarray(signal_rows, np.float64)[:, columns] - np.asarray(self.mean)) / np.asarray(self.scale)
        return 1.0 / (1.0 + np.exp(-(standard @ np.asarray(self.weights) + self.bias)))

    def unusual(self, signal_rows: np.ndarray) -> np.ndarray:
        """Whether each photo is less like the training photos than all but a few dev photos."""
        return np.asarray(signal_rows)[:, SIGNALS.index("typicality")] < self.typical_threshold

    def to_json(self) -> dict:
        return dict(vars(self))

    @classmethod
    def from_card(cls, card: dict) -> Optional[Calibration]:
        """The card's calibration, or None for a model calibrated on other signals (or never)."""
        stored = card.get("confidence")
        if not stored or not set(FIRST_SIGNALS) <= set(stored.get("signals", [])) <= set(SIGNALS):
            return None
        return cls(**{name: stored[name] for name in cls.__dataclass_fields__})


def ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their mean rank (what Spearman's rho ranks by)."""
    _, group, counts = np.unique(np.asarray(values, np.float64), return_inverse=True, return_counts=True)
    last = np.cumsum(counts)
    return ((last - counts + 1 + last) / 2.0)[group]


def spearman(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman's rank correlation: the Pearson correlation of the ranks."""
    return float(np.corrcoef(ranks(first), ranks(second))[0, 1])


def fit_logistic(inputs: np.ndarray, labels: np.ndarray, l2: float = 1e-2, steps: int = 25) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularised logistic regression by Newton's method (a handful of signals;
    scikit-learn would add 150 MB to the packaged app for these few lines)."""
    design = np.hstack([np.asarray(inputs, np.float64), np.ones((len(inputs), 1))])
    theta = np.zeros(design.shape[1])
    penalty = l2 * np.eye(design.shape[1])
    penalty[-1, -1] = 0.0
    for _ in range(steps):
        predicted = 1.0 / (1.0 + np.exp(-design @ theta))
        gradient = design.T @ (predicted - labels) + penalty @ theta
        hessian = (design * (predicted * (1 - predicted))[:, None]).T @ design + penalty
        theta -= np.linalg.solve(hessian, gradient)
    return theta[:-1], float(theta[-1])


def fit_calibration(signal_rows: np.ndarray, sentence_scores: np.ndarray, unsure_share: float = 0.1,
                    unusual_share: float = 0.03) -> Calibration:
    """Fit on dev: confidence = P(sentence score above the dev median | signals); the thresholds leave
    `unsure_share` of dev captions below the confidence threshold and `unusual_share` of dev photos below
    the typicality one (both together about 12 % of dev and test captions unsure). A signal the same for every
    caption (an agreement the model's encoder cannot tell) is left out of the fit."""
    signal_rows = np.asarray(signal_rows, np.float64)
    used = [index for index, name in enumerate(SIGNALS) if name in FIRST_SIGNALS or np.ptp(signal_rows[:, index]) > 0]
    fitted_rows = signal_rows[:, used]
    mean, scale = fitted_rows.mean(axis=0), fitted_rows.std(axis=0) + 1e-9
    labels = (np.asarray(sentence_scores) > np.median(sentence_scores)).astype(np.float64)
    weights, bias = fit_logistic((fitted_rows - mean) / scale, labels)
    calibration = Calibration([SIGNALS[index] for index in used], mean.tolist(), scale.tolist(), weights.tolist(), bias, 0.0)
    calibration.threshold = float(np.quantile(calibration.confidence(signal_rows), unsure_share))
    typical = signal_rows[:, SIGNALS.index("typicality")]
    calibration.typical_threshold = float(np.quantile(typical, unusual_share))
    return calibration
