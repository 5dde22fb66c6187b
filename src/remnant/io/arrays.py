"""A tree of dataclasses and arrays as one file: how Remnant keeps its working state.

``write_arrays(obj, path)`` stores every NumPy array of ``obj`` — a dataclass, tuple,
list or dict of them, nested to any depth — and the tree around them (classes,
scalars, strings) as a JSON manifest. ``read_arrays(path)`` rebuilds it. No pickle is
involved, and only dataclasses of Remnant's own modules are rebuilt, so a state file
cannot run code.

The layout is made for state of gigabytes that an incremental update reads and writes
each time (docs/model.md §8): the magic ``RMNTARR1``, the manifest's length (8 bytes,
little-endian) and the manifest, then each array's bytes as they lie in memory, each
at an offset that is a multiple of :data:`ALIGN`. Writing is one copy of the bytes to
the file, with no checksum or compression; reading maps the file into memory
(copy-on-write: the arrays may be changed, the file never is) and reads a page of it
only when it is used. A file shorter than its manifest says is refused. (NumPy's
``.npz``, a ZIP of ``.npy`` members, checks a CRC over every member on both ways and
copies each into memory on reading: 9 s of an update's 58 at country scale.)

Arrays of Python objects are stored only when they hold strings (as fixed-width
unicode, turned back into object arrays on reading). Large integer arrays are stored
compactly and rebuilt in memory on reading (:func:`_compact`): a non-decreasing one,
such as the evidence points of pairs listed in evidence order, as its runs (a
country's 25 M pairs on a million points: 16 MB instead of 203 MB), and one whose
values fit in 32 bits as 32-bit integers. An array that the tree holds in two
places (the same object) is stored once and read back as one array. The file is
written atomically.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import mmap
from pathlib import Path
from typing import Any

import numpy as np

from remnant.errors import FormatError
from remnant.io.files import atomic_path

FORMAT = 3
"""Version of the layout and manifest; a file of another version is refused."""

COMPACT_MIN = 1 << 16
"""Integer arrays of at least this many values are stored compactly (:func:`_compact`);
smaller ones are not worth the copy on reading. [values]"""

MAGIC = b"RMNTARR1"
"""First bytes of a state file."""

ALIGN = 64
"""Every array starts at a multiple of this many bytes from the file's start (a cache
line, and more than any dtype's alignment)."""

_OWN = "remnant."


def write_arrays(obj: object, path: str | Path) -> Path:
    """Write ``obj`` (a tree of dataclasses, sequences, dicts, scalars, arrays) to ``path``."""
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, arrays, {})
    members: dict[str, dict[str, Any]] = {}
    offsets, at = [], 0
    for key, a in arrays.items():
        members[key] = {"dtype": a.dtype.str, "shape": list(a.shape), "at": at}
        offsets.append(at)
        at += _aligned(a.nbytes)
    manifest = json.dumps({"format": FORMAT, "tree": tree, "arrays": members}).encode()
    start = _aligned(len(MAGIC) + 8 + len(manifest))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        fh.write(MAGIC + len(manifest).to_bytes(8, "little") + manifest)
        for a, offset in zip(arrays.values(), offsets, strict=True):
            fh.seek(start + offset)
            if a.nbytes:
                fh.write(np.ascontiguousarray(a).reshape(-1).view(np.uint8).data)
        fh.truncate(start + at)
    return target


def read_arrays(path: str | Path) -> Any:
    """The tree written by :func:`write_arrays` at ``path``.

    Raises
    ------
    FormatError
        The file is not a state file of this format, is shorter than its manifest
        says, misses a member or names a class that is not a dataclass of Remnant.
    OSError
        The file cannot be read.
    """
    with open(path, "rb") as fh:
        head = fh.read(len(MAGIC) + 8)
        if len(head) < len(MAGIC) + 8 or head[: len(MAGIC)] != MAGIC:
            raise FormatError(f"{path}: not a Remnant state file")
        size = int.from_bytes(head[len(MAGIC) :], "little")
        raw = fh.read(size)
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{path}: the manifest is damaged ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise FormatError(f"{path}: state format {found}, not {FORMAT}")
    start = _aligned(len(MAGIC) + 8 + size)
    data = _Members(Path(path), start, manifest.get("arrays", {}))
    return _decode(manifest["tree"], data, str(path))


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


class _Members:
    """The arrays of a state file, mapped from it one by one as the tree asks."""

    def __init__(self, path: Path, start: int, members: dict[str, Any]) -> None:
        for key, m in members.items():
            if np.dtype(m["dtype"]).hasobject:  # never pointers read from a file
                raise FormatError(f"{path}: member {key} holds Python objects")
        end = start + max((m["at"] + _nbytes(m) for m in members.values()), default=0)
        if path.stat().st_size < end:
            raise FormatError(f"{path}: {path.stat().st_size} bytes, its manifest says {end}")
        self.start, self.members = start, members
        self.decoded: dict[str, np.ndarray] = {}
        self.file = None
        if end > start:
            with open(path, "rb") as fh:  # the map outlives the descriptor
                self.file = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)

    def __getitem__(self, key: str) -> np.ndarray:
        m = self.members[key]
        dtype, shape = np.dtype(m["dtype"]), tuple(m["shape"])
        if _nbytes(m) == 0 or self.file is None:
            return np.empty(shape, dtype=dtype)
        return np.ndarray(shape, dtype=dtype, buffer=self.file, offset=self.start + m["at"])


