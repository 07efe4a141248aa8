"""The `egovla` command: one subcommand per stage, each a thin call into the library."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(help="egovla: robot policies from unlabeled egocentric human video.",
                  no_args_is_help=True, pretty_exceptions_enable=False)

ParamsOpt = Annotated[Optional[Path], typer.Option("--params", help="params.yaml; the stage's section is used")]
MetricsOpt = Annotated[Optional[Path], typer.Option("--metrics-file", help="also write metrics JSON here (DVC)")]


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    for noisy in ("great_expectations", "alembic", "urllib3", "botocore", "mlflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    _setup_logging(verbose)


def _params_section(params: Path | None, name: str) -> dict:
    """A stage's section of params.yaml as a mutable dict (empty without a params file)."""
    import yaml

    return dict((yaml.safe_load(params.read_text()) or {}).get(name, {})) if params else {}


def _copy_metrics(src: Path, dst: Path | None) -> None:
    if dst is not None:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)


@app.command()
def ingest(
    sources: Annotated[list[str], typer.Argument(help="clip files, folders, or s3://bucket/prefix")],
    corpus: Annotated[Path, typer.Option(help="corpus folder (created or appended to)")],
    params: ParamsOpt = None,
    fps: Annotated[Optional[int], typer.Option(help="target frame rate")] = None,
    size: Annotated[Optional[int], typer.Option(help="target square size in px")] = None,
    source_tag: Annotated[Optional[str], typer.Option(help="tag for the manifest (e.g. ego4d)")] = None,
    licence: Annotated[Optional[str], typer.Option(help="licence recorded for clips without a sidecar")] = None,
    s3_endpoint: Annotated[Optional[str], typer.Option(help="S3-compatible endpoint url")] = None,
    metrics_file: MetricsOpt = None,
) -> None:
    """Decode clips into fixed-fps episodes (LeRobotDataset v3 layout); bad clips go to rejects."""
    from egovla import ingest as stage

    config = stage.IngestConfig.load(params, "ingest", fps=fps, size=size, source_tag=source_tag,
                                     licence=licence, s3_endpoint=s3_endpoint)
    result = stage.run(config, sources, corpus)
    _copy_metrics(corpus / "meta" / "ingest" / "metrics.json", metrics_file)
    typer.echo(f"added {result.added}, skipped {result.skipped} (already in corpus), rejected {result.rejected}; "
               f"corpus now {result.episodes_total} episodes")
    for r in result.rejects:
        typer.echo(f"  reject {r['source_uri']}: {r['reason']}")


@app.command()
def validate(
    corpus: Annotated[Path, typer.Option(help="corpus folder")],
    out: Annotated[Optional[Path], typer.Option(help="validate a copy written here (input untouched)")] = None,
    params: ParamsOpt = None,
    metrics_file: MetricsOpt = None,
    strict: Annotated[bool, typer.Option(help="exit 1 if any expectation fails")] = False,
) -> None:
    """Run the great-expectations suites; quarantine clips that fail."""
    from egovla import validate as stage

    report = stage.run(stage.ValidateConfig.load(params, "validate"), corpus, out)
    _copy_metrics((out or corpus) / "meta" / "validate" / "metrics.json", metrics_file)
    for r in report.results:
        mark = "PASS" if r["success"] else "FAIL"
        ids = f" clips={r['failing_clip_ids']}" if r["failing_clip_ids"] else ""
        typer.echo(f"{mark} {r['suite']}.{r['expectation']} {json.dumps(r['kwargs'])}{ids}")
    typer.echo(f"{'passed' if report.success else 'FAILED'}: {report.clips} clips, "
               f"{len(report.quarantined)} quarantined")
    if strict and not report.success:
        raise typer.Exit(1)


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="output folder for clips and ground truth")],
    params: ParamsOpt = None,
    clips: Annotated[Optional[int], typer.Option(help="number of clips")] = None,
    frames: Annotated[Optional[int], typer.Option(help="frames per clip")] = None,
    seed: Annotated[Optional[int], typer.Option(help="random seed")] = None,
    metrics_file: MetricsOpt = None,
) -> None:
    """Generate egocentric scenes with ground-truth masks and actor displacement."""
    from egovla import synth as stage

    config = stage.SynthConfig.load(params, "synth", clips=clips, frames=frames, seed=seed)
    metrics = stage.run(config, out)
    _copy_metrics(out / "metrics.json", metrics_file)
    typer.echo(json.dumps(metrics))


@app.command()
def masks(
    corpus: Annotated[Path, typer.Option(help="corpus folder")],
    out: Annotated[Optional[Path], typer.Option(help="masks folder (default: <corpus>/masks/<backend>)")] = None,
    params: ParamsOpt = None,
    backend: Annotated[Optional[str], typer.Option(help="motion (CPU, no weights) or sam2")] = None,
    sam2_model: Annotated[Optional[str], typer.Option(help="SAM2 weights: local folder or s3:// prefix")] = None,
    workers: Annotated[Optional[int], typer.Option(help="processes over episodes")] = None,
    metrics_file: MetricsOpt = None,
) -> None:
    """Per-frame physical masks of what the actor moves, for every usable episode."""
    from egovla import masks as stage

    config = stage.MaskConfig.load(params, "masks", backend=backend, sam2_model=sam2_model, workers=workers)
    result = stage.run(config, corpus, out)
    _copy_metrics(Path(result.masks_dir) / "metrics.json", metrics_file)
    m = result.metrics
    typer.echo(f"masks ({config.backend}) -> {result.masks_dir}: {result.processed} episodes done, "
               f"{result.skipped} already done, {result.failed} failed; {m['frames_per_s']:.0f} frames/s")
    if "iou.mean" in m:
        typer.echo(f"  IoU vs ground truth: ours {m['iou.mean']:.3f}, frame-difference baseline "
                   f"{m['iou_baseline.mean']:.3f}")
    for error in result.errors:
        typer.echo(f"  failed: {error['error']}")


