"""Reference profiles and alert episodes in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from loopml.errors import InvalidInput, NotFound
from loopml.store.entities import ModelReference


def _version(store, name: str = "churn") -> int:
    return store.create_model_version(
        name, flavor="sklearn", sha256="a" * 64, size=1, run_id=None, signature=None,
        input_example_sha256=None, lineage={}, metrics={}, trusted_types=[],
        description=None, created_by=None, tags={},
    ).version


def test_reference_round_trip_and_replace(store):
    version = _version(store)
    ref = ModelReference("churn", version, profile_sha256="b" * 64, rows=1000, sample_rows=500,
                         sample_sha256="c" * 64, target="y", details={"classes": [0, 1]})
    stored = store.set_model_reference(ref)
    assert stored.created_time > 0
    got = store.get_model_reference("churn", version)
    assert (got.rows, got.sample_rows, got.target) == (1000, 500, "y")
    assert got.details == {"classes": [0, 1]}
    store.set_model_reference(ModelReference("churn", version, profile_sha256="d" * 64, rows=5))
    assert store.get_model_reference("churn", version).profile_sha256 == "d" * 64


def test_reference_errors(store):
    with pytest.raises(NotFound, match="training_data"):
        store.get_model_reference("churn", 1)
    with pytest.raises(NotFound, match="churn/7"):
        store.set_model_reference(ModelReference("churn", 7, profile_sha256="b" * 64, rows=1))
    version = _version(store)
    with pytest.raises(InvalidInput, match="rows"):
        store.set_model_reference(ModelReference("churn", version, profile_sha256="b", rows=-1))


def test_alerts_are_deduplicated_while_open_then_resolved(store):
    first, new = store.fire_alert("churn", "drift", severity="warning", message="3 columns",
                                  evidence={"columns": ["a", "b", "c"]}, now=1000)
    assert new and first.status == "open" and first.count == 1
    again, new = store.fire_alert("churn", "drift", severity="critical", message="4 columns",
                                  evidence={"columns": ["a", "b", "c", "d"]}, now=2000)
    assert not new
    assert (again.alert_id, again.count, again.last_seen_time) == (first.alert_id, 2, 2000)
    assert again.opened_time == 1000 and again.evidence["columns"][-1] == "d"
    other, new = store.fire_alert("churn", "latency", severity="info", message="slow",
                                  evidence={}, now=2500)
    assert new and other.alert_id != first.alert_id
    resolved = store.resolve_alert("churn", "drift", now=3000)
    assert resolved.status == "resolved" and resolved.resolved_time == 3000
    assert store.resolve_alert("churn", "drift") is None
    reopened, new = store.fire_alert("churn", "drift", severity="warning", message="back",
                                     evidence={}, now=4000)
    assert new and reopened.alert_id != first.alert_id
    listed = store.list_alerts("churn")
    assert [a.rule for a in listed] == ["drift", "latency", "drift"]
    assert [a.alert_id for a in store.list_alerts("churn", status="resolved")] == [first.alert_id]


def test_alert_bad_input(store):
    with pytest.raises(InvalidInput, match="severity"):
        store.fire_alert("churn", "drift", severity="loud", message="", evidence={})
    with pytest.raises(InvalidInput, match="status"):
        store.list_alerts(status="closed")
    with pytest.raises(InvalidInput):
        store.fire_alert("bad name!", "drift", severity="info", message="", evidence={})
    assert store.list_alerts() == []
