"""Stage: validate a corpus with great-expectations before anything trains on it.

Two suites: one over the manifest (one row per clip) and one over the decoded episodes. Every
expectation's outcome is reported; each clip that fails one is quarantined (a validate-stage row
in the rejects table) so downstream stages skip it, while the rest of the corpus stays usable.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from egovla import tracking
from egovla.config import StageConfig
from egovla.corpus import Corpus
from egovla.io.atomic import atomic_dir, atomic_write_json

log = logging.getLogger(__name__)


class ValidateConfig(StageConfig):
    min_fps: float = 1.0
    max_fps: float = 240.0
    min_side: int = 16
    max_side: int = 8192
    min_source_frames: int = 8
    min_episode_frames: int = 4


@dataclass
class ValidationReport:
    success: bool
    results: list[dict] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    clips: int = 0

    def metrics(self) -> dict:
        return {"success": int(self.success), "clips": self.clips, "quarantined": len(self.quarantined),
                "expectations": len(self.results),
                "expectations_failed": sum(not r["success"] for r in self.results)}


def manifest_expectations(gx, cfg: ValidateConfig) -> list:
    e = gx.expectations
    return [
        e.ExpectColumnValuesToNotBeNull(column="clip_id"),
        e.ExpectColumnValuesToBeUnique(column="clip_id"),
        e.ExpectColumnValuesToBeUnique(column="episode_index"),
        e.ExpectColumnValuesToMatchRegex(column="sha256", regex=r"^[0-9a-f]{64}$"),
        e.ExpectColumnValuesToBeBetween(column="fps", min_value=cfg.min_fps, max_value=cfg.max_fps),
        e.ExpectColumnValuesToBeBetween(column="width", min_value=cfg.min_side, max_value=cfg.max_side),
        e.ExpectColumnValuesToBeBetween(column="height", min_value=cfg.min_side, max_value=cfg.max_side),
        e.ExpectColumnValuesToBeBetween(column="frames", min_value=cfg.min_source_frames),
        e.ExpectColumnValuesToBeBetween(column="duration_s", min_value=0, strict_min=True),
    ]


def episode_expectations(gx, size: int, cfg: ValidateConfig) -> list:
    e = gx.expectations
    return [
        e.ExpectColumnValuesToBeInSet(column="decodable", value_set=[True]),
        e.ExpectColumnPairValuesToBeEqual(column_A="decoded_frames", column_B="manifest_frames"),
        e.ExpectColumnValuesToBeBetween(column="decoded_frames", min_value=cfg.min_episode_frames),
        e.ExpectColumnValuesToBeInSet(column="height", value_set=[size]),
        e.ExpectColumnValuesToBeInSet(column="width", value_set=[size]),
    ]


def decode_table(corpus: Corpus, manifest: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for clip_id, episode, expected in zip(manifest["clip_id"], manifest["episode_index"], manifest["episode_frames"]):
        row = {"clip_id": clip_id, "manifest_frames": int(expected), "decodable": False, "decoded_frames": 0,
               "height": 0, "width": 0, "error": ""}
        try:
            frames = corpus.read_frames(int(episode))
            row.update(decodable=True, decoded_frames=len(frames), height=frames.shape[1], width=frames.shape[2])
        except Exception as exc:  # noqa: BLE001 - any failure to decode is the finding itself
            row["error"] = f"{corpus.video_path(int(episode))}: {type(exc).__name__}: {exc}"
        rows.append(row)
    return pd.DataFrame(rows)


def _check(gx, context, name: str, frame: pd.DataFrame, expectations: list) -> list[dict]:
    asset = context.data_sources.add_pandas(name).add_dataframe_asset(name)
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
    suite = context.suites.add(gx.ExpectationSuite(name=name))
    for expectation in expectations:
        suite.add_expectation(expectation)
    result = batch.validate(suite, result_format="COMPLETE")
    out = []
    for r in result.results:
        rows = r.result.get("unexpected_index_list") or []
        kwargs = {k: v for k, v in r.expectation_config.kwargs.items() if k != "batch_id"}
        out.append({"suite": name, "expectation": r.expectation_config.type, "kwargs": kwargs,
                    "success": bool(r.success), "unexpected_count": int(r.result.get("unexpected_count") or 0),
                    "failing_clip_ids": sorted({str(frame["clip_id"].iloc[i]) for i in rows if i < len(frame)})})
    return out


def run(config: ValidateConfig, corpus_dir: str | Path, out_dir: str | Path | None = None) -> ValidationReport:
    """Validates ``corpus_dir`` in place, or a copy of it at ``out_dir`` (pipelines keep inputs read-only)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    if out_dir is not None:
        with atomic_dir(Path(out_dir)) as tmp:
            shutil.copytree(corpus_dir, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".lock"))
        corpus_dir = out_dir
    corpus = Corpus(corpus_dir)
    manifest = corpus.manifest().reset_index(drop=True)
    context = gx.get_context(mode="ephemeral")
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # keep batch logs readable
    results: list[dict] = []
    if len(manifest):
        results += _check(gx, context, "manifest", manifest, manifest_expectations(gx, config))
        decoded = decode_table(corpus, manifest)
        results += _check(gx, context, "episodes", decoded, episode_expectations(gx, corpus.size, config))
        errors = dict(zip(decoded["clip_id"], decoded["error"]))
    else:
        results.append({"suite": "manifest", "expectation": "corpus_not_empty", "kwargs": {}, "success": False,
                        "unexpected_count": 0, "failing_clip_ids": []})
        errors = {}

    failures: dict[str, list[str]] = {}
    for r in results:
        for clip_id in r["failing_clip_ids"]:
            failures.setdefault(clip_id, []).append(f"{r['suite']}.{r['expectation']}")
    with corpus.lock():
        for clip_id, failed in failures.items():
            row = manifest[manifest["clip_id"] == clip_id].iloc[0]
            detail = f": {errors[clip_id]}" if errors.get(clip_id) else ""
            reason = f"validation failed: {', '.join(failed)}{detail}"
            corpus.add_reject(str(row["source_uri"]), reason, stage="validate", sha256=str(row["sha256"]))
    quarantined = list(failures)
    report = ValidationReport(success=all(r["success"] for r in results), results=results,
                              quarantined=sorted(set(quarantined)), clips=len(manifest))
    out = corpus.root / "meta" / "validate"
    config.save(out / "config.json")
    atomic_write_json(out / "report.json", {"success": report.success, "results": results,
                                            "quarantined": report.quarantined})
    atomic_write_json(out / "metrics.json", report.metrics())
    for r in results:
        log.log(logging.INFO if r["success"] else logging.WARNING, "%s %s.%s %s", "PASS" if r["success"] else "FAIL",
                r["suite"], r["expectation"], r["kwargs"])
    with tracking.stage_run("validate", config.flat(), {"data_version": corpus.version()}) as run_:
        run_.log_metrics(report.metrics())
        run_.log_artifact(out / "report.json", "validate")
    return report
