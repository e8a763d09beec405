"""Serving tests: a per-test store, registered models, and a real uvicorn server in a thread."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import loopml


@pytest.fixture(autouse=True)
def serving_store(configured_store: str) -> str:
    return configured_store


def breast_cancer() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    X = data.data
    X.columns = [c.replace(" ", "_") for c in X.columns]
    return X, data.target


def register_classifier(name: str = "cancer", *, C: float = 1.0, alias: str = "champion") -> Any:
    """A scaled LogisticRegression on breast_cancer, registered and aliased."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = breast_cancer()
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000)).fit(X, y)
    mv = loopml.register_model(model, name, input_example=X.head(50), training_data=X)
    loopml.set_alias(name, alias, mv.version)
    return model


def register_city_model(name: str = "rent") -> Any:
    """A classifier with a categorical column, so unseen categories can be sent."""
    import numpy as np
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame(
        {
            "area": rng.uniform(20, 120, n),
            "city": rng.choice(["lyon", "paris", "nantes"], n),
        }
    )
    y = ((X["area"] > 60) ^ (X["city"] == "paris")).astype(int)
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["city"]), remainder="passthrough"
        ),
        LogisticRegression(max_iter=1000),
    ).fit(X, y)
    mv = loopml.register_model(model, name, input_example=X.head(20), training_data=X)
    loopml.set_alias(name, "champion", mv.version)
    return model


def running(app: Any) -> Any:
    """Serve ``app`` with uvicorn on a free loopback port; yield its base URL."""
    from loopml.serving.local import serve_in_thread

    return serve_in_thread(app)


def wait_ready(url: str, timeout: float = 60.0) -> bool:
    """Poll ``/readyz`` of a service started in another process."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


@pytest.fixture
def kit() -> Any:
    """The helpers above, for test modules (pytest's importlib mode cannot import conftest)."""
    import types

    return types.SimpleNamespace(
        breast_cancer=breast_cancer,
        register_classifier=register_classifier,
        register_city_model=register_city_model,
        running=running,
        wait_ready=wait_ready,
    )
