"""MLflow's model registry on gittrack's (GTO tags), spelled as MLflow spells it.

- **Version numbers**: MLflow's version ``n`` is the n-th version of the model in registration
  order (tagger date, which gittrack keeps strictly increasing per model; ties between tags
  written by GTO itself broken by semver). Tags never change, so every clone numbers alike.
- **Stages**: ``Staging``/``Production`` (any case) are the GTO stages ``staging``/``production``;
  ``Archived`` unassigns every stage of the version and marks it archived (a version-metadata
  flag); ``None`` unassigns them. Any other name is a GTO stage too, shown as an alias.
- **Aliases** are GTO stages: the alias names the stage's newest holder.
- **Deleting** a version or model is GTO's deprecation (the tags stay, history is kept).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from gittrack.errors import NotFoundError, UsageError
from gittrack.mlflow._logged import find as find_logged
from gittrack.mlflow._logged import is_model_id, model_id
from gittrack.mlflow.entities.model_registry import ModelVersion, RegisteredModel

if TYPE_CHECKING:
    import gittrack

MLFLOW_STAGES = {"production": "Production", "staging": "Staging"}  # a version holding both shows Production
ARCHIVED_TAG = "gittrack.archived"  # version metadata: archived through gittrack.mlflow
_LOGGED_URI = re.compile(r"^models:/(?P<id>m-[^/@]+)(?:/(?P<path>.*))?$")
_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<selector>[^/]+)|@(?P<alias>[^/]+))(?:/(?P<path>.*))?$")


def _semver_key(version: str) -> tuple:
    core, _, pre = version.lstrip("v").partition("-")
    numbers = tuple(int(p) if p.isdigit() else 0 for p in core.split("."))
    return (*numbers, 0 if pre else 1, pre)


def ordered_versions(client: gittrack.Client, name: str) -> list[dict[str, Any]]:
    """Every version of ``name`` (deprecated ones too), oldest registration first: MLflow's numbering."""
    try:
        frame = client.search_model_versions(name)
    except NotFoundError:
        return []  # a model created with metadata only
    rows = frame.to_dict("records")
    rows.sort(key=lambda r: (r["registered_at"].value, _semver_key(r["version"])))
    return rows


def semver_of(client: gittrack.Client, name: str, version: Any) -> str:
    """The GTO version (``v0.0.3``) of MLflow's version number ``version`` (``3`` or ``"3"``)."""
    text = str(version)
    if text.startswith("v") and text[1:2].isdigit():
        return text
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"model version {version!r} is not a positive integer (MLflow's version numbers)")
    rows = ordered_versions(client, name)
    if int(text) > len(rows):
        raise NotFoundError(f"registered model {name!r} has no version {text}; it has {len(rows)}")
    return rows[int(text) - 1]["version"]


def number_of(client: gittrack.Client, name: str, semver: str) -> str:
    """MLflow's version number (a string) of GTO version ``semver``."""
    for number, row in enumerate(ordered_versions(client, name), start=1):
        if row["version"] == semver:
            return str(number)
    raise NotFoundError(f"registered model {name!r} has no version {semver}")


def gto_stage(stage: str) -> str:
    """MLflow's stage name as a GTO stage: ``Staging`` -> ``staging``; other names as given, lowercased."""
    return str(stage).strip().lower()


