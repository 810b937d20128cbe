"""A trained model as one file a user can copy: decoder (Keras), vocabulary (JSON), model card (JSON).

An ensemble file holds several decoders (decoder.keras, decoder-1.keras, ...) over one vocabulary;
their next-word probabilities are averaged while decoding (ml/decoder.py).

The file is a zip. Saving writes a temp file and renames it, so a crash never leaves half a model.
Loading trusts nothing: only the three known member names, bounded sizes, a validated card, and
Keras `safe_mode` (no code in the model file is ever run).
"""
from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence, Union

import numpy as np

from .annotations import PathLike
from .atomic import replace_atomically
from .card import MAX_DECODERS, ensemble_card, stored_card, validate_card
from .errors import BundleError
from .vocab import Vocabulary, VocabularyError

if TYPE_CHECKING:
    import keras

BUNDLE_SUFFIX = ".captioner"
MEMBERS = ("card.json", "vocab.json", "decoder.keras")
MiB = 1024 * 1024
# Uncompressed sizes a model file may declare, checked before anything is read (a zip of 1 MB can hold
# a 1 GiB card.json). The shipped five-decoder file: card 24 KB, vocabulary 30 KB, decoders 5-7 MB each.
MAX_MEMBER_BYTES = {"card.json": 1 * MiB, "vocab.json": 16 * MiB, "decoder": 200 * MiB}
MAX_TOTAL_BYTES = 400 * MiB


@dataclass
class Bundle:
    """A loaded model: the Keras decoder(s), the vocabulary and the model card."""

    decoders: list
    vocab: Vocabulary
    card: dict
    path: Optional[Path] = None

    @property
    def decoder(self) -> keras.Model:
        return self.decoders[0]


def decoder_member(index: int) -> str:
    return "decoder.keras" if index == 0 else f"decoder-{index}.keras"


def _half_precision_copy(decoder):
    """An uncompiled copy (no optimizer state) whose layers hold float16 weights: half the file size.

    Decoding runs in numpy on float32 copies of these weights (ml/decoder.py), so only storage is
    halved; dev BLEU-4 moved by 0.02 when weights were first rounded to float16.
    """
    import keras

    config = decoder.get_config()
    for layer in config["layers"]:
        if layer["class_name"] != "InputLayer" and "dtype" in layer["config"]:
            layer["config"]["dtype"] = "float16"
    copy = keras.Model.from_config(config)
    copy.set_weights([np.asarray(w).astype(np.float16) for w in decoder.get_weights()])
    return copy


def save_bundle(path: PathLike, decoders: Union[keras.Model, Sequence[keras.Model]], vocab: Vocabulary,
                card: dict) -> Path:
    """Write decoder(s), vocabulary and card into one zip file, atomically."""
    decoders = decoders if isinstance(decoders, (list, tuple)) else [decoders]
    card = stored_card(card, len(decoders))

    def write_zip(temp):
        with tempfile.TemporaryDirectory() as scratch, zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("card.json", json.dumps(card, indent=2))
            archive.writestr("vocab.json", vocab.to_json())
            for index, decoder in enumerate(decoders):
                keras_file = Path(scratch, decoder_member(index))
                _half_precision_copy(decoder).save(keras_file)
                archive.write(keras_file, decoder_member(index))

    return replace_atomically(path, write_zip)


def _check_sizes(path: Path, infos) -> None:
    """Refuse a member, or all of them together, larger than any model this app writes."""
    for info in infos:
        limit = MAX_MEMBER_BYTES.get(info.filename, MAX_MEMBER_BYTES["decoder"])
        if info.file_size > limit:
            raise BundleError(f"{path}: {info.filename} is too large ({info.file_size // MiB} MiB; at most {limit // MiB})")
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL_BYTES:
        raise BundleError(f"{path}: its contents are too large ({total // MiB} MiB; at most {MAX_TOTAL_BYTES // MiB})")


