"""Flavors: how a model becomes bytes and comes back, with no file system involved.

The registry stores the payload as a content-addressed artifact (and checks its sha256 before
calling :func:`load_model_bytes`); a flavor only decides the format:

- ``"sklearn"``: scikit-learn estimators and pipelines, saved with skops. Loading never
  unpickles anything and refuses every type that is neither trusted by skops by default nor
  named by the caller in ``trusted_types``.
- ``"pyfunc"``: any object with a callable ``predict``, saved with pickle. Unpickling runs
  code, so both saving and loading need ``trusted_pickle=True`` and warn.
"""

from __future__ import annotations

from collections.abc import Sequence

from loopml.errors import InvalidInput, LoopmlError

FLAVORS = ("sklearn", "pyfunc")


class TrustedPickleWarning(UserWarning):
    """A model is being saved or loaded with pickle, which can run arbitrary code at load."""


class UntrustedTypeError(LoopmlError):
    """A saved model contains types that are not trusted; nothing was unpickled or built."""

    def __init__(self, message: str, types: Sequence[str]) -> None:
        super().__init__(message)
        self.types = list(types)


class ModelFileDamaged(LoopmlError):
    """A model payload cannot be read in the format its flavor says it has."""


class ModelImportError(LoopmlError):
    """A trusted type named in a model payload cannot be imported in this environment."""


def dump_model(
    model: object, *, flavor: str | None = None, trusted_pickle: bool = False
) -> tuple[bytes, str]:
    """Serialise ``model`` to ``(payload, flavor)``; the registry stores the payload as is.

    ``flavor=None`` picks ``"sklearn"`` for scikit-learn estimators (safe, pickle-free) and
    ``"pyfunc"`` otherwise, which needs ``trusted_pickle=True`` because it uses pickle.
    """
    _require_predict(model)
    chosen = flavor if flavor is not None else _default_flavor(model)
    _require_known_flavor(chosen)
    if chosen == "sklearn":
        from loopml.models.flavors import sklearn as sklearn_flavor

        return sklearn_flavor.dump(model), chosen
    from loopml.models.flavors import pyfunc

    if not trusted_pickle:
        why = "" if flavor else f"a {type_name(model)} is not a scikit-learn estimator, so "
        raise InvalidInput(
            f"model: {why}saving it needs the 'pyfunc' flavor, which uses pickle; loading a "
            "pickle runs code chosen by whoever wrote the file. If you trust everyone who can "
            "write to the registry, pass trusted_pickle=True (and again when loading)"
        )
    return pyfunc.dump(model), chosen


def load_model_bytes(
    payload: bytes,
    flavor: str,
    *,
    trusted_types: Sequence[str] = (),
    trusted_pickle: bool = False,
) -> object:
    """Rebuild a model from a payload made by :func:`dump_model`.

    ``trusted_types`` (sklearn flavor) are the fully qualified type names the caller has
    reviewed and trusts beyond skops' defaults; ``trusted_pickle`` (pyfunc flavor) opts in to
    running pickle. Anything else is refused before a single object is built.
    """
    _require_known_flavor(flavor)
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise InvalidInput(
            f"payload: expected the model's bytes, got a {type(payload).__name__}; pass the "
            "bytes returned by dump_model (or read from the model artifact)"
        )
    if isinstance(trusted_types, str):
        raise InvalidInput(
            f"trusted_types: expected a list of type names, got the string {trusted_types!r}; "
            f"write trusted_types=[{trusted_types!r}]"
        )
    data = bytes(payload)
    if flavor == "sklearn":
        from loopml.models.flavors import sklearn as sklearn_flavor

        return sklearn_flavor.load(data, trusted_types=list(trusted_types))
    from loopml.models.flavors import pyfunc

    return pyfunc.load(data, trusted_pickle=trusted_pickle)


def untrusted_types(payload: bytes, flavor: str) -> list[str]:
    """Types in ``payload`` that skops does not trust by default (sorted; ``[]`` for pyfunc).

    Lets the registry show, at registration, which names a later load must pass in
    ``trusted_types`` (for example ``sklearn.tree._tree.Tree`` for forests).
    """
    _require_known_flavor(flavor)
    if flavor != "sklearn":
        return []
    from loopml.models.flavors import sklearn as sklearn_flavor

    return sklearn_flavor.untrusted(bytes(payload))


def type_name(obj: object) -> str:
    """Fully qualified name of ``obj``'s type, as skops and error messages spell it."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _require_predict(model: object) -> None:
    if not callable(getattr(model, "predict", None)):
        raise InvalidInput(
            f"model: a {type_name(model)} has no callable predict method; loopml stores models "
            "that predict. Pass the fitted estimator (or the Pipeline ending in one), or wrap "
            "the object in a class with a predict(X) method"
        )


def _default_flavor(model: object) -> str:
    try:
        from sklearn.base import BaseEstimator
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        return "pyfunc"
    return "sklearn" if isinstance(model, BaseEstimator) else "pyfunc"


def _require_known_flavor(flavor: object) -> None:
    if flavor not in FLAVORS:
        raise InvalidInput(
            f"flavor: unknown flavor {flavor!r}; use one of {', '.join(map(repr, FLAVORS))}"
        )
