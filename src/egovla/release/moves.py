"""Moving ``champion`` by hand or after the gate: promote a version, roll back to the previous one."""

from __future__ import annotations

from egovla import tracking
from egovla.release.config import ReleaseConfig

UNCHECKED = -2


def promote(
    config: ReleaseConfig, version: int, reason: str, expected_champion: int | None = UNCHECKED
) -> tracking.Version:
    """``expected_champion``: the champion the gate compared against (None: there was none); if another
    run moved it since, nothing moves (the decision is stale). By hand it is not checked."""
    registry = tracking.Registry()
    name = config.policy_model
    if expected_champion != UNCHECKED:
        current = registry.by_alias(name, tracking.CHAMPION)
        if (current.version if current else None) != expected_champion:
            raise tracking.RegistryError(
                f"{name}: champion moved to v{current.version if current else None} since the gate compared "
                f"v{version} with v{expected_champion}; run the gate again"
            )
    return registry.promote(name, version, reason)


def rollback(config: ReleaseConfig) -> tuple[tracking.Version, tracking.Version]:
    return tracking.Registry().rollback(config.policy_model)


def show(config: ReleaseConfig, kind: str = "policy") -> list[tracking.Version]:
    return tracking.Registry().versions(config.model_name(kind))
