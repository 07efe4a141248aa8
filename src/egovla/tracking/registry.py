"""The model registry, through ``MlflowClient``: versions, lineage tags, aliases, promotion, rollback.

Every trained LAM, VLM and policy is a version of its registered model. Aliases, never the deprecated
stages: ``candidate`` moves to each new version; ``champion`` moves only through ``promote`` (the gate,
or a person) and ``rollback``. Each promotion records the champion it replaced on the new champion
(``egovla.previous_champion``), so a rollback needs no retraining and can step back more than once.
The alias is always the last write of a move: a registry that fails half-way moves nothing.

Aliases are resolved with ``get_model_version_by_alias``: the SQL store's searches return them empty.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egovla.tracking.runs import tracking_uri

CANDIDATE, CHAMPION = "candidate", "champion"
PREVIOUS = "egovla.previous_champion"
LAYOUT = "egovla.layout"  # "folder": the model folder itself; "pyfunc": an MLflow model, the checkpoint inside
POLICY_ARTIFACT = "policy"


class RegistryError(RuntimeError):
    """The registry refused a request or could not be reached; names the URI."""


@dataclass
class Version:
    name: str
    version: int
    source: str
    run_id: str | None
    created: int
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)

    def metric(self, key: str) -> float | None:
        value = self.tags.get(key)
        return float(value) if value not in (None, "") else None


def _mlflow():
    os.environ.setdefault("MLFLOW_ENABLE_TELEMETRY", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    return mlflow


class Registry:
    def __init__(self, uri: str | None = None):
        mlflow = _mlflow()
        self.uri = uri or tracking_uri()
        self.client = mlflow.MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def _call(self, what: str, fn, *args, **kwargs) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise RegistryError(f"registry at {self.uri}: {what} failed ({type(exc).__name__}: {exc})") from exc

    def _version(self, mv, aliases: list[str] | None = None) -> Version:
        return Version(
            name=mv.name,
            version=int(mv.version),
            source=mv.source,
            run_id=mv.run_id,
            created=int(mv.creation_timestamp or 0),
            tags=dict(mv.tags or {}),
            aliases=list(aliases if aliases is not None else (mv.aliases or [])),
        )

    def _ensure(self, name: str) -> None:
        mlflow = _mlflow()
        try:
            self.client.get_registered_model(name)
        except mlflow.exceptions.MlflowException as exc:
            if "RESOURCE_DOES_NOT_EXIST" not in str(exc.error_code):
                raise RegistryError(f"registry at {self.uri}: cannot read model {name} ({exc})") from exc
            self._call(f"creating model {name}", self.client.create_registered_model, name)

    # ----- registration -------------------------------------------------------------------------
    def register_folder(self, name: str, folder: str | Path, run_id: str, tags: dict[str, str]) -> Version:
        """Uploads a model folder (safetensors + config) into ``run_id``'s artifacts as a new version."""
        self._ensure(name)
        self._call("uploading the model", self.client.log_artifacts, run_id, str(folder), "model")
        run = self._call("reading the run", self.client.get_run, run_id)
        source = f"{run.info.artifact_uri.rstrip('/')}/model"
        mv = self._call(
            f"creating a version of {name}",
            self.client.create_model_version,
            name,
            source,
            run_id,
            tags={**tags, LAYOUT: "folder"},
        )
        return self._finish_registration(name, mv)

    def register_policy(
        self, name: str, policy_dir: str | Path, tags: dict[str, str], example: dict, requirements: list[str]
    ) -> Version:
        """Logs the checkpoint as a pyfunc model from code (``policy_model.py``, nothing pickled) into the
        active run, with a signature and input example, and registers it."""
        mlflow = _mlflow()
        from mlflow.models import infer_signature

        from egovla.tracking import policy_model

        self._ensure(name)
        signature = infer_signature(example, policy_model.predict_example(policy_dir, example))
        info = self._call(
            "logging the policy model",
            mlflow.pyfunc.log_model,
            name="policy",
            python_model=policy_model.__file__,
            artifacts={POLICY_ARTIFACT: str(policy_dir)},
            signature=signature,
            input_example=example,
            pip_requirements=requirements,
        )
        mv = self._call(
            f"creating a version of {name}",
            self.client.create_model_version,
            name,
            info.model_uri,
            info.run_id,
            tags={**tags, LAYOUT: "pyfunc"},
            model_id=info.model_id,
        )
        return self._finish_registration(name, mv)

    def _finish_registration(self, name: str, mv) -> Version:
        self._call(f"moving {CANDIDATE}", self.client.set_registered_model_alias, name, CANDIDATE, mv.version)
        return self.get(name, int(mv.version))

    # ----- reading ------------------------------------------------------------------------------
    def get(self, name: str, version: int) -> Version:
        mv = self._call(f"reading {name} v{version}", self.client.get_model_version, name, str(version))
        return self._version(mv, self._aliases_of(name, int(version)))

    def by_alias(self, name: str, alias: str) -> Version | None:
        try:
            mv = self.client.get_model_version_by_alias(name, alias)
        except Exception as exc:
            code = str(getattr(exc, "error_code", ""))  # an unknown model or alias is "none", not an error
            if "RESOURCE_DOES_NOT_EXIST" in code or "INVALID_PARAMETER_VALUE" in code:
                return None
            raise RegistryError(f"registry at {self.uri}: resolving {name}@{alias} failed ({exc})") from exc
        return self._version(mv, self._aliases_of(name, int(mv.version)))

    def _aliases_of(self, name: str, version: int) -> list[str]:
        mlflow = _mlflow()
        try:
            model = self.client.get_registered_model(name)
        except mlflow.exceptions.MlflowException:
            return []
        aliases = model.aliases or {}
        return sorted(a for a, v in aliases.items() if int(v) == version)

    def versions(self, name: str) -> list[Version]:
        found = self._call(f"listing {name}", self.client.search_model_versions, f"name='{name}'")
        model = self._call(f"reading {name}", self.client.get_registered_model, name) if found else None
        aliases = (model.aliases or {}) if model else {}
        out = [self._version(mv, sorted(a for a, v in aliases.items() if int(v) == int(mv.version))) for mv in found]
        return sorted(out, key=lambda v: v.version)

    def resolve(self, name: str, ref: str | int) -> Version:
        """``ref``: a version number or an alias."""
        if str(ref).isdigit():
            return self.get(name, int(ref))
        found = self.by_alias(name, str(ref))
        if found is None:
            raise RegistryError(f"registry at {self.uri}: {name} has no version with alias {ref!r}")
        return found

    def download(self, name: str, ref: str | int, dst: str | Path) -> tuple[Version, Path]:
        """The version's model folder under ``dst`` (a pyfunc policy: its checkpoint inside)."""
        mlflow = _mlflow()
        version = self.resolve(name, ref)
        Path(dst).mkdir(parents=True, exist_ok=True)
        uri = f"models:/{name}/{version.version}"
        local = self._call(
            f"downloading {uri}", mlflow.artifacts.download_artifacts, artifact_uri=uri, dst_path=str(dst)
        )
        folder = Path(local)
        if version.tags.get(LAYOUT) == "pyfunc":
            folder = folder / "artifacts" / POLICY_ARTIFACT
        return version, folder

    # ----- moves --------------------------------------------------------------------------------
    def set_tags(self, name: str, version: int, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self._call(
                f"tagging {name} v{version}", self.client.set_model_version_tag, name, str(version), key, str(value)
            )

    def promote(self, name: str, version: int, reason: str) -> Version:
        """``champion`` -> ``version``; the champion it replaces is recorded for rollback."""
        current = self.by_alias(name, CHAMPION)
        if current is not None and current.version == version:
            return current
        self.get(name, version)  # an unknown version is an error before anything is written
        self.set_tags(
            name,
            version,
            {
                PREVIOUS: str(current.version) if current else "",
                "egovla.promoted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "egovla.promotion": reason,
            },
        )
        self._call(f"moving {CHAMPION}", self.client.set_registered_model_alias, name, CHAMPION, str(version))
        return self.get(name, version)

    def rollback(self, name: str) -> tuple[Version, Version]:
        """``champion`` back to the champion it replaced. Returns (rolled back, now champion)."""
        current = self.by_alias(name, CHAMPION)
        if current is None:
            raise RegistryError(f"registry at {self.uri}: {name} has no champion to roll back")
        previous = current.tags.get(PREVIOUS, "")
        if not previous:
            raise RegistryError(f"{name} v{current.version} replaced no earlier champion; nothing to roll back to")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.set_tags(name, current.version, {"egovla.rolled_back_at": stamp})
        self._call(f"moving {CHAMPION}", self.client.set_registered_model_alias, name, CHAMPION, previous)
        return self.get(name, current.version), self.get(name, int(previous))
