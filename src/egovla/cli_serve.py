"""`egovla serve export | start`: a policy as a Triton model repository, and the server over it."""

from __future__ import annotations

import secrets
import signal
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from egovla.cli import ParamsOpt, PresetOpt, SetOpt, _config, _fail_on_path, app

serve_app = typer.Typer(help="Fleet serving on Triton.", no_args_is_help=True)
app.add_typer(serve_app, name="serve")


@serve_app.command("export")
def serve_export(
    model: Annotated[str, typer.Option(help="models:/NAME@ALIAS, models:/NAME/VERSION, or a policy folder")],
    repo: Annotated[Path, typer.Option(help="Triton model repository to write into")],
    version: Annotated[
        Optional[int], typer.Option(help="version folder (default: the registry's version, or 1)")
    ] = None,
    params: ParamsOpt = None,
    preset: PresetOpt = None,
    sets: SetOpt = None,
) -> None:
    """Write the policy as a Triton Python-backend model: config.pbtxt from its config, version = registry's."""
    from egovla import tracking
    from egovla.serving import export

    config = _config("serving", params, preset, sets)
    try:
        folder: Path | str = model
        if model.startswith("models:/"):
            name, _, ref = model.removeprefix("models:/").replace("@", "/").partition("/")
            registry_version, folder = tracking.Registry().download(name, ref, repo / ".downloads" / name)
            version = version or registry_version.version
        written = export(config, folder, repo, version or 1)
    except (FileNotFoundError, ValueError, tracking.RegistryError) as exc:
        _fail_on_path(exc)
    typer.echo(f"{written} (config {repo / config.model_name / 'config.pbtxt'})")


@serve_app.command("start")
def serve_start(
    repo: Annotated[Path, typer.Option(help="Triton model repository (`egovla serve export`)")],
    follow: Annotated[Optional[str], typer.Option(help="registered model whose champion to hot-swap to")] = None,
    every: Annotated[float, typer.Option(help="seconds between registry checks with --follow")] = 30.0,
    token: Annotated[Optional[str], typer.Option(envvar="EGOVLA_TRITON_TOKEN", help="model-control token")] = None,
    params: ParamsOpt = None,
    preset: PresetOpt = None,
    sets: SetOpt = None,
) -> None:
    """Run Triton (127.0.0.1 unless serving.host says otherwise) until interrupted."""
    from egovla.serving import triton_server
    from egovla.serving.swap import HotSwap

    config = _config("serving", params, preset, sets)
    token = token or secrets.token_urlsafe(16)
    server = triton_server.start(repo, config, repo.parent / f".{repo.name}-triton", token, [config.model_name])
    typer.echo(f"serving {config.model_name} on grpc://{server.grpc_url} and {server.http_url} (log {server.log_path})")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    swap = HotSwap(config, repo, server.http_url, token)
    try:
        while not stop.wait(every if follow else 3600):
            if follow and swap.follow_champion(follow, repo.parent / f".{repo.name}-downloads"):
                typer.echo(f"now serving {follow} v{swap.served_versions()}")
    finally:
        server.stop()
