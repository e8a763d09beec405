"""The reference of a model version: what its monitoring compares live traffic with.

Built once at registration from the training data (or a held-out ``reference_data``, which is
better for performance estimation: the model has not memorised it):

- a **profile** (``loopml.data.profile.profile_frame``) of every feature, the target and the
  model's predictions: quantile bins, category frequencies, missing rates, min and max, so
  monitoring never needs the raw training data again;
- a bounded random **sample** (``sample_rows``, 5,000 by default) of the same columns plus the
  predicted probabilities, for the tests that need raw values (Kolmogorov–Smirnov, Wasserstein)
  and for calibrating confidence-based performance estimation.

Prediction columns are named ``loopml.prediction`` and ``loopml.proba.<class>`` so they never
collide with a feature.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loopml.data.frames import as_frame
from loopml.data.profile import profile_frame
from loopml.errors import InvalidInput
from loopml.models.values import python
from loopml.store.entities import ModelReference, ModelVersion
from loopml.tracking import state

PREDICTION = "loopml.prediction"
PROBA_PREFIX = "loopml.proba."
DEFAULT_SAMPLE_ROWS = 5_000
_PREDICT_ROWS = 200_000  # predictions are profiled on at most this many rows


@dataclass
class Reference:
    """A version's reference, loaded: profile dict, sample frame, roles of the columns."""

    name: str
    version: int
    profile: dict[str, Any]
    sample: pd.DataFrame | None
    features: list[str]
    target: str | None
    classes: list[Any] | None
    rows: int

    @property
    def proba_columns(self) -> list[str]:
        return [f"{PROBA_PREFIX}{c}" for c in self.classes or []]


def build_reference(
    model: Any,
    data: Any,
    features: list[str],
    *,
    target: str | None = None,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    seed: int = 0,
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any]]:
    """Profile, sample and details of ``data`` (features, optional target) and predictions."""
    if not isinstance(sample_rows, int) or isinstance(sample_rows, bool) or sample_rows < 0:
        raise InvalidInput(f"reference_sample_rows: a row count >= 0, got {sample_rows!r}")
    frame = as_frame(data, "reference data")
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"reference data: missing the model's input columns {', '.join(map(repr, missing))}"
        )
    if target is not None and target not in frame.columns:
        raise InvalidInput(
            f"target: {target!r} is not a column of the reference data "
            f"(columns: {', '.join(map(str, frame.columns[:20]))})"
        )
    if len(frame) == 0:
        raise InvalidInput("reference data: it has no rows")
    rng = np.random.default_rng(seed)
    scored = frame
    if len(frame) > _PREDICT_ROWS:
        scored = frame.iloc[np.sort(rng.choice(len(frame), _PREDICT_ROWS, replace=False))]
    predictions = _predictions(model, scored[features])
    columns = [*features, *([target] if target else [])]
    profile = profile_frame(frame[columns])
    profile["columns"].update(profile_frame(predictions)["columns"])
    profile["n_rows"] = int(len(frame))
    picked = np.sort(rng.choice(len(scored), min(sample_rows, len(scored)), replace=False))
    sample = pd.concat(
        [scored[columns].iloc[picked].reset_index(drop=True),
         predictions.iloc[picked].reset_index(drop=True)],
        axis=1,
    )
    classes = getattr(model, "classes_", None) if hasattr(model, "predict_proba") else None
    details = {
        "features": list(features),
        "classes": None if classes is None else [python(c) for c in classes],
        "scored_rows": int(len(scored)),
    }
    return profile, sample, details


def store_reference(
    version: ModelVersion,
    built: tuple[dict[str, Any], pd.DataFrame, dict[str, Any]],
    *,
    target: str | None,
    source: str,
) -> ModelReference:
    """Store a reference made by :func:`build_reference` (profile and sample as blobs)."""
    import orjson

    profile, sample, details = built
    artifacts = state.get_artifacts()
    profile_blob = artifacts.put_bytes(orjson.dumps(profile, option=orjson.OPT_SERIALIZE_NUMPY))
    sample_sha = None
    if len(sample):
        buffer = io.BytesIO()
        sample.to_parquet(buffer, index=False)
        sample_sha = artifacts.put_bytes(buffer.getvalue()).sha256
    return state.get_store().set_model_reference(
        ModelReference(
            name=version.name,
            version=version.version,
            profile_sha256=profile_blob.sha256,
            rows=int(profile["n_rows"]),
            sample_rows=int(len(sample)),
            sample_sha256=sample_sha,
            target=target,
            details={**details, "source": source},
            created_time=int(time.time() * 1000),
        )
    )


def load_reference(name: str, version: int) -> Reference:
    """The stored reference of ``name/version`` (NotFound when there is none)."""
    import orjson

    record = state.get_store().get_model_reference(name, version)
    artifacts = state.get_artifacts()
    profile = orjson.loads(artifacts.read_bytes(record.profile_sha256))
    sample = None
    if record.sample_sha256:
        sample = pd.read_parquet(io.BytesIO(artifacts.read_bytes(record.sample_sha256)))
    return Reference(
        name=name,
        version=version,
        profile=profile,
        sample=sample,
        features=list(record.details.get("features", [])),
        target=record.target,
        classes=record.details.get("classes"),
        rows=record.rows,
    )


def _predictions(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    out: dict[str, Any] = {}
    if hasattr(model, "predict_proba") and getattr(model, "classes_", None) is not None:
        proba = np.asarray(model.predict_proba(X), dtype=np.float64)
        out[PREDICTION] = np.asarray(model.predict(X))
        for i, c in enumerate(model.classes_):
            out[f"{PROBA_PREFIX}{python(c)}"] = proba[:, i]
    else:
        out[PREDICTION] = np.asarray(model.predict(X))
    return pd.DataFrame(out, index=X.index)