def model_version(client: gittrack.Client, name: str, number: int, row: dict[str, Any]) -> ModelVersion:
    """The ``ModelVersion`` of one row of :func:`ordered_versions`."""
    semver = row["version"]
    meta = client.get_model_metadata(name, semver)
    held = [s for s in (row["stages"] or "").split(",") if s]
    stage = "None"
    for gto, shown in MLFLOW_STAGES.items():
        if gto in held:
            stage = shown
            break
    else:
        if meta.tags.get(ARCHIVED_TAG) == "true" or not row["active"]:
            stage = "Archived"
    aliases = []
    for held_stage in held:
        try:
            if client.get_model_version(name, held_stage)["version"] == semver:
                aliases.append(held_stage)
        except NotFoundError:
            continue
    created = int(row["registered_at"].value // 1_000_000)
    tags = {k: v for k, v in meta.tags.items() if k != ARCHIVED_TAG}
    return ModelVersion(
        name=name,
        version=str(number),
        creation_timestamp=created,
        last_updated_timestamp=max(created, meta.updated or 0),
        description=meta.description,
        user_id=row["registered_by"],
        current_stage=stage,
        source=f"models:/{model_id(row['run_id'], row['artifact'])}",
        run_id=row["run_id"],
        tags=tags,
        aliases=[a for a in aliases if a not in MLFLOW_STAGES],
        model_id=model_id(row["run_id"], row["artifact"]),
        gto_version=semver,
        gto_artifact=row["artifact"],
    )


def versions(client: gittrack.Client, name: str, include_deleted: bool = False) -> list[ModelVersion]:
    """Every version of ``name`` as ``ModelVersion`` objects, by number (deprecated ones only when asked)."""
    rows = ordered_versions(client, name)
    return [
        model_version(client, name, number, row)
        for number, row in enumerate(rows, start=1)
        if include_deleted or row["active"]
    ]


def get_version(client: gittrack.Client, name: str, version: Any) -> ModelVersion:
    """One version by MLflow number; a deleted (deprecated) version is not found, as in MLflow."""
    semver = semver_of(client, name, version)
    rows = ordered_versions(client, name)
    for number, row in enumerate(rows, start=1):
        if row["version"] == semver:
            if not row["active"]:
                raise NotFoundError(f"version {number} of {name!r} was deleted (deprecated {semver})")
            return model_version(client, name, number, row)
    raise NotFoundError(f"registered model {name!r} has no version {version}")


def by_stage_or_alias(client: gittrack.Client, name: str, stage: str) -> ModelVersion:
    """The version holding a stage or alias (the newest holder)."""
    found = client.get_model_version(name, gto_stage(stage))
    return get_version(client, name, found["version"])


def model_names(client: gittrack.Client) -> list[str]:
    """Every registered model: with versions, or created with metadata only."""
    frame = client.search_model_versions()
    return sorted(set(frame["model"]) | set(client.list_model_metadata()))


def registered_model(client: gittrack.Client, name: str) -> RegisteredModel:
    """A ``RegisteredModel``: description, tags, aliases and the latest version of each stage."""
    meta = client.get_model_metadata(name)
    all_versions = versions(client, name) if _has_versions(client, name) else []
    if not all_versions and meta.created is None:
        raise NotFoundError(f"registered model {name!r} does not exist")
    latest: dict[str, ModelVersion] = {}
    for mv in all_versions:
        latest[mv.current_stage] = mv  # versions come in number order: the last one wins
    aliases = {alias: mv.version for mv in all_versions for alias in mv.aliases}
    times = [t for t in [meta.created, meta.updated] + [v.last_updated_timestamp for v in all_versions] if t]
    return RegisteredModel(
        name=name,
        creation_timestamp=min([meta.created or 0] + [v.creation_timestamp for v in all_versions if v]) or None,
        last_updated_timestamp=max(times) if times else None,
        description=meta.description,
        latest_versions=list(latest.values()),
        tags=dict(meta.tags),
        aliases=aliases,
    )


def _has_versions(client: gittrack.Client, name: str) -> bool:
    try:
        return bool(len(client.search_model_versions(name)))
    except NotFoundError:
        return False


def parse_models_uri(client: gittrack.Client, uri: str) -> tuple[str, str, str]:
    """``models:/name/<n>``, ``models:/name/<Stage>``, ``models:/name@alias``, ``models:/name/latest``
    or ``models:/<logged model id>`` -> (run id, artifact path, what it resolved to)."""
    logged = _LOGGED_URI.match(uri)
    if logged is not None and is_model_id(logged["id"]):
        run, entry = find_logged(client, logged["id"])
        path = entry["path"] + (f"/{logged['path']}" if logged["path"] else "")
        return run.info.run_id, path, f"logged model {logged['id']}"
    match = _URI.match(uri)
    if match is None:
        raise UsageError(
            f"model URI {uri!r} is not models:/NAME/VERSION, models:/NAME/STAGE, models:/NAME@ALIAS "
            "or models:/<logged model id>"
        )
    name, selector, alias = match["name"], match["selector"], match["alias"]
    if alias is not None:
        mv = by_stage_or_alias(client, name, alias)
    elif selector.isdigit():
        mv = get_version(client, name, selector)
    elif selector.lower() == "latest":
        active = versions(client, name)
        if not active:
            raise NotFoundError(f"registered model {name!r} has no version")
        mv = active[-1]
    else:
        mv = by_stage_or_alias(client, name, selector)
    run_id, path = str(mv.run_id), str(mv.gto_artifact)
    if match["path"]:
        path = f"{path}/{match['path']}"
    return run_id, path, f"{name} version {mv.version} ({mv.gto_version})"


def resolve_model_uri(client: gittrack.Client, uri: str) -> tuple[str, str]:
    """Any model URI gittrack.mlflow takes -> (run id, artifact path): ``models:/...``,
    ``runs:/<run id>/<path>``, or a location in a run's artifact folder (``get_artifact_uri``)."""
    from gittrack.mlflow._locations import parse

    if uri.startswith("models:/"):
        run_id, path, _ = parse_models_uri(client, uri)
        return run_id, path
    found = parse(uri)
    if found is None:
        raise UsageError(f"model URI {uri!r} is not a runs:/ or models:/ URI, nor a run's artifact location")
    _, run_id, path = found
    if not path:
        raise UsageError(f"model URI {uri!r} names a run's artifacts, not a model in them (add /<path>)")
    return run_id, path


def register(
    client, model_uri: str, name: str, tags: dict | None = None, description: str | None = None
) -> ModelVersion:
    """Register a model URI as the next version of ``name`` at once (a running run too, as in MLflow:
    the tag is on the run's checkpoint holding the model) and return it as MLflow numbers it."""
    run_id, path = resolve_model_uri(client, model_uri)
    created = client.register_model(f"runs:/{run_id}/{path}", name)
    if tags or description is not None:
        described = description if description is not None else ...
        client.update_model_metadata(name, created["version"], description=described, tags=tags)
    return get_version(client, name, number_of(client, name, created["version"]))
