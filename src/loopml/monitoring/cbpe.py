"""Confidence-based performance estimation (CBPE): a classifier's accuracy, AUC or F1
estimated from its own probabilities, before any label arrives.

The method is NannyML's CBPE. On a labelled reference set an isotonic map per class turns
predicted probability into observed frequency, so that the probabilities mean what they
say; on unlabelled data each row's calibrated probability is then the chance that each class
is the true one, and the *expected* confusion matrix gives every metric. It rests on one
assumption: inputs may shift (covariate shift), the relation from inputs to labels may not.
Concept drift needs labels: see :mod:`loopml.monitoring.performance` and
:mod:`loopml.monitoring.change_detection`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput
from loopml.models.values import python

__all__ = ["METRICS", "Calibration", "Estimate", "check_proba", "estimate", "fit_calibration"]

METRICS = ("accuracy", "roc_auc", "f1", "precision", "recall")
#: Below this many reference rows an isotonic map would learn noise: identity instead.
MIN_REFERENCE_ROWS = 100
SUM_TOLERANCE = 1e-6
_ECE_BINS = 10
_CV_FOLDS = 5
_CALIBRATION_ALPHA = 0.05
_MAX_CELLS = 4_000_000  # draws x rows x classes sampled at once (memory bound)

ClassMap = tuple[tuple[float, ...], tuple[float, ...]]


@dataclass(frozen=True)
class Calibration:
    """Per class, the isotonic map probability -> frequency as its breakpoints (``None``:
    identity). Binary problems map only the second class; the first is its complement."""

    classes: tuple[Any, ...]
    maps: tuple[ClassMap | None, ...]
    note: str = ""
    n_reference: int = 0

    @classmethod
    def identity(cls, classes: Sequence[Any], note: str = "") -> Calibration:
        kept = _check_classes(classes)
        return cls(kept, (None,) * len(kept), note, 0)

    @property
    def is_identity(self) -> bool:
        return all(m is None for m in self.maps)

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of validated ``proba`` (n, k); rows still sum to 1."""
        if len(self.classes) == 2:
            if self.maps[1] is None:
                return proba
            p1 = np.interp(proba[:, 1], *self.maps[1])
            return np.column_stack([1.0 - p1, p1])
        out = proba.copy()
        for k, mapping in enumerate(self.maps):
            if mapping is not None:
                out[:, k] = np.interp(proba[:, k], *mapping)
        sums = out.sum(axis=1, keepdims=True)
        return np.where(sums > 0, out / np.where(sums > 0, sums, 1.0), proba)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: breakpoints as lists, classes as plain Python values (no pickle)."""
        return {
            "classes": [python(c) for c in self.classes],
            "maps": [None if m is None else {"x": list(m[0]), "y": list(m[1])} for m in self.maps],
            "note": self.note,
            "n_reference": self.n_reference,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        try:
            classes = _check_classes(data["classes"])
            raw_maps = list(data["maps"])
            maps = tuple(
                None if m is None else (tuple(map(float, m["x"])), tuple(map(float, m["y"])))
                for m in raw_maps
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(
                f"calibration: not a Calibration.to_dict() result ({exc!r}); "
                "expected keys 'classes' and 'maps'"
            ) from exc
        if len(maps) != len(classes) or any(m and len(m[0]) != len(m[1]) for m in maps):
            raise InvalidInput("calibration: 'maps' must hold one {x, y} pair (or null) per class")
        return cls(classes, maps, str(data.get("note", "")), int(data.get("n_reference", 0)))


@dataclass(frozen=True)
class Estimate:
    """An estimated metric and the band the realized metric should fall in."""

    metric: str
    value: float
    lower: float
    upper: float
    n: int
    confidence: float
    method: str  # "analytic" (accuracy) or "parametric_bootstrap"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_classes(classes: Sequence[Any]) -> tuple[Any, ...]:
    if isinstance(classes, str | bytes) or not isinstance(classes, Sequence | np.ndarray):
        raise InvalidInput(f"classes must be a list of class labels, got {classes!r}")
    kept = tuple(python(c) for c in classes)
    if len(kept) < 2 or len(set(kept)) != len(kept):
        raise InvalidInput(f"classes must hold at least 2 distinct labels, got {list(kept)!r}")
    return kept


def check_proba(proba: Any, classes: Sequence[Any], name: str = "proba") -> np.ndarray:
    """``proba`` as float (n, k), refusing what a classifier cannot have produced. A 1-D
    array is accepted for two classes, as the second class's probability."""
    k = len(classes)
    try:
        arr = np.asarray(proba, dtype="float64")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must be a numeric array of probabilities ({exc})") from exc
    if arr.ndim == 1 and k == 2:
        arr = np.column_stack([1.0 - arr, arr])
    if arr.ndim != 2 or arr.shape[1] != k:
        raise InvalidInput(
            f"{name} has shape {np.shape(proba)}; expected (n_rows, {k}), one column per "
            f"class in {list(classes)!r}"
        )
    if arr.shape[0] == 0:
        raise InvalidInput(f"{name} is empty; give at least one row of probabilities")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise InvalidInput(
            f"{name} holds NaN or infinite values in {int(bad.sum())} rows (first: row "
            f"{int(np.argmax(bad))}); drop or impute those rows first"
        )
    if arr.min() < -SUM_TOLERANCE or arr.max() > 1 + SUM_TOLERANCE:
        raise InvalidInput(f"{name} holds values outside [0, 1]; pass probabilities, not scores")
    off = np.abs(arr.sum(axis=1) - 1.0) > SUM_TOLERANCE
    if off.any():
        row = int(np.argmax(off))
        raise InvalidInput(
            f"{name}: every row must sum to 1 (±{SUM_TOLERANCE:g}); row {row} sums to "
            f"{arr[row].sum():.9g} ({int(off.sum())} rows off). Pass predict_proba() output"
        )
    return np.clip(arr, 0.0, 1.0)


