"""The result of a drift comparison: per-column verdicts and the dataset verdict.

Plain dataclasses: ``to_dict()`` is JSON-safe (NaN and infinities become ``None``) so a
report can be stored with a model version, sent over HTTP or turned into alerts;
``to_html()`` renders one self-contained page (see :mod:`loopml.monitoring.html_report`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loopml.models.values import json_safe


@dataclass
class ColumnSummary:
    """One side of one column, for the report's table and plots.

    ``counts`` follow the column's ``bins`` (numeric: ``len(bins) - 1`` counts) or
    ``categories`` (categorical), so both sides can be drawn on the same axis.
    """

    n_rows: int
    n_missing: int
    missing_rate: float
    n_inf: int = 0
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    n_categories: int | None = None
    counts: list[int] = field(default_factory=list)


@dataclass
class ColumnDrift:
    """The verdict on one column.

    ``drifted`` is the test's verdict (p-value below, or distance at or above,
    ``threshold``). ``meaningful`` is False when the data cannot support a verdict (too few
    rows, no values, constant on both sides, a kind that is not tested): such a column is
    never counted as drifted, and ``note`` says why.
    """

    name: str
    kind: str
    test: str
    statistic: float | None
    p_value: float | None
    threshold: float | None
    drifted: bool
    meaningful: bool
    note: str
    reference: ColumnSummary
    current: ColumnSummary
    bins: list[float] | None = None
    categories: list[str] | None = None
    test_label: str = ""

    @property
    def verdict(self) -> str:
        if not self.meaningful:
            return "not tested"
        return "drift" if self.drifted else "no drift"


@dataclass
class DriftReport:
    """Drift of ``current`` against ``reference``, column by column.

    ``columns`` maps each compared column to its :class:`ColumnDrift` (reference order).
    ``dataset_drift`` is True when ``share_drifted >= share_drifted_columns``.
    """

    columns: dict[str, ColumnDrift]
    share_drifted_columns: float
    n_reference_rows: int
    n_current_rows: int
    reference_is_profile: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def drifted_columns(self) -> list[str]:
        return [name for name, column in self.columns.items() if column.drifted]

    @property
    def share_drifted(self) -> float:
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.columns) and self.share_drifted >= self.share_drifted_columns

    def __getitem__(self, name: str) -> ColumnDrift:
        return self.columns[name]

    def to_dict(self) -> dict[str, Any]:
        """Everything in the report as JSON-ready Python values."""
        return json_safe(
            {
                "dataset_drift": self.dataset_drift,
                "share_drifted": self.share_drifted,
                "share_drifted_columns": self.share_drifted_columns,
                "n_columns": len(self.columns),
                "drifted_columns": self.drifted_columns,
                "n_reference_rows": self.n_reference_rows,
                "n_current_rows": self.n_current_rows,
                "reference_is_profile": self.reference_is_profile,
                "notes": list(self.notes),
                "columns": {
                    name: {**asdict(column), "verdict": column.verdict}
                    for name, column in self.columns.items()
                },
            }
        )

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_html(self, path: str | Path | None = None) -> str:
        """One self-contained HTML page (plotly's script inlined: it opens offline).

        Written to ``path`` too when given; the page is returned either way.
        """
        from loopml.monitoring.html_report import render_drift_html

        page = render_drift_html(self)
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page

    def summary(self) -> str:
        """A plain-text table of the verdicts, for logs and terminals."""
        head = (
            f"Drift: {len(self.drifted_columns)} of {len(self.columns)} columns drifted "
            f"({self.share_drifted:.0%}); dataset drift: "
            f"{'YES' if self.dataset_drift else 'no'} "
            f"(when >= {self.share_drifted_columns:.0%} of columns drift)"
        )
        rows = [("column", "kind", "test", "statistic", "p-value", "threshold", "verdict", "note")]
        for c in self.columns.values():
            rows.append(
                (
                    c.name,
                    c.kind,
                    c.test,
                    format_number(c.statistic),
                    format_number(c.p_value),
                    format_number(c.threshold),
                    c.verdict.upper() if c.drifted else c.verdict,
                    c.note,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        lines = [
            "  ".join(
                [*(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)), r[-1]]
            ).rstrip()
            for r in rows
        ]
        return "\n".join([head, *self.notes, "", *lines])

    def __str__(self) -> str:
        return self.summary()


def format_number(value: float | None) -> str:
    """Short, readable numbers for tables: 4 significant digits, tiny p-values in e-form."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value == 0:
        return "0"
    if abs(value) < 1e-3 or abs(value) >= 1e5:
        return f"{value:.3g}"
    return f"{value:.4g}"
