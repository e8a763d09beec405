"""``loopml demo``: what loopml does today, end to end, on scikit-learn's bundled data.

Until the whole loop exists it shows tracking: several models trained and tracked (params,
metric curves, the dataset's fingerprint and profile, a figure), a search, and a
comparison table. Later stages (registry, serving, monitoring) join as they land.
"""

from __future__ import annotations

import time
from typing import Any

from loopml.cli.output import console, print_table


def run_demo(n_runs: int = 6) -> None:
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import loopml as ml
    from loopml.tracking import state

    console.print(f"[bold]loopml demo[/] — store: {state.store_uri()}")
    data = load_breast_cancer(as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=0, stratify=data.target
    )
    candidates = [
        (
            "logreg",
            lambda c: make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=500)),
            [0.01, 0.1, 1.0],
        ),
        (
            "forest",
            lambda n: RandomForestClassifier(n_estimators=int(n), random_state=0),
            [50, 200],
        ),
        (
            "boosting",
            lambda n: GradientBoostingClassifier(n_estimators=int(n), random_state=0),
            [100],
        ),
    ]
    plan = [(kind, build, value) for kind, build, values in candidates for value in values]
    experiment = "breast-cancer"
    started = time.perf_counter()
    trained: dict[str, object] = {}
    with ml.start_run(experiment=experiment, name="sweep", seed=7) as sweep:
        sweep.log_dataset(X_train.assign(target=y_train), name="breast_cancer", role="train")
        sweep.log_dataset(X_test.assign(target=y_test), name="breast_cancer", role="test")
        ml.baseline(X_train, y_train)  # the trivial model's metrics, as baseline.*
        for kind, build, value in plan[:n_runs]:
            with ml.start_run(name=f"{kind}-{value}", seed=7) as run:
                model = build(value)
                run.log_params({"model": kind, "hyper": value})
                model.fit(X_train, y_train)
                # task metrics, latency, size and figures, logged into the run
                report = ml.evaluate(model, X_test, y_test, importance=False, latency_rows=50)
                auc = report.metrics["roc_auc"]
                trained[run.run_id] = model
                # a learning curve: AUC as the training set grows
                for step, share in enumerate(np.linspace(0.2, 1.0, 5)):
                    n = int(len(X_train) * share)
                    partial = build(value).fit(X_train[:n], y_train[:n])
                    run.log_metric(
                        "auc_vs_data",
                        roc_auc_score(y_test, partial.predict_proba(X_test)[:, 1]),
                        step=step,
                    )
                console.print(f"  tracked {run.info.name:<16} auc={auc:.4f}")
    elapsed = time.perf_counter() - started
    console.print(
        f"{min(n_runs, len(plan))} runs tracked in {elapsed:.1f} s (parent {sweep.run_id})"
    )

    search = "metrics.roc_auc > 0.95 and (params.model = 'forest' or params.model = 'logreg')"
    this_sweep = f"attributes.parent_run_id = '{sweep.run_id}'"  # not earlier demos' runs
    best = ml.search_runs(
        experiment,
        filter=f"{this_sweep} and {search}",
        order_by=["metrics.roc_auc desc", "attributes.name"],
        limit=10,
    )
    rows = [
        (
            r["name"],
            r["params.model"],
            r["params.hyper"],
            r["metrics.roc_auc"],
            r["metrics.accuracy"],
            r["metrics.latency_p95_ms"],
        )
        for _, r in best.iterrows()
    ]
    print_table(
        f"search: {search}", ["run", "model", "hyper", "roc_auc", "accuracy", "p95 ms"], rows
    )
    top = best["run_id"].tolist()[:3]
    if len(top) >= 2:
        from loopml.cli.runs import compare_runs

        compare_runs(top, as_json=False)
        spec = _registry_tour(experiment, top[:2], trained, X_train, y_train, X_test, y_test)
        from loopml.cli.demo_serving import serving_tour

        serving_tour(experiment, spec, X_test, y_test)
    _pipeline_tour()
    console.print(
        "Next: [bold]loopml runs list -e breast-cancer[/], [bold]loopml models show "
        "breast-cancer[/], [bold]loopml serve breast-cancer@champion[/], [bold]loopml monitor "
        "breast-cancer@champion --html report.html[/], [bold]loopml init my-project[/]"
    )


DEMO_SPEC = """
name: breast-cancer
task: binary
target: target
objectives:
  roc_auc: ">= 0.95"
  latency_p95_ms: 50
  max_model_mb: 20
serving:
  confidence_threshold: 0.8
  below_threshold: review
monitoring:
  share_drifted_columns: 0.1
"""


def _registry_tour(
    name: str,
    run_ids: list[str],
    trained: dict,
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
) -> Any:
    """Register the two best runs' models, promote the best through the gates, show the
    refusal of the runner-up, and load the champion by its alias."""
    import loopml as ml
    from loopml.models.promotion import PromotionRefused
    from loopml.project import parse_project

    spec = parse_project(DEMO_SPEC, source="demo spec")
    versions = [
        ml.register_model(
            trained[run_id],
            name,
            run=run_id,
            input_example=X_train[:20],
            training_data=X_train.assign(target=y_train),
            target="target",  # monitoring's reference keeps the labels, for estimates
        )
        for run_id in run_ids
    ]
    console.print(f"registered {name} versions {', '.join(str(v.version) for v in versions)}")
    first, second = versions
    result = ml.promote(name, first.version, holdout=(X_test, y_test), spec=spec)
    console.print(f"[bold]promote {name}/{first.version} → champion[/]\n{result.table()}")
    try:
        ml.promote(name, second.version, holdout=(X_test, y_test), spec=spec, margin=0.001)
    except PromotionRefused as refused:
        console.print(
            f"[bold]promote {name}/{second.version} → refused[/]\n{refused.result.table()}"
        )
    champion = ml.load_model(f"{name}@champion")
    console.print(
        f"loaded {champion.version.uri} by alias (sha256 checked); predictions for 5 rows: "
        f"{champion.predict(X_test[:5]).tolist()}"
    )
    return spec


def _pipeline_tour() -> None:
    """Run a three-step pipeline twice: the second run comes from the cache."""
    from loopml.cli.demo_pipeline import demo_training
    from loopml.pipelines.lineage import render_tree

    for attempt in ("first", "second"):
        started = time.perf_counter()
        result = demo_training.run(C=0.5, seed=7)
        states = ", ".join(f"{s.name}: {s.status}" for s in result.steps)
        console.print(
            f"pipeline demo_training, {attempt} run: accuracy {result.output:.4f} in "
            f"{time.perf_counter() - started:.2f} s ({states})"
        )
    console.print(render_tree(result.run_id), highlight=False)