def _class_index(values: Any, classes: tuple[Any, ...], name: str, n: int) -> np.ndarray:
    arr = np.asarray(values, dtype=object).ravel()
    if len(arr) != n:
        raise InvalidInput(f"{name} has {len(arr)} values but proba has {n} rows")
    codes = pd.Index(list(classes), dtype=object).get_indexer(arr.tolist())
    if (codes < 0).any():
        unknown = sorted({str(v) for v in arr[codes < 0]})[:5]
        raise InvalidInput(f"{name} holds values not in classes {list(classes)!r}: {unknown}")
    return codes


def _ece(prob: np.ndarray, outcome: np.ndarray) -> float:
    """Expected calibration error over equal-frequency bins."""
    order = np.argsort(prob, kind="stable")
    bins = np.array_split(order, _ECE_BINS)
    return float(
        sum(abs(prob[b].mean() - outcome[b].mean()) * len(b) for b in bins if len(b)) / len(prob)
    )


def _isotonic(prob: np.ndarray, outcome: np.ndarray) -> Any:
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(prob, outcome)


def _calibration_p_value(prob: np.ndarray, outcome: np.ndarray) -> float:
    """Hosmer-Lemeshow test over equal-frequency bins (external form: ``_ECE_BINS`` degrees
    of freedom, variance sum p(1 - p)): small when the probabilities are miscalibrated."""
    from scipy.stats import chi2

    bins = np.array_split(np.argsort(prob, kind="stable"), _ECE_BINS)
    stat = 0.0
    for b in bins:
        var = float(np.sum(prob[b] * (1.0 - prob[b])))
        gap = float(outcome[b].sum() - prob[b].sum())
        if var > 0:
            stat += gap * gap / var
        elif abs(gap) > 0.5:  # certain predictions that were wrong: surely miscalibrated
            return 0.0
    return float(chi2.sf(stat, _ECE_BINS))


def _needs_calibration(prob: np.ndarray, outcome: np.ndarray) -> tuple[str, float]:
    """Calibrate only where the test rejects calibration (p < 0.05) and an out-of-fold
    isotonic map lowers the calibration error (NannyML's rule: an in-sample map always
    would, so it cannot be the judge). Mapping well-calibrated probabilities would only add
    the map's own noise to every estimate."""
    from sklearn.model_selection import KFold

    p_value = _calibration_p_value(prob, outcome)
    if p_value >= _CALIBRATION_ALPHA:
        return "well calibrated, identity", p_value
    mapped = np.empty_like(prob)
    for fit, held in KFold(_CV_FOLDS, shuffle=True, random_state=0).split(prob):
        mapped[held] = _isotonic(prob[fit], outcome[fit]).predict(prob[held])
    if _ece(mapped, outcome) < _ece(prob, outcome):
        return "isotonic map", p_value
    return "miscalibrated but an isotonic map did not help out of fold, identity", p_value


