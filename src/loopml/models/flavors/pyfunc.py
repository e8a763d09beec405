"""The ``pyfunc`` flavor: any object with ``predict``, saved with pickle.

Pickle can run arbitrary code when loaded, so this flavor exists only for models the user
explicitly trusts: saving and loading both need ``trusted_pickle=True`` and both emit
:class:`~loopml.models.flavors.TrustedPickleWarning`. The object's classes must be importable
(by the same module path) wherever the model is loaded.
"""

from __future__ import annotations

import pickle
import warnings
from typing import Any

from loopml.errors import InvalidInput
from loopml.models.flavors import (
    ModelFileDamaged,
    ModelImportError,
    TrustedPickleWarning,
    type_name,
)


def dump(model: Any) -> bytes:
    """Pickle ``model`` (the caller has already opted in with ``trusted_pickle=True``)."""
    warnings.warn(
        f"saving a {type_name(model)} with the 'pyfunc' flavor uses pickle: whoever can write "
        "the model artifact can run code on every machine that loads it",
        TrustedPickleWarning,
        stacklevel=3,
    )
    try:
        return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - PicklingError, TypeError, AttributeError...
        raise InvalidInput(
            f"model: cannot pickle the {type_name(model)} ({type(exc).__name__}: {exc}); "
            "define its class (and any function it holds) at module level, not in a function "
            "or as a lambda"
        ) from exc


def load(payload: bytes, *, trusted_pickle: bool) -> Any:
    """Unpickle a pyfunc model, only when the caller trusts the payload's author."""
    if not trusted_pickle:
        raise InvalidInput(
            "model: this model uses the 'pyfunc' flavor, stored with pickle; unpickling runs "
            "code chosen by whoever wrote the file. Load it only if you trust everyone who "
            "can write to the registry, by passing trusted_pickle=True"
        )
    warnings.warn(
        "loading a 'pyfunc' model unpickles it: this runs code from the model file",
        TrustedPickleWarning,
        stacklevel=3,
    )
    if not payload:
        raise ModelFileDamaged(_damaged("it is empty"))
    try:
        return pickle.loads(payload)
    except (ImportError, AttributeError) as exc:
        raise ModelImportError(
            f"model: cannot import a class this model needs ({type(exc).__name__}: {exc}); "
            "make the module that defined the model's class importable here"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - UnpicklingError, EOFError, ...: unreadable
        raise ModelFileDamaged(_damaged(f"{type(exc).__name__}: {exc}")) from exc


def _damaged(reason: str) -> str:
    return (
        f"model: the model file is damaged or not a pickle ({reason}); re-save the model "
        "with dump_model / log_model, or restore the artifact"
    )
