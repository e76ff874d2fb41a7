"""One error type for mistakes a person can fix, and its one-line rendering.

The CLI catches :class:`UserInputError`, prints ``str(error)`` on one line and
exits with status 2. Everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and ``noun``, plural unless one: ``counted(1, "pair")`` is ``"1 pair"``.

    Example:
        >>> counted(2, "entry", "entries"), counted(1, "pairs")
        ('2 entries', '1 pair')
    """
    singular = noun.removesuffix("s") if plural is None and noun.endswith("s") else noun
    plural = plural or (noun if noun.endswith("s") else noun + "s")
    return f"{count} {singular if count == 1 else plural}"


class UserInputError(ValueError):
    """A problem with the user's files, options or configuration.

    The message is assembled from parts so every error reads the same way:
    ``<where>: <what>; expected <expected>; received <received>; <fix>``.

    Args:
        what: What went wrong, e.g. ``"column 'label' not found"``.
        where: File and position (``"reviews.csv:12"``) or option name.
        expected: What would have been accepted.
        received: What was actually found.
        fix: How to fix it, as an instruction.
    """

    def __init__(
        self,
        what: str,
        *,
        where: str | None = None,
        expected: str | None = None,
        received: str | None = None,
        fix: str | None = None,
    ):
        self.what = what
        self.where = where
        self.expected = expected
        self.received = received
        self.fix = fix
        parts = [f"{where}: {what}" if where else what]
        if expected is not None:
            parts.append(f"expected {expected}")
        if received is not None:
            parts.append(f"received {received}")
        if fix is not None:
            parts.append(fix)
        # One line, always: newlines in received values would break the CLI contract.
        super().__init__("; ".join(p.replace("\r", "\\r").replace("\n", "\\n") for p in parts))

    def located(self, place: str) -> UserInputError:
        """The same error placed at ``place`` (e.g. ``"line 3 of inputs.txt"``) first."""
        return UserInputError(self.what, where=f"{place}, {self.where}" if self.where else place,
                              expected=self.expected, received=self.received, fix=self.fix)
