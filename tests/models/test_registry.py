"""Registering, aliasing and loading models through the public API."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import loopml as ml
from loopml.errors import InvalidInput, NotFound
from loopml.models import webhooks
from loopml.models.registry import TamperedModelError


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    bunch = load_breast_cancer(as_frame=True)
    return bunch.data, bunch.target


def train(data, C: float = 1.0):
    X, y = data
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500)).fit(X, y)


def test_log_model_registers_numbered_versions_with_lineage(data):
    X, y = data
    with ml.start_run(experiment="bc", name="lr") as run:
        run.log_dataset(X.assign(target=y), name="bc", role="train")
        run.log_metric("roc_auc", 0.99)
        v1 = run.log_model(train(data), "bc", input_example=X[:20], training_data=X)
        v2 = run.log_model(train(data, C=0.1), "bc", input_example=X[:20])
    assert (v1.version, v2.version) == (1, 2)
    assert v1.run_id == run.run_id and v1.flavor == "sklearn"
    assert v1.lineage["run_id"] == run.run_id
    assert [d["role"] for d in v1.lineage["datasets"]] == ["train"]
    assert v1.metrics["roc_auc"] == 0.99  # the run's metrics at registration
    assert [c["name"] for c in v1.signature["inputs"]] == list(X.columns)
    stored = ml.get_run(run.run_id)
    assert "models/bc/v1.sklearn" in [a.path for a in stored.artifacts]
    assert stored.tags["loopml.model.bc"] == "2"


def test_load_by_version_alias_and_latest_predicts_like_the_original(data):
    X, _ = data
    model = train(data)
    version = ml.register_model(model, "bc", input_example=X[:5])
    ml.set_alias("bc", "champion", version.version, reason="first model")
    for uri in ("bc/1", "bc@champion", "bc"):
        loaded = ml.load_model(uri)
        assert loaded.version.version == 1
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
        np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    assert [c.name for c in ml.load_model("bc@champion").signature.inputs] == list(X.columns)


def test_tampered_model_file_is_refused(data, registry_store):
    version = ml.register_model(train(data), "bc")
    blob = registry_store / "blobs" / version.sha256[:2] / version.sha256[2:]
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b"\x00")
    with pytest.raises(TamperedModelError, match="bc/1.*modified"):
        ml.load_model("bc/1")


def test_alias_moves_are_kept_in_the_audit_log(data):
    for C in (1.0, 0.5, 0.1):
        ml.register_model(train(data, C), "bc")
    ml.set_alias("bc", "champion", 1, reason="baseline")
    ml.set_alias("bc", "champion", 3, reason="better auc")
    ml.set_alias("bc", "challenger", 2)
    history = ml.alias_history("bc")
    moves = [(e.alias, e.from_version, e.to_version, e.reason) for e in history]
    assert moves == [
        ("champion", None, 1, "baseline"),
        ("champion", 1, 3, "better auc"),
        ("challenger", None, 2, None),
    ]
    assert all(e.user for e in history) and not any(e.forced for e in history)
    [model] = ml.list_models()
    assert model.latest_version == 3 and model.aliases == {"challenger": 2, "champion": 3}


@pytest.mark.parametrize(
    ("uri", "error", "message"),
    [
        ("ghost@champion", NotFound, "'ghost' is not registered"),
        ("bc@prod", NotFound, "no alias 'prod'"),
        ("bc/7", NotFound, "no version 7; its versions: 1"),
        ("bc/0", InvalidInput, "positive integer"),
        ("bc@1x", InvalidInput, "start with a letter"),
        ("b c", InvalidInput, "not allowed"),
        ("", InvalidInput, "model URI"),
    ],
)
def test_bad_model_uris_are_clear_errors(data, uri, error, message):
    ml.register_model(train(data), "bc")
    with pytest.raises(error, match=message):
        ml.load_model(uri)


def test_bad_registrations_write_nothing(data):
    X, _ = data
    with pytest.raises(InvalidInput, match="predict"):
        ml.register_model(object(), "bc")
    with pytest.raises(InvalidInput):
        ml.register_model(train(data), "bc", input_example=pd.DataFrame(index=range(3)))
    with pytest.raises(InvalidInput, match="not allowed"):
        ml.register_model(train(data), "bad/name")
    with pytest.raises(NotFound, match="'nope'"):
        ml.register_model(train(data), "bc", run="nope")
    assert ml.list_models() == []
    with pytest.raises(NotFound):
        ml.set_alias("bc", "champion", 1)


def test_registry_events_reach_the_webhook(data, monkeypatch):
    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("LOOPML_REGISTRY_WEBHOOK", f"http://127.0.0.1:{server.server_port}/")
        ml.register_model(train(data), "bc")
        ml.set_alias("bc", "champion", 1, reason="go")
        webhooks.wait_for_deliveries()
    finally:
        server.shutdown()
    events = sorted(received, key=lambda e: e["time"])
    assert [e["event"] for e in events] == ["model_version_created", "alias_moved"]
    assert events[1]["model"] == "bc" and events[1]["to_version"] == 1
    assert events[1]["reason"] == "go"


def test_a_dead_webhook_never_fails_a_registration(data, monkeypatch):
    monkeypatch.setenv("LOOPML_REGISTRY_WEBHOOK", "http://127.0.0.1:9/")  # discard port
    version = ml.register_model(train(data), "bc")
    webhooks.wait_for_deliveries()
    assert version.version == 1


def test_register_outside_a_run_has_no_lineage_but_loads(data):
    version = ml.register_model(train(data), "bc", description="manual upload")
    assert version.run_id is None and version.lineage == {}
    assert ml.load_model("bc").version.description == "manual upload"


class Doubler:
    """Any object with predict: the pyfunc flavor (pickle, trusted only on request)."""

    def predict(self, X):
        return np.asarray(X)[:, 0] * 2


def test_pyfunc_needs_trusted_pickle(data):
    with pytest.raises(InvalidInput, match="pickle"):
        ml.register_model(Doubler(), "double")
    with pytest.warns(UserWarning):
        version = ml.register_model(Doubler(), "double", trusted_pickle=True)
    assert version.flavor == "pyfunc"
    with pytest.raises(Exception, match="pickle"):
        ml.load_model("double")
    with pytest.warns(UserWarning):
        loaded = ml.load_model("double", trusted_pickle=True)
    assert loaded.predict(np.ones((2, 2))).tolist() == [2.0, 2.0]


def test_models_registered_in_a_child_process_share_numbering(data, tmp_path):
    import subprocess
    import sys

    from loopml.tracking import state

    script = (
        "import loopml as ml\n"
        "from sklearn.dummy import DummyClassifier\n"
        "m = DummyClassifier().fit([[0], [1]], [0, 1])\n"
        "print(ml.register_model(m, 'dummy').version)\n"
    )
    env = {
        "LOOPML_STORE": state.store_uri(),
        "LOOPML_ARTIFACTS": state.artifact_uri(),
        "PATH": "/usr/bin:/bin",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    versions = sorted(int(p.communicate(timeout=120)[0]) for p in procs)
    assert versions == [1, 2, 3, 4]
    assert Path(tmp_path).exists()


class AddOne:
    """A user's own transformer: not trusted by default."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X) + 1


