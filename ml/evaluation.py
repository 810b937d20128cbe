"""Corpus BLEU-1..4 (NLTK) and CIDEr (pycocoevalcap, pure Python) against all reference captions.

Both candidates and references are the cleaned word lists (lowercase, no punctuation, "a" kept,
no start/end tokens), the usual tokenization of Flickr8k papers and tutorials.
"""
from __future__ import annotations

from nltk.translate.bleu_score import corpus_bleu

from .annotations import References, Words


def bleu_scores(candidates: dict[str, Words], references: References) -> dict:
    """BLEU-1..4 x 100; candidates: {photo: words}, references: {photo: [words, ...]}."""
    names = sorted(candidates)
    hypotheses = [candidates[n] for n in names]
    refs = [references[n] for n in names]
    weights = [(1, 0, 0, 0), (0.5, 0.5, 0, 0), (1 / 3, 1 / 3, 1 / 3, 0), (0.25, 0.25, 0.25, 0.25)]
    scores = corpus_bleu(refs, hypotheses, weights=weights)
    return {f"bleu{n}": round(100 * s, 2) for n, s in enumerate(scores, 1)}


def cider_score(candidates: dict[str, Words], references: References) -> float:
    """CIDEr-D x 100 (corpus-level document frequencies from the references given)."""
    from pycocoevalcap.cider.cider import Cider

    gts = {n: [" ".join(r) for r in references[n]] for n in candidates}
    res = {n: [" ".join(candidates[n]) or "<empty>"] for n in candidates}
    score, _ = Cider().compute_score(gts, res)
    return round(100 * float(score), 2)


def caption_metrics(candidates: dict[str, Words], references: References) -> dict:
    """All metrics in one dict, as stored in a model card."""
    metrics = bleu_scores(candidates, references)
    metrics["cider"] = cider_score(candidates, references)
    return metrics