def _nbytes(member: dict[str, Any]) -> int:
    return int(np.dtype(member["dtype"]).itemsize * np.prod(member["shape"], dtype=np.int64))


def _compact(a: np.ndarray, arrays: dict[str, np.ndarray]) -> dict[str, Any] | None:
    """A large 1-D integer array as runs or as 32-bit integers; None when neither pays.

    Runs when it never decreases and has at most a quarter as many runs as values:
    each run's value and length. 32 bits when its values fit (and its runs' do).
    """
    if a.ndim != 1 or a.size < COMPACT_MIN or a.dtype.kind not in "iu" or a.itemsize <= 4:
        return None
    node: dict[str, Any] = {"dtype": a.dtype.str, "length": int(a.size)}
    if bool(np.all(a[1:] >= a[:-1])):
        starts = np.flatnonzero(np.concatenate([[True], a[1:] != a[:-1]]))
        if 4 * starts.size <= a.size:
            lengths = np.diff(np.append(starts, a.size))
            node["$runs"] = [_narrow(a[starts], arrays), _narrow(lengths, arrays)]
            return node
    if not _fits_32_bits(a):
        return None
    node["$narrow"] = _store(a.astype(np.int32), arrays)
    return node


def _fits_32_bits(a: np.ndarray) -> bool:
    info = np.iinfo(np.int32)
    return a.size == 0 or bool(a.min() >= info.min and a.max() <= info.max)


def _narrow(a: np.ndarray, arrays: dict[str, np.ndarray]) -> str:
    """Store ``a`` as 32-bit integers where its values fit, else as it is; its key."""
    return _store(a.astype(np.int32) if _fits_32_bits(a) else a, arrays)


def _store(a: np.ndarray, arrays: dict[str, np.ndarray]) -> str:
    """Add ``a`` to the members; its key."""
    key = f"a{len(arrays)}"
    arrays[key] = a
    return key


def _encode(obj: object, arrays: dict[str, np.ndarray], seen: dict[int, object]) -> object:
    """The manifest's node of ``obj``; its arrays added to ``arrays``.

    ``seen`` maps each array met so far (by identity; the tree holds them all) to its
    node, so an array the tree holds twice is stored once.
    """
    if isinstance(obj, np.ndarray):
        if id(obj) not in seen:
            seen[id(obj)] = _array_node(obj, arrays)
        return seen[id(obj)]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        fields = {
            f.name: _encode(getattr(obj, f.name), arrays, seen) for f in dataclasses.fields(obj)
        }
        return {"$class": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    if isinstance(obj, tuple | list):
        return {"$" + type(obj).__name__: [_encode(v, arrays, seen) for v in obj]}
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError("only dicts with string keys can be stored")
        return {"$dict": {k: _encode(v, arrays, seen) for k, v in obj.items()}}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a state file")


def _array_node(a: np.ndarray, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Store ``a``, compactly where that pays (:func:`_compact`); its node."""
    compact = _compact(a, arrays)
    if compact is not None:
        return compact
    strings = a.dtype == object
    return {"$array": _store(a.astype(np.str_) if strings else a, arrays), "strings": strings}


def _decode(node: Any, data: Any, path: str) -> Any:
    if not isinstance(node, dict):
        return node
    if "$array" in node or "$runs" in node or "$narrow" in node:
        key = json.dumps(node, sort_keys=True)
        if key not in data.decoded:  # an array the tree held twice is one array again
            data.decoded[key] = _decode_array(node, data, path)
        return data.decoded[key]
    if "$class" in node:
        obj: Any = object.__new__(_own_dataclass(node["$class"], path))
        for name, value in node["fields"].items():
            object.__setattr__(obj, name, _decode(value, data, path))
        return obj
    if "$tuple" in node:
        return tuple(_decode(v, data, path) for v in node["$tuple"])
    if "$list" in node:
        return [_decode(v, data, path) for v in node["$list"]]
    if "$dict" in node:
        return {k: _decode(v, data, path) for k, v in node["$dict"].items()}
    raise FormatError(f"{path}: unknown node {sorted(node)}")


def _decode_array(node: dict[str, Any], data: Any, path: str) -> np.ndarray:
    if "$array" in node:
        values = _member(data, node["$array"], path)
        return values.astype(object) if node["strings"] else values
    dtype = np.dtype(node["dtype"])
    if "$narrow" in node:
        out = _member(data, node["$narrow"], path).astype(dtype)
    else:
        value, length = (_member(data, key, path) for key in node["$runs"])
        if value.shape != length.shape or int(length.sum()) != node["length"]:
            raise FormatError(f"{path}: runs of {node['$runs'][0]} do not add up")
        out = np.repeat(value.astype(dtype), length)
    if out.shape != (node["length"],):
        raise FormatError(f"{path}: a compact member holds {out.size} values, not {node['length']}")
    return out


def _member(data: Any, key: str, path: str) -> np.ndarray:
    try:
        return np.asarray(data[key])
    except KeyError as exc:
        raise FormatError(f"{path}: member {key} missing") from exc


def _own_dataclass(name: str, path: str) -> type:
    module, _, qualname = name.partition(":")
    if not module.startswith(_OWN):
        raise FormatError(f"{path}: class {name} is not Remnant's")
    try:
        cls: Any = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError) as exc:
        raise FormatError(f"{path}: class {name} not found") from exc
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise FormatError(f"{path}: {name} is not a dataclass")
    return cls
