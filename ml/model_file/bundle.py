"""A trained model as one file a user can copy: decoders, vocabulary (JSON), model card (JSON).

Each decoder is stored twice: as a Keras file (decoder.keras) that training and combining need, and as
its plain weight arrays (decoder.npz) that captioning decodes with in numpy, so describing a photo never
loads TensorFlow. An ensemble file holds several (decoder-1.keras + decoder-1.npz, ...) over one
vocabulary; their next-word probabilities are averaged while decoding (ml/decoders/numpy_step.py). Files written
before the arrays existed still load: their arrays are taken from the Keras decoders (needs TensorFlow).

The file is a zip. Saving writes a temp file and renames it, so a crash never leaves half a model.
Loading trusts nothing: only the known member names, bounded sizes, a validated card, arrays read with
`allow_pickle=False` and checked against the card and vocabulary, and Keras `safe_mode` (no code in the
model file is ever run).
"""
from __future__ import annotations

import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

import numpy as np

from ml.core.atomic import replace_atomically
from ml.core.defaults import installed
from ml.core.errors import BundleError
from ml.core.types import PathLike
from ml.data.vocab import Vocabulary, VocabularyError
from ml.decoders.numpy_step import DecoderArrays, StepDecoder, model_arrays
from ml.model_file.card import MAX_DECODERS, ensemble_card, stored_card, validate_card

if TYPE_CHECKING:
    import keras

BUNDLE_SUFFIX = ".captioner"
MEMBERS = ("card.json", "vocab.json", "decoder.keras", "decoder.npz")
# Optional: the training photos' feature centres, for telling how typical a photo is (ml/honesty/confidence.py).
DOMAIN_MEMBER = "domain.npz"
# The most centres a model file may hold (this app writes 256).
MAX_CENTROIDS = 4096
MiB = 1024 * 1024
# Uncompressed sizes a model file may declare, checked before anything is read (a zip of 1 MB can hold
# a 1 GiB card.json). The shipped five-decoder file: card 24 KB, vocabulary 30 KB, decoders 5-7 MB each.
MAX_MEMBER_BYTES = {"card.json": 1 * MiB, "vocab.json": 16 * MiB, "decoder": 200 * MiB}
MAX_TOTAL_BYTES = 400 * MiB


@dataclass
class Bundle:
    """A loaded model: each decoder's weight arrays (float32, by Keras path), the vocabulary and the card."""

    decoder_arrays: list[dict[str, np.ndarray]]
    vocab: Vocabulary
    card: dict
    path: Optional[Path] = None
    centroids: Optional[np.ndarray] = None


def decoder_member(index: int) -> str:
    return "decoder.keras" if index == 0 else f"decoder-{index}.keras"


def arrays_member(index: int) -> str:
    return "decoder.npz" if index == 0 else f"decoder-{index}.npz"


def _half_precision_copy(decoder):
    """An uncompiled copy (no optimizer state) whose layers hold float16 weights: half the file size.

    Decoding runs in numpy on float32 copies of these weights (ml/decoders/numpy_step.py), so only storage is
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


def _arrays_file(decoder) -> bytes:
    """The decoder's weights as an .npz (plain arrays by Keras path, no pickles): what captioning reads."""
    arrays: dict[str, Any] = {weight.path: np.asarray(weight.numpy()) for weight in decoder.weights}
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def save_bundle(path: PathLike, decoders: Union[keras.Model, Sequence[keras.Model]], vocab: Vocabulary,
                card: dict, centroids: Optional[np.ndarray] = None) -> Path:
    """Write decoder(s), vocabulary, card and, for a calibrated model, its training-feature centres into one
    zip file, atomically."""
    decoders = decoders if isinstance(decoders, (list, tuple)) else [decoders]
    card = stored_card(card, len(decoders))

    def write_zip(temp):
        with tempfile.TemporaryDirectory() as scratch, zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("card.json", json.dumps(card, indent=2))
            archive.writestr("vocab.json", vocab.to_json())
            for index, decoder in enumerate(decoders):
                keras_file = Path(scratch, decoder_member(index))
                stored = _half_precision_copy(decoder)
                stored.save(keras_file)
                archive.write(keras_file, decoder_member(index))
                # Stored, not deflated: float16 weights shrink by 8 % at most, and inflating them took
                # 0.2 s of the 0.3 s captioning waited for before it could start.
                archive.writestr(arrays_member(index), _arrays_file(stored), compress_type=zipfile.ZIP_STORED)
            if centroids is not None:
                archive.writestr(DOMAIN_MEMBER, _centroids_file(centroids))

    return replace_atomically(path, write_zip)


