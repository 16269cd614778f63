"""Checkpoints: ``tinygan.save(obj, path)`` and ``tinygan.load(path)`` as plain, pickle-free .npz files.

``obj`` is a nested structure of dicts (str or int keys), lists and tuples whose leaves are arrays (NumPy or
CuPy; CuPy arrays are copied to the host), Tensors (saved as their arrays), NumPy scalars, Python numbers,
bools, None and strings. Each array becomes one .npy entry of the zip archive, named by its path in the
structure ("G/0.weight", "opt_G/state/0/exp_avg"); one more entry, "manifest", holds a JSON description of the
structure, with the strings and numbers themselves:

    {"format": "tinygan-checkpoint", "version": 1,
     "root": {"type": "dict", "items": [["G", {"type": "dict", "items": [["0.weight",
              {"type": "array", "entry": "G/0.weight"}], ...]}], ["epoch", {"type": "int", "value": 3}]]}}

``load`` returns the same structure with NumPy arrays in place of arrays and Tensors. It never executes code:
arrays are read with ``allow_pickle=False`` and everything else comes from JSON, so a checkpoint from an
untrusted source can at worst fail to load. Any .npz reader can open the file.

Writing is atomic: the archive goes to a temporary file in the target folder, is flushed to disk, and then
replaces the target with ``os.replace``; a crash mid-save leaves the previous checkpoint intact.
"""
import json
import math
import os
import zipfile
import zlib

import numpy as np

from tinygan.core import Tensor, array_backend
from tinygan.fileio import write_atomically

FORMAT = "tinygan-checkpoint"
VERSION = 1
MANIFEST = "manifest"
NPY_MAGIC = b"\x93NUMPY"     # how a .npy file starts
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")   # a zip archive's first entry, or an empty archive


class CheckpointError(ValueError):
    """A checkpoint can't be written (unsupported object) or read (missing, truncated, foreign file).

    For a file that could not be read, ``path`` is the file and ``problem`` what is wrong with it, worded to
    follow the file's name ("is truncated or corrupt: ..."), so a command can print "<path> <problem>"."""

    def __init__(self, message, path=None, problem=None):
        super().__init__(message)
        self.path, self.problem = path, problem


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """``load`` was given a path where there is no file (or ``save`` one in a folder that does not exist)."""


