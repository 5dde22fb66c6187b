"""Record ids: a prefix and a zero-padded number, ``STR-000001``."""

from __future__ import annotations

import numpy as np


def numbered(prefix: str, n: int, width: int = 6) -> np.ndarray:
    """Ids ``prefix-000001`` ... ``prefix-n`` (``width`` digits), as an object array of str."""
    if n == 0:
        return np.empty(0, dtype=object)
    digits = np.char.zfill(np.arange(1, n + 1).astype(str), width)
    return np.char.add(f"{prefix}-", digits).astype(object)
