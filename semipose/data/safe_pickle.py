"""Reading the pickled parts of VideoPose3D's ``.npz`` files and MMPose's ``cameras.pkl`` without
running code from them.

Those files store nested dicts of arrays, which numpy and MMPose write with pickle, and a pickle can
run any code when it is loaded. These readers unpickle with an allow-list: plain containers (dict,
list, tuple, set), strings, numbers and numpy arrays, dtypes and scalars. Anything else (a class, a
function such as ``os.system``) is refused with a DataError naming the file and the object, so a
crafted file fails instead of running. Arrays without objects are read by numpy with pickle off.
"""
from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError

# (module, name) pairs a data pickle may name: numpy's array reconstruction and plain containers
_ALLOWED = {
    ("builtins", "dict"), ("builtins", "list"), ("builtins", "tuple"), ("builtins", "set"),
    ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "complex"), ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # how protocol-2 pickles store bytes
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}
_NUMPY_DTYPES = ("numpy.dtypes", "numpy")  # numpy >= 1.25 pickles dtypes as numpy.dtypes.Float32DType etc.


class _DataUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, where: str):
        super().__init__(file)
        self.where = where

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED or (module in _NUMPY_DTYPES and name.endswith("DType")):
            return super().find_class(module, name)
        raise DataError(f"{self.where}: holds a pickled {module}.{name}; semipose loads only arrays, numbers, "
                        f"strings and plain containers from pickles (a file that names code is refused)")


def safe_loads(data: bytes, where: str) -> Any:
    """Unpickle ``data`` with the allow-list; ``where`` names the source in errors."""
    try:
        return _DataUnpickler(io.BytesIO(data), where).load()
    except DataError:
        raise
    except Exception as e:  # truncated or malformed pickle
        raise DataError(f"{where}: a damaged pickle ({type(e).__name__}: {str(e)[:120]})") from None


def safe_load_pickle(path: str | Path) -> Any:
    """A ``.pkl`` file's contents through the allow-list (e.g. Human3.6M ``cameras.pkl``)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    return safe_loads(path.read_bytes(), str(path))


def _read_npy(raw: bytes, where: str) -> np.ndarray:
    f = io.BytesIO(raw)
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise DataError(f"{where}: unsupported .npy version {version}")
    if not dtype.hasobject:
        f.seek(0)
        return np.load(f, allow_pickle=False)
    value = safe_loads(f.read(), where)
    out = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if out.shape != tuple(shape):
        raise DataError(f"{where}: the pickled array has shape {out.shape}, its header says {tuple(shape)}")
    return out


def safe_load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, object arrays (nested dicts) unpickled with the allow-list."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                key = name[:-4] if name.endswith(".npy") else name
                out[key] = _read_npy(z.read(name), f"{path}: array '{key}'")
    except DataError:
        raise
    except Exception as e:  # not a zip, truncated, bad header
        raise DataError(f"{path}: not a readable .npz file ({type(e).__name__}: {str(e)[:120]})") from None
    return out