# ==================================================================================================
# save
# ==================================================================================================
def save(obj, path):
    """Write ``obj`` (nested dicts/lists of arrays, Tensors, numbers, strings, None) to ``path`` atomically."""
    path = os.fspath(path)
    arrays = {}
    root = _encode(obj, [], arrays)  # fails on unsupported objects before anything touches the disk
    manifest = json.dumps({"format": FORMAT, "version": VERSION, "root": root})
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CheckpointNotFoundError(f"save: cannot write {path!r}: folder {folder!r} does not exist")

    def write(tmp):
        # what np.savez does, without its keyword arguments (an entry named "file" can't clash)
        with zipfile.ZipFile(tmp, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, array in [(MANIFEST, np.array(manifest))] + list(arrays.items()):
                with archive.open(name + ".npy", mode="w", force_zip64=True) as entry:
                    np.lib.format.write_array(entry, array, allow_pickle=False)

    write_atomically(path, write)


def _encode(obj, keys, arrays):
    """The manifest node of ``obj``; its arrays are added to ``arrays`` under their path names."""
    if obj is None:
        return {"type": "none"}
    if isinstance(obj, bool):  # before int: bool is an int subclass
        return {"type": "bool", "value": obj}
    if isinstance(obj, int):
        return {"type": "int", "value": obj}
    if isinstance(obj, float):
        return {"type": "float", "value": obj if math.isfinite(obj) else repr(obj)}
    if isinstance(obj, str):
        return {"type": "str", "value": obj}
    if isinstance(obj, Tensor):
        return _encode_array(obj.array, keys, arrays, "tensor")
    if isinstance(obj, np.generic):
        return _encode_array(np.asarray(obj), keys, arrays, "numpy_scalar")
    if isinstance(obj, np.ndarray) or array_backend.device_of(obj) == "gpu":  # a NumPy or CuPy array
        return _encode_array(obj, keys, arrays, "array")
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise CheckpointError(f"save: key {key!r} of type {type(key).__name__} at {_where(keys)} is not "
                                      f"supported; dict keys must be str or int")
            items.append([key, _encode(value, keys + [str(key)], arrays)])
        return {"type": "dict", "items": items}
    if isinstance(obj, (list, tuple)):
        items = [_encode(value, keys + [str(i)], arrays) for i, value in enumerate(obj)]
        return {"type": type(obj).__name__, "items": items}
    raise CheckpointError(f"save: object of type {type(obj).__name__} at {_where(keys)} is not supported; "
                          f"a checkpoint holds dicts, lists, tuples, arrays, Tensors, numbers, bools, None, strings")


def _encode_array(array, keys, arrays, kind):
    array = array_backend.asnumpy(array)
    if array.dtype.hasobject:
        raise CheckpointError(f"save: array at {_where(keys)} has dtype {array.dtype}, which can't be stored "
                              f"without pickle")
    name = "/".join(keys) or "root"
    if name == MANIFEST or name in arrays:  # a key with "/" in it can collide with a nested path
        n = 1
        while f"{name}#{n}" in arrays:
            n += 1
        name = f"{name}#{n}"
    arrays[name] = array
    return {"type": kind, "entry": name}


def _where(keys):
    return "key " + repr("/".join(keys)) if keys else "the top level"


# ==================================================================================================
# load
# ==================================================================================================
def load(path, map_location=None, weights_only=None, **_pickle_load_args):
    """Read a checkpoint written by ``save``: the same structure, NumPy arrays for arrays and Tensors.

    As torch.load: ``map_location`` ("cpu", "cuda", a device, a {saved: wanted} dict or a callable
    ``fn(array, "cpu")``) puts the arrays on that device (they are saved from, and read to, the CPU).
    ``weights_only`` True or False both read tinygan checkpoints: they hold arrays and a JSON manifest and are
    never unpickled, so there is no code to refuse.

    Anything else raises CheckpointError with one line that names the file and what is wrong with it (empty,
    truncated or corrupt, not an .npz archive, an archive tinygan did not write, Python objects inside)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointNotFoundError(f"load: checkpoint file {path!r} does not exist", path, "does not exist")
    if os.path.isdir(path):
        raise _unreadable(path, "is a folder, not a checkpoint file")
    entries = _read_archive(path)
    try:
        manifest = json.loads(str(entries.pop(MANIFEST)[()]))
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}, expected {FORMAT!r}")
        if manifest.get("version") != VERSION:
            raise ValueError(f"version {manifest.get('version')!r}, this tinygan reads version {VERSION}")
        root = _decode(manifest["root"], entries)
    except Exception as exc:
        raise _unreadable(path, f"has a bad manifest: {type(exc).__name__}: {' '.join(str(exc).split())}") from exc
    return root if map_location is None else _mapped(root, map_location)


def _mapped(obj, map_location):
    """``obj`` with every array moved as torch.load's ``map_location`` says (saved tensors are on the CPU)."""
    if isinstance(obj, dict):
        return type(obj)((key, _mapped(value, map_location)) for key, value in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_mapped(value, map_location) for value in obj)
    if not isinstance(obj, (Tensor, np.ndarray)):
        return obj
    if callable(map_location):
        return map_location(obj, "cpu")
    if isinstance(map_location, dict):
        map_location = map_location.get("cpu", "cpu")
    device = array_backend.check_device(array_backend.device(str(map_location)).type)
    return obj.to(device) if isinstance(obj, Tensor) else array_backend.to_device(obj, device)


def _unreadable(path, problem):
    return CheckpointError(f"load: {path!r} {problem}", path=path, problem=problem)


def _read_archive(path):
    """Every .npy entry of the .npz at ``path`` by name (without ".npy"), the manifest among them.

    Reads the archive itself rather than through ``np.load``, whose errors for a file that is not an archive
    suggest unpickling it: a file that is not a zip archive, lacks the manifest, or holds Python objects is
    "not a tinygan checkpoint"; one that starts as an archive but cannot be read is "truncated or corrupt"."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(NPY_MAGIC))
    except OSError as exc:
        raise _unreadable(path, f"cannot be read: {exc.strerror or exc}") from None
    if not head:
        raise _unreadable(path, "is empty (0 bytes), not a tinygan checkpoint")
    if head.startswith(NPY_MAGIC):
        raise _unreadable(path, "holds a single .npy array, not a tinygan checkpoint (.npz)")
    if not head.startswith(ZIP_MAGIC) and not any(magic.startswith(head) for magic in ZIP_MAGIC):  # "PK": cut short
        raise _unreadable(path, "is not a tinygan checkpoint: it is not an .npz (zip) archive")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError):
        raise _unreadable(path, "is truncated or corrupt: it starts as an .npz (zip) archive, but its table of "
                                "contents is missing or damaged") from None
    with archive:
        names = [name[:-len(".npy")] for name in archive.namelist() if name.endswith(".npy")]
        if MANIFEST not in names:
            raise _unreadable(path, f"is not a tinygan checkpoint: an .npz archive without a {MANIFEST!r} entry, "
                                    f"so tinygan.save did not write it (its entries: {sorted(names)[:5]})")
        entries = {}
        for name in names:
            try:
                with archive.open(name + ".npy") as entry:
                    entries[name] = read_npy(entry)
            except NpyError as exc:
                what = "is not a tinygan checkpoint" if exc.kind == "objects" else "is truncated or corrupt"
                raise _unreadable(path, f"{what}: its entry {name!r} {exc}") from None
    return entries


class NpyError(ValueError):
    """``read_npy`` could not read an array. The message completes "it ...": ``kind`` is "not npy" (the data
    does not start as a .npy file), "objects" (Python objects, which only pickle reads) or "corrupt"."""

    def __init__(self, problem, kind):
        super().__init__(problem)
        self.kind = kind


_READ_ERRORS = (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error)


def read_npy(f):
    """The array of the .npy data in the open binary file ``f``, never unpickling anything.

    NpyError otherwise, never NumPy's message for object arrays, which advises loading the file unsafely."""
    try:
        version = np.lib.format.read_magic(f)
    except _READ_ERRORS:
        raise NpyError("does not start with NumPy's .npy header", "not npy") from None
    try:
        header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        _, _, dtype = header(f)
    except (*_READ_ERRORS, UnicodeDecodeError, SyntaxError):
        raise NpyError("has a truncated or damaged .npy header", "corrupt") from None
    if dtype.hasobject:
        raise NpyError("holds Python objects (dtype object), which only pickle can read; tinygan never unpickles",
                       "objects")
    try:
        f.seek(0)
        return np.lib.format.read_array(f, allow_pickle=False)
    except _READ_ERRORS as exc:
        reason = " ".join(str(exc).split())
        detail = "" if not reason or "pickle" in reason else f" ({reason})"
        raise NpyError(f"is cut short or damaged{detail}", "corrupt") from None


def _decode(node, entries):
    kind = node["type"]
    if kind == "none":
        return None
    if kind in ("bool", "int", "str"):
        value = node["value"]
        if type(value) is not {"bool": bool, "int": int, "str": str}[kind]:
            raise ValueError(f"a {kind} node holds {value!r}")
        return value
    if kind == "float":
        return float(node["value"])  # also parses "nan", "inf", "-inf"
    if kind in ("array", "tensor", "numpy_scalar"):
        array = entries[node["entry"]]
        return array[()] if kind == "numpy_scalar" else array
    if kind == "dict":
        return {key: _decode(value, entries) for key, value in node["items"]}
    if kind == "list":
        return [_decode(value, entries) for value in node["items"]]
    if kind == "tuple":
        return tuple(_decode(value, entries) for value in node["items"])
    raise ValueError(f"unknown node type {kind!r}")
