"""The `egovla` command: one subcommand per stage, each a thin call into the library.

Every stage command resolves its config the one way (``egovla.config``): class defaults < ``--preset``
< the stage's ``--params`` section < its typed options and ``--set dotted.key=value``. ``egovla config
STAGE`` prints the config a run with the same arguments would use.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from egovla.config import ConfigError, StageResult, stage_config

app = typer.Typer(
    help="egovla: robot policies from unlabeled egocentric human video.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

ParamsOpt = Annotated[Optional[Path], typer.Option("--params", help="params.yaml; the stage's section is used")]
PresetOpt = Annotated[
    Optional[str], typer.Option("--preset", help="named preset (default: the params section's, else tiny)")
]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="dotted.key=value override (repeatable)")]
MetricsOpt = Annotated[Optional[Path], typer.Option("--metrics-file", help="also write metrics JSON here (DVC)")]
VerdictOpt = Annotated[
    Optional[Path], typer.Option("--verdict", help="validation verdict folder (default <corpus>/meta/validate)")
]


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    for noisy in ("great_expectations", "alembic", "urllib3", "botocore", "mlflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    _setup_logging(verbose)


def _config(stage: str, params: Path | None, preset: str | None, sets: list[str] | None, **options: Any):
    """The resolved config of ``stage``; a config mistake is a one-line error, not a traceback."""
    try:
        return stage_config(stage).from_params(params, preset, options, sets or ())
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _done(result: StageResult, metrics_file: Path | None) -> StageResult:
    if metrics_file is not None:
        metrics_file.parent.mkdir(parents=True, exist_ok=True)
        metrics_file.write_text(json.dumps(result.metrics, indent=2, sort_keys=True, default=str) + "\n")
    return result


def _fail_on_path(exc: Exception) -> None:
    """A missing or wrong folder is the user's to fix: say so without a traceback."""
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2) from None


@app.command("config")
def show_config(
    stage: Annotated[
        str,
        typer.Argument(help="stage: synth, ingest, validate, masks, lam, label, vlm_backbone, vlm, demos, adapt, eval"),
    ],
    preset: PresetOpt = None,
    params: ParamsOpt = None,
    sets: SetOpt = None,
) -> None:
    """Print a stage's resolved config as JSON: the one a run with these arguments would use."""
    typer.echo(_config(stage, params, preset, sets).to_json())


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="output folder for clips and ground truth")],
    params: ParamsOpt = None,
    preset: PresetOpt = None,
    sets: SetOpt = None,
    clips: Annotated[Optional[int], typer.Option(help="number of clips")] = None,
    frames: Annotated[Optional[int], typer.Option(help="frames per clip")] = None,
    seed: Annotated[Optional[int], typer.Option(help="random seed")] = None,
    metrics_file: MetricsOpt = None,
) -> None:
    """Generate egocentric scenes with ground-truth masks and actor displacement."""
    from egovla import synth as stage

    config = _config("synth", params, preset, sets, clips=clips, frames=frames, seed=seed)
    typer.echo(json.dumps(_done(stage.run(config, out), metrics_file).metrics))


@app.command()
def ingest(
    sources: Annotated[list[str], typer.Argument(help="clip files, folders, or s3://bucket/prefix")],
    corpus: Annotated[Path, typer.Option(help="corpus folder (created or appended to)")],
    params: ParamsOpt = None,
    preset: PresetOpt = None,
    sets: SetOpt = None,
    fps: Annotated[Optional[int], typer.Option(help="target frame rate")] = None,
    size: Annotated[Optional[int], typer.Option(help="target square size in px")] = None,
    source_tag: Annotated[Optional[str], typer.Option(help="tag for the manifest (e.g. ego4d)")] = None,
    licence: Annotated[Optional[str], typer.Option(help="licence recorded for clips without a sidecar")] = None,
    s3_endpoint: Annotated[Optional[str], typer.Option(help="S3-compatible endpoint url")] = None,
    metrics_file: MetricsOpt = None,
) -> None:
    """Decode clips into fixed-fps episodes (LeRobotDataset v3 layout); bad clips go to rejects."""
    from egovla import ingest as stage

    config = _config(
        "ingest",
        params,
        preset,
        sets,
        fps=fps,
        size=size,
        source_tag=source_tag,
        licence=licence,
        s3_endpoint=s3_endpoint,
    )
    m = _done(stage.run(config, sources, corpus), metrics_file)
    typer.echo(
        f"added {m.metrics['added']}, skipped {m.metrics['skipped']} (already in corpus), rejected "
        f"{m.metrics['rejected']}, ignored {m.metrics['ignored']} (not media); corpus now "
        f"{m.metrics['episodes_total']} episodes"
    )
    for r in m.details["rejects"]:
        typer.echo(f"  reject {r['source_uri']}: {r['reason']}")


