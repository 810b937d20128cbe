"""Writing model files, always atomically (a temp file, then a rename): a trained model, a calibration added
to one, and the caption-only copy the packaged app ships (arrays without the Keras decoders)."""
from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

import numpy as np

from ml.core.atomic import replace_atomically
from ml.core.types import PathLike
from ml.data.vocab import Vocabulary
from ml.model_file.card import stored_card, validate_card
from ml.model_file.layout import DOMAIN_MEMBER, arrays_member, decoder_member
from ml.model_file.reader import load_bundle, read_card

if TYPE_CHECKING:
    import keras


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
            archive.writestr("card.json", json.dumps(card, indent=2, allow_nan=False))
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


def add_calibration(path: PathLike, calibration: dict, centroids: np.ndarray) -> Path:
    """Store a model's confidence calibration (card) and training-feature centres (domain.npz) in its
    file, keeping every other member as it is; atomic like every save."""
    path = Path(path)
    card = read_card(path)
    card["confidence"] = calibration
    validate_card(path, card)
    with zipfile.ZipFile(path) as source:
        kept = {name: source.read(name) for name in source.namelist() if name not in ("card.json", DOMAIN_MEMBER)}
    members = {"card.json": json.dumps(card, indent=2, allow_nan=False).encode("utf-8"), **kept, DOMAIN_MEMBER: _centroids_file(centroids)}
    return _write_members(path, members)


def caption_only_copy(path: PathLike, target: PathLike) -> Path:
    """The model file without its Keras decoders (half the size): what a caption-only package needs."""
    load_bundle(path)  # only a sound file is copied
    with zipfile.ZipFile(path) as source:
        kept = {name: source.read(name) for name in source.namelist() if not name.endswith(".keras")}
    return _write_members(target, kept)
