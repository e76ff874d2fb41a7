"""Fixed-seed random splits of a collection into training, validation and test parts,
and keys that recognise one split's examples in another."""

from __future__ import annotations

import numpy as np

from rnn_templates.errors import UserInputError, counted


def random_split(count: int, fractions: dict[str, float], seed: int, *, source: str,
                 unit: str = "examples", fix: str = "") -> dict[str, np.ndarray]:
    """Indices of each named part, then ``"train"`` for the rest.

    One permutation of ``range(count)`` keyed on ``seed`` is cut in the order
    of ``fractions``: each part takes ``round(fraction * count)`` items, and
    ``"validation"`` at least one. Raises :class:`UserInputError` (naming
    ``source`` and ``unit``, with ``fix`` as its advice when given) when no
    item is left for training.

    Example:
        >>> parts = random_split(10, {"test": 0.2, "validation": 0.1}, seed=0, source="f.tsv")
        >>> {name: len(part) for name, part in parts.items()}
        {'test': 2, 'validation': 1, 'train': 7}
    """
    order = np.random.default_rng(seed).permutation(count)
    sizes = {name: int(round(fraction * count)) for name, fraction in fractions.items()}
    if "validation" in sizes:
        sizes["validation"] = max(1, sizes["validation"])
    if count - sum(sizes.values()) < 1:
        # Validation keeps at least one example, so lowering its fraction to 1 changes nothing.
        lower = [f"--set {name}_fraction" for name, size in sizes.items()
                 if size > (name == "validation")]
        raise UserInputError(
            f"too few {unit} to split", where=source, received=counted(count, unit),
            expected=f"at least {sum(sizes.values()) + 1}: "
            + ", ".join(["1 for training", *(f"{size} for {name}"
                                               for name, size in sizes.items() if size)]),
            fix=fix or f"add {unit}" + (f", or lower {' and '.join(lower)}" if lower else ""))
    parts, start = {}, 0
    for name, size in sizes.items():
        parts[name] = order[start:start + size]
        start += size
    parts["train"] = order[start:]
    return parts


def example_keys(*columns) -> np.ndarray:
    """One 64-bit key per example from its text columns, equal for examples that differ
    only in white space: a compact record of a training set, to recognise its
    examples in another file (the texts themselves are not kept).

    Example:
        >>> keys = example_keys(["Good  film", "Good film", "good film"])
        >>> bool(keys[0] == keys[1]), bool(keys[1] == keys[2])
        (True, False)
    """
    import hashlib

    rows = zip(*columns, strict=True)
    return np.array([int.from_bytes(hashlib.blake2b(
        "\t".join(" ".join(str(value).split()) for value in row).encode(
            "utf-8", "surrogatepass"), digest_size=8).digest(), "little") for row in rows],
        dtype=np.uint64)
