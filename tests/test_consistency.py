"""Drift and boundary checks: what the drivers name exists in the configs, and the layers stay apart."""

import ast
import inspect
import shlex
import sys
from pathlib import Path

import pytest
import typer
import yaml

from egovla.cli import app
from egovla.config import STAGES, field_paths, stage_config

from conftest import REPO

sys.path.insert(0, str(REPO))
SRC = REPO / "src" / "egovla"
STAGE_PACKAGES = {"synth", "ingest", "validate", "masks", "lam", "vlm", "demos", "policy", "eval", "release"}
GROUND_FLOORS = {"io", "dataset", "sim", "encoders"}
DRIVERS = {"cli.py", "cli_release.py", "cli_serve.py", "__main__.py"}
# component inputs that wire tasks together rather than configure a stage
WIRING = {"kind", "shard", "version", "lam_version", "vlm_version", "run_id"}
# CLI options that name inputs and outputs rather than config fields
PATH_OPTIONS = {
    "corpus",
    "out",
    "params",
    "metrics_file",
    "masks_dir",
    "verdict",
    "labels_dir",
    "model",
    "sources",
    "dataset",
    "vlm",
    "lam",
    "policy",
    "cache",
}
COMMAND_PACKAGE = {
    "synth": "synth",
    "ingest": "ingest",
    "validate": "validate",
    "masks": "masks",
    "lam": "lam",
    "vlm": "vlm",
    "demos": "demos",
    "adapt": "policy",
    "eval": "eval",
}


def _imports(path: Path) -> list[str]:
    """Every module an egovla source file imports, with ``from x import y`` also giving ``x.y``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return out


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.name


def test_library_never_imports_kfp_dvc_or_triton_and_mlflow_only_in_tracking():
    for path in SRC.rglob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            assert top not in {"kfp", "dvc", "pytriton", "tritonserver"}, f"{path}: imports {name}"
            if top == "mlflow":
                assert _package_of(path) == "tracking", f"{path}: imports mlflow outside egovla.tracking"


def test_consumers_import_stores_never_another_stages_stage_module():
    for path in SRC.rglob("*.py"):
        home = _package_of(path)
        if home in DRIVERS:
            continue
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "egovla" or len(parts) < 2 or parts[1] not in STAGE_PACKAGES or parts[1] == home:
                continue
            assert home not in GROUND_FLOORS | {"config.py"}, f"{path}: a ground floor imports the stage {name}"
            if len(parts) == 2 or (len(parts) == 3 and not (SRC / parts[1] / f"{parts[2]}.py").exists()):
                pytest.fail(f"{path}: imports {name} from a stage package's front door; name its store module")
            assert parts[2] != "stage", f"{path}: imports another stage's stage module ({name})"


def _components():
    import components.footage
    import components.lam
    import components.masks
    import components.release
    import components.robot
    import components.serving
    import components.vlm

    modules = (
        components.footage,
        components.masks,
        components.lam,
        components.vlm,
        components.robot,
        components.release,
        components.serving,
    )
    for module in modules:
        for name, obj in vars(module).items():
            if name.endswith("_op"):
                yield name, obj


def test_components_take_the_preset_and_params_sections_not_fields_with_defaults_of_their_own():
    from kfp.dsl import Input, Output

    seen = 0
    for name, op in _components():
        seen += 1
        for param in inspect.signature(op.python_func).parameters.values():
            origin = getattr(param.annotation, "__origin__", None)
            if (
                param.annotation in (list,)
                or origin in (Input, Output)
                or "Input" in str(param.annotation)
                or "Output" in str(param.annotation)
            ):
                continue
            if param.name in WIRING:
                continue
            if param.name == "preset":
                assert param.default is None, f"{name}: preset must default to the params section's"
                continue
            section = param.name.removesuffix("_params") if param.name != "params" else None
            assert param.name == "params" or section in STAGES, f"{name}: parameter {param.name} is no params section"
            assert param.default == {}, f"{name}: {param.name} must default to an empty section"
    assert seen == 18


def test_pipeline_parameters_are_params_sections():
    from pipelines.compile import PIPELINES

    for pipeline in PIPELINES.values():
        for param in inspect.signature(pipeline.pipeline_func).parameters:
            assert param == "sources" or param.removesuffix("_params") in STAGES, param


def _dvc_stages() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def _command(words: list[str]):
    command = typer.main.get_command(app)
    while words and hasattr(command, "commands") and words[0] in command.commands:
        command = command.commands[words.pop(0)]
    return command


def test_dvc_options_and_params_name_real_cli_options_config_fields_and_sections():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for name, stage in _dvc_stages().items():
        words = shlex.split(stage["cmd"])
        assert words[0] == "egovla"
        command = _command(words[1:3])
        options = {opt: p for p in command.params for opt in p.opts}
        fields = {path.split(".")[-1] for path in field_paths(stage_config(stage["params"][0]))}
        for word in words:
            if word.startswith("--"):
                assert word in options, f"dvc stage {name}: {word} is not an option of `{command.name}`"
                option = options[word].name
                assert option in PATH_OPTIONS or option in fields, f"dvc stage {name}: {word} names no config field"
        for section in stage.get("params", []):
            assert section in STAGES and section in params, f"dvc stage {name}: params section {section}"


def _packages_needed(package: str) -> set[str]:
    """The egovla packages (and top-level modules) a package's code reaches through its imports."""
    needed, todo = set(), [package]
    while todo:
        current = todo.pop()
        files = list((SRC / current).rglob("*.py")) if (SRC / current).is_dir() else [SRC / current]
        for path in files:
            for name in _imports(path):
                parts = name.split(".")
                if parts[0] != "egovla" or len(parts) < 2:
                    continue
                target = parts[1] if (SRC / parts[1]).is_dir() else f"{parts[1]}.py"
                if (SRC / target).exists() and target not in needed | {current, "tracking"}:
                    needed.add(target)
                    todo.append(target)
    return needed | {package}


def test_dvc_code_deps_are_whole_packages_covering_everything_the_stage_imports():
    for name, stage in _dvc_stages().items():
        words = shlex.split(stage["cmd"])
        package = COMMAND_PACKAGE[words[1]]
        code = {d for d in stage["deps"] if d.startswith("src/")}
        for dep in code:
            path = REPO / dep
            assert path.is_dir() or dep == "src/egovla/config.py", f"dvc stage {name}: {dep} is not a package"
        wanted = {f"src/egovla/{p}" for p in _packages_needed(package)}
        assert wanted <= code, f"dvc stage {name} lacks code deps {sorted(wanted - code)}"