def fit_calibration(
    reference_proba: np.ndarray, reference_labels: np.ndarray, classes: Sequence[Any]
) -> Calibration:
    """Learn, on labelled reference data, what the model's probabilities really mean.

    Per class (binary: the second class only), an isotonic regression of the outcome on the
    predicted probability, kept only where a Hosmer-Lemeshow test finds the probabilities
    miscalibrated and the map lowers the out-of-fold calibration error.
    Fewer than 100 rows: identity (said in ``.note``).
    """
    kept = _check_classes(classes)
    proba = check_proba(reference_proba, kept, "reference_proba")
    codes = _class_index(reference_labels, kept, "reference_labels", len(proba))
    n = len(proba)
    if n < MIN_REFERENCE_ROWS:
        note = (
            f"reference has {n} rows (< {MIN_REFERENCE_ROWS}): probabilities used "
            "uncalibrated (identity)"
        )
        return Calibration(kept, (None,) * len(kept), note, n)
    maps: list[ClassMap | None] = [None] * len(kept)
    verdicts: dict[str, list[str]] = {}
    for k in [1] if len(kept) == 2 else range(len(kept)):
        outcome = (codes == k).astype("float64")
        if outcome.min() == outcome.max():
            verdicts.setdefault("one outcome only in reference, identity", []).append(repr(kept[k]))
            continue
        verdict, p_value = _needs_calibration(proba[:, k], outcome)
        if verdict == "isotonic map":
            iso = _isotonic(proba[:, k], outcome)
            maps[k] = (tuple(map(float, iso.X_thresholds_)), tuple(map(float, iso.y_thresholds_)))
        verdicts.setdefault(verdict, []).append(f"{kept[k]!r} (p={p_value:.2g})")
    note = "; ".join(f"{verdict}: {', '.join(names)}" for verdict, names in verdicts.items())
    return Calibration(kept, tuple(maps), note + " (p: Hosmer-Lemeshow test)", n)


