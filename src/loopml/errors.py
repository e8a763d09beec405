"""Exception types. Every message says what went wrong and what to do next."""

from __future__ import annotations


class LoopmlError(Exception):
    """Base class of every error loopml raises on purpose."""


class InvalidInput(LoopmlError, ValueError):
    """A value given by the user is malformed: the message names the field and the problem."""


class NotFound(LoopmlError, LookupError):
    """An experiment, run, artifact or other named object does not exist."""


class Conflict(LoopmlError):
    """The request contradicts what is already stored (for example a param logged twice
    with different values). Nothing was written."""


class FilterSyntaxError(InvalidInput):
    """A search filter does not parse; the message points at the offending token."""

    def __init__(self, message: str, text: str, position: int) -> None:
        pointer = " " * position + "^"
        super().__init__(f"{message}\n  {text}\n  {pointer}")
        self.text = text
        self.position = position


class UnsafePath(InvalidInput):
    """An artifact path would escape its root (``..``, absolute path, symlink)."""


class StoreError(LoopmlError):
    """The metadata store cannot be opened, migrated or written."""
