"""Dockerfiles are parsed with Docker's own parser (no engine here) and checked for what we rely on."""

from pathlib import Path

import dockerfile

from conftest import REPO


def _instructions(name: str):
    return dockerfile.parse_file(str(REPO / "deploy" / name))


def test_component_image_dockerfile_is_valid_and_consistent():
    cmds = _instructions("component.Dockerfile")
    kinds = [c.cmd.upper() for c in cmds]
    assert kinds[0] == "FROM" and "python:3.11" in cmds[0].value[0]
    for copy in (c for c in cmds if c.cmd.upper() == "COPY"):
        for source in copy.value[:-1]:
            assert (REPO / source).exists(), f"COPY source missing: {source}"
    runs = " ".join(" ".join(c.value) for c in cmds if c.cmd.upper() == "RUN")
    assert "torch==2.13.0" in runs and "constraints.txt" in runs


def test_components_name_the_image_the_dockerfile_builds():
    import sys

    sys.path.insert(0, str(REPO))
    from components import COMPONENT_IMAGE

    header = (REPO / "deploy" / "component.Dockerfile").read_text()
    assert f"-t {COMPONENT_IMAGE} " in header
