"""The one config loader: class defaults < named preset < params.yaml section < CLI options and ``--set``.

Every stage config is a ``StageConfig`` subclass naming its params.yaml ``SECTION`` and its ``PRESETS``
(each preset holds only what differs from the class defaults; a params section holds only what differs
from its preset). ``resolve`` merges the layers and validates once; the result is what a run saves as
``config.json`` beside its outputs, and what ``egovla config STAGE`` prints.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from egovla.io.atomic import atomic_write_text

# params.yaml section -> its config class, imported on demand (config.py imports no stage).
STAGES: dict[str, str] = {
    "synth": "egovla.synth.config:SynthConfig",
    "ingest": "egovla.ingest.config:IngestConfig",
    "validate": "egovla.validate.config:ValidateConfig",
    "masks": "egovla.masks.config:MaskConfig",
    "lam": "egovla.lam.config:LAMConfig",
    "label": "egovla.lam.config:LabelConfig",
    "vlm_backbone": "egovla.vlm.config:BackboneConfig",
    "vlm": "egovla.vlm.config:VLMConfig",
    "demos": "egovla.demos.config:DemosConfig",
    "adapt": "egovla.policy.config:AdaptConfig",
    "eval": "egovla.eval.config:EvalConfig",
    "release": "egovla.release.config:ReleaseConfig",
    "serving": "egovla.serving.config:ServingConfig",
}


class ConfigError(ValueError):
    """A config that cannot be resolved: unknown preset, unknown key, bad value. Names the valid ones."""


class Section(BaseModel):
    """A nested config group (e.g. ``lam.train``): unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StageConfig(Section):
    """Base for every stage config. A typo must not silently fall back to a default."""

    SECTION: ClassVar[str] = ""
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {}}

    preset: str = "tiny"

    @classmethod
    def resolve(
        cls,
        preset: str | None = None,
        section: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
        sets: Sequence[str] = (),
    ) -> Self:
        """``overrides``: dotted keys to values, ``None`` meaning "not given" (typed CLI options);
        ``sets``: ``dotted.key=value`` strings, the value parsed as YAML."""
        layer = dict(section or {})
        named = layer.pop("preset", None)
        name = preset or named or cls.model_fields["preset"].default
        if name not in cls.PRESETS:
            raise ConfigError(
                f"unknown preset {name!r} for {cls.SECTION or cls.__name__}; valid: {', '.join(sorted(cls.PRESETS))}"
            )
        values = merge({}, cls.PRESETS[name])
        merge(values, layer)
        merge(values, nest({k: v for k, v in (overrides or {}).items() if v is not None}))
        merge(values, nest(dict(parse_set(s) for s in sets)))
        values["preset"] = name
        unknown = unknown_keys(cls, values)
        if unknown:
            raise ConfigError(
                f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for "
                f"{cls.SECTION or cls.__name__}; valid: {', '.join(field_paths(cls))}"
            )
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError(f"invalid {cls.SECTION or cls.__name__} config: {exc}") from None

    @classmethod
    def from_params(
        cls,
        params_file: str | Path | None,
        preset: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        sets: Sequence[str] = (),
    ) -> Self:
        return cls.resolve(preset, read_section(params_file, cls.SECTION), overrides, sets)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True)

    def save(self, path: str | Path) -> None:
        atomic_write_text(Path(path), self.to_json() + "\n")

    def flat(self) -> dict[str, Any]:
        """Flattened view for experiment trackers (nested keys joined with '.')."""
        out: dict[str, Any] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict) and value:
                for k, v in value.items():
                    walk(f"{prefix}{k}.", v)
            else:
                out[prefix[:-1]] = value

        walk("", self.model_dump(mode="json"))
        return out


@dataclass
class StageResult:
    """What every stage returns: where its outputs are, its metrics (also in ``metrics.json``), the
    files worth looking at, and structured details for the CLI (rejects, failed checks, errors)."""

    stage: str
    out_dir: str
    metrics: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None

    def numeric_metrics(self) -> dict[str, float]:
        """The metrics a tracker or kfp ``Metrics`` artifact takes: numbers only."""
        return numeric(self.metrics)


def numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Only the numbers of a metrics mapping (flags and labels are not metrics)."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def stage_config(name: str) -> type[StageConfig]:
    if name not in STAGES:
        raise ConfigError(f"unknown stage {name!r}; valid: {', '.join(STAGES)}")
    module, _, attr = STAGES[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def read_section(params_file: str | Path | None, section: str) -> dict[str, Any]:
    if params_file is None:
        return {}
    path = Path(params_file)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found")
    doc = yaml.safe_load(path.read_text()) or {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping of stage sections, found {type(doc).__name__}")
    value = doc.get(section) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: section {section!r} must be a mapping, found {type(value).__name__}")
    return dict(value)


def parse_set(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r}: expected dotted.key=value")
    return key.strip(), yaml.safe_load(raw) if raw.strip() else None


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{"train.steps": 5} -> {"train": {"steps": 5}}."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{key}: {part} is not a group")
        node[leaf] = value
    return out


def merge(base: dict[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of ``layer`` into ``base`` (groups merge, everything else replaces)."""
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            # a fresh copy all the way down: a later layer merging into it must never reach a preset
            base[key] = merge({}, value) if isinstance(value, Mapping) else value
    return base


def _group(annotation: Any) -> type[BaseModel] | None:
    """The nested model class of a field (``Group`` or ``Group | None``), else None."""
    candidates = [annotation, *get_args(annotation)] if get_origin(annotation) is not None else [annotation]
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def field_paths(cls: type[BaseModel], prefix: str = "") -> list[str]:
    """Every settable dotted key of a config class."""
    out = []
    for name, info in cls.model_fields.items():
        group = _group(info.annotation)
        out += field_paths(group, f"{prefix}{name}.") if group else [f"{prefix}{name}"]
    return out


def unknown_keys(cls: type[BaseModel], values: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in values.items():
        field = cls.model_fields.get(key)
        if field is None:
            out.append(f"{prefix}{key}")
            continue
        group = _group(field.annotation)
        if group and isinstance(value, Mapping):
            out += unknown_keys(group, value, f"{prefix}{key}.")
    return out
