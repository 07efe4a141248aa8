"""`egovla register | gate | registry | schedule | retrain | demo`: the release and production-loop commands.

``schedule``, ``retrain`` and ``demo`` drive the kfp pipelines (the `pipelines` package, which needs the
`pipelines` extra); the library itself never imports kfp.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from egovla.cli import MetricsOpt, ParamsOpt, PresetOpt, SetOpt, _config, _done, _fail_on_path, app

registry_app = typer.Typer(help="The model registry: versions, aliases, promotion and rollback.", no_args_is_help=True)
schedule_app = typer.Typer(help="Recurring retraining runs on a Kubeflow Pipelines server.", no_args_is_help=True)
app.add_typer(registry_app, name="registry")
app.add_typer(schedule_app, name="schedule")
KindArg = Annotated[str, typer.Argument(help="lam, vlm or policy")]


def _pipelines(module: str):
    try:
        return importlib.import_module(f"pipelines.{module}")
    except ImportError as exc:
        typer.echo(f"error: this command drives the kfp pipelines; install egovla[pipelines] ({exc})", err=True)
        raise typer.Exit(2) from None


def _registry_errors(fn):
    from egovla.tracking import RegistryError

    try:
        return fn()
    except (RegistryError, FileNotFoundError, ValueError, RuntimeError) as exc:
        _fail_on_path(exc)


@app.command()
def register(
    kind: KindArg,
    model: Annotated[Path, typer.Option(help="run or model folder of the trained model")],
    out: Annotated[Path, typer.Option(help="folder for registered.json and the run record")],
    eval_dir: Annotated[Optional[Path], typer.Option("--eval", help="`egovla eval` output (policies)")] = None,
    data: Annotated[Optional[Path], typer.Option(help="the corpus or robot dataset it trained on")] = None,
    tag: Annotated[Optional[list[str]], typer.Option("--tag", help="lineage key=value (repeatable)")] = None,
    params: ParamsOpt = None,
    preset: PresetOpt = None,
    sets: SetOpt = None,
    metrics_file: MetricsOpt = None,
) -> None:
    """Register a trained LAM, VLM or policy as a new version (alias candidate), with its lineage."""
    from egovla import release

    config = _config("release", params, preset, sets)
    tags = dict(t.split("=", 1) for t in tag or [] if "=" in t)
    result = _registry_errors(lambda: release.run_register(config, kind, model, out, eval_dir, data, tags))
    _done(result, metrics_file)
    typer.echo(f"{result.details['uri']} (alias candidate)")


@app.command()
def gate(
    out: Annotated[Path, typer.Option(help="folder for gate.json and the run record")],
    version: Annotated[Optional[int], typer.Option(help="policy version (default: @candidate)")] = None,
    params: ParamsOpt = None,
    preset: PresetOpt = None,
    sets: SetOpt = None,
    metrics_file: MetricsOpt = None,
) -> None:
    """Promote the candidate policy to champion only if it beats the champion on the same eval protocol."""
    from egovla import release

    config = _config("release", params, preset, sets)
    result = _done(_registry_errors(lambda: release.run_gate(config, out, version)), metrics_file)
    d = result.details
    typer.echo(f"v{d['candidate']} vs champion v{d['champion']}: {d['decision']} ({'; '.join(d['reasons'])})")


@registry_app.command("show")
def registry_show(
    kind: Annotated[str, typer.Option(help="lam, vlm or policy")] = "policy",
    params: ParamsOpt = None,
) -> None:
    """Every version of a registered model with its aliases, eval result, gate decision and lineage."""
    from egovla import release

    config = _config("release", params, None, None)
    for v in _registry_errors(lambda: release.show(config, kind)):
        aliases = ",".join(v.aliases) or "-"
        overall = v.tags.get("eval.overall")
        line = (
            f"v{v.version:<3} {aliases:<20} success {float(overall):5.1f}"
            if overall
            else f"v{v.version:<3} {aliases:<20}"
        )
        lineage = {
            k: v.tags[k]
            for k in ("footage", "parent.vlm", "parent.lam", "git_commit", "pipeline_run_id")
            if v.tags.get(k)
        }
        gate_note = (
            f" gate {v.tags['gate.decision']}: {v.tags.get('gate.reasons', '')}" if "gate.decision" in v.tags else ""
        )
        typer.echo(f"{line}{gate_note} {json.dumps(lineage)}")


@registry_app.command("promote")
def registry_promote(
    version: Annotated[int, typer.Argument(help="policy version to make champion")],
    reason: Annotated[str, typer.Option(help="recorded on the version")] = "promoted by hand",
    params: ParamsOpt = None,
) -> None:
    """Make a policy version the champion (no retraining; the one it replaces is kept for rollback)."""
    from egovla import release

    config = _config("release", params, None, None)
    v = _registry_errors(lambda: release.promote(config, version, reason))
    typer.echo(f"{config.policy_model}@champion -> v{v.version}")


@registry_app.command("rollback")
def registry_rollback(params: ParamsOpt = None) -> None:
    """Move champion back to the champion the current one replaced."""
    from egovla import release

    config = _config("release", params, None, None)
    old, new = _registry_errors(lambda: release.rollback(config))
    typer.echo(f"{config.policy_model}@champion: v{old.version} -> v{new.version}")


@schedule_app.command("create")
def schedule_create(
    cron: Annotated[str, typer.Option(help="UTC cron, 5 fields or kfp's 6 (seconds first)")],
    source: Annotated[str, typer.Option(help="footage prefix: s3://bucket/footage/ or a folder the pods see")],
    host: Annotated[str, typer.Option(help="Kubeflow Pipelines API endpoint")],
    experiment: Annotated[str, typer.Option(help="kfp experiment")] = "egovla",
    name: Annotated[str, typer.Option(help="recurring run name")] = "egovla-retraining",
    params: ParamsOpt = None,
) -> None:
    """Create a kfp recurring run of the retraining pipeline (max concurrency 1, no catch-up)."""
    schedule = _pipelines("schedule")
    try:
        created = schedule.create(host, cron, source, experiment=experiment, name=name, params_file=params)
    except ValueError as exc:
        _fail_on_path(exc)
    typer.echo(f"recurring run {created.recurring_run_id} ({created.display_name}) on {host}")


@app.command()
def retrain(
    source: Annotated[str, typer.Option(help="footage folder or s3://bucket/prefix/")],
    state: Annotated[Path, typer.Option(help="the loop's folder: corpus, lock, runs")] = Path("outputs/retrain"),
    every: Annotated[Optional[str], typer.Option(help="repeat every (e.g. 6h, 30m); once if not given")] = None,
    s3_endpoint: Annotated[Optional[str], typer.Option(help="S3-compatible endpoint url")] = None,
    params: ParamsOpt = None,
) -> None:
    """One machine's retraining loop: ingest new clips; if the corpus changed, run the retraining pipeline
    (kfp's local runner) and the gate. Ticks never overlap and missed ticks are not caught up."""
    loop = _pipelines("retrain")
    try:
        loop.main(source, state, every=every, params_file=params, s3_endpoint=s3_endpoint, echo=typer.echo)
    except ValueError as exc:
        _fail_on_path(exc)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="output folder")] = Path("outputs/demo"),
    params: Annotated[Optional[Path], typer.Option("--params", help="params.yaml (default: the repository's)")] = None,
) -> None:
    """The main job on the embedded default: the retraining pipeline through kfp's local runner."""
    _pipelines("local").main(out, echo=typer.echo, params_file=params)