def _expected_auc(score: np.ndarray, p: np.ndarray) -> float:
    """AUC with each row counted as p of a positive and 1 - p of a negative: sort by score,
    cumulative sums of p and 1 - p give the expected TPR/FPR at every threshold, and the
    trapezoid rule gives the area (a ratio of expectations, as NannyML computes it; equal to
    ``roc_auc_score`` with every row twice, weighted p as positive and 1 - p as negative)."""
    order = np.argsort(-score, kind="stable")
    s, w = score[order], p[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # end of each tie group
    tps, fps = np.cumsum(w)[last], np.cumsum(1.0 - w)[last]
    if tps[-1] <= 0 or fps[-1] <= 0:
        return float("nan")
    tpr, fpr = np.r_[0.0, tps / tps[-1]], np.r_[0.0, fps / fps[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def _prf(conf: np.ndarray, metric: str, binary: bool) -> np.ndarray:
    """Precision, recall or F1 from confusion matrices ``[..., predicted, true]``: the
    second class's for binary, the macro mean otherwise; 0 where undefined (sklearn's
    ``zero_division=0``)."""
    tp = np.diagonal(conf, axis1=-2, axis2=-1)
    denominator = {
        "precision": conf.sum(axis=-1),
        "recall": conf.sum(axis=-2),
        "f1": conf.sum(axis=-1) + conf.sum(axis=-2),
    }[metric]
    numerator = 2 * tp if metric == "f1" else tp
    per_class = np.divide(numerator, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return per_class[..., 1] if binary else per_class.mean(axis=-1)


def _expected(metric: str, raw: np.ndarray, cal: np.ndarray, pred: np.ndarray) -> float:
    k = cal.shape[1]
    if metric == "roc_auc":
        classes = [1] if k == 2 else range(k)
        return float(np.mean([_expected_auc(raw[:, c], cal[:, c]) for c in classes]))
    conf = np.eye(k)[pred].T @ cal  # expected confusion, [predicted, true]
    return float(_prf(conf, metric, k == 2))


def _realized(metric: str, raw: np.ndarray, labels: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The metric for each row of sampled ``labels`` (draws, n)."""
    draws, n = labels.shape
    k = raw.shape[1]
    if metric == "roc_auc":
        from scipy.stats import rankdata

        aucs = []
        for c in [1] if k == 2 else range(k):
            hit = labels == c
            pos = hit.sum(axis=1).astype("float64")
            rank_sum = hit @ rankdata(raw[:, c])
            with np.errstate(divide="ignore", invalid="ignore"):
                aucs.append((rank_sum - pos * (pos + 1) / 2) / (pos * (n - pos)))
        return np.mean(aucs, axis=0)  # NaN where a class is absent from a draw
    cells = (np.arange(draws)[:, None] * k * k + pred[None, :] * k + labels).ravel()
    conf = np.bincount(cells, minlength=draws * k * k).reshape(draws, k, k).astype("float64")
    return _prf(conf, metric, k == 2)


def _bootstrap(
    metric: str, raw: np.ndarray, cal: np.ndarray, pred: np.ndarray, n_draws: int, seed: int
) -> np.ndarray:
    """Realized metric under labels drawn from the calibrated probabilities."""
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(cal, axis=1)[:, :-1]
    chunk = max(1, _MAX_CELLS // (len(cal) * cal.shape[1]))
    out = []
    for start in range(0, n_draws, chunk):
        u = rng.random((min(chunk, n_draws - start), len(cal)))
        labels = (u[:, :, None] >= cumulative[None, :, :]).sum(axis=2)
        out.append(_realized(metric, raw, labels, pred))
    return np.concatenate(out)


def estimate(
    proba: np.ndarray,
    classes: Sequence[Any],
    calibration: Calibration,
    *,
    metric: str = "accuracy",
    predictions: np.ndarray | None = None,
    confidence: float = 0.95,
    n_draws: int = 200,
    seed: int = 0,
) -> Estimate:
    """Estimate ``metric`` on unlabelled rows from their probabilities.

    ``predictions``: the predicted labels (default: the most probable class, so for two
    classes ``p > 0.5``). Binary precision/recall/F1 are the second class's, multiclass
    ones the macro mean over all ``classes``; ROC AUC is one-vs-rest macro for multiclass.
    The band is where the realized metric should fall: for accuracy the normal
    approximation to a sum of independent Bernoulli variables, otherwise outer percentiles
    of ``n_draws`` parametric bootstrap draws (labels sampled from the calibrated
    probabilities, fixed ``seed``). It takes the calibration as exact: an isotonic map
    fitted on a small reference adds error the band does not show.
    """
    kept = _check_classes(classes)
    if tuple(calibration.classes) != kept:
        raise InvalidInput(
            f"calibration was fitted for classes {list(calibration.classes)!r}, not "
            f"{list(kept)!r}; fit it again with the same class order"
        )
    if metric not in METRICS:
        raise InvalidInput(f"metric {metric!r} is not supported; use one of {', '.join(METRICS)}")
    if not 0 < confidence < 1:
        raise InvalidInput(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 1:
        raise InvalidInput(f"n_draws must be a positive integer, got {n_draws!r}")
    raw = check_proba(proba, kept, "proba")
    cal = calibration.apply(raw)
    n = len(raw)
    if predictions is None:
        pred = np.argmax(raw, axis=1)
    else:
        pred = _class_index(predictions, kept, "predictions", n)
    if metric == "accuracy":
        right = cal[np.arange(n), pred]
        value = float(right.mean())
        z = NormalDist().inv_cdf(0.5 + confidence / 2)
        half = z * float(np.sqrt(np.sum(right * (1.0 - right)))) / n
        lower, upper = max(0.0, value - half), min(1.0, value + half)
        return Estimate(metric, value, lower, upper, n, confidence, "analytic")
    value = _expected(metric, raw, cal, pred)
    draws = _bootstrap(metric, raw, cal, pred, n_draws, seed)
    alpha = (1 - confidence) / 2 * 100
    if np.isnan(draws).all():
        lower = upper = float("nan")
    else:
        # outer order statistics: a new draw falls inside with the nominal probability
        lower = float(np.nanpercentile(draws, alpha, method="lower"))
        upper = float(np.nanpercentile(draws, 100 - alpha, method="higher"))
    return Estimate(metric, value, lower, upper, n, confidence, "parametric_bootstrap")
