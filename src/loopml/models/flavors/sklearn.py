"""The ``sklearn`` flavor: scikit-learn estimators and pipelines in the skops format.

skops stores an object tree as JSON plus numpy arrays (loaded with ``allow_pickle=False``),
never as a pickle. Before building anything we list the types the file names
(``skops.io.get_untrusted_types``) and refuse those that are neither in skops' default trusted
set (builtins, numpy and scipy types, scikit-learn's public estimators) nor reviewed by the
caller. Forests and trees need ``sklearn.tree._tree.Tree``, which skops 0.16 no longer trusts by
default: a crafted node array can crash ``predict``.
"""

from __future__ import annotations

import json
import zipfile
from typing import Any

from loopml.errors import InvalidInput
from loopml.models.flavors import (
    ModelFileDamaged,
    ModelImportError,
    UntrustedTypeError,
    type_name,
)


def dump(model: Any) -> bytes:
    """Serialise a fitted scikit-learn estimator (deflate-compressed skops zip)."""
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(model, BaseEstimator):
        raise InvalidInput(
            f"model: a {type_name(model)} is not a scikit-learn estimator, so the 'sklearn' "
            "flavor cannot save it; use flavor='pyfunc' with trusted_pickle=True"
        )
    try:
        check_is_fitted(model)
    except NotFittedError as exc:
        raise InvalidInput(
            f"model: the {type_name(model)} is not fitted; call .fit(X, y) before saving it"
        ) from exc
    except TypeError:
        pass  # objects check_is_fitted cannot judge (no fit method): let skops decide
    import skops.io as sio

    try:
        return sio.dumps(model, compression=zipfile.ZIP_DEFLATED)
    except Exception as exc:  # noqa: BLE001 - skops raises many types; all mean "cannot save"
        raise InvalidInput(
            f"model: skops cannot save the {type_name(model)} ({type(exc).__name__}: {exc}); "
            "remove the unsupported attribute, or use flavor='pyfunc' with trusted_pickle=True"
        ) from exc


def untrusted(payload: bytes) -> list[str]:
    """Types named in ``payload`` that skops does not trust by default; builds nothing."""
    import skops.io as sio

    if not payload:
        raise ModelFileDamaged(_damaged("it is empty"))
    try:
        return list(sio.get_untrusted_types(data=payload))
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise ModelFileDamaged(_damaged(f"it is not a skops zip archive: {exc}")) from exc
    except Exception as exc:  # noqa: BLE001 - any parse failure means the file is unreadable
        raise ModelFileDamaged(_damaged(f"{type(exc).__name__}: {exc}")) from exc


def load(payload: bytes, *, trusted_types: list[str]) -> Any:
    """Rebuild the estimator, refusing (before building anything) every untrusted type."""
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    refused = sorted(set(untrusted(payload)) - set(trusted_types))
    if refused:
        raise UntrustedTypeError(_refusal(refused), refused)
    try:
        return sio.loads(payload, trusted=list(trusted_types) or None)
    except UntrustedTypesFoundException as exc:  # defence in depth: skops audits again
        raise UntrustedTypeError(f"model payload refused by skops: {exc}", []) from exc
    except (ImportError, AttributeError) as exc:
        raise ModelImportError(
            f"model: cannot import a type this model needs ({type(exc).__name__}: {exc}); "
            "install the package (and version) the model was trained with"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - zip/json/numpy errors: the payload is broken
        raise ModelFileDamaged(_damaged(f"{type(exc).__name__}: {exc}")) from exc


def _refusal(refused: list[str]) -> str:
    from skops.io.exceptions import UNTRUSTED_TYPE_REASONS

    lines = [
        f"model: refused to load {len(refused)} untrusted type(s): {', '.join(refused)}.",
        "Loading builds these types from the file; a hostile file could abuse them.",
    ]
    lines += [
        f"- {UNTRUSTED_TYPE_REASONS[name]}" for name in refused if name in UNTRUSTED_TYPE_REASONS
    ]
    lines.append(
        "If you have reviewed them (and trust whoever wrote the model), load with "
        f"trusted_types={json.dumps(refused)}"
    )
    return "\n".join(lines)


def _damaged(reason: str) -> str:
    return (
        f"model: the model file is damaged or not in the skops format ({reason}); "
        "re-save the model with dump_model / log_model, or restore the artifact"
    )
