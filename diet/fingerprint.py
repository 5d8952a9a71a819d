"""Content fingerprints that key stored results to the exact data they came from."""

from __future__ import annotations

import hashlib

import numpy as np

from diet.splits import Split


def split_fingerprint(split: Split) -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(split.ids, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(split.labels, dtype=np.int64).tobytes())
    for text in split.text:
        digest.update(text.encode())
        digest.update(b"\0")
    for text in split.text_pair or ():
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def ids_fingerprint(ids) -> str:
    return hashlib.sha256(np.sort(np.asarray(ids, dtype=np.int64)).tobytes()).hexdigest()[:16]
