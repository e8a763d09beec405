"""The model registry: register versions, move aliases, load by URI.

A version is the model's bytes (serialised by its flavor, stored content-addressed),
their sha256, the signature, the lineage (run, data sets by fingerprint, pipeline run, git
commit) and the metrics known at registration. Loading checks the sha256 before anything
is deserialised: a tampered file is refused.
"""

from __future__ import annotations

import getpass
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from loopml.errors import InvalidInput, LoopmlError, NotFound
from loopml.models import webhooks
from loopml.models.loaded import LoadedModel
from loopml.models.uris import parse_model_uri
from loopml.store import validation
from loopml.store.entities import AliasEvent, ArtifactRecord, ModelVersion, RegisteredModel
from loopml.tracking import state
from loopml.tracking.run import Run


class TamperedModelError(LoopmlError):
    """A model file's bytes no longer match the sha256 recorded at registration."""


def register_model(
    model: Any,
    name: str,
    *,
    input_example: Any = None,
    training_data: Any = None,
    target: str | None = None,
    reference_data: Any = None,
    reference_sample_rows: int = 5_000,
    run: Run | str | None = None,
    flavor: str | None = None,
    trusted_pickle: bool = False,
    trusted_types: Sequence[str] = (),
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
) -> ModelVersion:
    """Register ``model`` as the next version of ``name`` (1, 2, 3...).

    The signature is inferred from ``input_example`` (and ``training_data`` for categories,
    nullability and ranges). Lineage and metrics come from ``run`` (default: the active run).

    Monitoring's reference is stored too (see ``loopml.models.reference``): the profile of
    ``reference_data`` (default: ``training_data``) with its ``target`` column (default: the
    target of loopml.yaml, when the data has it) and the model's predictions, plus a sample of
    at most ``reference_sample_rows`` rows.
    """
    from loopml.models.flavors import dump_model

    validation.model_name(name)
    store = state.get_store()
    run_id = _run_id(run)
    payload, flavor = dump_model(model, flavor=flavor, trusted_pickle=trusted_pickle)
    trusted = _types_to_trust(payload, flavor, trusted_types)
    signature = _signature(model, input_example, training_data)
    reference = _reference(
        model, signature, training_data, reference_data, target, reference_sample_rows
    )
    example_sha = _store_example(input_example)
    blob = state.get_artifacts().put_bytes(payload)
    lineage, run_metrics = _lineage_and_metrics(run_id)
    version = store.create_model_version(
        name,
        flavor=flavor,
        sha256=blob.sha256,
        size=blob.size,
        run_id=run_id,
        signature=signature,
        input_example_sha256=example_sha,
        lineage=lineage,
        metrics={**run_metrics, **{k: float(v) for k, v in (metrics or {}).items()}},
        trusted_types=trusted,
        description=description,
        created_by=_user(),
        tags={str(k): str(v) for k, v in (tags or {}).items()},
    )
    if run_id is not None:
        store.log_artifacts(
            run_id,
            [ArtifactRecord(f"models/{name}/v{version.version}.{flavor}", blob.sha256, blob.size)],
        )
        store.set_tags(run_id, {f"loopml.model.{name}": str(version.version)})
    if reference is not None:
        from loopml.models.reference import store_reference

        store_reference(version, reference[0], target=reference[1], source=reference[2])
    webhooks.send_event(
        "model_version_created",
        {"model": name, "version": version.version, "run_id": run_id, "sha256": blob.sha256},
    )
    return version


LIBRARY_PREFIXES = ("sklearn.", "numpy.", "scipy.")


def _types_to_trust(payload: bytes, flavor: str, trusted_types: Sequence[str]) -> list[str]:
    """The types loading this file will need beyond skops' safe defaults.

    Library internals (a RandomForest's ``sklearn.tree._tree.Tree``) are recorded with the
    version: the file is pinned by its sha256, so nobody can swap in a crafted one later.
    Any other type (the user's own classes) must be named in ``trusted_types`` now, so the
    refusal happens at registration, where it can be fixed, not at load in production.
    """
    from loopml.models.flavors import UntrustedTypeError, untrusted_types

    if isinstance(trusted_types, str):
        raise InvalidInput("trusted_types must be a list of type names, not a string.")
    needed = untrusted_types(payload, flavor)
    unknown = [t for t in needed if t not in trusted_types and not t.startswith(LIBRARY_PREFIXES)]
    if unknown:
        raise UntrustedTypeError(
            f"the model contains types loopml will not load unless you trust them: "
            f"{', '.join(unknown)}. Review them, then register with "
            f"trusted_types={unknown!r}.",
            unknown,
        )
    return sorted(set(needed) | set(trusted_types))


def get_model_version(uri: str) -> ModelVersion:
    """The version a URI names: ``name@alias``, ``name/3`` or ``name`` (latest)."""
    ref = parse_model_uri(uri)
    store = state.get_store()
    if ref.alias is not None:
        return store.get_model_version_by_alias(ref.name, ref.alias)
    if ref.version is not None:
        return store.get_model_version(ref.name, ref.version)
    return store.latest_model_version(ref.name)