def test_library_types_are_trusted_at_registration_and_user_types_must_be_named(data):
    from sklearn.ensemble import RandomForestClassifier

    from loopml.models.flavors import UntrustedTypeError

    X, y = data
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    version = ml.register_model(forest, "forest")
    assert "sklearn.tree._tree.Tree" in version.trusted_types
    np.testing.assert_array_equal(ml.load_model("forest").predict(X), forest.predict(X))

    custom = make_pipeline(AddOne(), StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    with pytest.raises(UntrustedTypeError, match="AddOne") as refused:
        ml.register_model(custom, "custom")
    assert ml.list_models()[0].name == "forest" and len(ml.list_models()) == 1
    version = ml.register_model(custom, "custom", trusted_types=refused.value.types)
    np.testing.assert_array_equal(ml.load_model("custom/1").predict(X), custom.predict(X))


def test_version_tags_and_model_description_are_editable(data):
    ml.register_model(train(data), "bc", tags={"stage": "dev"})
    ml.set_version_tags("bc", 1, {"stage": "prod", "owner": "ana"})
    ml.set_description("bc", "breast cancer screening")
    assert ml.get_model_version("bc/1").tags == {"stage": "prod", "owner": "ana"}
    assert ml.list_models()[0].description == "breast cancer screening"
    with pytest.raises(NotFound, match="no version 4"):
        ml.set_version_tags("bc", 4, {"a": "b"})
    with pytest.raises(InvalidInput, match="illegal character"):
        ml.set_version_tags("bc", 1, {"a*": "b"})
    with pytest.raises(NotFound, match="'ghost'"):
        ml.set_description("ghost", "x")
