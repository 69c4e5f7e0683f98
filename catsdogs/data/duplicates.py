"""Near-duplicates between two image collections, by perceptual hash.

A test set says something about generalization only if its images are not the training
images again: the same photo re-encoded, resized or lightly cropped. A perceptual hash
(``imagehash.phash``: the sign pattern of the low frequencies of the image's discrete cosine
transform, 64 bits) survives those changes, so two images whose hashes differ in few bits
are likely one photo. Every image of one collection is compared with every image of the
other (the Hamming distance of their hashes, vectorised), and the pairs within
``max_distance`` bits are listed for a person to look at.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

#: Hashes at most this many bits apart (of 64) count as a near-duplicate pair: a common
#: choice for pHash, loose enough for re-encodings and resizes (``tests/test_generalization.py``
#: checks one); every pair found is listed, for a person to look at.
MAX_DISTANCE = 6
#: Set bits of every byte value: the Hamming distance of packed hashes by table look-up.
_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def phash_bits(paths: Sequence[Path | str], progress: bool = False, desc: str = "hashing") -> np.ndarray:
    """The 64-bit perceptual hash of each image, as a boolean array ``(n, 64)``.

    Raises
    ------
    OSError
        Naming the file, when one cannot be read as an image.
    """
    import imagehash
    from PIL import Image

    out = np.zeros((len(paths), 64), dtype=bool)
    for i, path in enumerate(tqdm(paths, desc=desc, unit="image", disable=not progress)):
        try:
            with Image.open(path) as im:
                out[i] = imagehash.phash(im.convert("RGB")).hash.reshape(-1)
        except OSError as exc:
            raise OSError(f"{path}: cannot be read as an image ({exc}); remove it or fix the file") from exc
    return out


def near_duplicates(
    a: np.ndarray, b: np.ndarray, max_distance: int = MAX_DISTANCE, chunk: int = 512
) -> list[tuple[int, int, int]]:
    """Pairs ``(i, j, distance)`` with hash ``a[i]`` within ``max_distance`` bits of ``b[j]``."""
    packed_b = np.packbits(b, axis=1)
    pairs = []
    for start in range(0, len(a), chunk):
        block = np.packbits(a[start : start + chunk], axis=1)
        xor = np.bitwise_xor(block[:, None, :], packed_b[None, :, :])  # (chunk, len(b), 8) bytes
        distance = _BITS[xor].sum(axis=2, dtype=np.int64)
        for i, j in zip(*np.nonzero(distance <= max_distance)):
            pairs.append((start + int(i), int(j), int(distance[i, j])))
    return pairs


def duplicate_record(
    names_a: Sequence[str], hashes_a: np.ndarray, names_b: Sequence[str], hashes_b: np.ndarray, max_distance: int
) -> dict[str, Any]:
    """The record of one comparison: sizes, the rule, and every pair found."""
    pairs = near_duplicates(hashes_a, hashes_b, max_distance)
    return {
        "hash": "imagehash.phash, 64 bits",
        "max_distance": max_distance,
        "images": [len(names_a), len(names_b)],
        "pairs": [{"a": names_a[i], "b": names_b[j], "distance": d} for i, j, d in pairs],
        "images_of_b_with_a_pair": len({j for _, j, _ in pairs}),
    }


__all__ = ["MAX_DISTANCE", "phash_bits", "near_duplicates", "duplicate_record"]
