"""Read a PyTorch ``.pt`` checkpoint into numpy arrays without importing torch.

Two layouts exist. The legacy one (torch < 1.6, e.g. Resemblyzer's
``pretrained.pt``) is a run of pickles: magic number, protocol, system info,
the object tree, the list of storage keys, then each storage as an int64
element count and its raw little-endian bytes. The zip one holds
``<root>/data.pkl`` and ``<root>/data/<key>``. A restricted unpickler maps the
few torch callables a state dict uses to numpy and refuses any other global,
so loading runs no foreign code.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile

import numpy as np

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _Storage:
    """A storage whose bytes are filled in after the object tree is read (legacy layout)."""

    def __init__(self, dtype: type) -> None:
        self.dtype = np.dtype(dtype).newbyteorder("<")
        self.array: np.ndarray | None = None


class _Tensor:
    """A tensor waiting for its storage (legacy layout): offset, size, stride in elements."""

    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def numpy(self) -> np.ndarray:
        flat = self.storage.array
        strides = tuple(s * flat.itemsize for s in self.stride)
        view = np.lib.stride_tricks.as_strided(flat[self.offset :], shape=self.size, strides=strides)
        return np.array(view, dtype=flat.dtype.newbyteorder("="))


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: io.BytesIO, storages: dict) -> None:
        super().__init__(data)
        self._storages = storages

    def find_class(self, module: str, name: str):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return lambda storage, offset, size, stride, *_: _Tensor(storage, offset, size, stride)
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid):
        dtype, key = pid[1], str(pid[2])
        if key not in self._storages:
            self._storages[key] = _Storage(dtype)
        return self._storages[key]


def _resolve(tree: object) -> object:
    """``tree`` with every pending tensor replaced by its numpy array."""
    if isinstance(tree, _Tensor):
        return tree.numpy()
    if isinstance(tree, dict):
        return type(tree)((k, _resolve(v)) for k, v in tree.items())
    if isinstance(tree, (list, tuple)):
        return type(tree)(_resolve(v) for v in tree)
    return tree


def _load_legacy(data: bytes) -> object:
    stream = io.BytesIO(data)
    storages: dict[str, _Storage] = {}
    for _ in range(3):  # magic number, protocol version, system info
        _Unpickler(stream, storages).load()
    tree = _Unpickler(stream, storages).load()
    for key in _Unpickler(stream, storages).load():
        storage = storages[str(key)]
        count = int(np.frombuffer(stream.read(8), dtype="<i8")[0])
        storage.array = np.frombuffer(stream.read(count * storage.dtype.itemsize), dtype=storage.dtype)
    return _resolve(tree)


def _load_zip(data: bytes) -> object:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        pkl = next(n for n in zf.namelist() if n.endswith("/data.pkl"))
        root = pkl[: -len("/data.pkl")]
        storages: dict[str, _Storage] = {}
        tree = _Unpickler(io.BytesIO(zf.read(pkl)), storages).load()
        for key, storage in storages.items():
            storage.array = np.frombuffer(zf.read(f"{root}/data/{key}"), dtype=storage.dtype)
    return _resolve(tree)


def load_checkpoint(data: bytes) -> object:
    """The object tree of a torch checkpoint (given as bytes), tensors as numpy arrays."""
    return _load_zip(data) if data[:2] == b"PK" else _load_legacy(data)
