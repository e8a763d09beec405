"""What is wrong with a spec, where: ``SpecError`` lists every problem with file and line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loopml.errors import InvalidInput


@dataclass(frozen=True)
class SpecProblem:
    """One problem: its 1-based ``line`` (``None`` when unknown), dotted key ``path``
    (``serving.below_threshold``, ``objectives.fairness[0].column``; empty for the whole
    file) and a message that says what is allowed."""

    line: int | None
    path: str
    message: str

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line is not None else source
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecError(InvalidInput):
    """``loopml.yaml`` does not parse or does not validate. ``problems`` holds each one;
    the message lists them one per line, in file order."""

    def __init__(self, source: str, problems: Sequence[SpecProblem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.path))
        lines = [p.render(source) for p in self.problems]
        if len(lines) > 1:
            lines.insert(0, f"{source} has {len(lines)} problems:")
            text = "\n  ".join(lines)
        else:
            text = lines[0] if lines else f"{source} is not a valid project spec"
        super().__init__(text)


def format_path(loc: Sequence[str | int]) -> str:
    """``("objectives", "fairness", 0, "column")`` -> ``objectives.fairness[0].column``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