def _centroids_file(centroids: np.ndarray) -> bytes:
    """The training-feature centres as the domain.npz member (float16, no pickles)."""
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, centroids=np.asarray(centroids, np.float16))
    return buffer.getvalue()


def _write_members(target: PathLike, members: dict[str, bytes]) -> Path:
    """A model file of these members, atomically; arrays stored, not deflated (see save_bundle)."""
    def write_zip(temp):
        with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(name, data, compress_type=zipfile.ZIP_STORED if name.endswith(".npz") else None)

    return replace_atomically(target, write_zip)


def _check_sizes(path: Path, infos) -> None:
    """Refuse a member, or all of them together, larger than any model this app writes."""
    for info in infos:
        limit = MAX_MEMBER_BYTES.get(info.filename, MAX_MEMBER_BYTES["decoder"])
        if info.file_size > limit:
            raise BundleError(f"{path}: {info.filename} is too large ({info.file_size // MiB} MiB; at most {limit // MiB})")
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL_BYTES:
        raise BundleError(f"{path}: its contents are too large ({total // MiB} MiB; at most {MAX_TOTAL_BYTES // MiB})")


def _member_names(path: Path, names) -> tuple[list[str], list[str]]:
    """The Keras and array members of a model file, in decoder order; anything else is refused.

    A file holds decoders 0..N-1 without gaps, each as .keras, with .npz arrays beside all or none; a
    caption-only copy (`caption_only_copy`, in the packaged app) holds the arrays alone."""
    names = [name for name in names if name != DOMAIN_MEMBER]
    count = max(sum(decoder_member(i) in names or arrays_member(i) in names for i in range(MAX_DECODERS)), 1)
    keras_names = [decoder_member(i) for i in range(count)]
    array_names = [arrays_member(i) for i in range(count)]
    json_names = set(MEMBERS[:2])
    allowed = [json_names | set(keras_names), json_names | set(keras_names) | set(array_names), json_names | set(array_names)]
    if set(names) not in allowed or len(names) != len(set(names)):
        raise BundleError(f"{path}: unexpected contents {sorted(names)[:5]} (want {', '.join(MEMBERS)})")
    return [name for name in keras_names if name in names], [name for name in array_names if name in names]


def _read_members(path: Path, wanted) -> dict[str, bytes]:
    """The members a loader needs (`wanted` picks them from the Keras and array names), sizes checked
    for every member first."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            keras_names, array_names = _member_names(path, names)
            _check_sizes(path, infos)
            extra = [DOMAIN_MEMBER] if DOMAIN_MEMBER in names else []
            return {name: archive.read(name) for name in list(MEMBERS[:2]) + wanted(keras_names, array_names) + extra}
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


def _card_and_vocab(path: Path, members: dict[str, bytes]) -> tuple[dict, Vocabulary]:
    try:
        card = json.loads(members["card.json"])
        vocab = Vocabulary.from_json(members["vocab.json"].decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, VocabularyError) as error:
        raise BundleError(f"{path}: {error}") from None
    validate_card(path, card)
    return card, vocab


def load_bundle(path: PathLike) -> Bundle:
    """Load and check a model file for captioning (no TensorFlow unless the file predates the arrays);
    raises BundleError with a one-line reason."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: model file not found")
    members = _read_members(path, lambda keras_names, array_names: array_names or keras_names)
    card, vocab = _card_and_vocab(path, members)
    decoder_npz = [name for name in members if name.endswith(".npz") and name != DOMAIN_MEMBER]
    if decoder_npz:
        arrays = [_read_arrays(path, name, members[name]) for name in decoder_npz]
    else:
        arrays = [_arrays_of_old_file(path, members[name], card, vocab) for name in members if name.endswith(".keras")]
    for decoder_arrays in arrays:
        _check_arrays(path, decoder_arrays, card, vocab)
    centroids = _read_centroids(path, members[DOMAIN_MEMBER], card) if DOMAIN_MEMBER in members else None
    return Bundle(arrays, vocab, card, path, centroids)


def _read_centroids(path: Path, data: bytes, card: dict) -> np.ndarray:
    """The training photos' feature centres: one array of (centres, feature_dim) finite numbers."""
    arrays = _read_arrays(path, DOMAIN_MEMBER, data)
    centroids = arrays.get("centroids")
    if (centroids is None or len(arrays) != 1 or centroids.ndim != 2 or not 0 < len(centroids) <= MAX_CENTROIDS
            or centroids.shape[1] != card["feature_dim"] or not np.isfinite(centroids).all()):
        raise BundleError(f"{path}: {DOMAIN_MEMBER} is not a set of feature centres for this model")
    return centroids


