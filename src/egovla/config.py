"""Typed stage configs: loaded from a params.yaml section, overridden from the CLI, saved resolved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict

from egovla.io.atomic import atomic_write_text


class StageConfig(BaseModel):
    """Base for every stage config. Unknown keys are errors: a typo must not silently fall back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def load(cls, params_file: str | Path | None = None, section: str | None = None,
             **overrides: Any) -> Self:
        values: dict[str, Any] = {}
        if params_file is not None:
            doc = yaml.safe_load(Path(params_file).read_text()) or {}
            values.update(doc.get(section, {}) if section else doc)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def save(self, path: str | Path) -> None:
        atomic_write_text(Path(path), json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True))

    def flat(self) -> dict[str, Any]:
        """Flattened view for experiment trackers (nested keys joined with '.')."""
        out: dict[str, Any] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(f"{prefix}{k}.", v)
            else:
                out[prefix[:-1]] = value

        walk("", self.model_dump(mode="json"))
        return out
