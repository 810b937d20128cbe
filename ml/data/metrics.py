"""Corpus BLEU-1..4 (NLTK) and CIDEr (pycocoevalcap, pure Python) against all reference captions.

Both candidates and references are the cleaned word lists (lowercase, no punctuation, "a" kept,
no start/end tokens), the usual tokenization of Flickr8k papers and tutorials.
"""
from __future__ import annotations

import warnings

from nltk.translate.bleu_score import corpus_bleu

from ml.core.types import References, Words


def bleu_scores(candidates: dict[str, Words], references: References) -> dict:
    """BLEU-1..4 x 100; candidates: {photo: words}, references: {photo: [words, ...]}."""
    names = sorted(candidates)
    hypotheses = [candidates[n] for n in names]
    refs = [references[n] for n in names]
    weights = [(1, 0, 0, 0), (0.5, 0.5, 0, 0), (1 / 3, 1 / 3, 1 / 3, 0), (0.25, 0.25, 0.25, 0.25)]
    with warnings.catch_warnings():  # NLTK warns when an n-gram order has no match: the score says 0 anyway
        warnings.simplefilter("ignore", UserWarning)
        scores = corpus_bleu(refs, hypotheses, weights=weights)
    return {f"bleu{n}": round(100 * s, 2) for n, s in enumerate(scores, 1)}


def _cider(candidates: dict[str, Words], references: References) -> tuple[float, list]:
    """CIDEr-D of the corpus and of each candidate (in sorted name order), document frequencies from the
    references given."""
    from pycocoevalcap.cider.cider import Cider

    names = sorted(candidates)
    gts = {n: [" ".join(r) for r in references[n]] for n in names}
    res = {n: [" ".join(candidates[n]) or "<empty>"] for n in names}
    score, scores = Cider().compute_score(gts, res)
    return float(score), [float(value) for value in scores]


def cider_score(candidates: dict[str, Words], references: References) -> float:
    """CIDEr-D x 100 (corpus-level document frequencies from the references given)."""
    return round(100 * _cider(candidates, references)[0], 2)


def sentence_cider(candidates: dict[str, Words], references: References) -> dict[str, float]:
    """Each caption's CIDEr-D against its photo's human captions (what the confidence is calibrated on)."""
    return dict(zip(sorted(candidates), _cider(candidates, references)[1]))


def caption_metrics(candidates: dict[str, Words], references: References) -> dict:
    """All metrics in one dict, as stored in a model card."""
    metrics = bleu_scores(candidates, references)
    metrics["cider"] = cider_score(candidates, references)
    return metrics
