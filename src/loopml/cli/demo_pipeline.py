"""The demo's pipeline: three steps on breast_cancer, run twice to show the cache.

Imported only by ``loopml demo`` (it imports pandas and scikit-learn at the top).
"""

from __future__ import annotations

import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import loopml as ml


@ml.step
def load_frame() -> pd.DataFrame:
    frame = load_breast_cancer(as_frame=True).frame
    ml.validate(frame, ml.infer_schema(frame))  # the data still looks like the reference
    return frame


@ml.step
def fit(frame: pd.DataFrame, C: float) -> Pipeline:
    X, y = frame.drop(columns=["target"]), frame["target"]
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500)).fit(X, y)


@ml.step
def training_accuracy(model: Pipeline, frame: pd.DataFrame) -> float:
    return float(model.score(frame.drop(columns=["target"]), frame["target"]))


@ml.pipeline(experiment="breast-cancer-pipeline")
def demo_training(C: float = 1.0):
    frame = load_frame()
    return training_accuracy(fit(frame, C), frame)
