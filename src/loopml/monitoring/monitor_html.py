"""The monitoring report as ONE self-contained HTML page (plotly's JS inlined once).

Sections: alerts, performance over time (realized metric with its confidence band, and the
confidence-based estimate before labels), platform over time (requests/s, latency
percentiles, error rate, CPU, memory), data quality, and the drift table with a
reference-vs-current plot per column (the same figures as the drift report's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopml.monitoring.html_report import column_figure, column_row, environment, plotly_js

if TYPE_CHECKING:
    from loopml.monitoring.monitor import MonitorReport

TEMPLATE = "monitor_report.html.j2"


def render_monitor_html(report: MonitorReport) -> str:
    from markupsafe import Markup

    drift_columns = list(report.drift.columns.values()) if report.drift is not None else []
    drift_figures = [column_figure(c) for c in drift_columns]
    charts = [c for c in (*_performance_charts(report), *_platform_charts(report)) if c]
    return (
        environment()
        .get_template(TEMPLATE)
        .render(
            report=report,
            alerts=[a.to_dict() for a in report.alerts],
            drift_rows=[column_row(c, f is not None) for c, f in zip(drift_columns, drift_figures,
                                                               strict=True)],
            drift_figures=drift_figures,
            charts=charts,
            quality=_quality_rows(report),
            plotly_js=Markup(plotly_js()),
        )
    )


def _performance_charts(report: MonitorReport) -> list[dict[str, Any] | None]:
    frame = report.performance
    if frame is None or frame.empty:
        return []
    x = [_iso(t) for t in frame["window_start"]]
    charts = []
    for metric in _metrics(frame):
        data: list[dict[str, Any]] = [
            {"x": x, "y": _list(frame[f"{metric}_upper"]), "type": "scatter", "mode": "lines",
             "line": {"width": 0}, "showlegend": False, "hoverinfo": "skip"},
            {"x": x, "y": _list(frame[f"{metric}_lower"]), "type": "scatter", "mode": "lines",
             "line": {"width": 0}, "fill": "tonexty", "fillcolor": "rgba(76,120,168,0.2)",
             "name": "confidence band"},
            {"x": x, "y": _list(frame[metric]), "type": "scatter", "mode": "lines+markers",
             "name": f"{metric} (labels)", "line": {"color": "#4c78a8"}},
        ]
        estimate = report.estimated.get(metric)
        if estimate is not None:
            data.append({"x": [x[-1]], "y": [estimate["value"]], "type": "scatter",
                         "mode": "markers", "name": f"{metric} (estimated from confidence)",
                         "marker": {"color": "#f58518", "size": 11, "symbol": "diamond"},
                         "error_y": {"type": "data", "symmetric": False,
                                     "array": [estimate["upper"] - estimate["value"]],
                                     "arrayminus": [estimate["value"] - estimate["lower"]]}})
        charts.append(_chart(f"{metric} over time", data, metric))
    return charts


def _platform_charts(report: MonitorReport) -> list[dict[str, Any] | None]:
    series = report.platform_series
    if series is None or series.empty:
        return []
    x = [_iso(t) for t in series["time"]]

    def line(column: str, name: str) -> dict[str, Any]:
        return {"x": x, "y": _list(series[column]), "type": "scatter", "mode": "lines",
                "name": name}

    return [
        _chart("requests per second", [line("requests_per_s", "requests/s")], "requests/s"),
        _chart("latency", [line("p50_ms", "p50"), line("p95_ms", "p95"),
                           line("p99_ms", "p99")], "ms"),
        _chart("error rate", [line("error_rate", "errors / requests")], "share"),
        _chart("CPU", [line("cpu_percent", "CPU %")], "%"),
        _chart("memory", [line("rss_mb", "resident MB")], "MB"),
    ]


def _chart(title: str, data: list[dict[str, Any]], y_title: str) -> dict[str, Any]:
    return {"title": title, "data": data,
            "layout": {"height": 300, "margin": {"l": 60, "r": 20, "t": 10, "b": 40},
                       "yaxis": {"title": {"text": y_title}},
                       "legend": {"orientation": "h", "y": 1.15}}}


def _quality_rows(report: MonitorReport) -> list[dict[str, Any]]:
    rows = []
    for name, q in (report.quality or {}).get("columns", {}).items():
        rows.append({
            "name": name,
            "missing": (f"{q.get('reference_missing_rate', 0):.1%} → {q.get('missing_rate', 0):.1%}"
                        if "missing_rate" in q else "-"),
            "out_of_range": _pct(q.get("out_of_range_rate")),
            "unseen": _pct(q.get("unseen_rate")),
            "problem": q.get("problem", ""),
        })
    return rows


def _metrics(frame: Any) -> list[str]:
    return [c for c in frame.columns
            if f"{c}_lower" in frame.columns and f"{c}_upper" in frame.columns]


def _list(values: Any) -> list[float | None]:
    return [None if v != v else float(v) for v in values]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _iso(ms: Any) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(int(ms) / 1000, tz=dt.UTC).isoformat()
