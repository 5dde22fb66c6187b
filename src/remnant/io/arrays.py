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
unicode, turned back into object arrays on reading). Every other array is stored as
it lies in memory and read back as a view of the mapped file, never decoded: the
earlier layout (format 3) kept large integer arrays as runs or in 32 bits, 0.4 GB
less of a country's 1.4 GB, but rebuilding them cost 2.2 s of every update's
reading, where a checkpoint's writing of the larger file costs 0.8 s more and is
rarer. An array that the tree holds in two places (the same object) is stored once
and read back as one array. The file is written atomically.
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

FORMAT = 4
"""Version of the layout and manifest; a file of another version is refused."""

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
    """Store ``a``; its node."""
    strings = a.dtype == object
    return {"$array": _store(a.astype(np.str_) if strings else a, arrays), "strings": strings}


def _decode(node: Any, data: Any, path: str) -> Any:
    if not isinstance(node, dict):
        return node
    if "$array" in node:
        key = node["$array"]
        if key not in data.decoded:  # an array the tree held twice is one array again
            values = _member(data, key, path)
            data.decoded[key] = values.astype(object) if node["strings"] else values
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
