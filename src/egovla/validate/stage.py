"""Stage: validate a corpus with great-expectations before anything trains on it.

Two suites: one over the manifest (one row per clip) and one over the decoded episodes. Every
expectation's outcome is reported; each clip that fails one is quarantined in the verdict (see
``validate.store``), which downstream stages take beside the corpus. The corpus is never copied
or changed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from egovla import tracking
from egovla.config import StageResult
from egovla.ingest.store import Corpus
from egovla.io.atomic import atomic_write_json, atomic_write_parquet
from egovla.validate.config import ValidateConfig
from egovla.validate.store import QUARANTINE_COLUMNS, default_verdict_dir, empty_quarantine

log = logging.getLogger(__name__)


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
        row = {
            "clip_id": clip_id,
            "manifest_frames": int(expected),
            "decodable": False,
            "decoded_frames": 0,
            "height": 0,
            "width": 0,
            "error": "",
        }
        try:
            frames = corpus.read_frames(int(episode))
            row.update(decodable=True, decoded_frames=len(frames), height=frames.shape[1], width=frames.shape[2])
        except Exception as exc:
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
        out.append(
            {
                "suite": name,
                "expectation": r.expectation_config.type,
                "kwargs": kwargs,
                "success": bool(r.success),
                "unexpected_count": int(r.result.get("unexpected_count") or 0),
                "failing_clip_ids": sorted({str(frame["clip_id"].iloc[i]) for i in rows if i < len(frame)}),
            }
        )
    return out


def run(config: ValidateConfig, corpus_dir: str | Path, out_dir: str | Path | None = None) -> StageResult:
    """Validates ``corpus_dir``; the verdict goes to ``out_dir`` (default ``<corpus>/meta/validate``).
    ``details``: ``results`` (every expectation) and ``quarantined`` (clip ids)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    corpus = Corpus(corpus_dir)
    out = Path(out_dir) if out_dir is not None else default_verdict_dir(corpus_dir)
    with tracking.stage("validate", config, out) as stage:
        manifest = corpus.manifest().reset_index(drop=True)
        stage.set_tags({"data_version": corpus.version()})
        results, errors = expectations(config, corpus, manifest)
        failures: dict[str, list[str]] = {}
        for r in results:
            for clip_id in r["failing_clip_ids"]:
                failures.setdefault(clip_id, []).append(f"{r['suite']}.{r['expectation']}")
        rows = []
        for clip_id, failed in failures.items():
            row = manifest[manifest["clip_id"] == clip_id].iloc[0]
            detail = f": {errors[clip_id]}" if errors.get(clip_id) else ""
            rows.append(
                {
                    "clip_id": clip_id,
                    "episode_index": int(row["episode_index"]),
                    "source_uri": str(row["source_uri"]),
                    "sha256": str(row["sha256"]),
                    "reason": f"validation failed: {', '.join(failed)}{detail}",
                }
            )
        quarantine = pd.DataFrame(rows).astype(QUARANTINE_COLUMNS) if rows else empty_quarantine()
        success = all(r["success"] for r in results)
        quarantined = sorted(failures)
        atomic_write_parquet(out / "quarantine.parquet", quarantine)
        atomic_write_json(
            out / "report.json",
            {
                "success": success,
                "results": results,
                "quarantined": quarantined,
                "validated": sorted(str(c) for c in manifest["clip_id"]),
                "corpus": str(corpus.root),
                "corpus_version": corpus.version(),
            },
        )
        for r in results:
            log.log(
                logging.INFO if r["success"] else logging.WARNING,
                "%s %s.%s %s",
                "PASS" if r["success"] else "FAIL",
                r["suite"],
                r["expectation"],
                r["kwargs"],
            )
        metrics = {
            "success": int(success),
            "clips": len(manifest),
            "quarantined": len(quarantined),
            "expectations": len(results),
            "expectations_failed": sum(not r["success"] for r in results),
        }
        return stage.finish(
            metrics,
            artifacts={"report": out / "report.json"},
            details={"results": results, "quarantined": quarantined, "success": success},
        )


def expectations(config: ValidateConfig, corpus: Corpus, manifest: pd.DataFrame) -> tuple[list[dict], dict[str, str]]:
    """Every expectation's outcome, and the decode error of each clip that had one."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # keep batch logs readable
    if not len(manifest):
        return [
            {
                "suite": "manifest",
                "expectation": "corpus_not_empty",
                "kwargs": {},
                "success": False,
                "unexpected_count": 0,
                "failing_clip_ids": [],
            }
        ], {}
    results = _check(gx, context, "manifest", manifest, manifest_expectations(gx, config))
    decoded = decode_table(corpus, manifest)
    results += _check(gx, context, "episodes", decoded, episode_expectations(gx, corpus.size, config))
    return results, dict(zip(decoded["clip_id"], decoded["error"]))