def _read_members(path):
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            decoders = [decoder_member(i) for i in range(MAX_DECODERS) if decoder_member(i) in infos]
            expected = list(MEMBERS[:2]) + [decoder_member(i) for i in range(max(len(decoders), 1))]
            if sorted(infos) != sorted(expected):
                raise BundleError(f"{path}: unexpected contents {sorted(infos)[:5]} (want {', '.join(MEMBERS)})")
            _check_sizes(path, infos.values())
            return {name: archive.read(name) for name in expected}
    except zipfile.BadZipFile:
        raise BundleError(f"{path}: not a model file (not a zip archive)") from None


def read_card(path: PathLike) -> dict:
    """The model card alone (fast: no TensorFlow), validated."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: model file not found")
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("card.json")
            _check_sizes(path, [info])
            card = json.loads(archive.read(info))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise BundleError(f"{path}: not a model file (no readable card.json)") from None
    validate_card(path, card)
    return card


def load_bundle(path: PathLike) -> Bundle:
    """Load and check a model file; raises BundleError with a one-line reason."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: model file not found")
    members = _read_members(path)
    try:
        card = json.loads(members["card.json"])
        vocab = Vocabulary.from_json(members["vocab.json"].decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, VocabularyError) as error:
        raise BundleError(f"{path}: {error}") from None
    validate_card(path, card)
    decoders = [_load_decoder(path, members[name], card, vocab) for name in members if name.endswith(".keras")]
    return Bundle(decoders, vocab, card, path)


def _load_decoder(path, data, card, vocab):
    """One Keras decoder from its bytes, with safe_mode, checked against the card and vocabulary."""
    import keras

    with tempfile.TemporaryDirectory() as scratch:
        keras_file = Path(scratch, "decoder.keras")
        keras_file.write_bytes(data)
        try:
            decoder = keras.models.load_model(keras_file, safe_mode=True, compile=False)
        except Exception as error:  # Keras raises many types for a bad file
            raise BundleError(f"{path}: decoder cannot be loaded ({type(error).__name__})") from None
    inputs = decoder.input if isinstance(decoder.input, dict) else {}
    feature_input = inputs.get("grid", inputs.get("image"))
    if feature_input is None or feature_input.shape[-1] != card["feature_dim"] or decoder.output.shape[-1] != len(vocab):
        raise BundleError(f"{path}: decoder shapes do not match card.json and vocab.json")
    if "grid" in inputs and card.get("features") != "grid":
        raise BundleError(f"{path}: an attention decoder needs grid features, but card.json says otherwise")
    _check_one_step(path, decoder, card)
    return decoder


def _check_one_step(path: Path, decoder: keras.Model, card: dict) -> None:
    """Run one decoding step on zeros, as captioning will: a safe Keras file whose layers are named or
    shaped otherwise than this app's decoders is refused here, in one line, not mid-caption."""
    from .decoder import StepDecoder

    features = np.zeros((1, 4, card["feature_dim"]) if card.get("features") == "grid" else (1, card["feature_dim"]),
                        np.float32)
    try:
        step_decoder = StepDecoder(decoder)
        memory, state = step_decoder.start(features)
        step_decoder.step(memory, state, np.zeros(1, np.int64))
    except KeyError as missing:
        raise BundleError(f"{path}: the decoder's layers are not the ones this app writes (no {missing})") from None
    except (ValueError, IndexError, TypeError) as error:
        raise BundleError(f"{path}: the decoder's weights do not fit together ({type(error).__name__})") from None


def combine_bundles(paths: Sequence[PathLike], output: PathLike, name: Optional[str] = None) -> Path:
    """One ensemble file from several models trained on the same vocabulary and encoder."""
    bundles = [load_bundle(p) for p in paths]
    first = bundles[0]
    for bundle in bundles[1:]:
        if bundle.vocab.words != first.vocab.words or bundle.card["encoder"] != first.card["encoder"]:
            raise BundleError(f"{bundle.path}: vocabulary or encoder differs from {first.path}")
    card = ensemble_card([b.card for b in bundles], name or Path(output).stem)
    decoders = [d for b in bundles for d in b.decoders]
    return save_bundle(output, decoders, first.vocab, card)
