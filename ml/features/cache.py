"""Encoder features for many photos: batched, cached on disk, resumable, with progress and cancel.

The cache holds one small .npz shard per finished batch, written to a temp file and renamed, so a
crash or kill loses at most the batch in flight and a rerun continues where it stopped. Entries are
keyed by the photo's content hash, so a moved or renamed data set still hits the cache.
"""
from __future__ import annotations

import errno
import functools
import hashlib
import json
import logging
import os
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Sequence

import numpy as np

from ml.core.atomic import remove_stale_temp_files, replace_atomically, set_aside
from ml.core.defaults import FEATURE_BATCH_SIZE, user_data_dir
from ml.core.progress import CancelFlag, Phase, ProgressCallback, ProgressMeter, check_cancel
from ml.core.types import PathLike
from ml.data.images import ImageError, load_pixels
from ml.encoders import litert
from ml.encoders.litert import grid_encoder, pooled
from ml.encoders.registry import compiled_forward, get_spec

if TYPE_CHECKING:
    import keras


def file_key(path: PathLike) -> str:
    """Content hash of a file: the cache key of its features (read in chunks: a 4 GiB "photo" was read whole
    into memory, issue 24 N14)."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha1").hexdigest()


# What a damaged shard raises when it is opened or read (a truncated zip, a bad header, a short array).
DAMAGED_SHARD_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile)


log = logging.getLogger(__name__)

# What writing to a folder one may not write to raises: a read-only file system, no permission.
READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)


class FeatureCache:
    """Features of one encoder, stored as shards of (keys, features) in a folder shared by every data set.

    Opening it reads only each shard's keys (its index); features are read from the shards that hold the
    photos asked for, so a small data set does not load a large one's features. A damaged shard is
    named, set aside and its photos are computed again."""

    def __init__(self, folder: PathLike):
        self.folder = Path(folder)
        self.writable = True
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            remove_stale_temp_files(self.folder)
        except OSError as error:
            self._read_only(error)
        self.shard_of: dict[str, Path] = {}
        for shard in sorted(self.folder.glob("shard-*.npz")):
            try:
                with np.load(shard, allow_pickle=False) as data:
                    self.shard_of.update(dict.fromkeys(data["keys"].tolist(), shard))
            except DAMAGED_SHARD_ERRORS as error:
                self._set_aside(shard, error)

    def _read_only(self, error: OSError) -> None:
        """A folder that cannot be written (read-only, another user's): features are computed and used without
        being stored, said once (issue 24 N17: `features` and `evaluate` failed). A full disk is an error."""
        if error.errno not in READ_ONLY_ERRNOS:
            raise error
        if self.writable:
            log.warning("%s: features cannot be stored here (%s); they are computed each time", self.folder,
                        error.strerror or type(error).__name__)
        self.writable = False

    def _set_aside(self, shard: Path, error: BaseException) -> None:
        try:
            set_aside(shard, error)
        except OSError as cannot_move:
            self._read_only(cannot_move)  # left where it is, and skipped

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached features of those keys that have them, reading only the shards that hold them."""
        return dict(self.stream(keys))

    def stream(self, keys: Sequence[str]) -> Iterator[tuple[str, np.ndarray]]:
        """(key, features) for those keys that have them, one shard in memory at a time (training tables)."""
        by_shard: dict[Path, list[str]] = {}
        for key in keys:
            if key in self.shard_of:
                by_shard.setdefault(self.shard_of[key], []).append(key)
        for shard, shard_keys in by_shard.items():
            try:
                with np.load(shard, allow_pickle=False) as data:
                    row_of = {key: row for row, key in enumerate(data["keys"].tolist())}
                    rows = data["features"][[row_of[key] for key in shard_keys]]
            except DAMAGED_SHARD_ERRORS as error:
                self._set_aside(shard, error)
                self.shard_of = {key: where for key, where in self.shard_of.items() if where != shard}
                continue
            yield from zip(shard_keys, rows)

    def add(self, keys: Sequence[str], features: np.ndarray) -> np.ndarray:
        """Store one batch durably (temp file, then rename); grids are kept as float16 to halve the disk."""
        features = np.asarray(features, dtype=np.float16 if np.ndim(features) == 3 else np.float32)
        name = f"shard-{time.time_ns()}-{os.getpid()}.npz"

        def write_shard(temp):
            with open(temp, "wb") as file:
                np.savez(file, keys=np.array(keys), features=features)

        if self.writable:
            try:
                shard = replace_atomically(self.folder / name, write_shard)
                self.shard_of.update(dict.fromkeys(keys, shard))
            except OSError as error:
                self._read_only(error)
        return features  # as stored, so fresh and cached features are alike


# Bump when load_pixels changes what an encoder is shown (resizing, colour): features cached before then miss.
PREPROCESSING_VERSION = 1


@functools.lru_cache(maxsize=8)
def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    """sha256 of an encoder file (once per file and process: 19 MB take about 40 ms)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def encoder_identity(encoder_name: str, encoder: Optional[keras.Model] = None,
                     weights_path: Optional[PathLike] = None) -> str:
    """What decides a photo's features besides the photo: the encoder, the backend that runs it, its weights
    (the LiteRT file's content) and the preprocessing, as a short name for the cache's folder. Features made
    any other way are never served for these (they were, keyed by the encoder's name alone)."""
    if encoder is not None:
        source = {"backend": "keras", "weights": str(weights_path or "package")}
    elif litert.litert_available():
        tflite = litert.encoder_file(encoder_name, weights_path)
        stat = tflite.stat()
        source = {"backend": "litert", "weights": _file_digest(tflite, stat.st_size, stat.st_mtime_ns)}
    else:
        source = {"backend": "tensorflow", "weights": str(weights_path or "package")}
    text = json.dumps({"encoder": encoder_name, "preprocessing": PREPROCESSING_VERSION, **source}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def default_cache_dir(encoder_name: str, grid: bool = False, flipped: bool = False,
                      encoder: Optional[keras.Model] = None, weights_path: Optional[PathLike] = None) -> Path:
    """user data/features/ENCODER[-grid][-flipped]/IDENTITY: one folder per way of computing the features."""
    kind = encoder_name + ("-grid" if grid else "") + ("-flipped" if flipped else "")
    return user_data_dir() / "features" / kind / encoder_identity(encoder_name, encoder, weights_path)


@dataclass
class FeatureResult:
    """Features by photo path; photos that could not be read, with their one-line error."""

    features: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)  # readable photo path -> its cache key
    cache: Optional[FeatureCache] = None


def _load_batch(paths, image_size, flipped):
    """Pixels of a batch of photos (mirrored left-right if `flipped`) and each one's error ("" if none)."""
    pixels, errors = [], []
    for path in paths:
        try:
            loaded = load_pixels(path, image_size)
            pixels.append(np.ascontiguousarray(loaded[:, ::-1]) if flipped else loaded)
            errors.append("")
        except ImageError as error:
            pixels.append(np.zeros((image_size, image_size, 3), np.float32))
            errors.append(str(error))
    return np.stack(pixels), errors


def _pixel_batches(paths, image_size, batch_size, flipped=False) -> Iterator[tuple[np.ndarray, list[str]]]:
    """(pixels, errors) per batch; the next batch is decoded on a thread while the encoder runs on this one
    (Pillow releases the GIL while it decodes and resizes)."""
    batches = [paths[start:start + batch_size] for start in range(0, len(paths), batch_size)]
    with ThreadPoolExecutor(max_workers=1) as loader:
        pending = [loader.submit(_load_batch, batch, image_size, flipped) for batch in batches[:1]]
        for index in range(len(batches)):
            if index + 1 < len(batches):
                pending.append(loader.submit(_load_batch, batches[index + 1], image_size, flipped))
            yield pending.pop(0).result()


def _feature_function(encoder_name: str, encoder: Optional[keras.Model], weights_path: Optional[PathLike],
                      grid: bool) -> Callable[[np.ndarray], np.ndarray]:
    """What turns a batch of pixels into the features stored: a Keras encoder given by the caller, else the
    encoder captioning uses (LiteRT where installed: 12 ms a photo against TensorFlow's 23 ms here, batch
    32), pooled unless grids are asked for, so training sees the features captioning will compute."""
    if encoder is not None:
        forward = compiled_forward(encoder)
        return lambda pixels: forward(pixels).numpy()
    grids = grid_encoder(encoder_name, weights_path)
    return grids if grid else (lambda pixels: pooled(grids(pixels)))


def extract_features(paths: Sequence[PathLike], encoder_name: str, cache_dir: Optional[PathLike] = None,
                     batch_size: int = FEATURE_BATCH_SIZE, on_progress: Optional[ProgressCallback] = None,
                     cancel: Optional[CancelFlag] = None, encoder: Optional[keras.Model] = None,
                     weights_path: Optional[PathLike] = None, grid: bool = False,
                     flipped: bool = False, load: bool = True) -> FeatureResult:
    """Features (pooled vectors, or spatial grids with grid=True) for every readable photo in `paths`,
    of the mirrored photos with flipped=True (training augmentation); unreadable ones are reported, not fatal.
    load=False: only make sure they are cached (result.keys, result.cache), not held in memory (training
    reads them from a FeatureTable, ml/features/table.py).

    Raises progress.Cancelled when `cancel` is set; batches finished before that stay cached.
    """
    spec = get_spec(encoder_name)
    cache = FeatureCache(cache_dir or default_cache_dir(encoder_name, grid, flipped, encoder, weights_path))
    keys = {}
    result = FeatureResult()
    for path in paths:
        try:
            keys[path] = file_key(path)
        except OSError as error:
            result.errors[path] = f"{path}: cannot read file ({error.strerror or error})"
    found = cache.get(sorted(set(keys.values()))) if load else {}
    todo = [p for p, k in keys.items() if k not in (found if load else cache.shard_of)]
    meter = ProgressMeter(Phase.FEATURES, len(keys), on_progress, already_done=len(keys) - len(todo))
    if todo:
        check_cancel(cancel)
        forward = _feature_function(encoder_name, encoder, weights_path, grid)
        start = 0
        for pixels, errors in _pixel_batches(todo, spec.image_size, batch_size, flipped):
            check_cancel(cancel)
            batch_paths = todo[start:start + len(errors)]
            start += len(errors)
            vectors = forward(pixels)
            good = [i for i, e in enumerate(errors) if not e]
            for i, e in enumerate(errors):
                if e:
                    result.errors[batch_paths[i]] = e
            if good:
                batch_keys = [keys[batch_paths[i]] for i in good]
                stored = cache.add(batch_keys, vectors[good])
                if load:
                    found.update(zip(batch_keys, stored))
            meter.advance(len(batch_paths))
    result.features = {path: found[key] for path, key in keys.items() if key in found}
    result.keys = {path: key for path, key in keys.items() if path not in result.errors}
    result.cache = cache
    return result
