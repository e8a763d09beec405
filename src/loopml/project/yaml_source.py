"""Read YAML keeping the node tree, so every problem can be reported at its line.

The loader follows YAML 1.2 for booleans: only ``true``/``false`` are booleans. Under
PyYAML's YAML 1.1 default, the key ``on:`` (of ``retraining.on``) would silently become
``True`` and ``below_threshold: no`` a boolean.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from loopml.project.problems import SpecProblem, format_path

Loc = Sequence[str | int]

_BOOL_TAG = "tag:yaml.org,2002:bool"


class _Loader(yaml.SafeLoader):
    pass


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class YamlSyntaxError(ValueError):
    """The text is not YAML; ``problem`` says where."""

    def __init__(self, problem: SpecProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass
class YamlDocument:
    """The constructed data and the node tree it came from."""

    data: Any
    root: yaml.Node | None

    def line_of(self, loc: Loc, *, at_key: bool = False) -> int | None:
        """The line of the value at ``loc`` (or of its key, for an unknown key).

        A path that goes past what the file holds (a missing key) stops at the deepest
        existing key: the line of the section the key is missing from.
        """
        node, key_node = self.root, None
        if node is None:
            return None
        for depth, part in enumerate(loc):
            child = _child(node, part)
            if child is None:
                break
            key_node, node = child
            if depth == len(loc) - 1:
                if at_key and key_node is not None:
                    return key_node.start_mark.line + 1
                return node.start_mark.line + 1
        else:
            return node.start_mark.line + 1
        mark = key_node.start_mark if key_node is not None else node.start_mark
        return mark.line + 1


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key, value
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return None, node.value[part]
    return None


def read_yaml(text: str) -> tuple[YamlDocument, list[SpecProblem]]:
    """Parse ``text``; returns the document and its duplicate-key problems.

    Raises :class:`YamlSyntaxError` (with the line) when the text is not YAML.
    """
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        duplicates = list(_duplicate_keys(root, ())) if root is not None else []
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "cannot be read"
        where = f" (column {mark.column + 1})" if mark is not None else ""
        context = f", {exc.context}" if exc.context and exc.problem else ""
        raise YamlSyntaxError(
            SpecProblem(
                line=mark.line + 1 if mark is not None else None,
                path="",
                message=f"invalid YAML: {problem}{context}{where}",
            )
        ) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(SpecProblem(None, "", f"invalid YAML: {exc}")) from None
    finally:
        loader.dispose()
    return YamlDocument(data=data, root=root), duplicates


def _duplicate_keys(node: yaml.Node, path: tuple[str | int, ...]) -> Iterator[SpecProblem]:
    """PyYAML keeps the last of two equal keys without a word; the user meant one of them."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                line = key.start_mark.line + 1
                if key.value in seen:
                    yield SpecProblem(
                        line=line,
                        path=format_path((*path, key.value)),
                        message=f"duplicate key {key.value!r} (first at line "
                        f"{seen[key.value]}); keep one of them",
                    )
                else:
                    seen[key.value] = line
                yield from _duplicate_keys(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*path, index))
