"""The promotion rule, on the eval results recorded as version tags. Pure: the stage reads and writes.

A policy version carries ``eval.protocol`` (a hash of the tasks, seeds, episodes, step limit and camera
it was evaluated on), ``eval.overall`` and ``eval.task.<task>`` (success, points 0-100).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

PROTOCOL_FIELDS = ("tasks", "episodes", "seed", "max_steps", "camera")


def protocol(eval_config: dict) -> str:
    """Two evaluations are comparable only if they ran the same episodes."""
    fields = {k: eval_config.get(k) for k in PROTOCOL_FIELDS}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def eval_tags(eval_config: dict, per_task: dict[str, float], overall: float) -> dict[str, str]:
    tags = {"eval.protocol": protocol(eval_config), "eval.overall": f"{overall:.4f}"}
    tags |= {f"eval.task.{task}": f"{value:.4f}" for task, value in per_task.items()}
    tags["eval.config"] = json.dumps({k: eval_config.get(k) for k in PROTOCOL_FIELDS}, sort_keys=True)
    return tags


def task_success(tags: dict[str, str]) -> dict[str, float]:
    return {k.removeprefix("eval.task."): float(v) for k, v in tags.items() if k.startswith("eval.task.")}


@dataclass
class Decision:
    promote: bool
    reasons: list[str] = field(default_factory=list)
    delta: float | None = None


def decide(candidate: dict[str, str], champion: dict[str, str] | None, margin: float, max_task_drop: float) -> Decision:
    """``candidate``/``champion``: their version tags; no champion -> the candidate becomes the first."""
    if "eval.overall" not in candidate:
        return Decision(False, ["the candidate has no eval results (eval.overall tag)"])
    if champion is None:
        return Decision(True, ["first model: no champion yet"])
    if candidate.get("eval.protocol") != champion.get("eval.protocol"):
        return Decision(
            False,
            [
                f"evaluated on a different protocol than the champion "
                f"({candidate.get('eval.config')} vs {champion.get('eval.config')}); "
                f"evaluate both on the same tasks and seeds, or promote by hand"
            ],
        )
    new, old = float(candidate["eval.overall"]), float(champion["eval.overall"])
    delta = new - old
    reasons = []
    if delta < margin:
        reasons.append(
            f"overall success {new:.1f} vs champion {old:.1f}: {delta:+.1f} points, below the margin {margin}"
        )
    new_tasks, old_tasks = task_success(candidate), task_success(champion)
    for task in sorted(old_tasks):
        drop = old_tasks[task] - new_tasks.get(task, 0.0)
        if drop > max_task_drop:
            reasons.append(
                f"{task} drops {drop:.1f} points ({old_tasks[task]:.1f} -> {new_tasks.get(task, 0.0):.1f}), "
                f"more than {max_task_drop}"
            )
    if reasons:
        return Decision(False, reasons, delta)
    return Decision(True, [f"overall success {new:.1f} vs champion {old:.1f}: {delta:+.1f} points"], delta)