@app.command()
def validate(
    corpus: Annotated[Path, typer.Option(help="corpus folder")],
    out: Annotated[Optional[Path], typer.Option(help="verdict folder (default <corpus>/meta/validate)")] = None,
    params: ParamsOpt = None,
    preset: PresetOpt = None,
    sets: SetOpt = None,
    metrics_file: MetricsOpt = None,
    strict: Annotated[bool, typer.Option(help="exit 1 if any expectation fails")] = False,
) -> None:
    """Run the great-expectations suites; write a verdict that quarantines clips that fail."""
    from egovla import validate as stage

    result = _done(stage.run(_config("validate", params, preset, sets), corpus, out), metrics_file)
    for r in result.details["results"]:
        ids = f" clips={r['failing_clip_ids']}" if r["failing_clip_ids"] else ""
        typer.echo(
            f"{'PASS' if r['success'] else 'FAIL'} {r['suite']}.{r['expectation']} {json.dumps(r['kwargs'])}{ids}"
        )
    typer.echo(
        f"{'passed' if result.details['success'] else 'FAILED'}: {result.metrics['clips']} clips, "
        f"{result.metrics['quarantined']} quarantined -> {result.out_dir}"
    )
    if strict and not result.details["success"]:
        raise typer.Exit(1)


@app.command()
def masks(
    corpus: Annotated[Path, typer.Option(help="corpus folder")],
    out: Annotated[Optional[Path], typer.Option(help="masks folder (default: <corpus>/masks/<backend>)")] = None,
    verdict: VerdictOpt = None,
    params: ParamsOpt = None,
    preset: PresetOpt = None,
    sets: SetOpt = None,
    backend: Annotated[Optional[str], typer.Option(help="motion (CPU, no weights) or sam2")] = None,
    sam2_model: Annotated[Optional[str], typer.Option(help="SAM2 weights: local folder or s3:// prefix")] = None,
    workers: Annotated[Optional[int], typer.Option(help="processes over episodes")] = None,
    metrics_file: MetricsOpt = None,
) -> None:
    """Per-frame physical masks of what the actor moves, for every usable episode."""
    from egovla import masks as stage

    config = _config("masks", params, preset, sets, backend=backend, sam2_model=sam2_model, workers=workers)
    try:
        result = _done(stage.run(config, corpus, out, verdict), metrics_file)
    except FileNotFoundError as exc:
        _fail_on_path(exc)
    m = result.metrics
    typer.echo(
        f"masks ({config.backend}) -> {result.out_dir}: {m['processed']} episodes done, "
        f"{m['skipped']} already done, {m['failed']} failed; {m['frames_per_s']:.0f} frames/s"
    )
    if "iou.mean" in m:
        typer.echo(
            f"  IoU vs ground truth: ours {m['iou.mean']:.3f}, frame-difference baseline {m['iou_baseline.mean']:.3f}"
        )
    for error in result.details["errors"]:
        typer.echo(f"  failed: {error['error']}")


lam_app = typer.Typer(help="The latent action model (hybrid disentangled VQ-VAE).", no_args_is_help=True)
app.add_typer(lam_app, name="lam")


@lam_app.command("train")
def lam_train(
    corpus: Annotated[Path, typer.Option(help="corpus folder (with masks)")],
    out: Annotated[Path, typer.Option(help="run folder: ours/model, ablation/model, checkpoints, metrics, figures")],
    masks_dir: Annotated[
        Optional[Path], typer.Option(help="masks folder (default: the one under <corpus>/masks/)")
    ] = None,
    verdict: VerdictOpt = None,
    params: ParamsOpt = None,
    preset: PresetOpt = None,
    sets: SetOpt = None,
    steps: Annotated[Optional[int], typer.Option(help="training steps (train.steps)")] = None,
    ablation: Annotated[Optional[bool], typer.Option(help="also train the no-mask single-codebook baseline")] = None,
    metrics_file: MetricsOpt = None,
) -> None:
    """Train the latent action model (resumes from its last checkpoint in --out)."""
    from egovla import lam

    config = _config("lam", params, preset, sets, **{"train.steps": steps, "ablation": ablation})
    try:
        metrics = _done(lam.run_train(config, corpus, out, masks_dir, verdict), metrics_file).metrics
    except (FileNotFoundError, ValueError) as exc:
        _fail_on_path(exc)
    for key in ("action.perplexity", "probe.displacement_r2", "swap_invariance", "motion_sensitivity"):
        if key in metrics:
            ablated = metrics.get(f"ablation.{key}")
            typer.echo(
                f"  {key:<24} {metrics[key]:.3f}" + (f"   (ablation {ablated:.3f})" if ablated is not None else "")
            )


