"""Several models trained on one vocabulary and encoder, combined into one ensemble file (their next-word
probabilities are averaged while decoding, ml/decoders/numpy_step.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from ml.core.errors import BundleError
from ml.core.types import PathLike
from ml.model_file.card import ensemble_card
from ml.model_file.reader import load_bundle, load_keras_decoders
from ml.model_file.writer import save_bundle


def combine_bundles(paths: Sequence[PathLike], output: PathLike, name: Optional[str] = None) -> Path:
    """One ensemble file from several models trained on the same vocabulary and encoder."""
    bundles = [load_bundle(p) for p in paths]
    first = bundles[0]
    for bundle in bundles[1:]:
        if bundle.vocab.words != first.vocab.words or bundle.card["encoder"] != first.card["encoder"]:
            raise BundleError(f"{bundle.path}: vocabulary or encoder differs from {first.path}")
    card = ensemble_card([b.card for b in bundles], name or Path(output).stem)
    decoders = [decoder for p in paths for decoder in load_keras_decoders(p)]
    return save_bundle(output, decoders, first.vocab, card)
