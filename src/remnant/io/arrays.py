"""A tree of dataclasses and arrays as one ``.npz`` file: how Remnant keeps its working state.

``write_arrays(obj, path)`` stores every NumPy array of ``obj`` — a dataclass, tuple,
list or dict of them, nested to any depth — as a member of an uncompressed ``.npz``
(fast to write and to map back), and the tree around them (classes, scalars, strings)
as a JSON manifest member. ``read_arrays(path)`` rebuilds it. No pickle is involved:
the file is read with ``allow_pickle=False``, and only dataclasses of Remnant's own
modules are rebuilt, so a state file cannot run code.

Arrays of Python objects are stored only when they hold strings (as fixed-width
unicode, turned back into object arrays on reading). The file is written atomically.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from remnant.errors import FormatError
from remnant.io.files import atomic_path

FORMAT = 1
"""Version of the manifest; a file of another version is refused."""

_MANIFEST = "__manifest__"
_OWN = "remnant."


def write_arrays(obj: object, path: str | Path) -> Path:
    """Write ``obj`` (a tree of dataclasses, sequences, dicts, scalars, arrays) to ``path``."""
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, arrays)
    manifest = json.dumps({"format": FORMAT, "tree": tree})
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        members: dict[str, Any] = {_MANIFEST: np.array(manifest), **arrays}
        np.savez(fh, **members)
    return target


def read_arrays(path: str | Path) -> Any:
    """The tree written by :func:`write_arrays` at ``path``.

    Raises
    ------
    FormatError
        The file is of another format, misses a member or names a class that is not
        a dataclass of Remnant.
    OSError
        The file cannot be read.
    """
    with np.load(Path(path), allow_pickle=False) as data:
        try:
            manifest = json.loads(str(data[_MANIFEST]))
        except KeyError as exc:
            raise FormatError(f"{path}: no manifest; not a Remnant state file") from exc
        if manifest.get("format") != FORMAT:
            raise FormatError(f"{path}: state format {manifest.get('format')}, not {FORMAT}")
        return _decode(manifest["tree"], data, str(path))


def _encode(obj: object, arrays: dict[str, np.ndarray]) -> object:
    if isinstance(obj, np.ndarray):
        key = f"a{len(arrays)}"
        strings = obj.dtype == object
        arrays[key] = obj.astype(np.str_) if strings else obj
        return {"$array": key, "strings": strings}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        cls = type(obj)
        fields = {f.name: _encode(getattr(obj, f.name), arrays) for f in dataclasses.fields(obj)}
        return {"$class": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    if isinstance(obj, tuple | list):
        return {"$" + type(obj).__name__: [_encode(v, arrays) for v in obj]}
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError("only dicts with string keys can be stored")
        return {"$dict": {k: _encode(v, arrays) for k, v in obj.items()}}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a state file")


def _decode(node: Any, data: Any, path: str) -> Any:
    if not isinstance(node, dict):
        return node
    if "$array" in node:
        try:
            values = data[node["$array"]]
        except KeyError as exc:
            raise FormatError(f"{path}: member {node['$array']} missing") from exc
        return values.astype(object) if node["strings"] else values
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
