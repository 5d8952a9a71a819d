"""Content fingerprints that key stored results to the exact data they came from."""

from __future__ import annotations

import hashlib

import numpy as np

from diet.data.splits import Split


def split_fingerprint(split: Split) -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(split.ids, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(split.labels, dtype=np.int64).tobytes())
    for texts in (split.text, split.text_pair or ()):
        if texts:  # every text followed by a NUL, hashed in one call (the same bytes as one call a text)
            digest.update("\0".join(texts).encode() + b"\0")
    return digest.hexdigest()[:16]


def ids_fingerprint(ids) -> str:
    return hashlib.sha256(np.sort(np.asarray(ids, dtype=np.int64)).tobytes()).hexdigest()[:16]