@lam_app.command("label")
def lam_label(
    corpus: Annotated[Path, typer.Option(help="corpus folder")],
    model: Annotated[Path, typer.Option(help="a `lam train` run folder, or a model folder inside it")],
    out: Annotated[Optional[Path], typer.Option(help="labels folder (default <corpus>/latent_actions)")] = None,
    verdict: VerdictOpt = None,
    params: ParamsOpt = None,
    preset: PresetOpt = None,
    sets: SetOpt = None,
    metrics_file: MetricsOpt = None,
) -> None:
    """Write every transition's latent action codes."""
    from egovla import lam

    try:
        result = _done(lam.run_label(_config("label", params, preset, sets), corpus, model, out, verdict), metrics_file)
    except FileNotFoundError as exc:
        _fail_on_path(exc)
    info = result.details
    typer.echo(
        f"labelled {info['episodes']} episodes, {info['transitions']} transitions "
        f"(k={info['frame_gap']}) -> {result.out_dir}"
    )


vlm_app = typer.Typer(help="VLM latent-action pretraining (DeepSpeed).", no_args_is_help=True)
app.add_typer(vlm_app, name="vlm")


@vlm_app.command("tiny")
def vlm_tiny(
    out: Annotated[Path, typer.Option(help="save_pretrained folder to write")],
    params: ParamsOpt = None,
    preset: PresetOpt = None,
    sets: SetOpt = None,
    image_size: Annotated[Optional[int], typer.Option(help="input image size")] = None,
    seed: Annotated[Optional[int], typer.Option(help="random seed")] = None,
) -> None:
    """Build a tiny random-init LLaVA (and a tokenizer trained here): the CPU-scale backbone."""
    from egovla import vlm

    config = _config("vlm_backbone", params, preset, sets, image_size=image_size, seed=seed)
    typer.echo(f"tiny backbone -> {vlm.run_backbone(config, out).out_dir}")


@vlm_app.command("pretrain")
def vlm_pretrain(
    corpus: Annotated[Path, typer.Option(help="corpus labelled by `egovla lam label`")],
    out: Annotated[Path, typer.Option(help="run folder: model/, checkpoints/, metrics, figures")],
    backbone: Annotated[Optional[str], typer.Option(help="save_pretrained folder or s3:// uri")] = None,
    labels_dir: Annotated[Optional[Path], typer.Option(help="labels folder (default <corpus>/latent_actions)")] = None,
    verdict: VerdictOpt = None,
    params: ParamsOpt = None,
    preset: PresetOpt = None,
    sets: SetOpt = None,
    steps: Annotated[Optional[int], typer.Option(help="training steps")] = None,
    zero_stage: Annotated[Optional[int], typer.Option(help="DeepSpeed ZeRO stage 0-3")] = None,
    precision: Annotated[Optional[str], typer.Option(help="fp32 or bf16")] = None,
    metrics_file: MetricsOpt = None,
) -> None:
    """Pretrain a VLM to predict latent actions (resumes; run under torchrun/deepspeed for several ranks)."""
    from egovla import vlm

    config = _config(
        "vlm", params, preset, sets, backbone=backbone, steps=steps, zero_stage=zero_stage, precision=precision
    )
    try:
        result = vlm.run_pretrain(config, corpus, out, labels_dir, verdict)
    except FileNotFoundError as exc:
        _fail_on_path(exc)
    metrics = result.metrics
    if metrics:  # rank 0
        _done(result, metrics_file)
        typer.echo(
            f"held-out code accuracy {metrics['code_accuracy']:.3f} "
            f"(majority {metrics['majority_code_accuracy']:.3f}), "
            f"token accuracy {metrics['token_accuracy']:.3f} (majority {metrics['majority_token_accuracy']:.3f}) "
            f"-> {out / 'model'}"
        )


