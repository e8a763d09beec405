"""``loopml demo``: what loopml does today, end to end, on scikit-learn's bundled data.

Until the whole loop exists it shows tracking: several models trained and tracked (params,
metric curves, the dataset's fingerprint and profile, a figure), a search, and a
comparison table. Later stages (registry, serving, monitoring) join as they land.
"""

from __future__ import annotations

import time

from loopml.cli.output import console, print_table


def run_demo(n_runs: int = 6) -> None:
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
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
    with ml.start_run(experiment=experiment, name="sweep", seed=7) as sweep:
        sweep.log_dataset(X_train.assign(target=y_train), name="breast_cancer", role="train")
        sweep.log_dataset(X_test.assign(target=y_test), name="breast_cancer", role="test")
        for kind, build, value in plan[:n_runs]:
            with ml.start_run(name=f"{kind}-{value}", seed=7) as run:
                model = build(value)
                run.log_params({"model": kind, "hyper": value})
                model.fit(X_train, y_train)
                proba = model.predict_proba(X_test)[:, 1]
                auc = roc_auc_score(y_test, proba)
                run.log_metrics({"auc": auc, "accuracy": accuracy_score(y_test, proba > 0.5)})
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

    best = ml.search_runs(
        experiment,
        filter="metrics.auc > 0.95 and (params.model = 'forest' or params.model = 'logreg')",
        order_by=["metrics.auc desc", "attributes.name"],
        limit=10,
    )
    rows = [
        (r["name"], r["params.model"], r["params.hyper"], r["metrics.auc"], r["metrics.accuracy"])
        for _, r in best.iterrows()
    ]
    print_table(
        "search: metrics.auc > 0.95 and (params.model = 'forest' or params.model = 'logreg')",
        ["run", "model", "hyper", "auc", "accuracy"],
        rows,
    )
    top = best["run_id"].tolist()[:3]
    if len(top) >= 2:
        from loopml.cli.runs import compare_runs

        compare_runs(top, as_json=False)
    console.print(
        "Next: [bold]loopml runs list -e breast-cancer[/], [bold]loopml runs show RUN_ID[/]"
    )
