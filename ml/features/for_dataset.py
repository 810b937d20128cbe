"""Features of a data set's photos by photo name: what training, evaluation and calibration read."""
from __future__ import annotations

import itertools
from typing import Optional, Sequence

from ml.core.errors import TrainingError
from ml.core.progress import CancelFlag, ProgressCallback
from ml.core.types import FeaturesByName, PathLike
from ml.data.captions import Dataset
from ml.features.cache import extract_features
from ml.features.table import FeatureTable, write_feature_table


def dataset_features(dataset: Dataset, encoder_name: str, names: Sequence[str],
                     on_progress: Optional[ProgressCallback] = None, cancel: Optional[CancelFlag] = None,
                     weights_path: Optional[PathLike] = None, grid: bool = False,
                     flipped: bool = False) -> tuple[FeaturesByName, list[str]]:
    """Features by photo name for the given photos, and the one-line errors of unreadable ones."""
    path_of = {name: dataset.image_path(name) for name in names}
    result = extract_features(list(path_of.values()), encoder_name, on_progress=on_progress, cancel=cancel,
                              weights_path=weights_path, grid=grid, flipped=flipped)
    features = {name: result.features[path] for name, path in path_of.items() if path in result.features}
    return features, list(result.errors.values())


def dataset_feature_table(dataset: Dataset, encoder_name: str, names: Sequence[str], target: PathLike,
                          on_progress: Optional[ProgressCallback] = None, cancel: Optional[CancelFlag] = None,
                          weights_path: Optional[PathLike] = None, grid: bool = False) -> tuple[FeatureTable, list[str]]:
    """The photos' features as a FeatureTable at `target` (written from the cache one shard at a time: memory
    does not grow with the photos), and the one-line errors of unreadable ones."""
    path_of = {name: dataset.image_path(name) for name in names}
    result = extract_features(list(path_of.values()), encoder_name, on_progress=on_progress, cancel=cancel,
                              weights_path=weights_path, grid=grid, load=False)
    readable = [name for name, path in path_of.items() if path in result.keys]
    if not readable:
        raise TrainingError(f"{dataset.root}: none of the {len(names)} training photos can be read")
    rows_of_key: dict[str, list[int]] = {}
    for row, name in enumerate(readable):
        rows_of_key.setdefault(result.keys[path_of[name]], []).append(row)
    cache = result.cache
    assert cache is not None  # extract_features always says which cache it used

    def stored_rows():
        done = set()
        for key, features in cache.stream(list(rows_of_key)):
            done.add(key)
            yield from ((row, features) for row in rows_of_key[key])
        left = [readable[rows[0]] for key, rows in rows_of_key.items() if key not in done]
        if left:  # a shard found damaged while reading: its photos are computed again
            again = extract_features([path_of[name] for name in left], encoder_name, weights_path=weights_path, grid=grid)
            for key, rows in rows_of_key.items():
                if key not in done:
                    features = again.features[path_of[readable[rows[0]]]]
                    yield from ((row, features) for row in rows)

    rows = stored_rows()
    first_row, first = next(rows)
    table = write_feature_table(target, readable, itertools.chain([(first_row, first)], rows), first.shape, first.dtype)
    return table, list(result.errors.values())