@app.command()
def demos(
    out: Annotated[Path, typer.Option(help="LeRobotDataset v3 folder to write")],
    tasks: Annotated[Optional[list[str]], typer.Option("--tasks", help="Meta-World task (repeatable)")] = None,
    episodes: Annotated[Optional[int], typer.Option(help="successful episodes per task")] = None,
    image_size: Annotated[Optional[int], typer.Option(help="camera image size in px")] = None,
    seed: Annotated[Optional[int], typer.Option(help="first demonstration seed")] = None,
    workers: Annotated[Optional[int], typer.Option(help="rendering processes")] = None,
    params: ParamsOpt = None,
    preset: PresetOpt = None,
    sets: SetOpt = None,
    metrics_file: MetricsOpt = None,
) -> None:
    """Meta-World scripted-expert demonstrations as a LeRobotDataset v3 (successful episodes only)."""
    from egovla import demos as stage

    options = {"tasks": tasks or None, "episodes": episodes, "image_size": image_size, "seed": seed}
    config = _config("demos", params, preset, sets, workers=workers, **options)
    m = _done(stage.run(config, out), metrics_file).metrics
    typer.echo(f"{m['episodes']} episodes, {m['frames']} frames ({m['failures']} expert failures dropped) -> {out}")


@app.command()
def adapt(
    dataset: Annotated[Path, typer.Option(help="robot LeRobotDataset v3 (`egovla demos`, or your own robot's)")],
    out: Annotated[Path, typer.Option(help="run folder: policy/, cache/, metrics, loss curve")],
    vlm: Annotated[Optional[Path], typer.Option(help="`vlm pretrain` run or model folder (intent)")] = None,
    lam: Annotated[
        Optional[Path], typer.Option(help="`lam train` run or model folder (labels the robot frames)")
    ] = None,
    cache: Annotated[Optional[Path], typer.Option(help="frozen-feature cache (default <out>/cache)")] = None,
    steps: Annotated[Optional[int], typer.Option(help="training steps (train.steps)")] = None,
    params: ParamsOpt = None,
    preset: PresetOpt = None,
    sets: SetOpt = None,
    metrics_file: MetricsOpt = None,
) -> None:
    """Adapt the pretrained VLM to a robot: frozen intent + frozen perception -> a trained action expert."""
    from egovla import policy as stage
    from egovla.dataset import DatasetError

    config = _config("adapt", params, preset, sets, **{"train.steps": steps})
    try:
        m = _done(stage.run(config, dataset, out, vlm, lam, cache), metrics_file).metrics
    except (FileNotFoundError, DatasetError, ValueError) as exc:
        _fail_on_path(exc)
    typer.echo(
        f"policy -> {out / 'policy'}: {m['episodes']} episodes, {m['frames']} frames, final loss "
        f"{m['final_loss']:.4f}; features {m['feature_s']:.0f} s, training {m['train_s']:.0f} s"
    )


@app.command("eval")
def evaluate(
    out: Annotated[Path, typer.Option(help="output folder: eval_info.json, success.png, videos/")],
    policy: Annotated[Optional[Path], typer.Option(help="`egovla adapt` run or policy folder")] = None,
    tasks: Annotated[Optional[list[str]], typer.Option("--tasks", help="Meta-World task (repeatable)")] = None,
    episodes: Annotated[Optional[int], typer.Option(help="episodes per task")] = None,
    workers: Annotated[Optional[int], typer.Option(help="rollout processes")] = None,
    expert: Annotated[Optional[bool], typer.Option("--expert", help="the scripted expert (the ceiling)")] = None,
    server: Annotated[Optional[str], typer.Option(help="grpc://host:port: run the policy through Triton")] = None,
    params: ParamsOpt = None,
    preset: PresetOpt = None,
    sets: SetOpt = None,
    metrics_file: MetricsOpt = None,
) -> None:
    """Closed-loop success in Meta-World on seeds disjoint from the demonstrations'."""
    from egovla import eval as stage
    from egovla.eval.report import task_success

    options = {"tasks": tasks or None, "episodes": episodes, "workers": workers, "expert": expert, "server": server}
    config = _config("eval", params, preset, sets, **options)
    try:
        result = _done(stage.run(config, out, policy), metrics_file)
    except (FileNotFoundError, ValueError) as exc:
        _fail_on_path(exc)
    info = json.loads((out / "eval_info.json").read_text())
    for entry in info["per_task"]:
        typer.echo(f"  {entry['task']:<28} {entry['task_group']:<10} {task_success(entry):5.1f}%")
    for group, g in info["per_group"].items():
        typer.echo(f"  group {group:<22} {g['pc_success']:5.1f}% of {g['n_episodes']}")
    o = info["overall"]
    typer.echo(
        f"overall {o['pc_success']:.1f}% of {o['n_episodes']} episodes in {o['eval_s']:.0f} s -> {result.out_dir}"
    )


# the release and production-loop commands register themselves on ``app``
from egovla import cli_release, cli_serve  # noqa: E402, F401

if __name__ == "__main__":
    app()
