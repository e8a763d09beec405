"""A drift report as ONE self-contained HTML page: it opens offline, from a mail or a CI artifact.

plotly's JavaScript is inlined once; each column's figure is plain JSON drawn by a small
script, which is much faster than building a plotly ``Figure`` per column. The template
autoescapes everything (column names and category labels are user data) and the figure JSON
goes through Jinja2's ``tojson``, which escapes ``<``, ``>`` and ``&``.
"""

from __future__ import annotations

import html
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from loopml.monitoring.report import ColumnDrift, format_number

if TYPE_CHECKING:
    import jinja2

    from loopml.monitoring.report import DriftReport

TEMPLATE = "drift_report.html.j2"
REFERENCE_COLOR = "#4c78a8"
CURRENT_COLOR = "#f58518"


def render_drift_html(report: DriftReport, *, title: str | None = None) -> str:
    """The whole page as a string (write it with ``report.to_html(path)``)."""
    from markupsafe import Markup

    columns = list(report.columns.values())
    figures = [column_figure(c) for c in columns]
    return (
        environment()
        .get_template(TEMPLATE)
        .render(
            report=report,
            title=title,
            rows=[column_row(c, f is not None) for c, f in zip(columns, figures, strict=True)],
            figures=figures,
            plotly_js=Markup(plotly_js()),
        )
    )


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("loopml.monitoring", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=1)
def plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    # The bundle never closes a script tag today; make sure it never can.
    return get_plotlyjs().replace("</script", "<\\/script")


def column_row(column: ColumnDrift, has_plot: bool) -> dict[str, Any]:
    css = "untested" if not column.meaningful else ("drift" if column.drifted else "ok")
    ref, cur = column.reference, column.current
    return {
        "name": column.name,
        "kind": column.kind,
        "test": column.test,
        "test_label": column.test_label,
        "statistic": format_number(column.statistic),
        "threshold": format_number(column.threshold),
        "p_value": format_number(column.p_value),
        "verdict": column.verdict,
        "css": css,
        "missing": f"{ref.missing_rate:.1%} → {cur.missing_rate:.1%}",
        "note": column.note,
        "has_plot": has_plot,
    }


def column_figure(column: ColumnDrift) -> dict[str, Any] | None:
    """A plotly figure as plain data: shares of each side over the shared axis.

    Text plotly draws (axis title, categories) is HTML-escaped: plotly reads a few tags in
    labels (``<a href>``, ``<b>``), and user data must never become markup.
    """
    ref_counts, cur_counts = column.reference.counts, column.current.counts
    if not ref_counts or not cur_counts:
        return None
    ref_share, cur_share = _shares(ref_counts), _shares(cur_counts)
    name = html.escape(column.name)
    layout: dict[str, Any] = {
        "height": 320,
        "margin": {"l": 50, "r": 20, "t": 10, "b": 60},
        "yaxis": {"title": {"text": "share of values"}, "tickformat": ".0%"},
        "legend": {"orientation": "h", "y": 1.12},
    }
    if column.bins is not None:
        edges = column.bins
        centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
        widths = [max(b - a, 0.0) or 1.0 for a, b in zip(edges[:-1], edges[1:], strict=True)]
        bars = {"x": centers, "width": widths, "type": "bar", "opacity": 0.6}
        layout.update(barmode="overlay", bargap=0, xaxis={"title": {"text": name}})
        data = [
            {**bars, "y": ref_share, "name": "reference", "marker": {"color": REFERENCE_COLOR}},
            {**bars, "y": cur_share, "name": "current", "marker": {"color": CURRENT_COLOR}},
        ]
    else:
        labels = [html.escape(label) for label in column.categories or []]
        bars = {"x": labels, "type": "bar"}
        layout.update(barmode="group", xaxis={"type": "category", "title": {"text": name}})
        data = [
            {**bars, "y": ref_share, "name": "reference", "marker": {"color": REFERENCE_COLOR}},
            {**bars, "y": cur_share, "name": "current", "marker": {"color": CURRENT_COLOR}},
        ]
    return {"data": data, "layout": layout}


def _shares(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]