def add_calibration(path: PathLike, calibration: dict, centroids: np.ndarray) -> Path:
    """Store a model's confidence calibration (card) and training-feature centres (domain.npz) in its
    file, keeping every other member as it is; atomic like every save."""
    path = Path(path)
    card = read_card(path)
    card["confidence"] = calibration
    validate_card(path, card)
    with zipfile.ZipFile(path) as source:
        kept = {name: source.read(name) for name in source.namelist() if name not in ("card.json", DOMAIN_MEMBER)}
    members = {"card.json": json.dumps(card, indent=2).encode("utf-8"), **kept, DOMAIN_MEMBER: _centroids_file(centroids)}
    return _write_members(path, members)


def load_keras_decoders(path: PathLike) -> list[keras.Model]:
    """The Keras decoders of a model file, for what needs them (combining, fine-tuning); imports Keras."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: model file not found")
    members = _read_members(path, lambda keras_names, array_names: keras_names)
    card, vocab = _card_and_vocab(path, members)
    if not any(name.endswith(".keras") for name in members):
        raise BundleError(f"{path}: a caption-only copy (no Keras decoders); use the full model file for this")
    return [_load_decoder(path, members[name], card, vocab) for name in members if name.endswith(".keras")]


# The most arrays one decoder has (the attention decoder has 20); more is not a file this app wrote.
MAX_ARRAYS = 64


def _read_arrays(path: Path, member: str, data: bytes) -> dict[str, np.ndarray]:
    """One decoder's arrays from its .npz bytes: no pickles, bounded sizes, real numbers only."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            infos = inner.infolist()
        if len(infos) > MAX_ARRAYS or sum(info.file_size for info in infos) > MAX_MEMBER_BYTES["decoder"]:
            raise BundleError(f"{path}: {member} is too large ({len(infos)} arrays)")
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except BundleError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as error:
        raise BundleError(f"{path}: {member} cannot be read ({type(error).__name__})") from None
    if not all(array.dtype.kind == "f" for array in arrays.values()):
        raise BundleError(f"{path}: {member} holds arrays that are not floating-point weights")
    return {name: array.astype(np.float32) for name, array in arrays.items()}


def _arrays_of_old_file(path: Path, data: bytes, card: dict, vocab: Vocabulary) -> dict[str, np.ndarray]:
    """A decoder's arrays from its Keras file alone (model files written before the arrays were stored)."""
    if not installed("keras"):
        raise BundleError(f"{path}: an older model file (no decoder arrays); it needs TensorFlow to load "
                          "(use the full app, or re-save it there with 'python -m ml ensemble')")

    return model_arrays(_load_decoder(path, data, card, vocab))


def _check_arrays(path: Path, arrays: DecoderArrays, card: dict, vocab: Vocabulary) -> None:
    """The arrays must be a decoder of this card's features and this vocabulary, and decode one step."""
    try:
        feature_dim = arrays["image_projection/kernel"].shape[0]
        vocab_size = arrays["word_logits/kernel"].shape[-1]
    except (KeyError, IndexError):
        raise BundleError(f"{path}: the decoder's layers are not the ones this app writes") from None
    if feature_dim != card["feature_dim"] or vocab_size != len(vocab):
        raise BundleError(f"{path}: decoder shapes do not match card.json and vocab.json")
    if "grid_projection/kernel" in arrays and card.get("features") != "grid":
        raise BundleError(f"{path}: an attention decoder needs grid features, but card.json says otherwise")
    _check_one_step(path, arrays, card)


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

    _check_one_step(path, model_arrays(decoder), card)
    return decoder


def _check_one_step(path: Path, arrays: DecoderArrays, card: dict) -> None:
    """Run one decoding step on zeros, as captioning will: weights named or shaped otherwise than this
    app's decoders are refused here, in one line, not mid-caption."""
    features = np.zeros((1, 4, card["feature_dim"]) if card.get("features") == "grid" else (1, card["feature_dim"]),
                        np.float32)
    try:
        step_decoder = StepDecoder(arrays)
        memory, state = step_decoder.start(features)
        step_decoder.step(memory, state, np.zeros(1, np.int64))
    except KeyError as missing:
        raise BundleError(f"{path}: the decoder's layers are not the ones this app writes (no {missing})") from None
    except (ValueError, IndexError, TypeError) as error:
        raise BundleError(f"{path}: the decoder's weights do not fit together ({type(error).__name__})") from None


def caption_only_copy(path: PathLike, target: PathLike) -> Path:
    """The model file without its Keras decoders (half the size): what a caption-only package needs."""
    load_bundle(path)  # only a sound file is copied
    with zipfile.ZipFile(path) as source:
        kept = {name: source.read(name) for name in source.namelist() if not name.endswith(".keras")}
    return _write_members(target, kept)


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
