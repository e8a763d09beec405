"""Artifacts of a run: files, folders, text, dicts, figures; stored once; never outside."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest
import yaml

import loopml as ml
from loopml.errors import InvalidInput, NotFound, UnsafePath


def blob_files(root: Path) -> list[Path]:
    blobs = root / "blobs"
    return sorted(p for p in blobs.rglob("*") if p.is_file()) if blobs.exists() else []


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def artifact_paths(run_id: str) -> dict[str, str]:
    return {a.path: a.sha256 for a in ml.get_run(run_id).artifacts}


def test_log_artifact_stores_the_file_and_returns_its_path(tmp_path) -> None:
    source = tmp_path / "report.csv"
    source.write_bytes(b"a,b\n1,2\n")
    with ml.start_run() as run:
        assert run.log_artifact(source) == "report.csv"
        assert ml.log_artifact(source, "tables/copy.csv") == "tables/copy.csv"
    records = {a.path: a for a in ml.get_run(run.run_id).artifacts}
    assert records["report.csv"].size == 8
    assert records["report.csv"].sha256 == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert ml.get_artifact(run.run_id, "report.csv") == b"a,b\n1,2\n"
    assert ml.get_artifact(run.run_id, "tables/copy.csv") == b"a,b\n1,2\n"


def test_log_artifact_of_a_missing_file_is_refused(tmp_path) -> None:
    with ml.start_run() as run, pytest.raises(InvalidInput, match="not a file"):
        run.log_artifact(tmp_path / "missing.txt")


def test_log_artifacts_stores_a_folder_tree(tmp_path) -> None:
    folder = tmp_path / "out"
    (folder / "plots" / "deep").mkdir(parents=True)
    (folder / "a.txt").write_text("A")
    (folder / "plots" / "b.txt").write_text("BB")
    (folder / "plots" / "deep" / "c.bin").write_bytes(bytes(range(256)))
    with ml.start_run() as run:
        logged = run.log_artifacts(folder, artifact_path="results")
    expected = ["results/a.txt", "results/plots/b.txt", "results/plots/deep/c.bin"]
    assert sorted(logged) == expected
    assert set(expected) <= set(artifact_paths(run.run_id))
    assert ml.get_artifact(run.run_id, "results/plots/b.txt") == b"BB"
    assert ml.get_artifact(run.run_id, "results/plots/deep/c.bin") == bytes(range(256))


def test_log_text_and_log_dict(tmp_path) -> None:
    data = {"threshold": 0.5, "classes": ["a", "b"], "nested": {"k": 1}}
    with ml.start_run() as run:
        run.log_text("héllo\nworld", "notes/readme.txt")
        run.log_dict(data, "config.json")
        run.log_dict(data, "config.yaml")
    assert ml.get_artifact(run.run_id, "notes/readme.txt").decode("utf-8") == "héllo\nworld"
    assert json.loads(ml.get_artifact(run.run_id, "config.json")) == data
    assert yaml.safe_load(ml.get_artifact(run.run_id, "config.yaml")) == data


def test_identical_content_from_two_runs_is_stored_once(tracking, tmp_path) -> None:
    payload = os.urandom(4096)
    source = tmp_path / "model.bin"
    source.write_bytes(payload)
    with ml.start_run() as first:
        first.log_artifact(source)
    with ml.start_run() as second:
        second.log_bytes(payload, "weights/model.bin")
    sha = hashlib.sha256(payload).hexdigest()
    assert artifact_paths(first.run_id)["model.bin"] == sha
    assert artifact_paths(second.run_id)["weights/model.bin"] == sha
    blobs = blob_files(tracking.artifacts)
    assert [p for p in blobs if p.read_bytes() == payload] == [
        tracking.artifacts / "blobs" / sha[:2] / sha[2:]
    ]
    distinct = set(artifact_paths(first.run_id).values()) | set(
        artifact_paths(second.run_id).values()
    )
    assert len(blobs) == len(distinct)


def test_get_artifact_of_an_unknown_path_lists_what_exists() -> None:
    with ml.start_run() as run:
        run.log_text("x", "present.txt")
    with pytest.raises(NotFound, match="present.txt"):
        ml.get_artifact(run.run_id, "absent.txt")


@pytest.mark.parametrize(
    "artifact_path", ["../x", "/etc/x", "a/../../x", "..", "C:/x", "a\\..\\..\\x", "a\x00b"]
)
def test_unsafe_artifact_paths_are_refused_and_nothing_is_written(
    tracking, tmp_path, artifact_path
) -> None:
    source = tmp_path / "data.txt"
    source.write_text("secret")
    with ml.start_run() as run:
        for attempt in (
            lambda: run.log_artifact(source, artifact_path),
            lambda: run.log_text("secret", artifact_path),
            lambda: run.log_dict({"a": 1}, artifact_path),
            lambda: run.log_artifacts(tmp_path / "nothing-here", artifact_path),
        ):
            with pytest.raises(UnsafePath):
                attempt()
        assert all_files(tracking.artifacts) == []
        assert ml.get_run(run.run_id).artifacts == []
    assert not (tmp_path / "x").exists()
    assert not (tracking.artifacts.parent / "x").exists()


def test_symlink_leaving_the_folder_is_refused_naming_the_link(tracking, tmp_path) -> None:
    outside = tmp_path / "outside_secret.txt"
    outside.write_text("do not upload")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "fine.txt").write_text("fine")
    (folder / "sneaky.txt").symlink_to(outside)
    with ml.start_run() as run:
        with pytest.raises(UnsafePath) as caught:
            run.log_artifacts(folder)
        assert "sneaky.txt" in str(caught.value)
        assert ml.get_run(run.run_id).artifacts == []
        assert all_files(tracking.artifacts) == []


def test_symlink_inside_the_folder_is_followed(tmp_path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "real.txt").write_text("real")
    (folder / "alias.txt").symlink_to(folder / "real.txt")
    with ml.start_run() as run:
        run.log_artifacts(folder)
    assert ml.get_artifact(run.run_id, "alias.txt") == b"real"


# -- figures ------------------------------------------------------------------------------
def matplotlib_figure():
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 2))
    figure.add_subplot().plot([0, 1, 2], [1, 0, 1])
    return figure


def plotly_figure():
    import plotly.graph_objects as go

    return go.Figure(go.Scatter(x=[0, 1, 2], y=[1, 0, 1]))


def test_matplotlib_figure_as_png_and_svg() -> None:
    with ml.start_run() as run:
        assert run.log_figure(matplotlib_figure(), "plots/curve.png") == "plots/curve.png"
        ml.log_figure(matplotlib_figure(), "plots/curve.svg")
    png = ml.get_artifact(run.run_id, "plots/curve.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in ml.get_artifact(run.run_id, "plots/curve.svg")


def test_plotly_figure_as_self_contained_html() -> None:
    with ml.start_run() as run:
        run.log_figure(plotly_figure(), "plots/curve.html")
        run.log_figure(plotly_figure(), "plots/curve.json")
    html = ml.get_artifact(run.run_id, "plots/curve.html").decode("utf-8")
    assert "plotly" in html.lower()
    assert re.search(r"plotly\.js v\d", html), "the plotly.js source is not embedded"
    assert not re.search(r"<script[^>]*\bsrc=", html), "the page loads a script from elsewhere"
    assert json.loads(ml.get_artifact(run.run_id, "plots/curve.json"))["data"][0]["y"] == [1, 0, 1]


@pytest.mark.parametrize(
    ("make", "path", "hint"),
    [
        (matplotlib_figure, "curve.html", "png"),
        (matplotlib_figure, "curve", "png"),
        (plotly_figure, "curve.png", ".html"),
        (lambda: {"data": []}, "curve.png", "dict"),
        (lambda: "not a figure", "curve.png", "str"),
    ],
)
def test_wrong_extension_or_non_figure_is_refused(tracking, make, path, hint) -> None:
    with ml.start_run() as run:
        with pytest.raises(InvalidInput) as caught:
            run.log_figure(make(), path)
        assert hint in str(caught.value)
        assert ml.get_run(run.run_id).artifacts == []
        assert all_files(tracking.artifacts) == []
