"""Reading a model file: the security boundary. Anything a user hands the app is checked here before it is
used: only the known member names, sizes bounded before anything is inflated, a card and vocabulary that
pass their JSON Schemas, decoder arrays read with `allow_pickle=False` (floating-point only, shapes checked
against the card and vocabulary) that run one decoding step, and Keras files loaded with `safe_mode`.
Nothing in a model file is ever unpickled or run; every refusal is one BundleError line naming the file.
Files written before the arrays existed still load, through Keras (that needs TensorFlow)."""
from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ml.core.defaults import installed
from ml.core.errors import BundleError
from ml.core.types import PathLike
from ml.data.vocab import Vocabulary, VocabularyError
from ml.decoders.numpy_step import DecoderArrays, StepDecoder, member_features, model_arrays
from ml.model_file.card import MAX_DECODERS, validate_card
from ml.model_file.layout import (
    DOMAIN_MEMBER,
    MAX_ARRAYS,
    MAX_CENTROIDS,
    MAX_MEMBER_BYTES,
    MAX_TOTAL_BYTES,
    MEMBERS,
    Bundle,
    MiB,
    arrays_member,
    decoder_member,
)

if TYPE_CHECKING:
    import keras


class NotFinite(ValueError):
    """JSON's NaN and Infinity, which Python's reader accepts and JSON does not allow."""


def _refuse_constant(name: str) -> float:
    raise NotFinite(name)


def _card_json(path: Path, data: bytes) -> dict:
    """card.json parsed, refusing NaN and Infinity (a card holding them once gave "confidence": NaN)."""
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except NotFinite as constant:
        raise BundleError(f"{path}: card.json holds {constant}, which is not a number JSON allows") from None


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
            data = archive.read(info)
        card = _card_json(path, data)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise BundleError(f"{path}: not a model file (no readable card.json)") from None
    validate_card(path, card)
    return card


def _card_and_vocab(path: Path, members: dict[str, bytes]) -> tuple[dict, Vocabulary]:
    try:
        card = _card_json(path, members["card.json"])
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


def _check_array_headers(path: Path, member: str, data: bytes, infos) -> None:
    """Each array's header must claim exactly the bytes that follow it: one claiming 2^40 values made numpy try
    to allocate terabytes before reading a byte (issue 24 N7)."""
    with zipfile.ZipFile(io.BytesIO(data)) as inner:
        for info in infos:
            with inner.open(info) as stored:
                version = np.lib.format.read_magic(stored)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read_header(stored, max_header_size=10_000)
                claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if not dtype.hasobject and claimed != info.file_size - stored.tell():  # pickles: np.load refuses them
                    raise BundleError(f"{path}: {member} holds an array whose header does not match its data "
                                      f"({info.filename}: shape {tuple(shape)})")


def _read_arrays(path: Path, member: str, data: bytes) -> dict[str, np.ndarray]:
    """One decoder's arrays from its .npz bytes: no pickles, bounded sizes, real numbers only."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            infos = inner.infolist()
        if len(infos) > MAX_ARRAYS or sum(info.file_size for info in infos) > MAX_MEMBER_BYTES["decoder"]:
            raise BundleError(f"{path}: {member} is too large ({len(infos)} arrays)")
        _check_array_headers(path, member, data, infos)
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except BundleError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as error:
        raise BundleError(f"{path}: {member} cannot be read ({type(error).__name__})") from None
    if not all(array.dtype.kind == "f" for array in arrays.values()):
        raise BundleError(f"{path}: {member} holds arrays that are not floating-point weights")
    if not all(np.isfinite(array).all() for array in arrays.values()):  # NaN weights gave empty captions
        raise BundleError(f"{path}: {member} holds weights that are not finite (NaN or infinity)")
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
        embedded_words = arrays["embedding/embeddings"].shape[0]
    except (KeyError, IndexError):
        raise BundleError(f"{path}: the decoder's layers are not the ones this app writes") from None
    if feature_dim != card["feature_dim"] or vocab_size != len(vocab):
        raise BundleError(f"{path}: decoder shapes do not match card.json and vocab.json")
    if embedded_words != len(vocab):  # the dry step reads one word's row; a caption reads the others
        raise BundleError(f"{path}: the decoder's embedding has {embedded_words} words, vocab.json {len(vocab)}")
    if "grid_projection/kernel" in arrays and card.get("features") != "grid":
        raise BundleError(f"{path}: an attention decoder needs grid features, but card.json says otherwise")
    scale, keys = arrays.get("attention/scale"), arrays.get("attention_keys/kernel")
    if scale is not None and keys is not None and scale.shape != keys.shape[-1:]:  # (4, 1) broadcast over 4 regions only
        raise BundleError(f"{path}: the decoder's weights do not fit together (attention scale {scale.shape})")
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
    # Two photos of seven regions: shapes that only broadcast for one photo or four regions fail here too.
    features = np.zeros((2, 7, card["feature_dim"]) if card.get("features") == "grid" else (2, card["feature_dim"]),
                        np.float32)
    try:
        step_decoder = StepDecoder(arrays)
        memory, state = step_decoder.start(member_features(step_decoder, features))  # as an ensemble feeds it
        step_decoder.step(memory, state, np.zeros(2, np.int64))
    except KeyError as missing:
        raise BundleError(f"{path}: the decoder's layers are not the ones this app writes (no {missing})") from None
    except (ValueError, IndexError, TypeError) as error:
        raise BundleError(f"{path}: the decoder's weights do not fit together ({type(error).__name__})") from None