lam_app = typer.Typer(help="The latent action model (hybrid disentangled VQ-VAE).", no_args_is_help=True)
app.add_typer(lam_app, name="lam")


@lam_app.command("train")
def lam_train(
    corpus: Annotated[Path, typer.Option(help="corpus folder (with masks)")],
    out: Annotated[Path, typer.Option(help="run folder: model/, checkpoints/, metrics, figures")],
    preset: Annotated[str, typer.Option(help="tiny (CPU, minutes) or paper")] = "tiny",
    params: ParamsOpt = None,
    masks_dir: Annotated[Optional[str], typer.Option(help="masks folder (default <corpus>/masks/motion)")] = None,
    steps: Annotated[Optional[int], typer.Option(help="override training steps")] = None,
    ablation: Annotated[Optional[bool], typer.Option(help="also train the no-mask single-codebook baseline")] = None,
    metrics_file: MetricsOpt = None,
) -> None:
    """Train the latent action model (resumes from its last checkpoint in --out)."""
    from egovla import lam

    section = _params_section(params, "lam")
    name = section.pop("preset", preset)
    if steps:
        section["train"] = {**section.get("train", {}), "steps": steps}
    section.update({k: v for k, v in {"masks_dir": masks_dir, "ablation": ablation}.items() if v is not None})
    config = lam.preset(name, **section)
    metrics = lam.run_train(config, corpus, out)
    _copy_metrics(out / "metrics.json", metrics_file)
    for key in ("action.perplexity", "probe.displacement_r2", "swap_invariance", "motion_sensitivity"):
        if key in metrics:
            ablated = metrics.get(f"ablation.{key}")
            typer.echo(f"  {key:<24} {metrics[key]:.3f}" + (f"   (ablation {ablated:.3f})" if ablated is not None else ""))


@lam_app.command("label")
def lam_label(
    corpus: Annotated[Path, typer.Option(help="corpus folder")],
    model: Annotated[Path, typer.Option(help="a trained model folder (<run>/ours/model)")],
    out: Annotated[Optional[Path], typer.Option(help="labels folder (default <corpus>/latent_actions)")] = None,
) -> None:
    """Write every transition's latent action codes into the corpus."""
    from egovla import lam

    info = lam.run_label(corpus, model, out)
    typer.echo(f"labelled {info['episodes']} episodes, {info['transitions']} transitions "
               f"(k={info['frame_gap']}) -> {out or corpus / 'latent_actions'}")


vlm_app = typer.Typer(help="VLM latent-action pretraining (DeepSpeed).", no_args_is_help=True)
app.add_typer(vlm_app, name="vlm")


@vlm_app.command("tiny")
def vlm_tiny(
    out: Annotated[Path, typer.Option(help="save_pretrained folder to write")],
    image_size: Annotated[int, typer.Option(help="input image size")] = 64,
    seed: int = 0,
) -> None:
    """Build a tiny random-init LLaVA (and a tokenizer trained here): the CPU-scale backbone."""
    from egovla.vlm import VLMConfig, build_tiny_llava

    typer.echo(f"tiny backbone -> {build_tiny_llava(out, VLMConfig().prompt, image_size=image_size, seed=seed)}")


@vlm_app.command("pretrain")
def vlm_pretrain(
    corpus: Annotated[Path, typer.Option(help="corpus labelled by `egovla lam label`")],
    out: Annotated[Path, typer.Option(help="run folder: model/, checkpoints/, metrics, figures")],
    backbone: Annotated[Optional[str], typer.Option(help="save_pretrained folder or s3:// uri")] = None,
    preset: Annotated[str, typer.Option(help="tiny (CPU) or base (GPU nodes)")] = "tiny",
    params: ParamsOpt = None,
    labels_dir: Annotated[Optional[str], typer.Option(help="labels folder (default <corpus>/latent_actions)")] = None,
    steps: Annotated[Optional[int], typer.Option(help="override training steps")] = None,
    zero_stage: Annotated[Optional[int], typer.Option(help="DeepSpeed ZeRO stage 0-3")] = None,
    precision: Annotated[Optional[str], typer.Option(help="fp32 or bf16")] = None,
    metrics_file: MetricsOpt = None,
) -> None:
    """Pretrain a VLM to predict latent actions (resumes; run under torchrun/deepspeed for several ranks)."""
    from egovla import vlm

    section = _params_section(params, "vlm")
    name = section.pop("preset", preset)
    section.update({k: v for k, v in {"backbone": backbone, "labels_dir": labels_dir, "steps": steps,
                                      "zero_stage": zero_stage, "precision": precision}.items() if v is not None})
    metrics = vlm.run_pretrain(vlm.preset(name, **section), corpus, out)
    if metrics:  # rank 0
        _copy_metrics(out / "metrics.json", metrics_file)
        typer.echo(f"held-out code accuracy {metrics['code_accuracy']:.3f} (majority {metrics['majority_code_accuracy']:.3f}), "
                   f"token accuracy {metrics['token_accuracy']:.3f} (majority {metrics['majority_token_accuracy']:.3f}) "
                   f"-> {out / 'model'}")


@app.command()
def demo(out: Annotated[Path, typer.Option(help="output folder")] = Path("outputs/demo")) -> None:
    """The main job on the embedded default (sample footage, local files, SQLite MLflow)."""
    from egovla import demo as job

    summary = job.run(out)
    typer.echo("\negovla demo summary")
    for key, value in summary.items():
        typer.echo(f"  {key:<20} {value}")


if __name__ == "__main__":
    app()
