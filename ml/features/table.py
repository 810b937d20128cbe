"""Training photos' features in one file on disk, read a batch of rows at a time: training memory does not
grow with the number of photos (COCO: 118k photos, 600 MB of pooled features, 12 GB of grids).

The table is a plain .npy (any numpy reads it) written row by row from the feature cache's shards, one
shard in memory at a time, and read with positioned reads (os.pread) of just the rows a batch needs, not
memory-mapped: a mapped file's pages count as the process's memory once touched, and an epoch touches
them all. The operating system's file cache still keeps a table that fits in memory fast to read.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Iterable, Iterator, Sequence, Union

import numpy as np
from numpy.typing import DTypeLike

from ml.core.atomic import replace_atomically
from ml.core.types import PathLike


class RowFile:
    """A 2-D or 3-D .npy file whose rows are read on demand."""

    def __init__(self, path: PathLike):
        self.path = Path(path)
        with open(self.path, "rb") as file:
            version = np.lib.format.read_magic(file)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(file)
            self.offset = file.tell()
        if fortran or not shape:
            raise ValueError(f"{self.path}: not a row-major table")
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self._descriptor = os.open(self.path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, indices: Union[Sequence[int], np.ndarray]) -> np.ndarray:
        """The rows at these indices, in this order (one read per row; a batch is a few dozen)."""
        out = np.empty((len(indices),) + self.shape[1:], self.dtype)
        view = out.reshape(len(indices), -1).view(np.uint8)
        for position, index in enumerate(np.asarray(indices, np.int64)):
            data = os.pread(self._descriptor, self.row_bytes, self.offset + int(index) * self.row_bytes)
            view[position] = np.frombuffer(data, np.uint8)
        return out

    def close(self) -> None:
        os.close(self._descriptor)

    def __del__(self):
        try:
            self.close()
        except OSError:
            pass


def write_rows(target: PathLike, shape: tuple, dtype: DTypeLike, rows: Iterable[tuple[int, np.ndarray]]) -> Path:
    """Write a .npy of `shape` from (row index, row) pairs in any order, atomically, holding one row at a time."""
    dtype = np.dtype(dtype)
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize

    def write(temp: Path) -> None:
        with open(temp, "wb") as file:
            np.lib.format.write_array_header_1_0(file, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                        "fortran_order": False, "shape": tuple(shape)})
            offset = file.tell()
            file.truncate(offset + shape[0] * row_bytes)
            for index, row in rows:
                file.seek(offset + index * row_bytes)
                file.write(np.ascontiguousarray(row, dtype).tobytes())

    return replace_atomically(target, write, ".npy")


class FeatureTable(Mapping):
    """Features by photo name, backed by a RowFile: `table[name]` reads one row, `table.rows(indices)` a batch.
    Names are kept beside the table (NAME.names.json)."""

    def __init__(self, path: PathLike):
        self.file = RowFile(path)
        self.names = json.loads(names_path(path).read_text(encoding="utf-8"))
        if len(self.names) != len(self.file):
            raise ValueError(f"{path}: {len(self.names)} names for {len(self.file)} rows")
        self.index = {name: row for row, name in enumerate(self.names)}

    def rows(self, indices: Union[Sequence[int], np.ndarray]) -> np.ndarray:
        return self.file.rows(indices)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.file.rows([self.index[name]])[0]

    def __contains__(self, name: object) -> bool:
        return name in self.index

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def row_shape(self) -> tuple:
        return self.file.shape[1:]


def names_path(path: PathLike) -> Path:
    return Path(path).with_suffix(".names.json")


def write_feature_table(target: PathLike, names: Sequence[str], rows: Iterable[tuple[int, np.ndarray]],
                        row_shape: tuple, dtype: DTypeLike) -> FeatureTable:
    """A FeatureTable of `names` (row i is names[i]) from (row index, features) pairs."""
    write_rows(target, (len(names),) + tuple(row_shape), dtype, rows)
    replace_atomically(names_path(target), lambda temp: Path(temp).write_text(json.dumps(list(names)), encoding="utf-8"))
    return FeatureTable(target)


class FeatureSources(Mapping):
    """Several feature mappings read as one: the dev and test photos' in memory, the training photos' in a
    FeatureTable on disk. `maps` lets training find the table (ml/training/loop.py)."""

    def __init__(self, *maps: Mapping):
        self.maps = maps

    def __getitem__(self, name: str) -> np.ndarray:
        for features in self.maps:
            if name in features:
                return features[name]
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(name in features for features in self.maps)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for features in self.maps for name in features))

    def __len__(self) -> int:
        return sum(1 for _ in self)