def load_model(
    uri: str, *, trusted_types: Sequence[str] = (), trusted_pickle: bool = False
) -> LoadedModel:
    """Load a registered model after checking its sha256. Types trusted at registration
    stay trusted; pass ``trusted_types`` to trust more."""
    from loopml.models.flavors import load_model_bytes

    version = get_model_version(uri)
    try:
        payload = state.get_artifacts().read_bytes(version.sha256)
    except NotFound as exc:
        raise NotFound(
            f"the file of model {version.uri} ({version.sha256[:12]}) is missing from the "
            f"artifact store {state.artifact_uri()!r}: {exc}"
        ) from exc
    digest = hashlib.sha256(payload).hexdigest()
    if digest != version.sha256:
        raise TamperedModelError(
            f"model {version.uri}: its file's sha256 is {digest[:16]}..., but "
            f"{version.sha256[:16]}... was registered. The file was modified after "
            "registration; it was not loaded. Re-register the model from its training run."
        )
    model = load_model_bytes(
        payload,
        version.flavor,
        trusted_types=[*version.trusted_types, *trusted_types],
        trusted_pickle=trusted_pickle,
    )
    return LoadedModel(model=model, version=version)


def set_alias(
    name: str, alias: str, version: int, *, reason: str | None = None, forced: bool = False
) -> AliasEvent:
    """Point ``name@alias`` at ``version``; the move is kept in the audit log."""
    event = state.get_store().set_model_alias(
        name, alias, version, user=_user(), reason=reason, forced=forced
    )
    webhooks.send_event(
        "alias_moved",
        {
            "model": name,
            "alias": alias,
            "from_version": event.from_version,
            "to_version": event.to_version,
            "reason": reason,
            "forced": forced,
        },
    )
    return event


def set_version_tags(name: str, version: int, tags: Mapping[str, Any]) -> None:
    """Tags on one version (mutable, unlike the version itself)."""
    state.get_store().set_model_version_tags(name, version, {k: str(v) for k, v in tags.items()})


def set_description(name: str, description: str) -> None:
    """The registered model's description, shown by ``loopml models list``."""
    state.get_store().set_model_description(name, description)


def list_models() -> list[RegisteredModel]:
    return state.get_store().list_models()


def list_model_versions(name: str) -> list[ModelVersion]:
    return state.get_store().list_model_versions(name)


def alias_history(name: str) -> list[AliasEvent]:
    return state.get_store().alias_history(name)


def _run_id(run: Run | str | None) -> str | None:
    if run is None:
        active = state.current_run()
        return active.run_id if active is not None else None
    if isinstance(run, str):
        state.get_store().get_run(run)  # NotFound for an unknown id
        return run
    return run.run_id


def _signature(model: Any, input_example: Any, training_data: Any) -> dict[str, Any] | None:
    if input_example is None:
        return None
    from loopml.data.frames import as_frame
    from loopml.models.signature import infer_signature

    if training_data is not None:
        # the training frame usually also holds the target: keep the model's input columns
        example = as_frame(input_example, name="input_example")
        frame = as_frame(training_data, name="training_data")
        if set(example.columns) <= set(frame.columns):
            training_data = frame[list(example.columns)]
    return infer_signature(input_example, training_data=training_data, model=model).to_dict()


def _reference(
    model: Any,
    signature: dict[str, Any] | None,
    training_data: Any,
    reference_data: Any,
    target: str | None,
    sample_rows: int,
) -> tuple[Any, str | None, str] | None:
    """Monitoring's reference, built before anything is stored (so bad input stores nothing)."""
    source = "reference_data" if reference_data is not None else "training_data"
    data = reference_data if reference_data is not None else training_data
    if data is None or signature is None:
        return None
    from loopml.data.frames import as_frame
    from loopml.models.reference import build_reference

    frame = as_frame(data, name=source)
    column = _target(target, frame)
    features = [c["name"] for c in signature["inputs"]]
    built = build_reference(model, frame, features, target=column, sample_rows=sample_rows)
    return built, column, source


def _target(target: str | None, frame: Any) -> str | None:
    """The target column: as given, else loopml.yaml's target when the frame holds it."""
    if target is not None:
        return target
    from loopml.project import find_project, load_project

    found = find_project()
    if found is None:
        return None
    try:
        spec_target = load_project(found).target
    except LoopmlError:
        return None
    return spec_target if spec_target in frame.columns else None


def _store_example(input_example: Any) -> str | None:
    """The input example as Parquet, so exports and checks can replay it later."""
    if input_example is None:
        return None
    import io

    from loopml.data.frames import as_frame

    buffer = io.BytesIO()
    as_frame(input_example, name="input_example").to_parquet(buffer, index=False)
    return state.get_artifacts().put_bytes(buffer.getvalue()).sha256


def load_input_example(version: ModelVersion) -> Any:
    """The input example stored with ``version`` (a DataFrame), or None."""
    if version.input_example_sha256 is None:
        return None
    import io

    import pandas as pd

    data = state.get_artifacts().read_bytes(version.input_example_sha256)
    if hashlib.sha256(data).hexdigest() != version.input_example_sha256:
        raise TamperedModelError(
            f"the input example of {version.uri} was modified after registration; not used."
        )
    return pd.read_parquet(io.BytesIO(data))


def _lineage_and_metrics(run_id: str | None) -> tuple[dict[str, Any], dict[str, float]]:
    if run_id is None:
        return {}, {}
    state.flush()  # metrics logged just before registration belong to the version
    run = state.get_store().get_run(run_id)
    lineage = {
        "run_id": run_id,
        "experiment_id": run.info.experiment_id,
        "git_commit": run.info.git_commit,
        "git_dirty": run.info.git_dirty,
        "datasets": [
            {"name": d.name, "role": d.role, "fingerprint": d.fingerprint} for d in run.datasets
        ],
        "pipeline_run_id": run.tags.get("loopml.pipeline_run"),
    }
    metrics = {key: metric.value for key, metric in run.metrics.items()}
    return lineage, metrics


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "unknown"
