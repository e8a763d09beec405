"""``Run``: a run being recorded. Use it as a context manager (``with ml.start_run() as run``)."""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from loopml.errors import InvalidInput, LoopmlError
from loopml.store import validation
from loopml.store.entities import ArtifactRecord, DatasetRecord, RunInfo, RunStatus
from loopml.tracking import environment, state

log = logging.getLogger("loopml.tracking")


def _now_ms() -> int:
    return int(time.time() * 1000)


class Run:
    """A run in progress. Params and tags are written at once (errors surface here);
    metrics are buffered and written in batches by a background writer."""

    def __init__(self, info: RunInfo, experiment: str) -> None:
        self.info = info
        self.experiment = experiment
        self._ended = False
        self._writer = state.get_writer()
        self._staged: list[ArtifactRecord] = []

    def __repr__(self) -> str:
        return f"<Run {self.run_id} name={self.info.name!r} experiment={self.experiment!r}>"

    @property
    def run_id(self) -> str:
        return self.info.run_id

    # -- params and tags -------------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Params are fixed once logged: the same value again is fine, another is an error."""
        self._check_open()
        clean = {
            validation.validate_key("param", k): validation.param_value(k, v)
            for k, v in _mapping(params, "params").items()
        }
        state.get_store().log_params(self.run_id, clean)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._check_open()
        state.get_store().set_tags(self.run_id, dict(_mapping(tags, "tags")))

    # -- metrics --------------------------------------------------------------------
    def log_metric(
        self, key: str, value: float, step: int = 0, timestamp: int | None = None
    ) -> None:
        """Buffered: reaches the store within about a second, or at ``flush()``/run end.
        ``timestamp`` is epoch milliseconds (default: now)."""
        if self._ended:
            self._check_open()
        validation.validate_key("metric", key)
        number = validation.metric_value(key, value)
        step = validation.step_value(key, step)
        if timestamp is None:
            stamp = int(time.time() * 1000)
        else:
            stamp = validation.step_value(key, timestamp, "timestamp")
        self._writer.add(self.run_id, key, number, step, stamp)

    def log_metrics(
        self, metrics: Mapping[str, float], step: int = 0, timestamp: int | None = None
    ) -> None:
        self._check_open()
        clean = {
            validation.validate_key("metric", k): validation.metric_value(k, v)
            for k, v in _mapping(metrics, "metrics").items()
        }
        step = validation.step_value("*", step)
        if timestamp is None:
            stamp = _now_ms()
        else:
            stamp = validation.step_value("*", timestamp, "timestamp")
        self._writer.add_many(self.run_id, clean, step, stamp)

    # -- artifacts ------------------------------------------------------------------
    def log_artifact(self, local_path: str | os.PathLike, artifact_path: str | None = None) -> str:
        """Store a file (content-addressed: the same bytes are kept once). Returns its path
        in the run (default: the file name)."""
        from loopml.artifacts import sanitize_path

        self._check_open()
        path = Path(local_path)
        if not path.is_file():
            raise InvalidInput(f"log_artifact: {str(local_path)!r} is not a file.")
        logical = sanitize_path(artifact_path or path.name)
        blob = state.get_artifacts().put_file(path)
        state.get_store().log_artifacts(
            self.run_id, [ArtifactRecord(logical, blob.sha256, blob.size)]
        )
        return logical

    def log_artifacts(
        self, local_dir: str | os.PathLike, artifact_path: str | None = None
    ) -> list[str]:
        """Store every file under a folder; symlinks that leave the folder are refused."""
        from loopml.artifacts import collect_files, sanitize_path

        self._check_open()
        prefix = sanitize_path(artifact_path) + "/" if artifact_path else ""
        files = collect_files(local_dir)
        artifacts = state.get_artifacts()
        records = []
        for relative, absolute in files:
            logical = sanitize_path(prefix + relative)
            blob = artifacts.put_file(absolute)
            records.append(ArtifactRecord(logical, blob.sha256, blob.size))
        state.get_store().log_artifacts(self.run_id, records)
        return [r.path for r in records]

    def log_bytes(self, data: bytes, artifact_path: str) -> str:
        from loopml.artifacts import sanitize_path

        self._check_open()
        logical = sanitize_path(artifact_path)
        blob = state.get_artifacts().put_bytes(data)
        state.get_store().log_artifacts(
            self.run_id, [ArtifactRecord(logical, blob.sha256, blob.size)]
        )
        return logical

    def stage_bytes(self, data: bytes, artifact_path: str) -> str:
        """Store the bytes now but record the artifact with the run's end (one write less
        per run: what pipeline steps use for their outputs). Visible once the run ends."""
        from loopml.artifacts import sanitize_path

        self._check_open()
        logical = sanitize_path(artifact_path)
        blob = state.get_artifacts().put_bytes(data)
        self._staged = [r for r in self._staged if r.path != logical]  # the last one wins
        self._staged.append(ArtifactRecord(logical, blob.sha256, blob.size))
        return logical

    def log_text(self, text: str, artifact_path: str) -> str:
        return self.log_bytes(text.encode("utf-8"), artifact_path)

    def log_dict(self, data: Mapping[str, Any], artifact_path: str) -> str:
        """A dict as JSON (``.json``) or YAML (``.yaml``/``.yml``)."""
        if artifact_path.endswith((".yaml", ".yml")):
            import yaml

            return self.log_text(yaml.safe_dump(dict(data), sort_keys=False), artifact_path)
        import json

        return self.log_text(json.dumps(data, indent=2, default=str), artifact_path)

    def log_figure(self, figure: Any, artifact_path: str) -> str:
        """A matplotlib or plotly figure; the format follows the extension (png, svg, pdf,
        html for plotly: a self-contained page that opens offline)."""
        from loopml.tracking.figures import figure_bytes

        return self.log_bytes(figure_bytes(figure, artifact_path), artifact_path)

    # -- datasets -------------------------------------------------------------------
    def log_dataset(self, data: Any, name: str = "dataset", role: str = "train") -> DatasetRecord:
        """Fingerprint, schema and profile of a frame (the same data gives the same
        fingerprint), linked to this run with a role such as train, validation or test."""
        from loopml.data.fingerprint import fingerprint
        from loopml.data.frames import as_frame
        from loopml.data.profile import profile_frame
        from loopml.data.schema import infer_schema

        self._check_open()
        validation.validate_key("dataset name", name)
        validation.validate_key("dataset role", role)
        frame = as_frame(data, name=name)
        record = DatasetRecord(
            fingerprint=fingerprint(frame),
            n_rows=int(frame.shape[0]),
            n_columns=int(frame.shape[1]),
            schema=infer_schema(frame),
            profile=profile_frame(frame),
        )
        state.get_store().log_dataset(self.run_id, record, name=name, role=role)
        return record

    # -- lifecycle ------------------------------------------------------------------
    def flush(self) -> None:
        state.flush()

    def end(self, status: RunStatus | str = RunStatus.FINISHED, error: str | None = None) -> None:
        """Flush buffered metrics, then record the end. Ending twice does nothing."""
        status = _end_status(status)
        if self._ended:
            return
        self._ended = True
        with state._lock:
            if self in state.active_runs:
                state.active_runs.remove(self)
        if self.info.parent_run_id is None:  # children share their parent's environment
            try:
                _attach_packages(self.run_id, wait=5.0)
            except Exception as exc:  # noqa: BLE001 - never let this keep a run open
                log.warning("loopml could not store the package list of %s: %s", self.run_id, exc)
        last_points = self._writer.take(self.run_id)
        try:
            self.info = state.get_store().end_run(
                self.run_id, status, error=error, metrics=last_points, artifacts=self._staged
            )
        except BaseException:
            self._writer.give_back(last_points)
            raise

    def _finish_with(self, exc: BaseException | None, detail: str | None) -> None:
        if exc is None:
            self.end(RunStatus.FINISHED)
        elif isinstance(exc, KeyboardInterrupt | SystemExit) and not _is_clean_exit(exc):
            self.end(RunStatus.KILLED, error=detail or type(exc).__name__)
        elif isinstance(exc, SystemExit):
            self.end(RunStatus.FINISHED)
        else:
            self.end(RunStatus.FAILED, error=detail)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        detail = "".join(traceback.format_exception(kind, exc, tb)) if exc is not None else None
        self._finish_with(exc, detail)

    def _check_open(self) -> None:
        if self._ended:
            raise LoopmlError(
                f"run {self.run_id} has ended ({self.info.status.value}); start a new run "
                "to log more."
            )


def _end_status(status: RunStatus | str) -> RunStatus:
    ends = [s.value for s in RunStatus if s.is_terminal]
    try:
        result = RunStatus(str(status).upper())
    except ValueError:
        result = None
    if result is None or not result.is_terminal:
        raise InvalidInput(f"a run ends with status {', '.join(ends)}; not {status!r}.")
    return result


def _is_clean_exit(exc: BaseException) -> bool:
    return isinstance(exc, SystemExit) and exc.code in (None, 0)


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"{what} must be a mapping of names to values, not {type(value).__name__}."
        )
    return value


def _attach_packages(run_id: str, wait: float) -> None:
    """Tag the run with the package list's hash and store the list as an artifact."""
    packages = environment.packages.get(timeout=wait)
    if packages is None:
        return
    blob = state.get_artifacts().put_bytes(packages.text.encode())
    store = state.get_store()
    store.log_artifacts(
        run_id, [ArtifactRecord("environment/requirements.txt", blob.sha256, blob.size)]
    )
    store.set_tags(run_id, {"loopml.packages_hash": packages.sha256})
