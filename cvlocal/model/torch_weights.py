"""Read PyTorch checkpoints (state dicts) into numpy arrays without importing torch.

Both on-disk formats are supported:
- legacy (torch < 1.6): five pickles back to back (magic number, protocol version, sys info, the object with
  persistent ids for its storages, the list of storage keys), then each storage's raw bytes;
- zip (torch >= 1.6): ``<archive>/data.pkl`` plus one ``<archive>/data/<key>`` file per storage.

A checkpoint is a pickle, and unpickling runs arbitrary code. The unpickler here resolves only the handful
of globals a plain state dict needs, each mapped to a function of our own, and refuses everything else.
"""
from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16",  # numpy has none: widened to float32 below
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class CheckpointError(ValueError):
    """The file is not a checkpoint we can read safely."""


@dataclass(frozen=True)
class _StorageType:
    name: str


@dataclass
class _Storage:
    key: str
    dtype: object
    numel: int
    data: np.ndarray | None = None  # 1-D, filled once the raw bytes are read


@dataclass(frozen=True)
class _StorageRef:
    """What a persistent id stands for: a storage, or (legacy views) a storage from ``offset`` on."""

    storage: _Storage
    offset: int = 0


@dataclass
class _PendingTensor:
    """A tensor whose storage bytes may come later in the file (legacy format)."""

    ref: _StorageRef
    offset: int
    shape: tuple
    stride: tuple

    def materialise(self) -> np.ndarray:
        base = self.ref.storage.data
        if base is None:
            raise CheckpointError(f"storage {self.ref.storage.key} has no data")
        start = self.ref.offset + self.offset
        if not self.shape:
            return np.array(base[start])
        item = base.itemsize
        # Stride-aware view, bounds-checked first: the layout is not always row-major (this model's conv
        # weights are stored in TensorFlow's HWIO order with permuted strides).
        last = start + sum((n - 1) * s for n, s in zip(self.shape, self.stride) if n > 0)
        if start < 0 or last >= base.size or min(self.stride) < 0:
            raise CheckpointError(f"tensor in storage {self.ref.storage.key} reaches outside it")
        view = np.lib.stride_tricks.as_strided(
            base[start:], shape=self.shape, strides=tuple(s * item for s in self.stride), writeable=False
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if not isinstance(storage, _StorageRef):
        raise CheckpointError("tensor without a storage")
    return _PendingTensor(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *args):
    return data


def _ordered_dict(*args):
    return collections.OrderedDict(*args)


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, storages: dict[str, _Storage], legacy: bool):
        super().__init__(file)
        self._storages = storages
        self._legacy = legacy

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise CheckpointError(
                f"refusing to load global {module}.{name}: only plain tensor state dicts are accepted"
            ) from None

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise CheckpointError(f"unsupported persistent id {pid!r:.80}")
        if self._legacy:  # ('storage', type, root_key, location, numel, view_metadata)
            _, stype, key, _location, numel, view = pid
        else:  # ('storage', type, key, location, numel)
            _, stype, key, _location, numel = pid
            view = None
        if not isinstance(stype, _StorageType):
            raise CheckpointError(f"unsupported storage type {stype!r:.80}")
        key = str(key)
        root = self._storages.get(key)
        if root is None:
            root = self._storages[key] = _Storage(key, _STORAGE_DTYPES[stype.name], int(numel))
        if view is None:
            return _StorageRef(root)
        _view_key, offset, _view_size = view
        return _StorageRef(root, int(offset))


def _as_array(raw: bytes | memoryview, dtype, numel: int, key: str) -> np.ndarray:
    if dtype == "bfloat16":
        bits = np.frombuffer(raw, dtype="<u2", count=numel).astype(np.uint32) << 16
        return bits.view(np.float32)
    dt = np.dtype(dtype).newbyteorder("<")
    if len(raw) < numel * dt.itemsize:
        raise CheckpointError(f"storage {key} is truncated")
    return np.frombuffer(raw, dtype=dt, count=numel).astype(dtype, copy=False)


def _resolve(obj):
    """Replace pending tensors by arrays, through dicts, lists and tuples."""
    if isinstance(obj, _PendingTensor):
        return obj.materialise()
    if isinstance(obj, dict):
        return type(obj)((k, _resolve(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(v) for v in obj)
    return obj


def _load_legacy(f: io.BufferedIOBase) -> object:
    storages: dict[str, _Storage] = {}

    def unpickle():
        return _RestrictedUnpickler(f, storages, legacy=True).load()

    if unpickle() != _LEGACY_MAGIC:
        raise CheckpointError("not a torch checkpoint (bad magic number)")
    if unpickle() != _LEGACY_PROTOCOL:
        raise CheckpointError("unsupported legacy torch protocol version")
    sys_info = unpickle()
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise CheckpointError("only little-endian legacy checkpoints are supported")
    result = unpickle()
    keys = unpickle()
    for key in keys:
        storage = storages[str(key)]
        itemsize = 2 if storage.dtype == "bfloat16" else np.dtype(storage.dtype).itemsize
        (numel,) = struct.unpack("<q", f.read(8))
        if numel != storage.numel:
            raise CheckpointError(f"storage {key}: {numel} elements on disk, {storage.numel} expected")
        storage.data = _as_array(f.read(numel * itemsize), storage.dtype, numel, str(key))
    return result


def _load_zip(path: Path) -> object:
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pkl is None:
            raise CheckpointError("zip checkpoint without data.pkl")
        prefix = pkl[: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        result = _RestrictedUnpickler(io.BytesIO(zf.read(pkl)), storages, legacy=False).load()
        for key, storage in storages.items():
            storage.data = _as_array(zf.read(f"{prefix}data/{key}"), storage.dtype, storage.numel, key)
    return result


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The checkpoint's ``name -> array`` mapping (a top-level ``state_dict`` entry is unwrapped).

    Raises ``CheckpointError`` (a ``ValueError``) for files that are not plain tensor state dicts.
    """
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            obj = _load_zip(path)
        else:
            with open(path, "rb") as f:
                obj = _load_legacy(f)
    except CheckpointError:
        raise
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError, struct.error) as exc:
        raise CheckpointError(f"cannot read torch checkpoint {path.name}: {exc}") from exc
    obj = _resolve(obj)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path.name} does not hold a state dict")
    return {str(k): v for k, v in obj.items() if isinstance(v, np.ndarray)}
